"""Minutes to first response: which Communication is a response, the maths in working hours, and the
figures of the report.

Frappe already stores `first_response_time` (wall-clock seconds from creation to the first reply) on an
Opportunity; these rules add the same span counted in working hours only (the hours of the working day, on
the days that are working days) and the average and median per day, owner or source.

Times are naive datetimes in one time zone (the site's); the glue passes them as stored.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import fmean, median

# What a report can group by: the creation day, the Opportunity Owner, the Lead Source.
DAY = "day"
OWNER = "owner"
SOURCE = "source"
GROUP_BYS = (DAY, OWNER, SOURCE)

# Monday to Friday: the working week where a company has no holiday list (date.weekday(): Monday is 0).
WEEKEND = frozenset({5, 6})

# The communication_type of a real message; Comment, Chat, Notification, Feedback and Automated Message
# (notifications, auto-replies) never answer the customer.
COMMUNICATION = "Communication"
SENT = "Sent"
RECEIVED = "Received"


def is_first_response(
	communication_type: str | None, sent_or_received: str | None, sender_is_internal: bool
) -> bool:
	"""Whether a Communication linked to an opportunity counts as a reply to the customer.

	A message sent from the desk or over REST is "Sent". A rep's reply sent from their own mail client
	reaches the opportunity through the email account as "Received" (Frappe marks every pulled mail so):
	it counts when its sender is one of the company's own users (`sender_is_internal`), unlike the
	customer's own mails.
	"""
	if communication_type != COMMUNICATION:
		return False
	if sent_or_received == SENT:
		return True
	return sent_or_received == RECEIVED and bool(sender_is_internal)


def working_day_rule(
	holidays: Iterable[date] = (),
	covered_from: date | None = None,
	covered_to: date | None = None,
) -> Callable[[date], bool]:
	"""Which days are working days, from a holiday list.

	Between `covered_from` and `covered_to` (the holiday list's period) a day is a working day unless it is
	listed (a holiday list lists its weekly offs too). Outside that period, or without a holiday list, the
	working week is Monday to Friday.
	"""
	listed = frozenset(holidays)

	def is_working_day(day: date) -> bool:
		if covered_from is not None and covered_to is not None and covered_from <= day <= covered_to:
			return day not in listed
		return day.weekday() not in WEEKEND and day not in listed

	return is_working_day


def working_seconds(
	start: datetime,
	end: datetime,
	day_start: time,
	day_end: time,
	is_working_day: Callable[[date], bool],
) -> float:
	"""Seconds between `start` and `end` that fall within the working hours of working days.

	A start before opening counts from opening, an end after closing up to closing, nights and non-working
	days not at all. An end at or before the start, or a working day that does not end after it starts,
	gives 0.
	"""
	if end <= start or day_end <= day_start:
		return 0.0
	total = 0.0
	day = start.date()
	while day <= end.date():
		if is_working_day(day):
			opens = datetime.combine(day, day_start, tzinfo=start.tzinfo)
			closes = datetime.combine(day, day_end, tzinfo=start.tzinfo)
			span = min(closes, end) - max(opens, start)
			if span > timedelta(0):
				total += span.total_seconds()
		day += timedelta(days=1)
	return total


@dataclass(frozen=True)
class FirstResponse:
	responded_on: datetime
	"""When the reply was sent, never before the opportunity was created."""
	wall_seconds: float
	"""Elapsed seconds, as Frappe's `first_response_time` (2 decimals)."""
	working_minutes: float
	"""Minutes within working hours (2 decimals)."""


def first_response(
	created: datetime,
	responded_on: datetime,
	day_start: time,
	day_end: time,
	is_working_day: Callable[[date], bool],
) -> FirstResponse:
	"""The first response times of an opportunity created at `created` and answered at `responded_on`.

	A reply dated before the opportunity existed (a mail pulled or linked later) counts as immediate.
	"""
	responded_on = max(responded_on, created)
	return FirstResponse(
		responded_on=responded_on,
		wall_seconds=round((responded_on - created).total_seconds(), 2),
		working_minutes=round(
			working_seconds(created, responded_on, day_start, day_end, is_working_day) / 60, 2
		),
	)


@dataclass(frozen=True, kw_only=True)
class ResponseRow:
	"""One opportunity of the report. A minutes field is None while that figure is not known; the glue
	may leave out the fields the grouping does not use."""

	created: datetime | None = None
	owner: str | None = None
	source: str | None = None
	working_minutes: float | None = None
	wall_minutes: float | None = None

	@property
	def responded(self) -> bool:
		return self.working_minutes is not None or self.wall_minutes is not None


@dataclass(frozen=True)
class ResponseGroup:
	key: date | str | None
	"""The creation day, the owner or the source; None for "not set" and for the total."""
	responded: int
	not_responded: int
	average_working: float | None
	median_working: float | None
	average_wall: float | None
	median_wall: float | None


def group_key(row: ResponseRow, group_by: str) -> date | str | None:
	if group_by == DAY:
		return row.created.date() if row.created else None
	if group_by == OWNER:
		return row.owner or None
	if group_by == SOURCE:
		return row.source or None
	raise ValueError(f"Unknown group {group_by!r}: choose one of {', '.join(GROUP_BYS)}")


def summarize(rows: Iterable[ResponseRow], group_by: str) -> list[ResponseGroup]:
	"""Count, average and median minutes (working and wall-clock) per creation day, owner or source.

	Days in chronological order; owners and sources alphabetically, the unset group last. Averages and
	medians cover the opportunities that have that figure; the median of an even count is the mean of the
	two middle values. Figures are rounded to 2 decimals.
	"""
	groups: dict[date | str | None, list[ResponseRow]] = {}
	for row in rows:
		groups.setdefault(group_key(row, group_by), []).append(row)
	ordered = sorted(groups, key=lambda key: (key is None, key if key is not None else ""))
	return [group_figures(key, groups[key]) for key in ordered]


def group_figures(key: date | str | None, rows: Iterable[ResponseRow]) -> ResponseGroup:
	"""The figures of one group of opportunities (also the total of a report, with key None)."""
	rows = list(rows)
	working = [row.working_minutes for row in rows if row.working_minutes is not None]
	wall = [row.wall_minutes for row in rows if row.wall_minutes is not None]
	responded = sum(1 for row in rows if row.responded)
	return ResponseGroup(
		key=key,
		responded=responded,
		not_responded=len(rows) - responded,
		average_working=_rounded(fmean(working)) if working else None,
		median_working=_rounded(median(working)) if working else None,
		average_wall=_rounded(fmean(wall)) if wall else None,
		median_wall=_rounded(median(wall)) if wall else None,
	)


def _rounded(value: float) -> float:
	return round(value, 2)
