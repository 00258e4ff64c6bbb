"""Pipeline movement between two moments, and the pipeline as it stood at a past moment.

An opportunity's state at a moment T is its current state with, for each tracked field changed after T,
the value that field had before its first change after T (the deal history's `from_value`); a deal
created after T did not exist at T. Deals not changed after T were as they are now, so only the deals
changed (or created) since T need rebuilding: the pipeline at T is the pipeline now, minus what those
deals add now, plus what they added at T.

Movement between A and B classifies every deal whose state differs between A and B into one step, so
that opening (the pipeline at A) + the steps = closing (the pipeline at B), exactly.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from opportunity_plus.core import categories
from opportunity_plus.core.stages import OPEN_STATUSES

SCALE = Decimal("0.000000001")
WON_STATUSES = frozenset(("Converted",))

# The steps of the waterfall, in the order they are shown.
NEW = "new"
RAISED = "raised"
LOWERED = "lowered"
PULLED_IN = "pulled_in"
PUSHED_OUT = "pushed_out"
WON = "won"
LOST = "lost"
CLOSED = "closed"
REOPENED = "reopened"
NO_HISTORY = "no_history"
STEPS = (NEW, RAISED, LOWERED, PULLED_IN, PUSHED_OUT, WON, LOST, CLOSED, REOPENED, NO_HISTORY)


@dataclass(frozen=True)
class DealState:
	"""What an opportunity was at a moment (amounts in the company's currency)."""

	status: str | None
	stage: str | None
	amount: Decimal
	probability: Decimal
	close_date: date | None
	category_override: str | None = None
	# the category in force as stored now; None for a state rebuilt from the history (then derived)
	category: str | None = None
	# the deal's Sales Pipeline, taken as it is now (like its territory and owner): a past state keeps it
	pipeline: str | None = None

	@property
	def weighted(self) -> Decimal:
		return (self.amount * self.probability / 100).quantize(SCALE, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Deal:
	"""An opportunity as it is now, with its history rows after the earlier of the moments asked about.

	`changes` holds (changed_on, field, from_value) rows, any order. `conversion_rate` turns a past amount
	(history records the amount in the deal's currency) into the company's currency.
	"""

	name: str
	created: datetime
	now: DealState
	current_amount: Decimal
	conversion_rate: Decimal
	changes: tuple = ()
	title: str | None = None


@dataclass(frozen=True)
class Period:
	start: date | None
	end: date | None

	def holds(self, day: date | None) -> bool:
		if day is None:
			return self.start is None and self.end is None
		return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def _decimal(value) -> Decimal:
	if value in (None, ""):
		return Decimal(0)
	return value if isinstance(value, Decimal) else Decimal(str(value))


def _date(value) -> date | None:
	if value in (None, ""):
		return None
	if isinstance(value, datetime):
		return value.date()
	if isinstance(value, date):
		return value
	return date.fromisoformat(str(value)[:10])


def state_at(deal: Deal, moment: datetime) -> DealState | None:
	"""The deal as it was at `moment`; None if it did not exist yet."""
	if deal.created > moment:
		return None
	first_after: dict[str, tuple] = {}
	for changed_on, field_name, from_value in sorted(deal.changes, key=lambda row: row[0]):
		if changed_on > moment and field_name not in first_after:
			first_after[field_name] = (from_value,)
	if not first_after:
		return deal.now
	state = replace(deal.now, category=None)
	if "status" in first_after:
		state = replace(state, status=first_after["status"][0] or None)
	if "sales_stage" in first_after:
		state = replace(state, stage=first_after["sales_stage"][0] or None)
	if "probability" in first_after:
		state = replace(state, probability=_decimal(first_after["probability"][0]))
	if "expected_closing" in first_after:
		state = replace(state, close_date=_date(first_after["expected_closing"][0]))
	if "op_forecast_category" in first_after:
		state = replace(state, category_override=first_after["op_forecast_category"][0] or None)
	if "opportunity_amount" in first_after:
		amount = _decimal(first_after["opportunity_amount"][0])
		# an amount equal to today's keeps today's stored base amount (no rounding noise)
		base = (
			deal.now.amount
			if amount == deal.current_amount
			else (amount * (deal.conversion_rate or 1)).quantize(SCALE, rounding=ROUND_HALF_UP)
		)
		state = replace(state, amount=base)
	return state


def in_pipeline(state: DealState | None, period: Period) -> bool:
	return bool(state) and state.status in OPEN_STATUSES and period.holds(state.close_date)


def effective_category(state: DealState, stage_categories: Mapping[str, str]) -> str:
	"""The category in force of a state (core.categories decides)."""
	return categories.effective_category(
		status=state.status,
		override=state.category_override,
		stage_category=stage_categories.get(state.stage or ""),
	)


@dataclass
class Step:
	amount: Decimal = Decimal(0)
	count: int = 0
	deals: list = field(default_factory=list)
	"""The deals rebuilt one by one, and those listed of an aggregate (the largest)."""

	def add(self, name: str, title: str | None, amount: Decimal) -> None:
		self.amount += amount
		self.count += 1
		self.deals.append({"name": name, "title": title, "amount": amount})


@dataclass
class Movement:
	opening: Decimal
	closing: Decimal
	steps: dict[str, Step]

	@property
	def balanced(self) -> bool:
		return self.opening + sum(step.amount for step in self.steps.values()) == self.closing


def classify(before: DealState | None, after: DealState | None, period: Period, known: bool = True):
	"""The step a deal's change from `before` (at A) to `after` (at B) belongs to, and its amount; None
	when it does not move the pipeline of the period. `known` is False when the deal's state at A cannot
	be told (it existed before the deal history began)."""
	in_after = in_pipeline(after, period)
	if not known:
		return (NO_HISTORY, after.amount) if in_after else None
	in_before = in_pipeline(before, period)
	if in_before and in_after:
		difference = after.amount - before.amount
		if difference > 0:
			return RAISED, difference
		if difference < 0:
			return LOWERED, difference
		return None
	if in_before:
		status = after.status if after else None
		if status in WON_STATUSES:
			return WON, -before.amount
		if status == "Lost":
			return LOST, -before.amount
		if status is not None and status not in OPEN_STATUSES:
			return CLOSED, -before.amount
		return PUSHED_OUT, -before.amount
	if in_after:
		if before is None:
			return NEW, after.amount
		if before.status in OPEN_STATUSES:
			return PULLED_IN, after.amount
		return REOPENED, after.amount
	return None


@dataclass(frozen=True)
class Aggregate:
	"""Deals summed by the database instead of rebuilt one by one, with what they add to the period's
	pipeline now. `step` is where they show (None: nowhere); they are out of the opening
	(`in_opening` False) and/or out of the closing (`in_closing` False)."""

	amount: Decimal
	count: int
	step: str | None = None
	in_opening: bool = False
	in_closing: bool = True
	deals: tuple = ()


def movement(
	pipeline_now: Decimal,
	deals: Iterable[Deal],
	start: datetime,
	end: datetime | None,
	period: Period,
	known_since: datetime | None = None,
	aggregates: Iterable[Aggregate] = (),
) -> Movement:
	"""The pipeline of `period` at `start` and at `end` (None: now) and the steps between them.

	`pipeline_now` is the open amount of the period now over every deal. `deals` are rebuilt one by one:
	those whose state at `start` or `end` may differ from now (the others were as they are now).
	A deal created before `known_since` (when the deal history began) is not known at a moment before it:
	it is left out of the opening and shows as NO_HISTORY when it is in the pipeline at the end.
	`aggregates` are groups of deals whose part is known without rebuilding them (deals created since
	`start`, ...), summed by the caller.
	"""
	steps = {step: Step() for step in STEPS}
	opening = closing = _decimal(pipeline_now)
	for group in aggregates:
		if not group.in_opening:
			opening -= group.amount
		if not group.in_closing:
			closing -= group.amount
		if group.step:
			steps[group.step].amount += group.amount
			steps[group.step].count += group.count
			steps[group.step].deals.extend(group.deals)
	for deal in deals:
		now_in = deal.now.amount if in_pipeline(deal.now, period) else Decimal(0)
		at_end = deal.now if end is None else state_at(deal, end)
		end_in = at_end.amount if in_pipeline(at_end, period) else Decimal(0)
		known = known_since is None or start >= known_since or deal.created > start
		at_start = state_at(deal, start) if known else None
		start_in = at_start.amount if known and in_pipeline(at_start, period) else Decimal(0)
		opening += start_in - now_in
		closing += end_in - now_in
		step = classify(at_start, at_end, period, known)
		if step:
			steps[step[0]].add(deal.name, deal.title, step[1])
	return Movement(opening=opening, closing=closing, steps=steps)


@dataclass
class Totals:
	count: int = 0
	amount: Decimal = Decimal(0)
	weighted: Decimal = Decimal(0)


def as_of(
	now_by_group: Mapping[str | None, Totals],
	deals: Iterable[Deal],
	moment: datetime,
	period: Period,
	group_of,
	known_since: datetime | None = None,
) -> tuple[dict[str | None, Totals], Totals]:
	"""The open pipeline of `period` by group as it stood at `moment`, and what cannot be told.

	`now_by_group` is the open pipeline by group now (over every deal); `deals` are those changed or
	created since `moment`, and, when `moment` is before `known_since` (the deal history began), every
	deal created before that too: those are left out and summed, as they are now, in the second value.
	`group_of(state)` names a state's group (its stage, or its category).
	"""
	result = {
		group: Totals(t.count, _decimal(t.amount), _decimal(t.weighted)) for group, t in now_by_group.items()
	}
	unknown = Totals()

	def add(state: DealState, sign: int) -> None:
		totals = result.setdefault(group_of(state), Totals())
		totals.count += sign
		totals.amount += sign * state.amount
		totals.weighted += sign * state.weighted

	for deal in deals:
		if in_pipeline(deal.now, period):
			add(deal.now, -1)
		if known_since is not None and moment < known_since and deal.created <= moment:
			if in_pipeline(deal.now, period):
				unknown.count += 1
				unknown.amount += deal.now.amount
				unknown.weighted += deal.now.weighted
			continue
		then = state_at(deal, moment)
		if in_pipeline(then, period):
			add(then, +1)
	groups = {group: totals for group, totals in result.items() if totals.count or totals.amount}
	return groups, unknown
