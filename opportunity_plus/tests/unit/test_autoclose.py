from datetime import date, datetime, timedelta

import pytest

from opportunity_plus.core.autoclose import (
	BLANK_TYPE,
	CLOSE,
	CLOSED_STATUS_ELIGIBLE,
	DEFAULT_DAYS_NOT_POSITIVE,
	DUPLICATE_TYPE,
	NO_ELIGIBLE_STATUSES,
	TYPE_DAYS_NOT_POSITIVE,
	UNKNOWN_STATUS,
	WAIT,
	WARN,
	WARNING_NEGATIVE,
	WARNING_NOT_BELOW_DAYS,
	Candidate,
	Decision,
	Policy,
	decide,
	due,
	latest_activity,
	person_activity,
	plan,
	policy_errors,
	threshold_days,
	to_close,
	to_warn,
	upcoming,
	written_by_job,
)

TODAY = date(2026, 11, 25)
POLICY = Policy(default_days=30, days_by_type=(("Support", 10), ("Sales", 60)), warning_days=5)


def idle_for(days: int, hour: int = 15) -> datetime:
	"""A last activity `days` calendar days before TODAY, late in the day so hours can't round it."""
	return datetime.combine(TODAY - timedelta(days=days), datetime.min.time()).replace(hour=hour)


def candidate(
	idle: int,
	*,
	name: str = "CRM-OPP-0001",
	status: str = "Open",
	opportunity_type: str | None = None,
	warned_on: date | None = None,
	hour: int = 15,
) -> Candidate:
	return Candidate(name, status, opportunity_type, idle_for(idle, hour), warned_on)


def action(cand: Candidate, policy: Policy = POLICY, today: date = TODAY) -> str:
	decision = decide(cand, policy, today)
	assert decision is not None
	return decision.action


# Thresholds


def test_idle_exactly_the_threshold_closes_one_day_less_does_not():
	no_warning = Policy(default_days=30)
	assert action(candidate(30), no_warning) == CLOSE
	assert action(candidate(29), no_warning) == WAIT
	assert action(candidate(400), no_warning) == CLOSE


def test_idle_days_count_calendar_days_not_hours():
	# 23:59 yesterday to today is one idle day, and 00:00 thirty days ago is thirty, whatever the hour.
	policy = Policy(default_days=1)
	late_yesterday = datetime(2026, 11, 24, 23, 59)
	assert decide(Candidate("A", "Open", None, late_yesterday), policy, TODAY) == Decision(
		"A", CLOSE, 1, TODAY, 1
	)
	decision = decide(candidate(30, hour=0), Policy(default_days=30), TODAY)
	assert decision is not None and decision.idle_days == 30 and decision.action == CLOSE


def test_decision_carries_idle_days_close_on_and_threshold():
	assert decide(candidate(12), POLICY, TODAY) == Decision(
		"CRM-OPP-0001", WAIT, 12, TODAY - timedelta(days=12) + timedelta(days=30), 30
	)


def test_activity_in_the_future_waits_with_negative_idle_days():
	# Clock skew between servers must never close a deal that was just touched.
	decision = decide(candidate(-2), POLICY, TODAY)
	assert decision is not None
	assert decision.action == WAIT and decision.idle_days == -2


# Per-type overrides


def test_type_override_replaces_the_default():
	assert threshold_days(POLICY, "Support") == 10
	assert threshold_days(POLICY, "Sales") == 60
	assert action(candidate(10, opportunity_type="Support")) == CLOSE
	assert action(candidate(30, opportunity_type="Sales")) == WAIT
	assert action(candidate(60, opportunity_type="Sales")) == CLOSE


def test_unknown_blank_or_missing_type_falls_back_to_the_default():
	assert threshold_days(POLICY, "Maintenance") == 30
	assert threshold_days(POLICY, None) == 30
	assert threshold_days(POLICY, "") == 30
	# Types are matched exactly, as ERPNext stores the linked name.
	assert threshold_days(POLICY, "support") == 30
	assert action(candidate(30, opportunity_type="Maintenance")) == CLOSE
	assert action(candidate(24, opportunity_type=None)) == WAIT
	assert action(candidate(30, opportunity_type=None)) == CLOSE


def test_overrides_from_a_mapping_or_in_any_order_make_equal_hashable_policies():
	from_dict = Policy(default_days=30, days_by_type={"Sales": 60, "Support": 10}, warning_days=5)
	assert from_dict == POLICY
	assert hash(from_dict) == hash(POLICY)
	assert from_dict.days_by_type == (("Sales", 60), ("Support", 10))


