from datetime import date

from opportunity_plus.core.deal import close_date_required, is_overdue
from opportunity_plus.core.stages import Stage

TODAY = date(2026, 11, 25)


def test_open_deal_past_its_close_date_is_overdue():
	assert is_overdue("Open", date(2026, 11, 24), TODAY)
	assert is_overdue("Quotation", date(2025, 1, 1), TODAY)
	assert is_overdue("Replied", date(2026, 11, 24), TODAY)


def test_close_date_today_or_later_or_missing_is_not_overdue():
	assert not is_overdue("Open", TODAY, TODAY)
	assert not is_overdue("Open", date(2026, 12, 1), TODAY)
	assert not is_overdue("Open", None, TODAY)


def test_closed_deals_are_never_overdue():
	for status in ("Lost", "Converted", "Closed"):
		assert not is_overdue(status, date(2020, 1, 1), TODAY)


QUAL = Stage("Qualification", 10, "Open", 10)
PROPOSAL = Stage("Proposal", 50, "Open", 30)
NEGOTIATION = Stage("Negotiation", 75, "Open", 40)
WON = Stage("Won", 100, "Won", 50)
UNORDERED_STAGE = Stage("Custom", 40, "Open", 0)


def test_close_date_is_required_from_the_configured_stage_on():
	assert not close_date_required(QUAL, PROPOSAL)
	assert close_date_required(PROPOSAL, PROPOSAL)
	assert close_date_required(NEGOTIATION, PROPOSAL)


def test_close_date_rule_off_without_a_configured_stage_or_a_stage():
	assert not close_date_required(NEGOTIATION, None)
	assert not close_date_required(None, PROPOSAL)


def test_unordered_and_closed_stages_do_not_require_it():
	assert not close_date_required(UNORDERED_STAGE, PROPOSAL)
	assert not close_date_required(WON, PROPOSAL)
