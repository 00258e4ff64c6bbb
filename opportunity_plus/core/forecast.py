"""Weighted pipeline forecast over Opportunities.

Everything is summed in the company's base currency (ERPNext's `base_opportunity_amount`), because deals
quoted in different currencies only add up once converted. Money is computed in Decimal and rounded to
2 places only in the output rows, so many small deals do not accumulate float drift.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

GROUPINGS = (
	"stage",
	"close_month",
	"close_quarter",
	"owner",
	"territory",
	"source",
	"opportunity_type",
	"pipeline",
)
PERIODS = ("month", "quarter")

# Outcomes of a deal.
OPEN = "open"
WON = "won"
LOST = "lost"

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


class MixedCompaniesError(ValueError):
	"""Deals of several companies were passed: their base currencies may differ, so they cannot be summed."""

	def __init__(self, companies: Iterable[str]) -> None:
		self.companies = tuple(sorted(companies))
		super().__init__(f"deals span several companies: {', '.join(self.companies)}")


@dataclass(frozen=True, kw_only=True)
class Deal:
	"""One Opportunity as the forecast sees it.

	Keyword-only because most fields share a type and a positional mix-up (owner for territory) would
	pass silently.
	"""

	name: str
	company: str
	status: str
	amount: Decimal | float | None
	"""Opportunity amount in the deal's own (transaction) currency."""
	stage: str | None = None
	conversion_rate: Decimal | float | None = 1.0
	base_amount: Decimal | float | None = None
	"""ERPNext's base_opportunity_amount; when given it wins over amount * conversion_rate."""
	probability: Decimal | float | None = None
	close_date: date | None = None
	owner: str | None = None
	territory: str | None = None
	source: str | None = None
	opportunity_type: str | None = None
	pipeline: str | None = None
	"""The Sales Pipeline the deal is in (the glue puts a deal without one in the default pipeline)."""
	stage_kind: str | None = None


@dataclass(frozen=True)
class ForecastRow:
	key: str | None
	count: int
	"""All deals in the group, whatever their outcome."""
	open_count: int
	amount: float
	"""Open pipeline: base amount of the group's open deals."""
	weighted_amount: float
	"""Sum over open deals of base amount * probability / 100 (no probability counts as 0)."""
	won_count: int
	won_amount: float
	lost_count: int
	lost_amount: float
	win_rate: float | None
	"""won / (won + lost) as a fraction 0..1; None while the group has no closed deal."""


@dataclass(frozen=True, kw_only=True)
class Bucket:
	"""Deals already summed by the database: one row of a GROUP BY on (group value, status, stage).

	`value` is the raw grouping value: the close date for close_month / close_quarter (so that a period
	is computed here, year-aware, from dates), else the stage, owner, territory, ... itself.
	"""

	company: str
	value: date | str | None
	status: str
	stage: str | None = None
	stage_kind: str | None = None
	count: int
	base_amount: Decimal | float | None
	"""Sum of the deals' amounts in the company currency."""
	weighted_amount: Decimal | float | None
	"""Sum of the deals' base amount * probability / 100."""


def bucket_of(deal: Deal, group_by: str) -> Bucket:
	"""A single deal as a bucket of one, grouped by `group_by`."""
	if group_by in ("close_month", "close_quarter"):
		value = deal.close_date
	else:
		value = getattr(deal, group_by)
	return Bucket(
		company=deal.company,
		value=value,
		status=deal.status,
		stage=deal.stage,
		stage_kind=deal.stage_kind,
		count=1,
		base_amount=deal_base_amount(deal),
		weighted_amount=deal_weighted_amount(deal),
	)


def _to_decimal(value: Decimal | float | str | None) -> Decimal:
	if value is None or value == "":
		return Decimal(0)
	if isinstance(value, Decimal):
		return value
	if isinstance(value, float):
		# repr is the shortest decimal that round-trips, so 1.005 stays 1.005 rather than 1.00499999...
		return Decimal(repr(value))
	return Decimal(value)


def _money(value: Decimal) -> float:
	# Adding 0.0 turns a rounded -0.00 into 0.0 so reports never show "-0.00".
	return float(value.quantize(_CENT, rounding=ROUND_HALF_UP)) + 0.0


def deal_base_amount(deal: Deal) -> Decimal:
	"""The deal's amount in the company currency, unrounded."""
	if deal.base_amount is not None:
		return _to_decimal(deal.base_amount)
	rate = Decimal(1) if deal.conversion_rate is None else _to_decimal(deal.conversion_rate)
	return _to_decimal(deal.amount) * rate


def deal_weighted_amount(deal: Deal) -> Decimal:
	"""Base amount scaled by the deal's probability, unrounded; no probability weighs 0."""
	return deal_base_amount(deal) * _to_decimal(deal.probability) / _HUNDRED