def test_eligible_statuses_given_as_a_set_become_a_frozenset():
	policy = Policy(default_days=30, eligible_statuses={"Open"})  # type: ignore[arg-type]
	assert policy.eligible_statuses == frozenset({"Open"})
	assert isinstance(policy.eligible_statuses, frozenset)
	hash(policy)


# Activity dates


def test_latest_activity_picks_the_latest_and_ignores_none():
	assert latest_activity(
		datetime(2026, 1, 5, 9), None, datetime(2026, 3, 1, 8), datetime(2026, 2, 1)
	) == datetime(2026, 3, 1, 8)


def test_latest_activity_treats_a_date_as_midnight():
	assert latest_activity(date(2026, 3, 2), datetime(2026, 3, 1, 23, 59)) == datetime(2026, 3, 2, 0, 0)
	assert latest_activity(date(2026, 3, 1), datetime(2026, 3, 1, 0, 1)) == datetime(2026, 3, 1, 0, 1)
	result = latest_activity(date(2026, 3, 1))
	assert type(result) is datetime and result == datetime(2026, 3, 1)


def test_latest_activity_of_nothing_is_none():
	assert latest_activity() is None
	assert latest_activity(None, None) is None


def test_a_later_activity_resets_the_clock():
	created = idle_for(45)
	replied = idle_for(3)
	reset = Candidate("A", "Open", None, latest_activity(created, None, replied))
	stale = Candidate("A", "Open", None, latest_activity(created, None))
	assert action(reset) == WAIT
	assert action(stale) == CLOSE


JOB = "Administrator"
CREATED = idle_for(100)


def activity(modified, modified_by, job_writes=(), other=()):
	return person_activity(CREATED, modified, modified_by, job_user=JOB, job_writes=job_writes, other=other)


def test_any_change_by_a_person_counts():
	# A note, an item line or any other field: all end in the opportunity's `modified`.
	assert activity(idle_for(0), "rep@example.com") == idle_for(0)


def test_the_jobs_own_close_does_not_count():
	closed_at = idle_for(5)
	assert written_by_job(closed_at, JOB, JOB, [idle_for(40), closed_at])
	assert activity(closed_at, JOB, job_writes=[closed_at]) == CREATED


def test_the_same_user_at_another_moment_is_a_person():
	# An administrator editing at the desk writes as the job's user, but not at the moment of a close.
	assert not written_by_job(idle_for(2), JOB, JOB, [idle_for(5), None])
	assert activity(idle_for(2), JOB, job_writes=[idle_for(5)]) == idle_for(2)


def test_another_user_at_the_moment_of_a_close_is_a_person():
	assert not written_by_job(idle_for(5), "rep@example.com", JOB, [idle_for(5)])


def test_no_modified_or_no_job_write_is_not_the_job():
	assert not written_by_job(None, JOB, JOB, [idle_for(5)])
	assert not written_by_job(idle_for(5), JOB, JOB, [])
	assert activity(None, None) == CREATED


def test_other_activity_counts_even_after_the_jobs_write():
	closed_at = idle_for(50)
	assert activity(closed_at, JOB, [closed_at], other=[None, idle_for(3), idle_for(60)]) == idle_for(3)


# Warning window


def test_warning_is_due_in_the_last_warning_days_before_the_close():
	# Threshold 30 with 5 days' warning: warn from idle day 25, close on day 30.
	assert action(candidate(24)) == WAIT
	assert action(candidate(25)) == WARN
	assert action(candidate(29)) == WARN
	assert action(candidate(30)) == CLOSE


def test_warning_window_follows_the_type_threshold():
	assert action(candidate(4, opportunity_type="Support")) == WAIT
	assert action(candidate(5, opportunity_type="Support")) == WARN
	assert action(candidate(25, opportunity_type="Sales")) == WAIT
	assert action(candidate(55, opportunity_type="Sales")) == WARN


def test_no_warning_when_warning_days_is_zero():
	policy = Policy(default_days=30, warning_days=0)
	assert action(candidate(29), policy) == WAIT
	assert action(candidate(30), policy) == CLOSE


def test_warning_is_sent_once_per_inactivity_period():
	last = idle_for(27).date()
	warned_two_days_ago = TODAY - timedelta(days=2)
	assert action(candidate(27)) == WARN
	assert action(candidate(27, warned_on=warned_two_days_ago)) == WAIT
	assert action(candidate(27, warned_on=TODAY)) == WAIT
	# Sanity on the fixture: the warning is after the last activity, so it belongs to this period.
	assert warned_two_days_ago > last


