from datetime import date, datetime, timedelta
from decimal import Decimal

from opportunity_plus.core.history import (
	Change,
	HistoryEntry,
	changes,
	close_date_slips,
	normalise,
	time_in_stages,
)

T0 = datetime(2026, 1, 1, 9, 0, 0)


def test_numbers_compare_by_value_not_by_text():
	assert normalise(5, "number") == normalise(5.0, "number") == normalise("5.000", "number") == "5"
	assert normalise(Decimal("1234.50"), "number") == "1234.5"
	assert normalise(0, "number") == "0"
	assert normalise(None, "number") is None
	assert normalise("", "number") is None


def test_dates_compare_by_day():
	assert normalise(date(2026, 3, 1), "date") == "2026-03-01"
	assert normalise("2026-03-01", "date") == "2026-03-01"
	assert normalise(datetime(2026, 3, 1, 12, 30), "date") == "2026-03-01"


def test_no_change_gives_no_rows():
	before = {"sales_stage": "Proposal", "probability": 50, "expected_closing": date(2026, 3, 1)}
	after = {"sales_stage": "Proposal", "probability": 50.0, "expected_closing": "2026-03-01"}
	assert changes(before, after) == []


def test_each_changed_field_gives_one_row():
	before = {"sales_stage": "Proposal", "status": "Open", "opportunity_amount": 100, "probability": 50}
	after = {"sales_stage": "Negotiation", "status": "Open", "opportunity_amount": 150, "probability": 75}
	assert changes(before, after) == [
		Change("sales_stage", "Proposal", "Negotiation"),
		Change("opportunity_amount", "100", "150"),
		Change("probability", "50", "75"),
	]


def test_new_document_records_what_it_was_created_with():
	after = {"sales_stage": "Qualification", "status": "Open", "opportunity_amount": 0, "probability": None}
	assert changes({}, after) == [
		Change("sales_stage", None, "Qualification"),
		Change("status", None, "Open"),
		Change("opportunity_amount", None, "0"),
	]


def test_clearing_a_value_is_a_change():
	assert changes({"expected_closing": "2026-01-01"}, {"expected_closing": None}) == [
		Change("expected_closing", "2026-01-01", None)
	]


def stage(to, hours, frm=None):
	return HistoryEntry("sales_stage", frm, to, T0 + timedelta(hours=hours))


def test_time_in_stages_counts_until_the_next_stage_and_the_current_one_until_now():
	entries = [stage("Qualification", 0), stage("Proposal", 10, "Qualification"), stage("Negotiation", 15)]
	assert time_in_stages(entries, until=T0 + timedelta(hours=20)) == {
		"Qualification": 10 * 3600,
		"Proposal": 5 * 3600,
		"Negotiation": 5 * 3600,
	}


def test_reentering_a_stage_adds_up_and_order_of_input_does_not_matter():
	entries = [stage("B", 2), stage("A", 0), stage("A", 3), stage("B", 1)]
	assert time_in_stages(entries, until=T0 + timedelta(hours=4)) == {"A": 2 * 3600, "B": 2 * 3600}


def test_time_in_stages_ignores_other_fields_and_cleared_stage():
	entries = [
		stage("A", 0),
		HistoryEntry("probability", "10", "20", T0 + timedelta(hours=1)),
		stage(None, 2, "A"),
	]
	assert time_in_stages(entries, until=T0 + timedelta(hours=5)) == {"A": 2 * 3600}
	assert time_in_stages([], until=T0) == {}


def test_close_date_slips_count_only_moves_later():
	def moved(frm, to):
		return HistoryEntry("expected_closing", frm, to, T0)

	entries = [
		moved(None, "2026-01-31"),  # first set: not a slip
		moved("2026-01-31", "2026-02-28"),  # slip
		moved("2026-02-28", "2026-02-15"),  # pulled in: not a slip
		moved("2026-02-15", "2026-03-31"),  # slip
		HistoryEntry("sales_stage", "A", "B", T0),
	]
	assert close_date_slips(entries) == 2
