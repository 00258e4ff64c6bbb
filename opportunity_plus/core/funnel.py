"""Stage conversion: how the deals of one Sales Pipeline went through its stages.

A deal's way through the pipeline is read from its deal history (the `sales_stage` and `status` rows,
oldest first) and what it is now:
- it entered the stage it was created with at its creation (the first stage row's "from" value, or, when
  the stage never changed, the stage it has now), and each stage a stage row moved it to at that moment;
- a stay ends at the next stage row, or when a status row closes the deal (Converted: won; Lost or
  Closed: lost); a status row that reopens a closed deal starts a new stay in its stage; a deal closed
  without a status row (closed before the history began) ends its last stay on its Closed On day;
- a stay *went on* when the deal later entered a stage further along the pipeline that is not a
  Lost-kind stage, or was won from it; it was *won* in the stage when it ended won (a move to a Won-kind
  stage, or the Converted status); it was *lost* in the stage when its last stay there ended lost (a
  status row, or a move to a Lost-kind stage) and it never went on from it;
- a deal counts once per stage (entered, went on, won, lost, still there), however often it came back;
  every finished stay counts in the stage's median days.
Stages the pipeline does not have (a deal moved between pipelines) end a stay but have no row.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

STAGE_FIELD = "sales_stage"
STATUS_FIELD = "status"
WON_STATUS = "Converted"
LOST_STATUSES = frozenset({"Lost", "Closed"})
CLOSED_STATUSES = LOST_STATUSES | {WON_STATUS}

MOVED = "moved"
WON = "won"
LOST = "lost"
OPEN = "open"

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class FunnelStage:
	"""A row of the pipeline, in its order."""

	name: str
	kind: str = "Open"  # Open, Won or Lost
	probability: float | None = None


@dataclass(frozen=True)
class Event:
	"""One deal-history row: a change of `sales_stage` or `status` at `at`."""

	field: str
	from_value: str | None
	to_value: str | None
	at: datetime


@dataclass(frozen=True)
class DealPath:
	"""A deal as it is now and its stage and status history, oldest first."""

	created: datetime
	stage: str | None
	status: str | None
	closed_on: date | None = None
	events: tuple[Event, ...] = ()


@dataclass
class Stay:
	stage: str
	entered: datetime
	left: datetime | None = None
	ending: str = OPEN
	went_on: bool = False


def stays(deal: DealPath, lost_stages: Iterable[str] = (), won_stages: Iterable[str] = ()) -> list[Stay]:
	"""The deal's stays in stages, in order (see the module docstring)."""
	lost_stages, won_stages = set(lost_stages), set(won_stages)
	stage_events = [event for event in deal.events if event.field == STAGE_FIELD]
	initial = stage_events[0].from_value if stage_events else deal.stage
	found: list[Stay] = []
	current: Stay | None = None
	stage_now = initial or None
	if stage_now:
		current = Stay(stage_now, deal.created)
		found.append(current)
	closed = False
	for event in deal.events:
		if event.field == STAGE_FIELD:
			if current is not None and current.left is None:
				current.left = event.at
				current.ending = (
					LOST if event.to_value in lost_stages else WON if event.to_value in won_stages else MOVED
				)
			stage_now = event.to_value or None
			current = None
			if stage_now:
				current = Stay(stage_now, event.at)
				found.append(current)
		elif event.field == STATUS_FIELD:
			closing = event.to_value in CLOSED_STATUSES
			if closing and not closed:
				closed = True
				if current is not None and current.left is None:
					current.left = event.at
					current.ending = WON if event.to_value == WON_STATUS else LOST
			elif not closing and closed:
				closed = False
				if stage_now:
					current = Stay(stage_now, event.at)
					found.append(current)
			elif closing and closed and current is not None and current.left is None:
				# closed again in another closed status (Lost to Closed): the stay ends there
				current.left = event.at
				current.ending = WON if event.to_value == WON_STATUS else LOST
	if current is not None and current.left is None and deal.status in CLOSED_STATUSES:
		# closed without a status row (before the history began): on its Closed On day
		ended = datetime.combine(deal.closed_on, time.min) if deal.closed_on else current.entered
		current.left = max(ended, current.entered)
		current.ending = WON if deal.status == WON_STATUS else LOST
	return found


@dataclass(frozen=True)
class EntryRow:
	"""One stay of a deal in a stage of its pipeline, as the app stores it (Opportunity Stage Entry).

	The deal's flags for the stage are on its first stay there (`first`); every finished stay has its
	`days`. Summing the rows of many deals gives the funnel (FunnelBuilder.add_counts)."""

	stage: str
	visit: int
	first: bool
	went_on: bool
	won: bool
	lost: bool
	still_here: bool
	days: float | None