def test_a_sent_warning_never_blocks_the_close():
	assert action(candidate(30, warned_on=TODAY - timedelta(days=5))) == CLOSE
	assert action(candidate(90, warned_on=TODAY - timedelta(days=60))) == CLOSE


def test_close_wins_over_a_due_warning_on_the_same_day():
	# Never warned and already past the threshold (e.g. the job was off): one decision, the close.
	assert action(candidate(31, warned_on=None)) == CLOSE
	decisions = plan([candidate(31)], POLICY, TODAY)
	assert [d.action for d in decisions] == [CLOSE]
	assert to_warn(decisions) == []


def test_new_activity_after_a_warning_starts_a_new_period_and_a_new_warning():
	warned_on = TODAY - timedelta(days=40)
	# Warned 40 days ago, then the customer replied 26 days ago, then silence again: warn again.
	assert action(candidate(26, warned_on=warned_on)) == WARN
	# Still inside the new period's quiet phase: nothing yet.
	assert action(candidate(10, warned_on=warned_on)) == WAIT


def test_activity_on_the_day_of_the_warning_earns_a_new_warning():
	# A valid policy warns at least a day after the last activity, so a warning dated the day of the
	# latest activity was for the period that activity ended.
	warned_and_replied_on = TODAY - timedelta(days=26)
	assert action(candidate(26, warned_on=warned_and_replied_on)) == WARN
	assert action(candidate(26, warned_on=warned_and_replied_on + timedelta(days=1))) == WAIT


def test_warning_sequence_over_days():
	# Replay the job daily from the last activity: one warning, then the close, nothing in between.
	last_day = TODAY
	warned_on = None
	actions = []
	for offset in range(0, 32):
		day = last_day + timedelta(days=offset)
		cand = Candidate("A", "Open", None, datetime.combine(last_day, datetime.min.time()), warned_on)
		decision = decide(cand, POLICY, day)
		assert decision is not None
		actions.append(decision.action)
		if decision.action == WARN:
			warned_on = day
	assert actions.count(WARN) == 1
	assert actions.index(WARN) == 25
	assert actions[30:] == [CLOSE, CLOSE]
	assert set(actions[:25]) == {WAIT} and set(actions[26:30]) == {WAIT}


# Statuses


def test_ineligible_statuses_are_skipped():
	for status in ("Lost", "Converted", "Closed", "Draft"):
		assert decide(candidate(365, status=status), POLICY, TODAY) is None


def test_only_the_configured_open_statuses_are_eligible():
	open_only = Policy(default_days=30, eligible_statuses=frozenset({"Open"}))
	assert decide(candidate(365, status="Quotation"), open_only, TODAY) is None
	assert action(candidate(365, status="Open"), open_only) == CLOSE
	for status in ("Open", "Replied", "Quotation"):
		assert action(candidate(365, status=status)) == CLOSE


# Policy validation


def test_a_sensible_policy_has_no_errors():
	assert policy_errors(POLICY) == []
	assert policy_errors(Policy(default_days=1)) == []


def test_non_positive_days_are_reported():
	assert policy_errors(Policy(default_days=0)) == [DEFAULT_DAYS_NOT_POSITIVE]
	assert policy_errors(Policy(default_days=-3)) == [DEFAULT_DAYS_NOT_POSITIVE]
	assert policy_errors(Policy(default_days=True)) == [DEFAULT_DAYS_NOT_POSITIVE]
	assert policy_errors(Policy(default_days=30, days_by_type=(("Sales", 0),))) == [TYPE_DAYS_NOT_POSITIVE]


def test_type_rows_need_a_unique_type():
	assert policy_errors(Policy(default_days=30, days_by_type=(("", 10),))) == [BLANK_TYPE]
	duplicated = Policy(default_days=30, days_by_type=(("Sales", 10), ("Sales", 20)))
	assert policy_errors(duplicated) == [DUPLICATE_TYPE]


