from datetime import date

import pytest

from opportunity_plus.core import mapping
from opportunity_plus.core.mapping import SourceLine
from opportunity_plus.core.stages import Stage

PROSPECTING = Stage("Prospecting", 5, "Open", 10)
PROPOSAL = Stage("Proposal/Price Quote", 60, "Open", 70)
NEGOTIATION = Stage("Negotiation/Review", 80, "Open", 80)
UNORDERED = Stage("Site Visit", 30, "Open", 0)
WON = Stage("Won", 100, "Won", 90)
LOST = Stage("Lost", 0, "Lost", 100)


# --- which opportunities may be mapped -------------------------------------------------------------


@pytest.mark.parametrize("status", ["Open", "Replied", "Quotation", None])
@pytest.mark.parametrize("target", mapping.TARGETS)
def test_open_deals_map_to_anything(status, target):
	assert mapping.mapping_blocked(status, target) is None


@pytest.mark.parametrize(
	"status, code",
	[("Closed", mapping.DEAL_CLOSED), ("Lost", mapping.DEAL_LOST), ("Converted", mapping.DEAL_CONVERTED)],
)
def test_no_quotation_for_a_closed_lost_or_converted_deal(status, code):
	assert mapping.mapping_blocked(status, mapping.QUOTATION) == code


@pytest.mark.parametrize("target", [mapping.SUPPLIER_QUOTATION, mapping.REQUEST_FOR_QUOTATION])
def test_a_won_deal_may_still_buy_but_a_closed_or_lost_one_may_not(target):
	assert mapping.mapping_blocked("Converted", target) is None
	assert mapping.mapping_blocked("Lost", target) == mapping.DEAL_LOST
	assert mapping.mapping_blocked("Closed", target) == mapping.DEAL_CLOSED


def test_an_unknown_target_is_a_programming_error():
	with pytest.raises(ValueError):
		mapping.mapping_blocked("Open", "sales_order")


# --- quotation line rate ---------------------------------------------------------------------------


def test_the_opportunity_rate_wins_over_the_price_list():
	assert mapping.quotation_rate(40, 50, 50) == 40
	# even when the mapper repriced the line
	assert mapping.quotation_rate(40, 45, 50) == 40


def test_an_unpriced_line_keeps_the_mappers_price_list_rate_with_its_discounts():
	assert mapping.quotation_rate(0, 45, 50) == 45
	assert mapping.quotation_rate(None, 70, 70) == 70


def test_an_unpriced_line_falls_back_to_the_bare_price_list_rate():
	assert mapping.quotation_rate(0, 0, 70) == 70
	assert mapping.quotation_rate(None, None, 70) == 70


def test_no_price_anywhere_leaves_the_line_at_zero():
	assert mapping.quotation_rate(None, None, None) == 0
	assert mapping.quotation_rate(0, 0, -5) == 0


def test_a_negative_opportunity_rate_is_not_an_agreed_price():
	assert mapping.quotation_rate(-1, 30, 30) == 30


# --- stage after a submitted quotation -------------------------------------------------------------


def test_an_earlier_stage_moves_to_the_proposal_stage():
	assert mapping.stage_after_quotation("Quotation", PROSPECTING, PROPOSAL) == PROPOSAL.name


def test_a_deal_without_a_stage_moves():
	assert mapping.stage_after_quotation("Quotation", None, PROPOSAL) == PROPOSAL.name


def test_a_deal_already_in_the_proposal_stage_stays():
	assert mapping.stage_after_quotation("Quotation", PROPOSAL, PROPOSAL) is None


def test_a_deal_never_moves_backwards():
	assert mapping.stage_after_quotation("Quotation", NEGOTIATION, PROPOSAL) is None


def test_a_stage_without_an_order_has_no_known_position_and_moves():
	assert mapping.stage_after_quotation("Quotation", UNORDERED, PROPOSAL) == PROPOSAL.name


def test_an_unordered_target_is_after_every_ordered_stage():
	target = Stage("Quoted", 60, "Open", 0)
	assert mapping.stage_after_quotation("Quotation", NEGOTIATION, target) == "Quoted"


@pytest.mark.parametrize("status", ["Converted", "Lost", "Closed"])
def test_a_closed_deal_stays(status):
	assert mapping.stage_after_quotation(status, PROSPECTING, PROPOSAL) is None


@pytest.mark.parametrize("status", ["Open", "Replied", "Quotation"])
def test_every_open_status_moves(status):
	assert mapping.stage_after_quotation(status, PROSPECTING, PROPOSAL) == PROPOSAL.name


@pytest.mark.parametrize("current", [WON, LOST])
def test_a_won_or_lost_stage_is_left_alone(current):
	assert mapping.stage_after_quotation("Quotation", current, PROPOSAL) is None


@pytest.mark.parametrize("target", [None, WON, LOST])
def test_no_configured_open_target_means_no_move(target):
	assert mapping.stage_after_quotation("Quotation", PROSPECTING, target) is None


# --- required-by date ------------------------------------------------------------------------------