def outcome(deal: Deal | Bucket) -> str:
	""" "won", "lost" or "open".

	Status is checked before the stage kind because ERPNext's own flows set it, so a stale stage never
	outweighs it: a Converted deal still sitting in a Lost-kind stage counts as won. Closed (shelved by
	hand) counts as lost: it left the pipeline without a sale.
	"""
	if deal.status == "Converted":
		return WON
	if deal.status in ("Lost", "Closed"):
		return LOST
	if deal.stage_kind == "Won":
		return WON
	if deal.stage_kind == "Lost":
		return LOST
	return OPEN


def month_key(day: date) -> str:
	"""Calendar month as "2026-11"; zero-padded so the keys sort chronologically as strings."""
	return f"{day.year:04d}-{day.month:02d}"


def quarter_key(day: date) -> str:
	"""Calendar quarter as "2026-Q4"; the year is part of the key so Q4 2025 and Q4 2026 never merge."""
	return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def _text_key(value: str | None) -> str | None:
	# ERPNext stores an unset link as "" or NULL depending on how the row was written; both mean "none".
	return value or None


def _group_key(value: date | str | None, group_by: str) -> str | None:
	if group_by == "close_month":
		return month_key(value) if value else None
	if group_by == "close_quarter":
		return quarter_key(value) if value else None
	return _text_key(value)


def _stage_sort_key(stage_order: Mapping[str, int]) -> Callable[[str | None], tuple]:
	"""Stages by their position in `stage_order`, unknown ones after them by name, no stage last."""

	def key(name: str | None) -> tuple:
		if name is None:
			return (2, 0, "", "")
		if name in stage_order:
			return (0, stage_order[name], name.casefold(), name)
		return (1, 0, name.casefold(), name)

	return key


def _period_sort_key(period: str | None) -> tuple:
	return (period is None, period or "")


def _name_sort_key(name: str | None) -> tuple:
	return (name is None, (name or "").casefold(), name or "")


def _sort_key(group_by: str, stage_order: Mapping[str, int] | None) -> Callable[[str | None], tuple]:
	if group_by == "stage":
		return _stage_sort_key(stage_order or {})
	if group_by in ("close_month", "close_quarter"):
		return _period_sort_key
	return _name_sort_key


def _check_single_company(deals: list[Deal] | list[Bucket]) -> None:
	companies = {deal.company for deal in deals}
	if len(companies) > 1:
		raise MixedCompaniesError(companies)


def _win_rate(won_count: int, lost_count: int) -> float | None:
	closed = won_count + lost_count
	return won_count / closed if closed else None


@dataclass
class _Accumulator:
	"""Running Decimal sums for one group; mutable on purpose, it only lives inside forecast()."""

	count: int = 0
	open_count: int = 0
	amount: Decimal = Decimal(0)
	weighted_amount: Decimal = Decimal(0)
	won_count: int = 0
	won_amount: Decimal = Decimal(0)
	lost_count: int = 0
	lost_amount: Decimal = Decimal(0)

	def add(self, bucket: Bucket) -> None:
		self.count += bucket.count
		result = outcome(bucket)
		base = _to_decimal(bucket.base_amount)
		if result == WON:
			self.won_count += bucket.count
			self.won_amount += base
		elif result == LOST:
			self.lost_count += bucket.count
			self.lost_amount += base
		else:
			self.open_count += bucket.count
			self.amount += base
			self.weighted_amount += _to_decimal(bucket.weighted_amount)

	def row(self, key: str | None) -> ForecastRow:
		return ForecastRow(
			key=key,
			count=self.count,
			open_count=self.open_count,
			amount=_money(self.amount),
			weighted_amount=_money(self.weighted_amount),
			won_count=self.won_count,
			won_amount=_money(self.won_amount),
			lost_count=self.lost_count,
			lost_amount=_money(self.lost_amount),
			win_rate=_win_rate(self.won_count, self.lost_count),
		)


def forecast(
	deals: Iterable[Deal], group_by: str, *, stage_order: Mapping[str, int] | None = None
) -> list[ForecastRow]:
	"""One row per group of deals, sorted for display.

	`group_by` is one of GROUPINGS. Deals must all belong to one company (MixedCompaniesError otherwise).
	Rows sort by `stage_order` then name when grouping by stage (stages missing from `stage_order` come
	after the listed ones, its values are used as given so 0 is a valid first position), chronologically
	for close_month / close_quarter, by name otherwise; the None group (no stage, no close date, no owner
	...) always comes last.
	"""
	if group_by not in GROUPINGS:
		raise ValueError(f"unknown grouping {group_by!r}, expected one of {GROUPINGS}")
	return forecast_buckets((bucket_of(deal, group_by) for deal in deals), group_by, stage_order=stage_order)


def forecast_buckets(
	buckets: Iterable[Bucket], group_by: str, *, stage_order: Mapping[str, int] | None = None
) -> list[ForecastRow]:
	"""`forecast` over deals the database has already summed (see Bucket); same rows, same order."""
	if group_by not in GROUPINGS:
		raise ValueError(f"unknown grouping {group_by!r}, expected one of {GROUPINGS}")
	buckets = list(buckets)
	_check_single_company(buckets)
	groups: dict[str | None, _Accumulator] = {}
	for bucket in buckets:
		groups.setdefault(_group_key(bucket.value, group_by), _Accumulator()).add(bucket)
	return [groups[key].row(key) for key in sorted(groups, key=_sort_key(group_by, stage_order))]