def test_warning_must_be_non_negative_and_below_every_threshold():
	assert policy_errors(Policy(default_days=30, warning_days=-1)) == [WARNING_NEGATIVE]
	assert policy_errors(Policy(default_days=30, warning_days=30)) == [WARNING_NOT_BELOW_DAYS]
	assert policy_errors(Policy(default_days=30, warning_days=29)) == []
	assert policy_errors(Policy(default_days=1, warning_days=1)) == [WARNING_NOT_BELOW_DAYS]
	assert policy_errors(Policy(default_days=2, warning_days=1)) == []
	# A short per-type threshold is what makes this warning too long.
	short_type = Policy(default_days=30, days_by_type={"Support": 5}, warning_days=5)
	assert policy_errors(short_type) == [WARNING_NOT_BELOW_DAYS]


def test_closed_unknown_or_no_statuses_are_reported():
	for closed in ("Lost", "Converted", "Closed"):
		policy = Policy(default_days=30, eligible_statuses=frozenset({"Open", closed}))
		assert policy_errors(policy) == [CLOSED_STATUS_ELIGIBLE]
	typo = Policy(default_days=30, eligible_statuses=frozenset({"Opne"}))
	assert policy_errors(typo) == [UNKNOWN_STATUS]
	assert policy_errors(Policy(default_days=30, eligible_statuses=frozenset())) == [NO_ELIGIBLE_STATUSES]


def test_every_problem_is_reported_once_in_a_fixed_order():
	policy = Policy(
		default_days=0,
		days_by_type=(("A", -1), ("B", 0), ("A", 3)),
		eligible_statuses=frozenset({"Lost", "Closed", "Nope"}),
		warning_days=4,
	)
	assert policy_errors(policy) == [
		DEFAULT_DAYS_NOT_POSITIVE,
		TYPE_DAYS_NOT_POSITIVE,
		DUPLICATE_TYPE,
		WARNING_NOT_BELOW_DAYS,
		CLOSED_STATUS_ELIGIBLE,
		UNKNOWN_STATUS,
	]


def test_an_invalid_policy_is_refused_rather_than_acted_on():
	# A zero-day policy would close every open deal on the first run.
	with pytest.raises(ValueError, match=DEFAULT_DAYS_NOT_POSITIVE):
		decide(candidate(1), Policy(default_days=0), TODAY)
	with pytest.raises(ValueError, match=CLOSED_STATUS_ELIGIBLE):
		plan([], Policy(default_days=30, eligible_statuses=frozenset({"Lost"})), TODAY)


# Plan, filters, preview


def test_plan_keeps_eligible_candidates_sorted_by_close_day_then_name():
	candidates = [
		candidate(3, name="B"),  # closes in 27 days
		candidate(40, name="Z"),  # overdue by 10 days
		candidate(3, name="A"),  # same day as B
		candidate(26, name="W"),  # warn, closes in 4 days
		candidate(5, name="S", opportunity_type="Support"),  # warn, closes in 5 days
		candidate(99, name="L", status="Lost"),
	]
	decisions = plan(candidates, POLICY, TODAY)
	assert [d.name for d in decisions] == ["Z", "W", "S", "A", "B"]
	assert [d.action for d in decisions] == [CLOSE, WARN, WARN, WAIT, WAIT]
	assert [d.name for d in to_close(decisions)] == ["Z"]
	assert [d.name for d in to_warn(decisions)] == ["W", "S"]
	assert [d.name for d in due(decisions)] == ["Z", "W", "S"]


def test_plan_accepts_any_iterable_once():
	decisions = plan((candidate(30, name=n) for n in ("b", "a")), POLICY, TODAY)
	assert [d.name for d in decisions] == ["a", "b"]


def test_empty_input_gives_empty_output():
	assert plan([], POLICY, TODAY) == []
	assert to_close([]) == [] and to_warn([]) == [] and due([]) == []
	assert upcoming([], TODAY, 7) == []


def test_upcoming_lists_closes_due_today_and_within_the_horizon():
	decisions = plan(
		[
			candidate(45, name="overdue"),
			candidate(30, name="today"),
			candidate(23, name="in-7-days"),
			candidate(22, name="in-8-days"),
		],
		POLICY,
		TODAY,
	)
	assert [d.name for d in upcoming(decisions, TODAY, 7)] == ["overdue", "today", "in-7-days"]
	assert [d.name for d in upcoming(decisions, TODAY, 0)] == ["overdue", "today"]
	assert [d.name for d in upcoming(reversed(decisions), TODAY, 8)] == [
		"overdue",
		"today",
		"in-7-days",
		"in-8-days",
	]


def test_upcoming_refuses_a_negative_horizon():
	with pytest.raises(ValueError):
		upcoming([], TODAY, -1)
