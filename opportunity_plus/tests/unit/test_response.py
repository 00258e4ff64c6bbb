from datetime import date, datetime, time

import pytest

from opportunity_plus.core.response import (
	DAY,
	OWNER,
	SOURCE,
	FirstResponse,
	ResponseGroup,
	ResponseRow,
	first_response,
	group_figures,
	is_first_response,
	summarize,
	working_day_rule,
	working_seconds,
)

NINE, FIVE = time(9, 0), time(17, 0)
# 2026-11-20 is a Friday; 23 Monday, 24 Tuesday, 21/22 the weekend.
MON_TO_FRI = working_day_rule()


def minutes(start, end, is_working_day=MON_TO_FRI, day_start=NINE, day_end=FIVE):
	return working_seconds(start, end, day_start, day_end, is_working_day) / 60


def test_friday_afternoon_to_monday_morning_counts_the_last_and_first_half_hours():
	assert minutes(datetime(2026, 11, 20, 16, 30), datetime(2026, 11, 23, 9, 30)) == 60


def test_a_holiday_in_between_is_skipped():
	with_holiday = working_day_rule([date(2026, 11, 23)])
	# Friday 30 + (Monday off) + Tuesday 30.
	assert minutes(datetime(2026, 11, 20, 16, 30), datetime(2026, 11, 24, 9, 30), with_holiday) == 60
	# Without it, Monday's whole day of 480 minutes counts.
	assert minutes(datetime(2026, 11, 20, 16, 30), datetime(2026, 11, 24, 9, 30)) == 540


def test_start_before_opening_counts_from_opening():
	assert minutes(datetime(2026, 11, 23, 7, 0), datetime(2026, 11, 23, 10, 15)) == 75


def test_end_after_closing_counts_up_to_closing():
	assert minutes(datetime(2026, 11, 23, 15, 0), datetime(2026, 11, 23, 20, 0)) == 120


def test_both_outside_hours_on_the_same_day_or_across_a_night():
	assert minutes(datetime(2026, 11, 23, 18, 0), datetime(2026, 11, 23, 23, 0)) == 0
	assert minutes(datetime(2026, 11, 23, 18, 0), datetime(2026, 11, 24, 8, 0)) == 0
	# Monday evening to Tuesday 09:45: only Tuesday's first 45 minutes.
	assert minutes(datetime(2026, 11, 23, 18, 0), datetime(2026, 11, 24, 9, 45)) == 45


def test_same_day_within_hours_is_the_plain_difference():
	assert minutes(datetime(2026, 11, 23, 10, 0), datetime(2026, 11, 23, 10, 42, 30)) == 42.5


def test_same_minute_and_end_before_start_give_zero():
	moment = datetime(2026, 11, 23, 11, 5)
	assert minutes(moment, moment) == 0
	assert minutes(moment, datetime(2026, 11, 23, 10, 0)) == 0


def test_a_weekend_counts_nothing_and_monday_starts_at_opening():
	assert minutes(datetime(2026, 11, 21, 10, 0), datetime(2026, 11, 22, 18, 0)) == 0
	assert minutes(datetime(2026, 11, 21, 10, 0), datetime(2026, 11, 23, 9, 1)) == 1


def test_whole_days_count_the_working_day_each():
	# Monday 09:00 to Friday 17:00: five days of 8 hours.
	assert minutes(datetime(2026, 11, 23, 9, 0), datetime(2026, 11, 27, 17, 0)) == 5 * 480


def test_seconds_and_microseconds_are_kept():
	start = datetime(2026, 11, 23, 10, 0, 0, 250000)
	assert working_seconds(start, datetime(2026, 11, 23, 10, 0, 1), NINE, FIVE, MON_TO_FRI) == 0.75


def test_multi_year_span():
	# 2024 has 262 weekdays (leap year from a Monday), 2025 has 261: 523 days of 8 hours.
	seconds = working_seconds(datetime(2024, 1, 1), datetime(2026, 1, 1), NINE, FIVE, MON_TO_FRI)
	assert seconds == 523 * 8 * 3600


def test_other_working_hours():
	early = minutes(
		datetime(2026, 11, 20, 14, 0),
		datetime(2026, 11, 23, 8, 0),
		day_start=time(7, 30),
		day_end=time(15, 0),
	)
	# Friday 14:00-15:00 and Monday 07:30-08:00.
	assert early == 90


def test_a_working_day_that_does_not_end_after_it_starts_counts_nothing():
	assert (
		minutes(datetime(2026, 11, 23, 8, 0), datetime(2026, 11, 24, 18, 0), day_start=FIVE, day_end=NINE)
		== 0
	)
	assert (
		minutes(datetime(2026, 11, 23, 8, 0), datetime(2026, 11, 24, 18, 0), day_start=NINE, day_end=NINE)
		== 0
	)


def test_holiday_list_period_decides_inside_and_weekdays_outside():
	# A list for 2026 that does not list Saturdays (a six-day week) and lists Christmas.
	rule = working_day_rule([date(2026, 12, 25), date(2026, 11, 22)], date(2026, 1, 1), date(2026, 12, 31))
	assert rule(date(2026, 11, 21)) is True  # Saturday, not listed, inside the period
	assert rule(date(2026, 11, 22)) is False  # Sunday, listed
	assert rule(date(2026, 12, 25)) is False  # holiday on a Friday
	assert rule(date(2026, 12, 24)) is True
	# Outside the period: Monday to Friday.
	assert rule(date(2027, 1, 2)) is False  # Saturday
	assert rule(date(2027, 1, 4)) is True  # Monday


