from datetime import date, datetime, timedelta

from opportunity_plus.core.funnel import (
	LOST,
	MOVED,
	OPEN,
	WON,
	DealPath,
	Event,
	FunnelStage,
	funnel,
	stays,
	weighted_median,
)

T0 = datetime(2026, 3, 2, 9, 0, 0)
STAGES = (
	FunnelStage("Prospecting", "Open", 10),
	FunnelStage("Proposal", "Open", 40),
	FunnelStage("Negotiation", "Open", 70),
	FunnelStage("Won", "Won", 100),
	FunnelStage("Lost", "Lost", 0),
)


def at(days: float) -> datetime:
	return T0 + timedelta(days=days)


def stage(days, from_value, to_value):
	return Event("sales_stage", from_value, to_value, at(days))


def status(days, from_value, to_value):
	return Event("status", from_value, to_value, at(days))


def deal(stage_now, status_now, *events, closed_on=None):
	return DealPath(created=T0, stage=stage_now, status=status_now, closed_on=closed_on, events=events)


def row(result, name):
	return next(r for r in result.rows if r.stage == name)


def test_a_deal_created_in_a_stage_and_never_moved_is_still_there():
	result = funnel(STAGES, [deal("Proposal", "Open")])
	proposal = row(result, "Proposal")
	assert (proposal.entered, proposal.went_on, proposal.still_open, proposal.lost) == (1, 0, 1, 0)
	assert proposal.median_days is None and proposal.finished_stays == 0
	assert row(result, "Prospecting").entered == 0
	assert result.deals == 1 and result.still_open == 1 and result.win_rate is None


def test_created_through_the_app_the_creation_row_is_the_first_stay():
	# the app records the stage a deal is created with as a change from nothing
	found = stays(
		deal("Proposal", "Open", stage(0, None, "Prospecting"), stage(3, "Prospecting", "Proposal"))
	)
	assert [(s.stage, s.entered, s.left, s.ending) for s in found] == [
		("Prospecting", at(0), at(3), MOVED),
		("Proposal", at(3), None, OPEN),
	]


def test_a_deal_older_than_the_history_entered_its_first_stage_at_creation():
	# the first stage row moves it from the stage it had before the history began
	found = stays(deal("Proposal", "Open", stage(5, "Prospecting", "Proposal")))
	assert [(s.stage, s.entered, s.left) for s in found] == [
		("Prospecting", T0, at(5)),
		("Proposal", at(5), None),
	]


def test_won_lost_and_skipped_stages():
	deals = [
		# straight through and won (ERPNext's conversion moves the stage to Won and sets Converted)
		deal(
			"Won",
			"Converted",
			stage(0, None, "Prospecting"),
			stage(2, "Prospecting", "Proposal"),
			stage(6, "Proposal", "Negotiation"),
			stage(10, "Negotiation", "Won"),
			status(10, "Quotation", "Converted"),
		),
		# skips Proposal, then lost in Negotiation (declare lost: the Lost stage and the Lost status)
		deal(
			"Lost",
			"Lost",
			stage(0, None, "Prospecting"),
			stage(4, "Prospecting", "Negotiation"),
			stage(5, "Negotiation", "Lost"),
			status(5, "Open", "Lost"),
		),
		# lost in Prospecting without a stage move (status only)
		deal("Prospecting", "Lost", stage(0, None, "Prospecting"), status(8, "Open", "Lost")),
	]
	result = funnel(STAGES, deals)
	prospecting, proposal, negotiation = (row(result, s) for s in ("Prospecting", "Proposal", "Negotiation"))
	assert (prospecting.entered, prospecting.went_on, prospecting.lost) == (3, 2, 1)
	assert prospecting.conversion == 2 / 3
	assert prospecting.median_days == 4.0  # stays of 2, 4 and 8 days
	assert (proposal.entered, proposal.went_on, proposal.lost) == (1, 1, 0)
	assert (negotiation.entered, negotiation.went_on, negotiation.lost, negotiation.won) == (2, 1, 1, 1)
	assert negotiation.median_days == 2.5  # 4 and 1 days
	assert negotiation.reached == 2 / 3
	won = row(result, "Won")
	assert (won.entered, won.won, won.went_on, won.conversion) == (1, 1, None, None)
	assert row(result, "Lost").entered == 1
	assert (result.deals, result.won, result.lost, result.win_rate) == (3, 1, 2, 1 / 3)


def test_won_without_reaching_the_won_stage_counts_as_going_on():
	result = funnel(
		STAGES,
		[deal("Proposal", "Converted", stage(0, None, "Proposal"), status(3, "Quotation", "Converted"))],
	)
	proposal = row(result, "Proposal")
	assert (proposal.entered, proposal.went_on, proposal.won, proposal.median_days) == (1, 1, 1, 3.0)


def test_going_back_and_coming_again_counts_a_deal_once_and_every_stay():
	result = funnel(
		STAGES,
		[
			deal(
				"Negotiation",
				"Open",
				stage(0, None, "Proposal"),
				stage(1, "Proposal", "Prospecting"),
				stage(2, "Prospecting", "Proposal"),
				stage(5, "Proposal", "Negotiation"),
			)
		],
	)
	proposal = row(result, "Proposal")
	assert (proposal.entered, proposal.went_on, proposal.finished_stays, proposal.median_days) == (
		1,
		1,
		2,
		2.0,
	)
	prospecting = row(result, "Prospecting")
	# from Prospecting it went on to Proposal: further along
	assert (prospecting.entered, prospecting.went_on) == (1, 1)
	assert row(result, "Negotiation").still_open == 1


