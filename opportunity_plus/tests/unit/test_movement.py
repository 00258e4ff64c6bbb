from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from opportunity_plus.core.movement import (
	CLOSED,
	LOST,
	LOWERED,
	NEW,
	NO_HISTORY,
	PULLED_IN,
	PUSHED_OUT,
	RAISED,
	REOPENED,
	WON,
	Deal,
	DealState,
	Period,
	Totals,
	as_of,
	classify,
	effective_category,
	in_pipeline,
	movement,
	state_at,
)

A = datetime(2026, 11, 1, 12)
B = datetime(2026, 11, 15, 12)
Q1 = Period(date(2027, 1, 1), date(2027, 3, 31))
JAN, MAY = date(2027, 1, 20), date(2027, 5, 5)


def state(status="Open", amount=100, close=JAN, stage="Proposal", probability=50, override=None):
	return DealState(status, stage, Decimal(amount), Decimal(probability), close, override)


def deal(name, now, created=datetime(2026, 1, 1), changes=(), rate=1, current_amount=None):
	return Deal(
		name=name,
		created=created,
		now=now,
		current_amount=Decimal(current_amount if current_amount is not None else now.amount / rate),
		conversion_rate=Decimal(rate),
		changes=tuple(changes),
		title=name.title(),
	)


def test_state_at_takes_each_field_back_to_before_its_first_change_after_the_moment():
	d = deal(
		"d",
		state(amount=300, close=MAY, stage="Negotiation", probability=80),
		changes=[
			(datetime(2026, 11, 20), "opportunity_amount", "200"),  # after B: 200 -> 300
			(datetime(2026, 11, 10), "opportunity_amount", "100"),  # between A and B: 100 -> 200
			(datetime(2026, 11, 10), "expected_closing", "2027-01-20"),
			(datetime(2026, 10, 1), "sales_stage", "Qualification"),  # before A: no effect
			(datetime(2026, 11, 12), "sales_stage", "Proposal"),
			(datetime(2026, 11, 12), "probability", "50"),
		],
	)
	assert state_at(d, A) == state(amount=100, close=JAN, stage="Proposal", probability=50)
	assert state_at(d, B) == state(amount=200, close=MAY, stage="Negotiation", probability=80)
	assert state_at(d, datetime(2026, 12, 1)) == d.now


def test_a_past_state_keeps_the_pipeline_the_deal_is_in_now():
	# a move from Default to Projects recorded after A (its stage mapped with it): the deal's pipeline is
	# taken as it is now, its stage as it was
	now = replace(state(stage="Survey"), pipeline="Projects")
	d = deal(
		"d",
		now,
		changes=[(B, "op_pipeline", "Default"), (B, "sales_stage", "Proposal")],
	)
	assert state_at(d, A) == replace(state(stage="Proposal"), pipeline="Projects")


def test_a_deal_did_not_exist_before_it_was_created():
	assert state_at(deal("d", state(), created=B), A) is None


def test_past_amounts_are_converted_at_the_deals_rate_and_an_unchanged_amount_keeps_its_base():
	now = state(amount=Decimal("1100.000000001"))  # base of 1000 at 1.100000000001
	d = deal("d", now, rate=Decimal("1.1"), current_amount=1000, changes=[(B, "opportunity_amount", "500")])
	assert state_at(d, A).amount == Decimal("550.0")
	back_and_forth = deal(
		"e", now, rate=Decimal("1.1"), current_amount=1000, changes=[(B, "opportunity_amount", "1000")]
	)
	assert state_at(back_and_forth, A).amount == now.amount


def test_in_pipeline_means_open_with_a_close_date_in_the_period():
	assert in_pipeline(state(), Q1)
	assert not in_pipeline(state(close=MAY), Q1)
	assert not in_pipeline(state(status="Lost"), Q1)
	assert not in_pipeline(state(close=None), Q1)
	assert in_pipeline(state(close=None), Period(None, None))
	assert not in_pipeline(None, Q1)


def test_classify_each_kind_of_move():
	assert classify(state(amount=100), state(amount=150), Q1) == (RAISED, 50)
	assert classify(state(amount=100), state(amount=60), Q1) == (LOWERED, -40)
	assert classify(state(), state(), Q1) is None
	assert classify(state(close=MAY), state(close=JAN, amount=70), Q1) == (PULLED_IN, 70)
	assert classify(state(), state(close=MAY), Q1) == (PUSHED_OUT, -100)
	assert classify(state(), state(close=None), Q1) == (PUSHED_OUT, -100)
	assert classify(state(), state(status="Converted"), Q1) == (WON, -100)
	assert classify(state(), state(status="Lost"), Q1) == (LOST, -100)
	assert classify(state(), state(status="Closed"), Q1) == (CLOSED, -100)
	assert classify(None, state(amount=40), Q1) == (NEW, 40)
	assert classify(state(status="Lost"), state(amount=40), Q1) == (REOPENED, 40)
	assert classify(None, state(close=MAY), Q1) is None
	assert classify(None, state(amount=40), Q1, known=False) == (NO_HISTORY, 40)


