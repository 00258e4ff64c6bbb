"""Sales targets against what was won and what is in the pipeline: periods, targets, tree roll-up.

Periods are a calendar month ("2026-12"), a calendar quarter ("2026-Q4", year-aware as in core.forecast)
or a fiscal year (its name). A fiscal year's months are the calendar months whose first day falls in it
(all twelve for a year starting on the 1st); a calendar month takes its targets from the fiscal year that
holds its first day.

Targets are ERPNext's Target Detail rows (on Sales Person and Territory): an amount for a fiscal year,
optionally for one item group, split per month by the row's Monthly Distribution (percent per month name)
or, without one, evenly over the fiscal year's months.

Trees (sales persons, territories) roll up: a node's won and pipeline include its descendants'; its target
is its own where it has one for the period, else the sum of its children's (rolled up the same way), else
none. Amounts are in the company currency, summed in Decimal and rounded to 2 places only in the output.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from opportunity_plus.core.forecast import _money, _to_decimal, month_key, quarter_key

MONTH = "month"
QUARTER = "quarter"
FISCAL_YEAR = "fiscal_year"
PERIOD_KINDS = (MONTH, QUARTER, FISCAL_YEAR)
# The month names ERPNext's Monthly Distribution stores (English, as its get_months writes them).
MONTH_NAMES = (
	"January",
	"February",
	"March",
	"April",
	"May",
	"June",
	"July",
	"August",
	"September",
	"October",
	"November",
	"December",
)

# Error codes of PeriodError.
UNKNOWN_PERIOD = "unknown_period"
NO_FISCAL_YEAR = "no_fiscal_year"

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_HUNDRED = Decimal(100)
_RATIO_PLACES = 4


class PeriodError(ValueError):
	def __init__(self, code: str, value: object) -> None:
		self.code = code
		self.value = value
		super().__init__(f"{code}: {value!r}")


@dataclass(frozen=True)
class FiscalYear:
	name: str
	start: date
	end: date


@dataclass(frozen=True)
class Period:
	key: str
	kind: str
	start: date
	end: date
	months: tuple[date, ...]
	"""The first day of each month the period's targets are taken from."""


def _first_of_next_month(day: date) -> date:
	return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _last_day(month_first: date) -> date:
	return date.fromordinal(_first_of_next_month(month_first).toordinal() - 1)


def fiscal_year_months(fiscal_year: FiscalYear) -> tuple[date, ...]:
	"""First days of the calendar months whose first day falls in the fiscal year."""
	month = date(fiscal_year.start.year, fiscal_year.start.month, 1)
	if month < fiscal_year.start:
		month = _first_of_next_month(month)
	months = []
	while month <= fiscal_year.end:
		months.append(month)
		month = _first_of_next_month(month)
	return tuple(months)


def fiscal_year_of(day: date, fiscal_years: Iterable[FiscalYear]) -> FiscalYear | None:
	"""The fiscal year holding `day` (the latest-starting one should years overlap)."""
	holding = [fy for fy in fiscal_years if fy.start <= day <= fy.end]
	return max(holding, key=lambda fy: (fy.start, fy.name)) if holding else None


def _month_period(year: int, month: int) -> Period:
	first = date(year, month, 1)
	return Period(month_key(first), MONTH, first, _last_day(first), (first,))


def _quarter_period(year: int, quarter: int) -> Period:
	months = tuple(date(year, (quarter - 1) * 3 + offset, 1) for offset in (1, 2, 3))
	return Period(quarter_key(months[0]), QUARTER, months[0], _last_day(months[-1]), months)


def _fiscal_year_period(fiscal_year: FiscalYear) -> Period:
	return Period(
		fiscal_year.name, FISCAL_YEAR, fiscal_year.start, fiscal_year.end, fiscal_year_months(fiscal_year)
	)


def parse_period(text: str | None, fiscal_years: Sequence[FiscalYear]) -> Period:
	"""A period from its key: a fiscal year's name (checked first: "2026" names a year, not a month),
	"YYYY-MM" or "YYYY-Qn". Raises PeriodError(UNKNOWN_PERIOD)."""
	value = (text or "").strip()
	for fiscal_year in fiscal_years:
		if fiscal_year.name == value:
			return _fiscal_year_period(fiscal_year)
	match = _MONTH_RE.match(value)
	if match and 1 <= int(match.group(2)) <= 12:
		return _month_period(int(match.group(1)), int(match.group(2)))
	match = _QUARTER_RE.match(value)
	if match:
		return _quarter_period(int(match.group(1)), int(match.group(2)))
	raise PeriodError(UNKNOWN_PERIOD, text)


