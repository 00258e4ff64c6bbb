from datetime import date, datetime
from decimal import Decimal as D

from opportunity_plus.core.forecast_call import (
	BEST_CASE_BELOW_COMMIT,
	DOWN,
	NEGATIVE,
	SAME,
	TOO_LARGE,
	UP,
	Call,
	Figures,
	ReportLine,
	accuracy,
	call_error,
	latest,
	rolled_up_call,
	subtree_figures,
	suggested_call,
	week_over_week,
	week_start,
	weeks_of,
)


def test_gap_and_coverage():
	figures = Figures(closed=D(300), commit=D(100), best_case=D(250), pipeline=D(900), target=D(1000))
	assert figures.gap == D(700)
	assert round(figures.coverage, 4) == round(900 / 700, 4)
	assert Figures(closed=D(1200), target=D(1000)).gap == 0
	assert Figures(closed=D(1200), target=D(1000)).coverage is None
	assert Figures(pipeline=D(5)).gap is None and Figures(pipeline=D(5)).coverage is None


def test_a_call_is_checked():
	assert call_error(D(10), D(20)) is None
	assert call_error(D(10), D(10)) is None
	assert call_error(D(-1), D(20)) == NEGATIVE
	assert call_error(D(10), D("1e13")) == TOO_LARGE
	assert call_error(D(30), D(20)) == BEST_CASE_BELOW_COMMIT


def test_the_latest_call_and_the_latest_by_a_moment():
	first = Call(D(1), D(2), datetime(2026, 11, 2, 9))
	second = Call(D(3), D(4), datetime(2026, 11, 9, 9))
	assert latest([second, first]) is second
	assert latest([first, second], until=datetime(2026, 11, 8)) is first
	assert latest([first, second], until=datetime(2026, 11, 1)) is None
	assert latest([]) is None


def test_a_managers_default_call_rolls_the_team_up_as_adjusted():
	own = Figures(closed=D(5), commit=D(10), best_case=D(30))
	reports = [
		ReportLine("R1", Figures(commit=D(999)), call=Call(D(320), D(600))),
		# the manager's adjustment wins over the rep's own call
		ReportLine("R2", Figures(), call=Call(D(60), D(80)), adjustment=Call(D(40), D(70))),
		# no call: the computed figures (won + commit, won + best case)
		ReportLine("R3", Figures(closed=D(7), commit=D(0), best_case=D(70))),
	]
	call = rolled_up_call(own, reports)
	assert (call.commit, call.best_case) == (D(5 + 10 + 320 + 40 + 7), D(5 + 30 + 600 + 70 + 77))
	assert reports[1].effective.commit == D(40)


def test_a_reps_suggested_call_is_won_plus_commit():
	call = suggested_call(Figures(closed=D(100), commit=D(200), best_case=D(500)))
	assert (call.commit, call.best_case) == (D(300), D(600))


def test_weeks_start_on_monday():
	assert week_start(date(2026, 12, 7)) == date(2026, 12, 7)  # a Monday
	assert week_start(datetime(2026, 12, 13, 23, 59)) == date(2026, 12, 7)
	assert weeks_of(date(2026, 10, 1), date(2026, 10, 31)) == [
		date(2026, 9, 28),
		date(2026, 10, 5),
		date(2026, 10, 12),
		date(2026, 10, 19),
		date(2026, 10, 26),
	]


def test_week_over_week():
	now = Figures(closed=D(100), commit=D(50), best_case=D(80), pipeline=D(300), target=D(1000))
	before = Figures(closed=D(100), commit=D(70), best_case=D(60), pipeline=D(300), target=D(1000))
	changes = {change.name: change for change in week_over_week(now, before)}
	assert (changes["commit"].delta, changes["commit"].direction) == (-20.0, DOWN)
	assert changes["best_case"].direction == UP
	assert changes["pipeline"].direction == SAME
	assert changes["gap"].now == 900.0
	none = {change.name: change for change in week_over_week(now, None)}
	assert none["commit"].delta is None and none["commit"].direction is None


def test_accuracy_holds_each_weeks_latest_call_against_the_won():
	calls = [Call(D(150), D(200), datetime(2026, 10, 6, 10)), Call(D(90), D(120), datetime(2026, 10, 21, 10))]
	result = accuracy("R1", calls, D(100), date(2026, 10, 1), date(2026, 10, 31))
	assert [(week.week, week.commit) for week in result.weeks] == [
		(date(2026, 9, 28), None),
		(date(2026, 10, 5), D(150)),
		(date(2026, 10, 12), D(150)),
		(date(2026, 10, 19), D(90)),
		(date(2026, 10, 26), D(90)),
	]
	assert [week.error for week in result.weeks] == [None, 0.5, 0.5, -0.1, -0.1]
	assert round(result.mean_absolute_error, 6) == 0.3
	assert accuracy("R2", [], D(0), date(2026, 10, 1), date(2026, 10, 31)).mean_absolute_error is None


def test_subtree_figures_roll_deals_up_and_take_the_tree_target():
	own = {
		"R1": Figures(closed=D(100), commit=D(200), best_case=D(500), pipeline=D(900), target=D(7)),
		"R2": Figures(commit=D(50), best_case=D(50), pipeline=D(200)),
		"M": Figures(commit=D(10), best_case=D(10), pipeline=D(10)),
	}
	members = {"M": ["M", "R1", "R2"], "R1": ["R1"], "R2": ["R2"]}
	team = subtree_figures(own, members, {"M": D(1000), "R1": D(600), "R2": None})
	assert (team["M"].closed, team["M"].commit, team["M"].best_case, team["M"].pipeline) == (
		D(100),
		D(260),
		D(560),
		D(1110),
	)
	assert team["M"].target == D(1000) and team["R2"].target is None and team["R1"].target == D(600)
