"""Win/loss analysis over closed Opportunities: why and to whom deals are lost, and win rates.

A closed deal is won when Converted and lost when Lost or Closed (the outcome rules of core.forecast).
Each analysis takes either one row per deal (`ClosedDeal`) or rows the database has already summed
(`LossBucket`, core.forecast's `Bucket`), like core.forecast; amounts are in the company currency,
summed in Decimal and rounded to 2 places only in the output.

A deal lost for two reasons, or to two competitors, counts (with its full amount) under each; a lost deal
without any counts under the None key, which the glue labels and which always sorts last.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from opportunity_plus.core.forecast import (
	LOST,
	OPEN,
	Bucket,
	ForecastRow,
	_money,
	_text_key,
	_to_decimal,
	_win_rate,
	forecast_buckets,
	month_key,
	outcome,
)

# What the win rate can be broken down by: Opportunity fields, `owner` being the Opportunity Owner and
# `pipeline` the Sales Pipeline.
DIMENSIONS = ("source", "opportunity_type", "owner", "territory", "pipeline")
# The two tag lists a lost deal carries.
TAGS = ("lost_reasons", "competitors")


@dataclass(frozen=True, kw_only=True)
class ClosedDeal:
	"""One closed Opportunity. Keyword-only: most fields are strings a positional mix-up would swap."""

	name: str
	company: str
	status: str
	closed_on: date
	"""The day the deal was won or lost."""
	base_amount: Decimal | float | None
	"""Amount in the company currency."""
	lost_reasons: tuple[str, ...] = ()
	competitors: tuple[str, ...] = ()
	source: str | None = None
	opportunity_type: str | None = None
	owner: str | None = None
	territory: str | None = None
	pipeline: str | None = None
	stage_kind: str | None = None
	"""Read by core.forecast.outcome only when the status alone does not decide (an open status)."""


@dataclass(frozen=True, kw_only=True)
class LossBucket:
	"""Lost deals already summed by the database for one (month, tag) pair.

	`closed_on` is any day of the month (the glue passes its last day); `tag` is a lost reason or a
	competitor, None for lost deals without one.
	"""

	closed_on: date | None
	tag: str | None
	count: int
	base_amount: Decimal | float | None


@dataclass(frozen=True)
class ReasonMonthRow:
	month: str | None
	"""Year-aware month key, "2026-11"; None when the deals have no close date."""
	reason: str | None
	count: int
	amount: float


@dataclass(frozen=True)
class ReasonSeries:
	"""One lost reason over every month of a trend, aligned with `ReasonTrend.months`."""

	reason: str | None
	counts: list[int]
	amounts: list[float]
	total_count: int
	total_amount: float


@dataclass(frozen=True)
class ReasonTrend:
	months: list[str | None]
	"""Every calendar month from the first to the last, including months without a loss."""
	series: list[ReasonSeries]
	"""One per reason, the most frequent first."""
	rows: list[ReasonMonthRow]
	"""The non-empty (month, reason) cells, by month then in series order."""


@dataclass(frozen=True)
class CompetitorRow:
	competitor: str | None
	count: int
	amount: float
	share: float | None
	"""count / all lost deals (0..1), None when that total is not known or zero."""


@dataclass(frozen=True)
class WinRateRow:
	key: str | None
	won_count: int
	won_amount: float
	lost_count: int
	lost_amount: float
	win_rate: float | None
	"""won / (won + lost) as a fraction 0..1; None without a closed deal."""


# --- per-deal rows to buckets ----------------------------------------------------------------------


def loss_buckets(deals: Iterable[ClosedDeal], tag: str) -> list[LossBucket]:
	"""One bucket per lost deal and distinct tag of `tag` ("lost_reasons" or "competitors").

	A tag listed twice on one deal counts once; a lost deal without tags gives one None bucket.
	"""
	if tag not in TAGS:
		raise ValueError(f"unknown tag list {tag!r}, expected one of {TAGS}")
	buckets = []
	for deal in deals:
		if outcome(deal) != LOST:
			continue
		# dict.fromkeys: distinct, in the order given; blank entries are no tag at all.
		tags = [value for value in dict.fromkeys(map(_text_key, getattr(deal, tag))) if value] or [None]
		buckets += [
			LossBucket(closed_on=deal.closed_on, tag=value, count=1, base_amount=deal.base_amount)
			for value in tags
		]
	return buckets


def outcome_buckets(deals: Iterable[ClosedDeal], dimension: str) -> list[Bucket]:
	"""Each deal as a core.forecast Bucket of one, valued by `dimension`."""
	_check_dimension(dimension)
	return [
		Bucket(
			company=deal.company,
			value=getattr(deal, dimension),
			status=deal.status,
			stage_kind=deal.stage_kind,
			count=1,
			base_amount=deal.base_amount,
			weighted_amount=0,
		)
		for deal in deals
	]


def _check_dimension(dimension: str) -> None:
	if dimension not in DIMENSIONS:
		raise ValueError(f"unknown dimension {dimension!r}, expected one of {DIMENSIONS}")


# --- (a) lost reasons by month ---------------------------------------------------------------------


def _month_index(day: date) -> int:
	return day.year * 12 + day.month - 1


def months_between(first: date, last: date) -> list[str]:
	"""Month keys from `first`'s month to `last`'s, both included, across year ends; [] if reversed."""
	return [
		month_key(date(index // 12, index % 12 + 1, 1))
		for index in range(_month_index(first), _month_index(last) + 1)
	]


def _tag_sort_key(totals_by_tag: dict[str | None, tuple[int, Decimal]]):
	"""Most deals first, then the larger amount, then by name; None (no tag) always last."""

	def key(tag: str | None) -> tuple:
		count, amount = totals_by_tag[tag]
		return (tag is None, -count, -amount, (tag or "").casefold(), tag or "")

	return key


def lost_reasons_by_month(
	buckets: Iterable[LossBucket], *, first_month: date | None = None, last_month: date | None = None
) -> ReasonTrend:
	"""Lost deals per month and reason, for a trend table and a stacked chart.

	The months run without gaps from the earlier of `first_month` and the first loss to the later of
	`last_month` and the last loss (a window with no loss at all gives its own months), so a quiet
	month shows as 0 rather than vanishing; deals without a close date come last, under None.
	"""
	cells: dict[tuple[str | None, str | None], list] = {}
	days: list[date] = []
	for bucket in buckets:
		month = month_key(bucket.closed_on) if bucket.closed_on else None
		if bucket.closed_on:
			days.append(bucket.closed_on)
		cell = cells.setdefault((month, _text_key(bucket.tag)), [0, Decimal(0)])
		cell[0] += bucket.count
		cell[1] += _to_decimal(bucket.base_amount)

	bounds = [day for day in (*days, first_month, last_month) if day]
	months: list[str | None] = months_between(min(bounds), max(bounds)) if bounds else []
	if any(month is None for month, _reason in cells):
		months.append(None)

	by_reason: dict[str | None, tuple[int, Decimal]] = {}
	for (_month, reason), (count, amount) in cells.items():
		total_count, total_amount = by_reason.get(reason, (0, Decimal(0)))
		by_reason[reason] = (total_count + count, total_amount + amount)
	reasons = sorted(by_reason, key=_tag_sort_key(by_reason))

	series = []
	for reason in reasons:
		counts, amounts = [], []
		for month in months:
			count, amount = cells.get((month, reason), (0, Decimal(0)))
			counts.append(count)
			amounts.append(_money(amount))
		series.append(
			ReasonSeries(
				reason=reason,
				counts=counts,
				amounts=amounts,
				total_count=by_reason[reason][0],
				total_amount=_money(by_reason[reason][1]),
			)
		)
	rows = [
		ReasonMonthRow(
			month=month, reason=reason, count=cells[month, reason][0], amount=_money(cells[month, reason][1])
		)
		for month in months
		for reason in reasons
		if (month, reason) in cells
	]
	return ReasonTrend(months=months, series=series, rows=rows)


# --- (b) lost by competitor ------------------------------------------------------------------------


def lost_by_competitor(
	buckets: Iterable[LossBucket], *, lost_deals: int | None = None
) -> list[CompetitorRow]:
	"""Lost deals and amount per competitor, the most frequent first, None (no competitor) last.

	`lost_deals`, the number of distinct lost deals, gives each row its share; it cannot be derived
	from the buckets because a deal lost to two competitors is in two of them.
	"""
	by_competitor: dict[str | None, tuple[int, Decimal]] = {}
	for bucket in buckets:
		competitor = _text_key(bucket.tag)
		count, amount = by_competitor.get(competitor, (0, Decimal(0)))
		by_competitor[competitor] = (count + bucket.count, amount + _to_decimal(bucket.base_amount))
	return [
		CompetitorRow(
			competitor=competitor,
			count=by_competitor[competitor][0],
			amount=_money(by_competitor[competitor][1]),
			share=by_competitor[competitor][0] / lost_deals if lost_deals else None,
		)
		for competitor in sorted(by_competitor, key=_tag_sort_key(by_competitor))
	]


# --- (c) win rate by a dimension -------------------------------------------------------------------


def _win_rate_row(row: ForecastRow) -> WinRateRow:
	return WinRateRow(
		key=row.key,
		won_count=row.won_count,
		won_amount=row.won_amount,
		lost_count=row.lost_count,
		lost_amount=row.lost_amount,
		win_rate=row.win_rate,
	)


def win_rates(buckets: Iterable[Bucket], dimension: str) -> list[WinRateRow]:
	"""Won and lost count and amount and the win rate per value of `dimension`, sorted by name (None last).

	Takes core.forecast Buckets (one per group value and status, from the database, or one per deal via
	`outcome_buckets`); open deals are ignored. All buckets must belong to one company.
	"""
	_check_dimension(dimension)
	closed = [bucket for bucket in buckets if outcome(bucket) != OPEN]
	return [_win_rate_row(row) for row in forecast_buckets(closed, dimension)]


def win_rate_total(rows: Iterable[WinRateRow]) -> WinRateRow:
	"""A "total" row summing `rows`, with the win rate recomputed from the counts (not averaged).

	Money is summed from the rows' rounded figures so the total equals what a reader adds up on screen.
	"""
	won_count = lost_count = 0
	won_amount = lost_amount = Decimal(0)
	for row in rows:
		won_count += row.won_count
		lost_count += row.lost_count
		won_amount += _to_decimal(row.won_amount)
		lost_amount += _to_decimal(row.lost_amount)
	return WinRateRow(
		key="total",
		won_count=won_count,
		won_amount=_money(won_amount),
		lost_count=lost_count,
		lost_amount=_money(lost_amount),
		win_rate=_win_rate(won_count, lost_count),
	)


# --- all three over per-deal rows ------------------------------------------------------------------


@dataclass(frozen=True)
class WinLoss:
	lost_reasons: ReasonTrend
	competitors: list[CompetitorRow]
	win_rates: list[WinRateRow]
	total: WinRateRow


def analyse(
	deals: Iterable[ClosedDeal],
	dimension: str,
	*,
	first_month: date | None = None,
	last_month: date | None = None,
) -> WinLoss:
	"""The three analyses of the deals given (the caller has already chosen them by closing date)."""
	_check_dimension(dimension)
	deals = list(deals)
	rates = win_rates(outcome_buckets(deals, dimension), dimension)
	total = win_rate_total(rates)
	return WinLoss(
		lost_reasons=lost_reasons_by_month(
			loss_buckets(deals, "lost_reasons"), first_month=first_month, last_month=last_month
		),
		competitors=lost_by_competitor(loss_buckets(deals, "competitors"), lost_deals=total.lost_count),
		win_rates=rates,
		total=total,
	)