def test_without_a_holiday_list_monday_to_friday():
	assert [MON_TO_FRI(date(2026, 11, d)) for d in range(20, 25)] == [True, False, False, True, True]


@pytest.mark.parametrize(
	("communication_type", "sent_or_received", "sender_is_internal", "expected"),
	[
		("Communication", "Sent", False, True),  # desk, REST, outgoing mail
		("Communication", "Sent", True, True),
		("Communication", "Received", True, True),  # a rep's own mail pulled by the email account
		("Communication", "Received", False, False),  # the customer writing
		("Comment", "Sent", True, False),
		("Automated Message", "Sent", True, False),  # notifications, auto-replies
		("Notification", "Sent", True, False),
		("Chat", "Sent", True, False),
		("Feedback", "Sent", True, False),
		("Communication", None, True, False),
		(None, "Sent", True, False),
	],
)
def test_is_first_response(communication_type, sent_or_received, sender_is_internal, expected):
	assert is_first_response(communication_type, sent_or_received, sender_is_internal) is expected


def test_first_response_times():
	result = first_response(
		datetime(2026, 11, 20, 16, 30), datetime(2026, 11, 23, 9, 30), NINE, FIVE, MON_TO_FRI
	)
	# Wall clock: 2 days 17 hours = 65 hours.
	assert result == FirstResponse(datetime(2026, 11, 23, 9, 30), 65 * 3600.0, 60.0)


def test_first_response_rounds_to_two_decimals():
	result = first_response(
		datetime(2026, 11, 23, 10, 0), datetime(2026, 11, 23, 10, 0, 1, 123456), NINE, FIVE, MON_TO_FRI
	)
	assert result.wall_seconds == 1.12
	assert result.working_minutes == 0.02


def test_a_reply_dated_before_the_opportunity_counts_as_immediate():
	created = datetime(2026, 11, 23, 10, 0)
	result = first_response(created, datetime(2026, 11, 23, 9, 0), NINE, FIVE, MON_TO_FRI)
	assert result == FirstResponse(created, 0.0, 0.0)


def row(created, owner=None, source=None, working=None, wall=None):
	return ResponseRow(
		created=created, owner=owner, source=source, working_minutes=working, wall_minutes=wall
	)


# Worked by hand:
# | row | created           | owner | source | working | wall |
# | a   | 2026-11-02 10:00  | ann   | Web    | 30      | 30   |
# | b   | 2026-11-02 18:00  | bob   | Web    | 60      | 960  |
# | c   | 2026-11-02 11:00  | ann   | -      | 10      | 10   |
# | d   | 2026-11-02 12:00  | ann   | Fair   | 100     | 100  |
# | e   | 2026-11-03 09:00  | bob   | Fair   | -       | -    |  (not answered yet)
# | f   | 2026-11-03 09:30  | -     | Web    | -       | 45   |  (answered before the app: wall only)
ROWS = [
	row(datetime(2026, 11, 2, 10, 0), "ann", "Web", 30, 30),
	row(datetime(2026, 11, 2, 18, 0), "bob", "Web", 60, 960),
	row(datetime(2026, 11, 2, 11, 0), "ann", None, 10, 10),
	row(datetime(2026, 11, 2, 12, 0), "ann", "Fair", 100, 100),
	row(datetime(2026, 11, 3, 9, 0), "bob", "Fair"),
	row(datetime(2026, 11, 3, 9, 30), None, "Web", None, 45),
]


def test_summarize_by_day():
	assert summarize(ROWS, DAY) == [
		# working 10, 30, 60, 100: mean 50, median (30 + 60) / 2; wall 10, 30, 100, 960: mean 275, median 65
		ResponseGroup(date(2026, 11, 2), 4, 0, 50.0, 45.0, 275.0, 65.0),
		# e unanswered, f answered (wall 45 only)
		ResponseGroup(date(2026, 11, 3), 1, 1, None, None, 45.0, 45.0),
	]


def test_summarize_by_owner_puts_not_set_last():
	assert summarize(ROWS, OWNER) == [
		# 30, 10, 100: mean 140 / 3, median 30
		ResponseGroup("ann", 3, 0, 46.67, 30.0, 46.67, 30.0),
		ResponseGroup("bob", 1, 1, 60.0, 60.0, 960.0, 960.0),
		ResponseGroup(None, 1, 0, None, None, 45.0, 45.0),
	]


def test_summarize_by_source():
	assert summarize(ROWS, SOURCE) == [
		ResponseGroup("Fair", 1, 1, 100.0, 100.0, 100.0, 100.0),
		# working 30, 60; wall 30, 960, 45: mean 345, median 45
		ResponseGroup("Web", 2 + 1, 0, 45.0, 45.0, 345.0, 45.0),
		ResponseGroup(None, 1, 0, 10.0, 10.0, 10.0, 10.0),
	]


def test_total_over_all_rows():
	# working 30, 60, 10, 100: mean 50, median 45; wall 30, 960, 10, 100, 45: mean 229, median 45
	assert group_figures(None, ROWS) == ResponseGroup(None, 5, 1, 50.0, 45.0, 229.0, 45.0)


def test_an_empty_group_and_no_rows():
	assert summarize([], DAY) == []
	assert group_figures(None, []) == ResponseGroup(None, 0, 0, None, None, None, None)


def test_blank_owner_or_source_is_not_set():
	rows = [row(datetime(2026, 11, 2, 10, 0), "", "", 5, 5)]
	assert summarize(rows, OWNER)[0].key is None
	assert summarize(rows, SOURCE)[0].key is None


def test_unknown_group_is_refused():
	with pytest.raises(ValueError):
		summarize(ROWS, "territory")
