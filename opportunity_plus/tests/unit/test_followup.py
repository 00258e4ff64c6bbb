"""Follow-up rules: validation codes, what to do with the Event and ToDo, due-today and digest grouping."""

from datetime import date, datetime, timedelta

import pytest

from opportunity_plus.core import followup as rules
from opportunity_plus.core.followup import FollowUp, FollowUpRow, Links

NOW = datetime(2026, 3, 10, 9, 30, 15)
TODAY = NOW.date()


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
	"due, user, enabled, changed, expected",
	[
		(None, None, None, True, None),  # nothing set
		(None, "rep@x.com", None, True, None),  # clearing the date is always allowed
		(NOW + timedelta(days=1), None, None, True, rules.MISSING_USER),
		(NOW + timedelta(days=1), None, None, False, rules.MISSING_USER),
		(NOW + timedelta(days=1), "ghost@x.com", None, True, rules.UNKNOWN_USER),
		(NOW + timedelta(days=1), "off@x.com", False, True, rules.DISABLED_USER),
		(NOW - timedelta(hours=1), "rep@x.com", True, True, rules.PAST_DATE),
		(NOW - timedelta(days=3), "rep@x.com", True, True, rules.PAST_DATE),
		(NOW + timedelta(days=1), "rep@x.com", True, True, None),
		# within the tolerance: "now" picked in a form a moment ago
		(NOW - timedelta(minutes=2), "rep@x.com", True, True, None),
		(NOW - rules.PAST_TOLERANCE, "rep@x.com", True, True, None),
		(NOW - rules.PAST_TOLERANCE - timedelta(seconds=1), "rep@x.com", True, True, rules.PAST_DATE),
		# unchanged follow-ups that became overdue, or whose person was disabled since, don't block a save
		(NOW - timedelta(days=3), "rep@x.com", True, False, None),
		(NOW + timedelta(days=1), "off@x.com", False, False, None),
	],
)
def test_validation_error(due, user, enabled, changed, expected):
	assert rules.validation_error(due, user, enabled, changed, NOW) == expected


def test_a_person_who_cannot_read_the_deal_is_refused_only_when_the_follow_up_changes():
	due = NOW + timedelta(days=1)
	assert rules.validation_error(due, "rep@x.com", True, True, NOW, user_can_read=False) == rules.CANNOT_READ
	assert rules.validation_error(due, "rep@x.com", True, False, NOW, user_can_read=False) is None
	# an unknown or disabled user is named as such first
	assert rules.validation_error(due, "x@x.com", None, True, NOW, user_can_read=False) == rules.UNKNOWN_USER
	assert (
		rules.validation_error(due, "x@x.com", False, True, NOW, user_can_read=False) == rules.DISABLED_USER
	)


def test_validation_compares_whole_seconds():
	due = NOW - rules.PAST_TOLERANCE
	assert rules.validation_error(due, "rep@x.com", True, True, NOW.replace(microsecond=900000)) is None


# --- desired state and sync action -----------------------------------------------------------------


@pytest.mark.parametrize("status", ["Open", "Replied", "Quotation"])
def test_open_opportunities_want_their_follow_up(status):
	assert rules.desired_state(status, NOW, "rep@x.com") == FollowUp(NOW, "rep@x.com")


@pytest.mark.parametrize(
	"status, due, user",
	[
		("Lost", NOW, "rep@x.com"),
		("Closed", NOW, "rep@x.com"),
		("Converted", NOW, "rep@x.com"),
		("Open", None, "rep@x.com"),
		("Open", NOW, None),
		(None, NOW, "rep@x.com"),
	],
)
def test_no_follow_up_when_closed_or_incomplete(status, due, user):
	assert rules.desired_state(status, due, user) is None


def test_desired_state_drops_microseconds():
	assert rules.desired_state("Open", NOW.replace(microsecond=5), "a") == rules.desired_state(
		"Open", NOW, "a"
	)


F1 = FollowUp(NOW, "rep@x.com")
F_LATER = FollowUp(NOW + timedelta(days=1), "rep@x.com")
F_OTHER = FollowUp(NOW, "other@x.com")
LINKED = Links("EV00001", "todo1")
HALF_LINKED = Links("EV00001", None)
UNLINKED = Links()