def period_of(day: date, kind: str, fiscal_years: Sequence[FiscalYear]) -> Period:
	"""The period of `kind` holding `day`; PeriodError(NO_FISCAL_YEAR) when no fiscal year holds it."""
	if kind == MONTH:
		return _month_period(day.year, day.month)
	if kind == QUARTER:
		return _quarter_period(day.year, (day.month - 1) // 3 + 1)
	if kind == FISCAL_YEAR:
		fiscal_year = fiscal_year_of(day, fiscal_years)
		if not fiscal_year:
			raise PeriodError(NO_FISCAL_YEAR, day)
		return _fiscal_year_period(fiscal_year)
	raise ValueError(f"unknown period kind {kind!r}, expected one of {PERIOD_KINDS}")


def following_periods(first: Period, count: int, fiscal_years: Sequence[FiscalYear]) -> list[Period]:
	"""`count` consecutive periods starting with `first` (fewer when the fiscal years run out)."""
	if count < 1:
		raise ValueError(f"count must be at least 1, not {count}")
	periods = [first]
	while len(periods) < count:
		day = date.fromordinal(periods[-1].end.toordinal() + 1)
		try:
			periods.append(period_of(day, first.kind, fiscal_years))
		except PeriodError:
			break
	return periods


def period_key_of(day: date | None, periods: Sequence[Period]) -> str | None:
	"""The key of the period in `periods` holding `day`, None when none does."""
	if day is None:
		return None
	return next((period.key for period in periods if period.start <= day <= period.end), None)


# --- targets ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TargetRow:
	"""One Target Detail row."""

	holder: str
	"""The Sales Person or Territory the row belongs to."""
	fiscal_year: str
	amount: Decimal | float | None
	item_group: str | None = None
	distribution: Mapping[str, Decimal | float | None] | None = None
	"""Percent per English month name (ERPNext's Monthly Distribution); None splits evenly."""


def month_share(row: TargetRow, month_first: date, fiscal_year: FiscalYear) -> Decimal:
	"""The part of the row's amount that falls in the month."""
	amount = _to_decimal(row.amount)
	if row.distribution is not None:
		percent = _to_decimal(row.distribution.get(MONTH_NAMES[month_first.month - 1]))
		return amount * percent / _HUNDRED
	months = fiscal_year_months(fiscal_year)
	return amount / len(months) if months else Decimal(0)


def period_targets(
	rows: Iterable[TargetRow],
	period: Period,
	fiscal_years: Sequence[FiscalYear],
	item_group: str | None = None,
) -> dict[str, Decimal]:
	"""Each holder's own target for the period, for holders that have a row for it.

	No `item_group`: every row counts (a holder's item-group rows add up). With one: only that item group's
	rows. A holder with a row of a covering fiscal year has a target, even one its distribution makes 0.
	"""
	covering = {}
	for month in period.months:
		fiscal_year = fiscal_year_of(month, fiscal_years)
		if fiscal_year:
			covering.setdefault(fiscal_year.name, (fiscal_year, []))[1].append(month)
	targets: dict[str, Decimal] = {}
	for row in rows:
		if item_group is not None and (row.item_group or None) != item_group:
			continue
		if row.fiscal_year not in covering:
			continue
		fiscal_year, months = covering[row.fiscal_year]
		share = sum((month_share(row, month, fiscal_year) for month in months), Decimal(0))
		targets[row.holder] = targets.get(row.holder, Decimal(0)) + share
	return targets


# --- trees ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
	name: str
	parent: str | None


def subtrees(nodes: Sequence[TreeNode]) -> dict[str, list[str]]:
	"""Each node with itself and all its descendants (a parent missing from `nodes` makes a root)."""
	children: dict[str | None, list[str]] = {}
	names = {node.name for node in nodes}
	for node in nodes:
		children.setdefault(node.parent if node.parent in names else None, []).append(node.name)
	result = {}
	for node in nodes:
		members, stack, seen = [], [node.name], set()
		while stack:
			name = stack.pop()
			if name in seen:
				continue  # a cycle in damaged tree data must not loop forever
			seen.add(name)
			members.append(name)
			stack.extend(children.get(name, []))
		result[node.name] = members
	return result


def roots(nodes: Sequence[TreeNode]) -> list[str]:
	names = {node.name for node in nodes}
	return [node.name for node in nodes if node.parent not in names]


def rolled_targets(nodes: Sequence[TreeNode], own: Mapping[str, Decimal]) -> dict[str, Decimal | None]:
	"""Each node's target: its own, else the sum of its children's rolled targets, else None."""
	names = {node.name for node in nodes}
	children: dict[str, list[str]] = {}
	for node in nodes:
		if node.parent in names:
			children.setdefault(node.parent, []).append(node.name)
	result: dict[str, Decimal | None] = {}

	def resolve(name: str, path: frozenset) -> Decimal | None:
		if name in result:
			return result[name]
		if name in own:
			value = _to_decimal(own[name])
		else:
			parts = [resolve(child, path | {name}) for child in children.get(name, []) if child not in path]
			parts = [part for part in parts if part is not None]
			value = sum(parts, Decimal(0)) if parts else None
		result[name] = value
		return value

	for node in nodes:
		resolve(node.name, frozenset())
	return result


def shown_tree(nodes: Sequence[TreeNode], shown: Callable[[str], bool]) -> list[tuple[str, str | None, int]]:
	"""(name, shown parent, indent) for the nodes to show, in the order given (depth-first, as a tree's
	lft order): the shown parent is the nearest shown ancestor, the indent the number of shown ancestors."""
	by_name = {node.name: node for node in nodes}
	visible = {node.name for node in nodes if shown(node.name)}
	rows = []
	for node in nodes:
		if node.name not in visible:
			continue
		ancestors, parent, seen = [], node.parent, {node.name}
		while parent in by_name and parent not in seen:
			seen.add(parent)
			if parent in visible:
				ancestors.append(parent)
			parent = by_name[parent].parent
		rows.append((node.name, ancestors[0] if ancestors else None, len(ancestors)))
	return rows


# --- attainment -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DealSums:
	"""Won and open deals of one grouping value (sales person, territory), summed by the database."""

	key: str | None
	won_count: int = 0
	won_amount: Decimal | float | None = 0
	open_count: int = 0
	open_amount: Decimal | float | None = 0
	weighted_amount: Decimal | float | None = 0


@dataclass
class Achieved:
	won_count: int = 0
	won_amount: Decimal = Decimal(0)
	open_count: int = 0
	open_amount: Decimal = Decimal(0)
	weighted_amount: Decimal = Decimal(0)

	def add(self, sums: "DealSums | Achieved") -> None:
		self.won_count += int(sums.won_count or 0)
		self.won_amount += _to_decimal(sums.won_amount)
		self.open_count += int(sums.open_count or 0)
		self.open_amount += _to_decimal(sums.open_amount)
		self.weighted_amount += _to_decimal(sums.weighted_amount)

	def is_empty(self) -> bool:
		return not (self.won_count or self.open_count)


@dataclass(frozen=True)
class AttainmentRow:
	key: str | None
	parent: str | None
	indent: int
	target: float | None
	"""None: no target for the period."""
	won_count: int
	won_amount: float
	open_count: int
	open_amount: float
	weighted_amount: float
	attainment: float | None
	"""won / target as a fraction (1.0 = target reached); None without a target or with a 0 target."""
	gap: float | None
	"""target - won; negative when the target is exceeded; None without a target."""
	coverage: float | None
	"""open pipeline / gap; None without a target or when the target is met (gap <= 0)."""
	weighted_coverage: float | None
	"""weighted pipeline / gap, likewise."""
	target_met: bool


def _ratio(numerator: Decimal, denominator: Decimal) -> float:
	return round(float(numerator / denominator), _RATIO_PLACES)


def attainment_row(
	key: str | None, target: Decimal | None, achieved: Achieved, *, parent: str | None = None, indent: int = 0
) -> AttainmentRow:
	won = achieved.won_amount
	gap = None if target is None else _to_decimal(target) - won
	open_gap = gap is not None and gap > 0
	return AttainmentRow(
		key=key,
		parent=parent,
		indent=indent,
		target=None if target is None else _money(_to_decimal(target)),
		won_count=achieved.won_count,
		won_amount=_money(won),
		open_count=achieved.open_count,
		open_amount=_money(achieved.open_amount),
		weighted_amount=_money(achieved.weighted_amount),
		attainment=_ratio(won, _to_decimal(target)) if target else None,
		gap=None if gap is None else _money(gap),
		coverage=_ratio(achieved.open_amount, gap) if open_gap else None,
		weighted_coverage=_ratio(achieved.weighted_amount, gap) if open_gap else None,
		target_met=gap is not None and gap <= 0,
	)


def achieved_by_key(sums: Iterable[DealSums]) -> dict[str | None, Achieved]:
	result: dict[str | None, Achieved] = {}
	for part in sums:
		result.setdefault(part.key or None, Achieved()).add(part)
	return result


def attainment_tree(
	nodes: Sequence[TreeNode],
	own_targets: Mapping[str, Decimal],
	sums: Iterable[DealSums],
	*,
	readable: Callable[[str], bool] = lambda name: True,
) -> list[AttainmentRow]:
	"""One row per readable node that has a target or deals in its subtree, rolled up, in tree order;
	then one row (key None) for the deals of no node (no sales person, no territory), if any."""
	achieved = achieved_by_key(sums)
	names = {node.name for node in nodes}
	members = subtrees(nodes)
	targets = rolled_targets(nodes, own_targets)
	rolled: dict[str, Achieved] = {}
	for node in nodes:
		total = Achieved()
		for member in members[node.name]:
			if member in achieved:
				total.add(achieved[member])
		rolled[node.name] = total

	def shown(name: str) -> bool:
		return readable(name) and (targets[name] is not None or not rolled[name].is_empty())

	rows = [
		attainment_row(name, targets[name], rolled[name], parent=parent, indent=indent)
		for name, parent, indent in shown_tree(nodes, shown)
	]
	unplaced = Achieved()
	for key, part in achieved.items():
		if key not in names:
			unplaced.add(part)
	if not unplaced.is_empty():
		rows.append(attainment_row(None, None, unplaced))
	return rows


def tree_target(nodes: Sequence[TreeNode], own_targets: Mapping[str, Decimal]) -> Decimal | None:
	"""The whole tree's target: its roots' rolled targets added up; None when no node has one."""
	if not own_targets:
		return None
	targets = rolled_targets(nodes, own_targets)
	parts = [targets[root] for root in roots(nodes) if targets[root] is not None]
	return sum(parts, Decimal(0)) if parts else None
