"""Forecast categories: how sure a deal is, as a manager forecasts it.

Pipeline < Best Case < Commit are the open categories; Closed is what was won, Omitted what is left out of
the forecast (lost, shelved, or set aside by its owner). Each Sales Stage has a default category; an open
opportunity may carry its owner's override. ERPNext's status decides first, because its own flows set it:
only a Converted deal is Closed, and a Lost or Closed one is Omitted whatever its override says.

The category forecast sums deals already summed by the database (`CategoryBucket`) per group, period and
category; the manager's view rolls a tree (sales persons, territories) up with core.targets.roll_up.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from opportunity_plus.core.forecast import _money, _to_decimal
from opportunity_plus.core.targets import TreeNode, shown_tree, subtrees

PIPELINE = "Pipeline"
BEST_CASE = "Best Case"
COMMIT = "Commit"
CLOSED = "Closed"
OMITTED = "Omitted"
CATEGORIES = (PIPELINE, BEST_CASE, COMMIT, CLOSED, OMITTED)
# What an owner may set on an open deal: Closed comes from converting it, never from a choice.
OVERRIDE_CATEGORIES = (PIPELINE, BEST_CASE, COMMIT, OMITTED)
OPEN_CATEGORIES = (PIPELINE, BEST_CASE, COMMIT)

# ERPNext's stock stages (the setup wizard's eight) and the category each starts with.
STOCK_STAGE_CATEGORIES = {
	"prospecting": PIPELINE,
	"qualification": PIPELINE,
	"needs analysis": PIPELINE,
	"value proposition": PIPELINE,
	"identifying decision makers": PIPELINE,
	"perception analysis": PIPELINE,
	"proposal/price quote": BEST_CASE,
	"negotiation/review": BEST_CASE,
}
KIND_CATEGORIES = {"Open": PIPELINE, "Won": CLOSED, "Lost": OMITTED}


def default_stage_category(name: str | None, kind: str | None) -> str:
	"""The category a stage starts with: the stage's kind decides for Won and Lost stages, ERPNext's stock
	open stages have their own, any other open stage is Pipeline."""
	if kind in ("Won", "Lost"):
		return KIND_CATEGORIES[kind]
	return STOCK_STAGE_CATEGORIES.get((name or "").strip().casefold(), PIPELINE)


def stage_categories_to_fill(existing: Iterable[tuple[str, str | None, str | None]]) -> list[tuple[str, str]]:
	"""(stage, category) for each stage without a category; `existing` rows are (name, kind, category).

	A category a site has set is never changed, so seeding can run on every migrate."""
	return [(name, default_stage_category(name, kind)) for name, kind, category in existing if not category]


def effective_category(*, status: str | None, override: str | None, stage_category: str | None) -> str:
	"""The category a deal counts in.

	1. Converted is Closed; Lost and Closed (shelved) are Omitted: ERPNext's status is the truth.
	2. Else the owner's override (one of OVERRIDE_CATEGORIES; anything else is ignored).
	3. Else the stage's default. An open deal in a stage whose default is Closed (a site that marked an
	   open stage so) counts as Commit: as sure as a deal gets, but only converting makes it Closed.
	4. Else Pipeline.
	"""
	if status == "Converted":
		return CLOSED
	if status in ("Lost", "Closed"):
		return OMITTED
	if override in OVERRIDE_CATEGORIES:
		return override
	if stage_category == CLOSED:
		return COMMIT
	if stage_category in CATEGORIES:
		return stage_category
	return PIPELINE


def override_after_save(*, override: str | None, stage_changed: bool, override_changed: bool) -> str | None:
	"""The override to keep on save: a stage change clears it, unless the same save set it."""
	if stage_changed and not override_changed:
		return None
	return override or None


# --- the category forecast --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CategoryBucket:
	"""Deals summed by the database for one (group value, period, category)."""

	key: str | None
	"""The grouping value: owner, territory, or sales person (None: not set)."""
	period: str | None
	"""The period key (core.targets.period_key_of), None when the deal has no date."""
	category: str | None
	count: int
	base_amount: Decimal | float | None


@dataclass(frozen=True)
class CategoryFigures:
	"""One group's forecast. `best_case` is Commit + Best Case, `open` every open category together;
	`pipeline` is the Pipeline category alone."""

	closed_amount: float = 0.0
	closed_count: int = 0
	commit_amount: float = 0.0
	commit_count: int = 0
	best_case_amount: float = 0.0
	best_case_count: int = 0
	pipeline_amount: float = 0.0
	pipeline_count: int = 0
	omitted_amount: float = 0.0
	omitted_count: int = 0
	open_amount: float = 0.0
	open_count: int = 0


@dataclass
class CategorySums:
	"""Running Decimal sums per category; mutable, lives inside the computation only."""

	amounts: dict[str, Decimal] = field(default_factory=dict)
	counts: dict[str, int] = field(default_factory=dict)

	def add(self, category: str | None, count: int, amount: Decimal | float | None) -> None:
		category = category if category in CATEGORIES else PIPELINE
		self.amounts[category] = self.amounts.get(category, Decimal(0)) + _to_decimal(amount)
		self.counts[category] = self.counts.get(category, 0) + int(count or 0)

	def merge(self, other: "CategorySums") -> None:
		for category, amount in other.amounts.items():
			self.amounts[category] = self.amounts.get(category, Decimal(0)) + amount
		for category, count in other.counts.items():
			self.counts[category] = self.counts.get(category, 0) + count

	def is_empty(self) -> bool:
		return not any(self.counts.values())

	def figures(self) -> CategoryFigures:
		def amount(*categories):
			return _money(sum((self.amounts.get(c, Decimal(0)) for c in categories), Decimal(0)))

		def count(*categories):
			return sum(self.counts.get(c, 0) for c in categories)

		return CategoryFigures(
			closed_amount=amount(CLOSED),
			closed_count=count(CLOSED),
			commit_amount=amount(COMMIT),
			commit_count=count(COMMIT),
			best_case_amount=amount(COMMIT, BEST_CASE),
			best_case_count=count(COMMIT, BEST_CASE),
			pipeline_amount=amount(PIPELINE),
			pipeline_count=count(PIPELINE),
			omitted_amount=amount(OMITTED),
			omitted_count=count(OMITTED),
			open_amount=amount(*OPEN_CATEGORIES),
			open_count=count(*OPEN_CATEGORIES),
		)


@dataclass
class PeriodSums:
	"""A group's sums per period (and over all periods)."""

	by_period: dict[str | None, CategorySums] = field(default_factory=dict)

	def add(self, bucket: CategoryBucket) -> None:
		self.by_period.setdefault(bucket.period, CategorySums()).add(
			bucket.category, bucket.count, bucket.base_amount
		)

	def merge(self, other: "PeriodSums") -> None:
		for period, sums in other.by_period.items():
			self.by_period.setdefault(period, CategorySums()).merge(sums)

	def total(self) -> CategorySums:
		total = CategorySums()
		for sums in self.by_period.values():
			total.merge(sums)
		return total

	def is_empty(self) -> bool:
		return all(sums.is_empty() for sums in self.by_period.values())