def test_moving_back_only_is_not_going_on():
	result = funnel(
		STAGES, [deal("Prospecting", "Open", stage(0, None, "Proposal"), stage(2, "Proposal", "Prospecting"))]
	)
	assert row(result, "Proposal").went_on == 0
	assert row(result, "Proposal").lost == 0 and row(result, "Proposal").still_open == 0


def test_a_reopened_deal_stays_again_in_its_stage():
	found = stays(
		deal(
			"Proposal",
			"Open",
			stage(0, None, "Proposal"),
			status(2, "Open", "Lost"),
			status(4, "Lost", "Open"),
		)
	)
	assert [(s.stage, s.entered, s.left, s.ending) for s in found] == [
		("Proposal", at(0), at(2), LOST),
		("Proposal", at(4), None, OPEN),
	]
	result = funnel(
		STAGES,
		[
			deal(
				"Proposal",
				"Open",
				stage(0, None, "Proposal"),
				status(2, "Open", "Lost"),
				status(4, "Lost", "Open"),
			)
		],
	)
	proposal = row(result, "Proposal")
	assert (proposal.entered, proposal.lost, proposal.still_open) == (1, 0, 1)


def test_closed_before_the_history_began_ends_on_its_closed_on_day():
	found = stays(deal("Proposal", "Lost", closed_on=date(2026, 3, 12)))
	assert [(s.stage, s.left, s.ending) for s in found] == [("Proposal", datetime(2026, 3, 12), LOST)]
	# never before it was entered
	found = stays(deal("Proposal", "Converted", closed_on=date(2026, 3, 1)))
	assert found[0].left == T0 and found[0].ending == WON


def test_stages_of_another_pipeline_end_a_stay_but_have_no_row():
	result = funnel(
		STAGES,
		[deal("Proposal", "Open", stage(0, None, "Renewal Due"), stage(3, "Renewal Due", "Proposal"))],
	)
	assert [r.stage for r in result.rows] == [s.name for s in STAGES]
	assert row(result, "Proposal").entered == 1
	assert sum(r.entered for r in result.rows) == 1


def test_a_deal_without_a_stage_counts_in_no_row():
	result = funnel(STAGES, [deal(None, "Open")])
	assert result.deals == 1 and all(r.entered == 0 for r in result.rows)
	assert all(r.reached == 0 for r in result.rows)


def test_median():
	def median(values):
		return weighted_median([(value, 1) for value in values])

	assert median([]) is None
	assert median([3.0]) == 3.0
	assert median([1.0, 2.0, 10.0]) == 2.0
	assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
	assert median([0.11, 0.13]) == 0.1  # to a tenth of a day


def test_entry_rows_put_the_deals_flags_on_its_first_stay_in_a_stage():
	from opportunity_plus.core.funnel import entry_rows

	rows = entry_rows(
		STAGES,
		deal(
			"Won",
			"Converted",
			stage(0, None, "Proposal"),
			stage(1, "Proposal", "Prospecting"),
			stage(2, "Prospecting", "Proposal"),
			stage(5, "Proposal", "Won"),
			status(5, "Quotation", "Converted"),
		),
	)
	assert [(r.stage, r.visit, r.first, r.went_on, r.won, r.lost, r.still_here, r.days) for r in rows] == [
		("Proposal", 1, True, True, True, False, False, 1.0),
		("Prospecting", 1, True, True, False, False, False, 1.0),
		("Proposal", 2, False, False, False, False, False, 3.0),
		("Won", 1, True, True, True, False, False, 0.0),
	]


def test_the_funnel_from_stored_rows_equals_the_funnel_from_deals():
	from opportunity_plus.core.funnel import FunnelBuilder, entry_rows

	deals = [
		deal("Negotiation", "Open", stage(0, None, "Prospecting"), stage(2, "Prospecting", "Negotiation")),
		deal(
			"Lost",
			"Lost",
			stage(0, None, "Proposal"),
			stage(3, "Proposal", "Lost"),
			status(3, "Open", "Lost"),
		),
		deal("Proposal", "Open"),
	]
	direct = funnel(STAGES, deals)
	stored = FunnelBuilder(STAGES)
	for one in deals:
		stored.add_deals(one.status, 1)
		for r in entry_rows(STAGES, one):
			stored.add_counts(r.stage, r.first, r.went_on, r.won, r.lost, r.still_here)
			if r.days is not None:
				stored.add_durations(r.stage, [(r.days, 1)])
	assert stored.funnel() == direct


def test_weighted_median():
	from opportunity_plus.core.funnel import weighted_median

	assert weighted_median([]) is None
	assert weighted_median([(2.0, 3), (10.0, 1)]) == 2.0
	assert weighted_median([(1.0, 1), (3.0, 1)]) == 2.0
	assert weighted_median([(1.0, 2), (5.0, 2)]) == 3.0
	assert weighted_median([(0.2, 1), (0.3, 1)]) == 0.3  # 0.25, half up
	assert weighted_median([(4.0, 0)]) is None