def totals(rows: Iterable[ForecastRow]) -> ForecastRow:
	"""A "total" row summing `rows`, with the win rate recomputed from the counts.

	Money is summed from the rows' rounded figures so the total equals what a reader adds up on screen.
	"""
	count = open_count = won_count = lost_count = 0
	amount = weighted_amount = won_amount = lost_amount = Decimal(0)
	for row in rows:
		count += row.count
		open_count += row.open_count
		won_count += row.won_count
		lost_count += row.lost_count
		amount += _to_decimal(row.amount)
		weighted_amount += _to_decimal(row.weighted_amount)
		won_amount += _to_decimal(row.won_amount)
		lost_amount += _to_decimal(row.lost_amount)
	return ForecastRow(
		key="total",
		count=count,
		open_count=open_count,
		amount=_money(amount),
		weighted_amount=_money(weighted_amount),
		won_count=won_count,
		won_amount=_money(won_amount),
		lost_count=lost_count,
		lost_amount=_money(lost_amount),
		win_rate=_win_rate(won_count, lost_count),
	)


def pivot(deals: Iterable[Deal], period: str, *, stage_order: Mapping[str, int] | None = None) -> dict:
	"""Weighted open pipeline by stage and close period, shaped for a stacked chart.

	Returns `{"periods": [...], "stages": [...], "weighted": {stage: [amount per period]}}`. Only open
	deals count; periods and stages are those that hold at least one open deal, ordered as in `forecast`
	(None, for no close date or no stage, last; the glue labels it). Missing cells are 0.0.
	"""
	if period not in PERIODS:
		raise ValueError(f"unknown period {period!r}, expected one of {PERIODS}")
	return pivot_buckets((bucket_of(deal, "close_month") for deal in deals), period, stage_order=stage_order)


def pivot_buckets(
	buckets: Iterable[Bucket], period: str, *, stage_order: Mapping[str, int] | None = None
) -> dict:
	"""`pivot` over database-summed buckets whose `value` is the close date."""
	if period not in PERIODS:
		raise ValueError(f"unknown period {period!r}, expected one of {PERIODS}")
	buckets = list(buckets)
	_check_single_company(buckets)
	period_of = month_key if period == "month" else quarter_key
	cells: dict[tuple[str | None, str | None], Decimal] = {}
	for bucket in buckets:
		if outcome(bucket) != OPEN:
			continue
		cell = (_text_key(bucket.stage), period_of(bucket.value) if bucket.value else None)
		cells[cell] = cells.get(cell, Decimal(0)) + _to_decimal(bucket.weighted_amount)
	periods = sorted({cell_period for _, cell_period in cells}, key=_period_sort_key)
	stages = sorted({stage for stage, _ in cells}, key=_stage_sort_key(stage_order or {}))
	weighted = {
		stage: [_money(cells.get((stage, cell_period), Decimal(0))) for cell_period in periods]
		for stage in stages
	}
	return {"periods": periods, "stages": stages, "weighted": weighted}


OVERDUE = "overdue"


def month_keys(first_month: date, months: int) -> list[str]:
	"""`months` consecutive month keys starting with `first_month`'s month."""
	if months < 1:
		raise ValueError(f"months must be at least 1, not {months}")
	keys = []
	year, month = first_month.year, first_month.month
	for _ in range(months):
		keys.append(f"{year:04d}-{month:02d}")
		year, month = (year + 1, 1) if month == 12 else (year, month + 1)
	return keys


def look_ahead(monthly_pivot: dict, first_month: date, months: int) -> dict:
	"""A monthly `pivot` as a forward-looking chart: every month of the window (0 where nothing closes),
	preceded by OVERDUE, the open deals whose close month is already past, when there are any.

	Deals without a close date, and those closing after the window, are left out. Stages without an amount
	in what is shown are dropped. Returns the pivot's shape: periods, stages, weighted.
	"""
	window = month_keys(first_month, months)
	first = window[0]
	columns = {period: index for index, period in enumerate(monthly_pivot["periods"])}
	overdue = [period for period in columns if period is not None and period < first]
	periods = ([OVERDUE] if overdue else []) + window
	weighted = {}
	for stage in monthly_pivot["stages"]:
		values = monthly_pivot["weighted"][stage]
		row = []
		if overdue:
			row.append(_money(sum((Decimal(str(values[columns[p]])) for p in overdue), Decimal(0))))
		row += [values[columns[period]] if period in columns else 0.0 for period in window]
		if any(row):
			weighted[stage] = row
	if overdue and not any(row[0] for row in weighted.values()):
		# every overdue deal had no weight: no empty leading bar
		periods = window
		weighted = {stage: row[1:] for stage, row in weighted.items()}
		weighted = {stage: row for stage, row in weighted.items() if any(row)}
	return {"periods": periods, "stages": list(weighted), "weighted": weighted}