def test_movement_balances_and_lists_each_deal_under_one_step():
	# Now: the pipeline of Q1 is 150 (raised) + 70 (pulled in) + 40 (new) + 900 (unchanged) = 1160.
	unchanged_now = Decimal(900)
	raised = deal("raised", state(amount=150), changes=[(datetime(2026, 11, 5), "opportunity_amount", "100")])
	pulled = deal(
		"pulled", state(amount=70), changes=[(datetime(2026, 11, 6), "expected_closing", "2027-05-05")]
	)
	pushed = deal(
		"pushed", state(close=MAY), changes=[(datetime(2026, 11, 7), "expected_closing", "2027-01-20")]
	)
	won = deal(
		"won", state(status="Converted", amount=500), changes=[(datetime(2026, 11, 8), "status", "Open")]
	)
	new = deal("new", state(amount=40), created=datetime(2026, 11, 9))
	later = deal(
		"later", state(amount=0, status="Lost"), changes=[(datetime(2026, 11, 20), "status", "Open")]
	)
	pipeline_now = unchanged_now + 150 + 70 + 40
	result = movement(pipeline_now, [raised, pulled, pushed, won, new, later], A, B, Q1)
	# at A: 900 + raised 100 + pushed 100 + won 500 = 1600 (later was Open at A with 0 amount)
	assert result.opening == 1600
	# at B: later was still open (lost after B) with 0: 900 + 150 + 70 + 40 = 1160
	assert result.closing == 1160
	assert result.balanced
	assert result.steps[RAISED].amount == 50
	assert result.steps[PULLED_IN].amount == 70
	assert result.steps[PUSHED_OUT].amount == -100
	assert result.steps[WON].amount == -500
	assert result.steps[NEW].amount == 40
	assert [d["name"] for d in result.steps[WON].deals] == ["won"]


def test_deals_older_than_the_history_are_not_guessed():
	since = datetime(2026, 11, 10)
	old = deal("old", state(amount=300), created=datetime(2025, 1, 1))  # unchanged since
	young = deal("young", state(amount=20), created=datetime(2026, 11, 12))
	result = movement(Decimal(320), [old, young], A, None, Q1, known_since=since)
	assert result.opening == 0
	assert result.steps[NO_HISTORY].amount == 300
	assert result.steps[NEW].amount == 20
	assert result.closing == 320 and result.balanced
	# from the moment the history began, the same deal is known
	assert movement(Decimal(320), [young], since, None, Q1, known_since=since).opening == 300


def test_as_of_by_stage_and_the_unknown_part():
	now_by_stage = {
		"Proposal": Totals(2, Decimal(250), Decimal(125)),
		"Negotiation": Totals(1, Decimal(80), Decimal(64)),
	}
	moved = deal(
		"moved",
		state(amount=80, stage="Negotiation", probability=80),
		changes=[
			(datetime(2026, 11, 5), "sales_stage", "Proposal"),
			(datetime(2026, 11, 5), "probability", "50"),
		],
	)
	groups, unknown = as_of(now_by_stage, [moved], A, Q1, lambda s: s.stage)
	assert (
		groups["Proposal"].count == 3
		and groups["Proposal"].amount == 330
		and groups["Proposal"].weighted == 165
	)
	assert "Negotiation" not in groups
	assert unknown.count == 0
	groups, unknown = as_of(
		now_by_stage, [moved], A, Q1, lambda s: s.stage, known_since=datetime(2026, 12, 1)
	)
	assert unknown.count == 1 and unknown.amount == 80


def test_effective_category_follows_status_then_override_then_stage():
	categories = {"Proposal": "Best Case"}
	assert effective_category(state(), categories) == "Best Case"
	assert effective_category(state(override="Commit"), categories) == "Commit"
	assert effective_category(state(status="Converted", override="Commit"), categories) == "Closed"
	assert effective_category(state(status="Lost"), categories) == "Omitted"
	assert effective_category(state(stage="Unknown"), categories) == "Pipeline"