def test_required_by_is_the_expected_closing_date_when_ahead():
	assert mapping.required_by(date(2026, 6, 30), date(2026, 6, 1)) == date(2026, 6, 30)
	assert mapping.required_by(date(2026, 6, 1), date(2026, 6, 1)) == date(2026, 6, 1)


def test_a_past_or_missing_closing_date_sets_no_required_by():
	assert mapping.required_by(date(2026, 5, 31), date(2026, 6, 1)) is None
	assert mapping.required_by(None, date(2026, 6, 1)) is None


# --- supplier quotations ---------------------------------------------------------------------------


def test_choose_supplier_takes_the_first_usable_candidate():
	assert mapping.choose_supplier(["", None, "Item Default Co", "Listed Co"]) == "Item Default Co"
	assert mapping.choose_supplier([]) is None


def test_lines_are_grouped_by_supplier_in_order_of_appearance():
	plan = mapping.plan_supplier_quotations(
		[
			SourceLine("row1", "BLADE", ("Blades Inc",)),
			SourceLine("row2", "TOWER", ("Steel Co", "Blades Inc")),
			SourceLine("row3", "BOLT", ("Blades Inc",)),
			SourceLine("row4", "CABLE", ("Copper Ltd",)),
		]
	)
	assert plan.complete
	assert list(plan.groups) == ["Blades Inc", "Steel Co", "Copper Ltd"]
	assert plan.groups == {"Blades Inc": ["row1", "row3"], "Steel Co": ["row2"], "Copper Ltd": ["row4"]}


def test_lines_without_a_supplier_are_unassigned_without_a_fallback():
	orphan = SourceLine("row2", "SURVEY")
	plan = mapping.plan_supplier_quotations([SourceLine("row1", "BLADE", ("Blades Inc",)), orphan])
	assert not plan.complete
	assert plan.unassigned == [orphan]
	assert plan.groups == {"Blades Inc": ["row1"]}


def test_the_picked_supplier_takes_the_unassigned_lines():
	plan = mapping.plan_supplier_quotations(
		[SourceLine("row1", "SURVEY"), SourceLine("row2", "BLADE", ("Blades Inc",))], "Survey Co"
	)
	assert plan.complete
	assert plan.groups == {"Survey Co": ["row1"], "Blades Inc": ["row2"]}


def test_a_picked_supplier_that_is_also_a_default_gets_one_quotation():
	plan = mapping.plan_supplier_quotations(
		[SourceLine("row1", "BLADE", ("Blades Inc",)), SourceLine("row2", "SURVEY")], "Blades Inc"
	)
	assert plan.groups == {"Blades Inc": ["row1", "row2"]}


def test_the_fallback_never_replaces_a_default_supplier():
	plan = mapping.plan_supplier_quotations([SourceLine("row1", "BLADE", ("Blades Inc",))], "Other Co")
	assert plan.groups == {"Blades Inc": ["row1"]}


def test_an_empty_opportunity_plans_nothing():
	plan = mapping.plan_supplier_quotations([], "Other Co")
	assert plan.groups == {} and plan.complete


# --- expected margin -------------------------------------------------------------------------------


def test_the_lowest_positive_supplier_rate_is_the_best():
	quoted = [("A", 9), ("A", 7.5), ("A", 0), ("B", None), ("B", 4), ("", 1)]
	assert mapping.best_buying_rates(quoted) == {"A": 7.5, "B": 4}


def test_expected_margin_per_line_and_in_total():
	lines = [mapping.SellingLine("A", 10, 12), mapping.SellingLine("B", 2, 50)]
	result = mapping.expected_margin(lines, [("A", 9), ("A", 8), ("B", 40)])
	first, second = result.lines
	assert (first.selling, first.best_rate, first.best_cost, first.margin) == (120, 8, 80, 40)
	assert first.margin_percent == pytest.approx(100 / 3)
	assert (second.selling, second.best_cost, second.margin, second.margin_percent) == (100, 80, 20, 20)
	assert (result.selling, result.priced_selling, result.cost, result.margin) == (220, 220, 160, 60)
	assert result.margin_percent == pytest.approx(60 / 220 * 100)
	assert result.unpriced == []


def test_unquoted_items_are_listed_and_left_out_of_cost_and_margin():
	lines = [
		mapping.SellingLine("A", 1, 100),
		mapping.SellingLine("B", 3, 10),
		mapping.SellingLine("B", 1, 10),
	]
	result = mapping.expected_margin(lines, [("A", 60), ("B", 0)])
	assert result.unpriced == ["B"]
	assert [line.margin for line in result.lines] == [40, None, None]
	assert (result.selling, result.priced_selling, result.cost, result.margin) == (140, 100, 60, 40)
	assert result.margin_percent == 40


def test_no_selling_value_has_no_margin_percent():
	result = mapping.expected_margin([mapping.SellingLine("A", 1, 0)], [("A", 5)])
	assert (result.lines[0].margin, result.lines[0].margin_percent) == (-5, None)
	assert result.margin_percent is None
	empty = mapping.expected_margin([], [])
	assert (empty.selling, empty.cost, empty.margin, empty.margin_percent) == (0, 0, 0, None)
	assert empty.unpriced == []