def entry_rows(stages: Sequence[FunnelStage], deal: DealPath) -> list[EntryRow]:
	"""The deal's stays in the pipeline's stages, with the deal's flags per stage on the first stay."""
	position = {stage.name: index for index, stage in enumerate(stages)}
	lost_stages = {stage.name for stage in stages if stage.kind == "Lost"}
	won_stages = {stage.name for stage in stages if stage.kind == "Won"}
	found = stays(deal, lost_stages, won_stages)
	# the furthest position reached after each stay (stages that move a deal on: not Lost-kind)
	later = [-1] * len(found)
	furthest = -1
	for index in range(len(found) - 1, -1, -1):
		later[index] = furthest
		at = position.get(found[index].stage)
		if at is not None and found[index].stage not in lost_stages:
			furthest = max(furthest, at)
	flags: dict[str, dict[str, bool]] = {}
	kept = []
	for index, stay in enumerate(found):
		at = position.get(stay.stage)
		if at is None:
			continue
		stay.went_on = later[index] > at or stay.ending == WON
		seen = flags.setdefault(stay.stage, {"went_on": False, "won": False, "lost": False, "open": False})
		seen["went_on"] = seen["went_on"] or stay.went_on
		seen["won"] = seen["won"] or stay.ending == WON
		# the last stay decides whether it was lost there or is still there
		seen["lost"] = stay.ending == LOST
		seen["open"] = stay.ending == OPEN
		kept.append(stay)
	rows = []
	visits: dict[str, int] = {}
	for stay in kept:
		visits[stay.stage] = visits.get(stay.stage, 0) + 1
		first = visits[stay.stage] == 1
		seen = flags[stay.stage]
		days = None
		if stay.left is not None:
			days = max((stay.left - stay.entered).total_seconds(), 0.0) / SECONDS_PER_DAY
		rows.append(
			EntryRow(
				stage=stay.stage,
				visit=visits[stay.stage],
				first=first,
				went_on=first and seen["went_on"],
				won=first and seen["won"],
				lost=first and seen["lost"] and not seen["went_on"],
				still_here=first and seen["open"],
				days=days,
			)
		)
	return rows


@dataclass
class _Tally:
	entered: int = 0
	went_on: int = 0
	won: int = 0
	lost: int = 0
	still_open: int = 0
	durations: dict[float, int] = field(default_factory=dict)
	"""Finished stays by their days to a tenth: how many of each."""


@dataclass(frozen=True)
class FunnelRow:
	stage: str
	kind: str
	probability: float | None
	entered: int
	went_on: int | None
	won: int
	lost: int
	still_open: int
	conversion: float | None
	"""went on / entered (None for a Won- or Lost-kind stage, or when none entered)."""
	reached: float | None
	"""entered / the deals counted."""
	median_days: float | None
	finished_stays: int


@dataclass(frozen=True)
class Funnel:
	rows: tuple[FunnelRow, ...]
	deals: int
	won: int
	lost: int
	still_open: int
	win_rate: float | None
	"""won / (won + lost) of the deals counted, by their status now."""


class FunnelBuilder:
	"""The funnel of one pipeline: from deals one by one (`add`), or from stored entry rows already
	summed per stage (`add_counts`, `add_durations`, `add_deals`)."""

	def __init__(self, stages: Sequence[FunnelStage]):
		self.stages = list(stages)
		self.tallies = {stage.name: _Tally() for stage in self.stages}
		self.deals = self.won = self.lost = self.still_open = 0

	def add(self, deal: DealPath) -> None:
		self.add_deals(deal.status, 1)
		for row in entry_rows(self.stages, deal):
			self.add_counts(row.stage, row.first, row.went_on, row.won, row.lost, row.still_here)
			if row.days is not None:
				self.add_durations(row.stage, [(row.days, 1)])

	def add_deals(self, status: str | None, count: int) -> None:
		"""`count` deals counted, of the status they have now."""
		self.deals += count
		if status == WON_STATUS:
			self.won += count
		elif status in LOST_STATUSES:
			self.lost += count
		else:
			self.still_open += count

	def add_counts(self, stage: str, entered=0, went_on=0, won=0, lost=0, still_open=0) -> None:
		tally = self.tallies.get(stage)
		if tally is None:
			return  # no longer a stage of the pipeline
		tally.entered += int(entered)
		tally.went_on += int(went_on)
		tally.won += int(won)
		tally.lost += int(lost)
		tally.still_open += int(still_open)

	def add_durations(self, stage: str, days_and_counts: Iterable[tuple[float, int]]) -> None:
		tally = self.tallies.get(stage)
		if tally is None:
			return
		for days, count in days_and_counts:
			key = round(float(days), 1)
			tally.durations[key] = tally.durations.get(key, 0) + int(count)

	def funnel(self) -> Funnel:
		rows = []
		for stage in self.stages:
			tally = self.tallies[stage.name]
			moves_on = stage.kind == "Open"
			rows.append(
				FunnelRow(
					stage=stage.name,
					kind=stage.kind,
					probability=stage.probability,
					entered=tally.entered,
					went_on=tally.went_on if moves_on else None,
					won=tally.won,
					lost=tally.lost,
					still_open=tally.still_open,
					conversion=ratio(tally.went_on, tally.entered) if moves_on else None,
					reached=ratio(tally.entered, self.deals),
					median_days=weighted_median(tally.durations.items()),
					finished_stays=sum(tally.durations.values()),
				)
			)
		return Funnel(
			rows=tuple(rows),
			deals=self.deals,
			won=self.won,
			lost=self.lost,
			still_open=self.still_open,
			win_rate=ratio(self.won, self.won + self.lost),
		)


def funnel(stages: Sequence[FunnelStage], deals: Iterable[DealPath]) -> Funnel:
	builder = FunnelBuilder(stages)
	for deal in deals:
		builder.add(deal)
	return builder.funnel()


def ratio(part: int, whole: int) -> float | None:
	return part / whole if whole else None


def weighted_median(values_and_counts: Iterable[tuple[float, int]]) -> float | None:
	"""The median of values given with how often each occurs, to a tenth (None without any)."""
	ordered = sorted((float(value), int(count)) for value, count in values_and_counts if count > 0)
	total = sum(count for _value, count in ordered)
	if not total:
		return None

	def nth(n: int) -> float:  # the n-th value, from 0
		seen = 0
		for value, count in ordered:
			seen += count
			if n < seen:
				return value
		return ordered[-1][0]

	middle = total // 2
	value = nth(middle) if total % 2 else (nth(middle - 1) + nth(middle)) / 2
	return round(value + 1e-9, 1)