@pytest.mark.parametrize(
	"links, desired, previous, expected",
	[
		(UNLINKED, None, None, rules.NONE),  # the common save: no follow-up at all
		(UNLINKED, F1, None, rules.CREATE),
		(UNLINKED, F1, F1, rules.CREATE),  # set before the links existed (e.g. a failed create)
		(LINKED, F1, F1, rules.NONE),  # saved again, nothing changed
		(LINKED, F_LATER, F1, rules.MOVE),  # new date
		(LINKED, F_OTHER, F1, rules.MOVE),  # new person
		(LINKED, F1, None, rules.MOVE),  # reopened deal or new date after clearing: reuse the Event
		(HALF_LINKED, F_LATER, F1, rules.MOVE),
		(LINKED, None, F1, rules.CLOSE),  # cleared, or the deal closed
		(HALF_LINKED, None, F1, rules.CLOSE),
		(LINKED, None, None, rules.NONE),  # already closed
		(UNLINKED, None, F1, rules.NONE),
	],
)
def test_sync_action(links, desired, previous, expected):
	assert rules.sync_action(links, desired, previous) == expected


def test_links_truthiness():
	assert not Links()
	assert Links(event="EV1")
	assert Links(todo="t1")


# --- due today and digest grouping -----------------------------------------------------------------


def row(name, due, user="rep@x.com", status="Open", enabled=True, notified_on=None):
	return FollowUpRow(name, status, due, user, enabled, title=name, notified_on=notified_on)


def at(days: int, hour: int = 10) -> datetime:
	return datetime.combine(TODAY + timedelta(days=days), datetime.min.time()) + timedelta(hours=hour)


def test_due_today_only_today_open_enabled_and_not_yet_told():
	rows = [
		row("later-today", at(0, 16)),
		row("early-today", at(0, 8)),
		row("yesterday", at(-1)),
		row("tomorrow", at(1)),
		row("lost", at(0), status="Lost"),
		row("disabled", at(0), enabled=False),
		row("nobody", at(0), user=None),
		row("told", at(0), notified_on=TODAY),
		row("told-before", at(0), notified_on=TODAY - timedelta(days=1)),
	]
	assert [r.opportunity for r in rules.due_today(rows, TODAY)] == [
		"early-today",
		"told-before",
		"later-today",
	]


def test_group_overdue_per_user_oldest_first():
	rows = [
		row("a-recent", at(-1), user="a@x.com"),
		row("b-only", at(-2), user="b@x.com"),
		row("a-oldest", at(-10), user="a@x.com"),
		row("a-middle", at(-3, 9), user="a@x.com"),
		row("a-middle-2", at(-3, 9), user="a@x.com"),
	]
	groups = rules.group_overdue(rows, TODAY)
	assert list(groups) == ["a@x.com", "b@x.com"]
	assert [r.opportunity for r in groups["a@x.com"]] == ["a-oldest", "a-middle", "a-middle-2", "a-recent"]
	assert [r.opportunity for r in groups["b@x.com"]] == ["b-only"]


def test_group_overdue_skips_today_future_closed_and_disabled():
	rows = [
		row("earlier-today", at(0, 0)),  # due today, even if past: not overdue yet
		row("future", at(2)),
		row("lost", at(-2), status="Lost"),
		row("converted", at(-2), status="Converted"),
		row("closed", at(-2), status="Closed"),
		row("disabled", at(-2), user="off@x.com", enabled=False),
		row("nobody", at(-2), user=None),
		row("kept", at(-1, 23), status="Replied"),
	]
	assert {u: [r.opportunity for r in rs] for u, rs in rules.group_overdue(rows, TODAY).items()} == {
		"rep@x.com": ["kept"]
	}


def test_group_overdue_empty():
	assert rules.group_overdue([], TODAY) == {}


@pytest.mark.parametrize(
	"due, expected",
	[(None, 0), (at(1), 0), (at(0, 0), 0), (at(-1, 23), 1), (at(-10), 10)],
)
def test_days_overdue(due, expected):
	assert rules.days_overdue(due, TODAY) == expected
