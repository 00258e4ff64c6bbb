"""The forecast call: what people commit to, against what the system computes.

Each week a rep submits a Commit and a Best Case for a period (Best Case includes Commit, as in the
forecast categories); a manager sees each direct report's latest call, may adjust it (the rep's call stays
as it was), and submits their own call for their team, by default the sum of their reports' calls as
adjusted plus their own deals' computed figures. Weekly snapshots of the computed figures give
"this week against last week" and the trend over a period; after the period, each week's Commit call is
held against what was won.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

# the largest amount a call may name (the Currency columns hold 18 digits, 9 of them decimals)
MAX_AMOUNT = Decimal("999999999999")

NEGATIVE = "negative"
TOO_LARGE = "too_large"
BEST_CASE_BELOW_COMMIT = "best_case_below_commit"

UP = "up"
DOWN = "down"
SAME = "same"


@dataclass(frozen=True)
class Figures:
	"""What the system computes for a person (and their team) and a period, in the company currency."""

	closed: Decimal = Decimal(0)
	"""Won in the period."""
	commit: Decimal = Decimal(0)
	"""Open deals in Commit expected to close in the period."""
	best_case: Decimal = Decimal(0)
	"""Commit and Best Case (Best Case includes Commit)."""
	pipeline: Decimal = Decimal(0)
	"""Every open deal expected to close in the period (Pipeline, Best Case and Commit)."""
	target: Decimal | None = None
	"""None where no target is set."""

	@property
	def gap(self) -> Decimal | None:
		"""What is still to win: target - closed (never below 0); None without a target."""
		if self.target is None:
			return None
		return max(self.target - self.closed, Decimal(0))

	@property
	def coverage(self) -> float | None:
		"""Open pipeline ÷ gap; None without a gap."""
		gap = self.gap
		if not gap:
			return None
		return float(self.pipeline / gap)

	def plus(self, other: "Figures") -> "Figures":
		target = (
			None if self.target is None and other.target is None else (self.target or 0) + (other.target or 0)
		)
		return Figures(
			closed=self.closed + other.closed,
			commit=self.commit + other.commit,
			best_case=self.best_case + other.best_case,
			pipeline=self.pipeline + other.pipeline,
			target=target,
		)


@dataclass(frozen=True)
class Call:
	commit: Decimal
	best_case: Decimal
	submitted_on: datetime | None = None
	note: str | None = None


def call_error(commit, best_case) -> str | None:
	"""Why a call's figures cannot be taken (a code the glue words), else None."""
	for value in (commit, best_case):
		if value < 0:
			return NEGATIVE
		if value > MAX_AMOUNT:
			return TOO_LARGE
	if best_case < commit:
		return BEST_CASE_BELOW_COMMIT
	return None


def latest(calls: Iterable[Call], until: datetime | None = None) -> Call | None:
	"""The latest call (submitted at or before `until`, when given)."""
	found = None
	for call in calls:
		if until is not None and call.submitted_on and call.submitted_on > until:
			continue
		if found is None or (call.submitted_on or datetime.min) >= (found.submitted_on or datetime.min):
			found = call
	return found


@dataclass(frozen=True)
class ReportLine:
	"""A manager's direct report, for the roll-up."""

	name: str
	computed: Figures
	call: Call | None = None
	adjustment: Call | None = None

	@property
	def effective(self) -> Call | None:
		"""The number the manager rolls up: their adjustment, else the report's own call."""
		return self.adjustment or self.call


def rolled_up_call(own: Figures, reports: Sequence[ReportLine]) -> Call:
	"""A manager's default call: each report's call as adjusted (the computed figures where the report has
	not called), plus the manager's own deals' computed Commit (with what they already won) and Best Case.

	Won deals count in Commit: a call is what the period will end with, so a rep who has won 100 and
	commits to 50 more calls 150."""
	commit = own.closed + own.commit
	best_case = own.closed + own.best_case
	for line in reports:
		chosen = line.effective
		if chosen is not None:
			commit += chosen.commit
			best_case += chosen.best_case
		else:
			commit += line.computed.closed + line.computed.commit
			best_case += line.computed.closed + line.computed.best_case
	return Call(commit=commit, best_case=max(best_case, commit))


def suggested_call(figures: Figures) -> Call:
	"""A rep's default call: what they have won plus their Commit, and plus their Best Case."""
	commit = figures.closed + figures.commit
	return Call(commit=commit, best_case=max(figures.closed + figures.best_case, commit))


def week_start(moment: date | datetime) -> date:
	"""The Monday of the moment's week: the key of a weekly snapshot."""
	day = moment.date() if isinstance(moment, datetime) else moment
	return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Change:
	name: str
	now: float | None
	before: float | None
	delta: float | None
	direction: str | None


def week_over_week(this_week: Figures | None, last_week: Figures | None) -> list[Change]:
	"""Commit, Best Case, pipeline, closed, gap and coverage this week against last week."""
	names = ("commit", "best_case", "pipeline", "closed", "gap", "coverage")
	changes = []
	for name in names:
		now = _number(getattr(this_week, name)) if this_week else None
		before = _number(getattr(last_week, name)) if last_week else None
		if now is None or before is None:
			changes.append(Change(name, now, before, None, None))
			continue
		delta = now - before
		direction = UP if delta > 1e-9 else DOWN if delta < -1e-9 else SAME
		changes.append(Change(name, now, before, delta, direction))
	return changes


def _number(value) -> float | None:
	return None if value is None else float(value)


@dataclass(frozen=True)
class AccuracyWeek:
	week: date
	commit: Decimal | None
	best_case: Decimal | None
	won: Decimal
	error: float | None
	"""(call − won) ÷ won: above 0 called too high, below 0 too low; None without a call or a win."""


@dataclass(frozen=True)
class Accuracy:
	name: str
	won: Decimal
	weeks: tuple[AccuracyWeek, ...] = field(default_factory=tuple)

	@property
	def mean_absolute_error(self) -> float | None:
		errors = [abs(week.error) for week in self.weeks if week.error is not None]
		return sum(errors) / len(errors) if errors else None


def weeks_of(start: date, end: date) -> list[date]:
	"""The Mondays of the weeks that overlap `start`..`end`."""
	first = week_start(start)
	return [first + timedelta(days=7 * index) for index in range((end - first).days // 7 + 1)]


def accuracy(name: str, calls: Sequence[Call], won: Decimal, start: date, end: date) -> Accuracy:
	"""Each week of the period: the latest Commit call made by the end of that week, against what was won."""
	weeks = []
	for monday in weeks_of(start, end):
		week_end = datetime.combine(monday + timedelta(days=6), datetime.max.time())
		call = latest(calls, until=week_end)
		error = None
		if call is not None and won:
			error = float((call.commit - won) / won)
		weeks.append(
			AccuracyWeek(
				week=monday,
				commit=call.commit if call else None,
				best_case=call.best_case if call else None,
				won=won,
				error=error,
			)
		)
	return Accuracy(name=name, won=won, weeks=tuple(weeks))


def subtree_figures(
	own: Mapping[str, Figures], members: Mapping[str, Iterable[str]], targets: Mapping[str, Decimal | None]
) -> dict[str, Figures]:
	"""Each node's figures with its descendants' deals (`members`: node → itself and its descendants), and
	its target as the targets tree gives it (own, else its children's)."""
	result = {}
	for node, names in members.items():
		total = Figures()
		for member in names:
			if member in own:
				total = total.plus(replace(own[member], target=None))
		result[node] = replace(total, target=targets.get(node))
	return result