def sum_by_key(buckets: Iterable[CategoryBucket], periods: Iterable[str]) -> dict[str | None, PeriodSums]:
	"""Buckets summed per grouping value; buckets of a period not in `periods` are left out."""
	wanted = set(periods)
	sums: dict[str | None, PeriodSums] = {}
	for bucket in buckets:
		if bucket.period not in wanted:
			continue
		sums.setdefault(bucket.key or None, PeriodSums()).add(bucket)
	return sums


@dataclass(frozen=True)
class CategoryRow:
	key: str | None
	"""Owner, territory or sales person; None for deals without one (the glue labels it)."""
	parent: str | None
	"""The nearest shown ancestor in a tree view, else None."""
	indent: int
	periods: dict[str, CategoryFigures]
	total: CategoryFigures


def category_row(
	key: str | None, sums: PeriodSums | None, periods: list[str], *, parent=None, indent=0
) -> CategoryRow:
	sums = sums or PeriodSums()
	return CategoryRow(
		key=key,
		parent=parent,
		indent=indent,
		periods={period: sums.by_period.get(period, CategorySums()).figures() for period in periods},
		total=sums.total().figures(),
	)


def merged(sums: Iterable[PeriodSums]) -> PeriodSums:
	total = PeriodSums()
	for part in sums:
		total.merge(part)
	return total


def flat_rows(by_key: Mapping[str | None, PeriodSums], periods: list[str]) -> list[CategoryRow]:
	"""One row per grouping value, by name, None last."""
	keys = sorted(by_key, key=lambda key: (key is None, (key or "").casefold(), key or ""))
	return [category_row(key, by_key[key], periods) for key in keys]


def category_tree(
	nodes: Sequence[TreeNode],
	by_key: Mapping[str | None, PeriodSums],
	periods: list[str],
	*,
	readable: Callable[[str], bool] = lambda name: True,
) -> list[CategoryRow]:
	"""The manager's view: one row per readable node with deals in its subtree, each including its
	descendants' deals, in tree order; then one row (key None) for the deals of no node, if any."""
	names = {node.name for node in nodes}
	members = subtrees(nodes)
	rolled = {
		node.name: merged(by_key[member] for member in members[node.name] if member in by_key)
		for node in nodes
	}
	rows = [
		category_row(name, rolled[name], periods, parent=parent, indent=indent)
		for name, parent, indent in shown_tree(
			nodes, lambda name: readable(name) and not rolled[name].is_empty()
		)
	]
	unplaced = merged(sums for key, sums in by_key.items() if key not in names)
	if not unplaced.is_empty():
		rows.append(category_row(None, unplaced, periods))
	return rows
