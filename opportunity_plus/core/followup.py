"""Follow-up rules: the next contact on an opportunity, kept as one open Event and ToDo for one person.

Plain values in, codes and values out: the glue (followups.py) loads users and opportunities, reads the
clock, writes the Event and ToDo and turns the codes into translated messages.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from opportunity_plus.core.stages import OPEN_STATUSES

# Validation codes.
MISSING_USER = "missing_user"
UNKNOWN_USER = "unknown_user"
DISABLED_USER = "disabled_user"
PAST_DATE = "past_date"
CANNOT_READ = "cannot_read"

# Sync actions.
CREATE = "create"
MOVE = "move"
CLOSE = "close"
NONE = "none"

# Date pickers work in minutes and a save takes a moment: "now" picked in the form must not be refused.
PAST_TOLERANCE = timedelta(minutes=5)
EVENT_DURATION = timedelta(minutes=30)


@dataclass(frozen=True)
class FollowUp:
	"""An open follow-up: who contacts the party, and when."""

	due: datetime
	user: str


@dataclass(frozen=True)
class Links:
	"""The Event and ToDo the opportunity keeps for its follow-up (kept after closing, reused later)."""

	event: str | None = None
	todo: str | None = None

	def __bool__(self) -> bool:
		return bool(self.event or self.todo)


@dataclass(frozen=True)
class FollowUpRow:
	"""An opportunity with a follow-up, as the daily jobs and the report see it."""

	opportunity: str
	status: str
	due: datetime
	user: str | None
	user_enabled: bool = True
	title: str | None = None
	party: str | None = None
	notified_on: date | None = None
	owner: str | None = None  # who created the opportunity: the notification's sender


def normalise(value: datetime | None) -> datetime | None:
	"""Follow-ups compare at whole seconds (the database keeps microseconds a form never shows)."""
	return value.replace(microsecond=0) if value else None


def validation_error(
	due: datetime | None,
	user: str | None,
	user_enabled: bool | None,
	changed: bool,
	now: datetime,
	tolerance: timedelta = PAST_TOLERANCE,
	user_can_read: bool = True,
) -> str | None:
	"""Why this follow-up cannot be saved, or None.

	`user_enabled` is None when the user does not exist. Only a follow-up whose date or person changed
	(or a new one) is checked against the user and the clock: a follow-up that has since become overdue,
	or whose person was disabled since, must not block saving the opportunity's other fields. Clearing
	the date is always allowed. `user_can_read` says whether the person may read the opportunity: a
	follow-up would put the deal in their calendar, list and notifications.
	"""
	if not due:
		return None
	if not user:
		return MISSING_USER
	if not changed:
		return None
	if user_enabled is None:
		return UNKNOWN_USER
	if not user_enabled:
		return DISABLED_USER
	if not user_can_read:
		return CANNOT_READ
	if normalise(due) < normalise(now) - tolerance:
		return PAST_DATE
	return None


def desired_state(status: str | None, due: datetime | None, user: str | None) -> FollowUp | None:
	"""The follow-up an opportunity should have open: none once it is closed, lost or converted."""
	if status not in OPEN_STATUSES or not due or not user:
		return None
	return FollowUp(normalise(due), user)


def sync_action(links: Links, desired: FollowUp | None, previous: FollowUp | None) -> str:
	"""What to do with the Event and ToDo, given what the follow-up was and what it should be now.

	`previous` is the follow-up as last synced (None when there was none, or the deal was not open).
	"""
	if desired is None:
		return CLOSE if links and previous is not None else NONE
	if not links:
		return CREATE
	if desired != previous:
		return MOVE
	return NONE


def is_open(row: FollowUpRow) -> bool:
	return row.status in OPEN_STATUSES and bool(row.user) and row.user_enabled and row.due is not None


def due_today(rows: Iterable[FollowUpRow], today: date) -> list[FollowUpRow]:
	"""Open follow-ups due today whose person has not been told yet today, earliest first."""
	return sorted(
		(row for row in rows if is_open(row) and row.due.date() == today and row.notified_on != today),
		key=lambda row: (row.due, row.opportunity),
	)


def group_overdue(rows: Iterable[FollowUpRow], today: date) -> dict[str, list[FollowUpRow]]:
	"""Each person's overdue follow-ups (due before today), oldest first; people in name order.

	Closed, lost and converted opportunities, and follow-ups without a person or of a disabled person, are
	left out.
	"""
	groups: dict[str, list[FollowUpRow]] = {}
	for row in rows:
		if is_open(row) and row.due.date() < today:
			groups.setdefault(row.user, []).append(row)
	return {user: sorted(groups[user], key=lambda row: (row.due, row.opportunity)) for user in sorted(groups)}


def days_overdue(due: datetime | None, today: date) -> int:
	"""Whole days a follow-up is past its day (0 when due today or later)."""
	if not due:
		return 0
	return max((today - due.date()).days, 0)
