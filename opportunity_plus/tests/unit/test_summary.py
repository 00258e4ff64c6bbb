import hashlib
from datetime import date, datetime
from decimal import Decimal

from opportunity_plus.core.summary import Contribution, Key, contribution, deltas, key_name, month_start

ROW = {
	"company": "ACME",
	"territory": None,
	"opportunity_owner": "rep@x.com",
	"sales_stage": "Proposal",
	"status": "Open",
	"forecast_category": "Best Case",
	"expected_closing": date(2026, 12, 17),
	"base_opportunity_amount": Decimal("1000.123456789"),
	"probability": Decimal("33.333333333"),
}


def test_contribution_keys_and_amounts():
	c = contribution(ROW)
	assert c.key == Key("ACME", "", "rep@x.com", "Proposal", "Open", "Best Case", date(2026, 12, 1), None)
	assert contribution({**ROW, "pipeline": "Renewals"}).key.pipeline == "Renewals"
	closed = contribution({**ROW, "status": "Converted", "closed_on": date(2026, 11, 20)})
	assert closed.key.closed_month == date(2026, 11, 1)
	assert c.base_amount == Decimal("1000.123456789")
	# 1000.123456789 x 33.333333333 / 100 = 333.374485592999... rounded half up to 9 places
	assert c.weighted_amount == Decimal("333.374485593")


def test_empty_values_are_one_key_and_no_close_date_has_no_month():
	c = contribution({**ROW, "territory": "", "expected_closing": None, "probability": None})
	assert c.key.territory == "" and c.key.close_month is None
	assert c.weighted_amount == 0


def test_month_start_accepts_dates_datetimes_and_text():
	assert month_start(datetime(2026, 2, 28, 23, 59)) == date(2026, 2, 1)
	assert month_start("2026-03-31") == date(2026, 3, 1)
	assert month_start(None) is None


def test_key_name_is_the_digest_the_rebuild_computes_in_sql():
	key = Key("ACME", "Zürich 50%", "", "Proposal", "Open", "", date(2026, 12, 1))
	text = "\x1f".join(["ACME", "Zürich 50%", "", "Proposal", "Open", "", "2026-12-01", "", ""])
	assert key_name(key) == hashlib.md5(text.encode()).hexdigest()
	renewals = Key("ACME", "", "", "Proposal", "Open", "", None, None, "Renewals")
	text = "\x1f".join(["ACME", "", "", "Proposal", "Open", "", "", "", "Renewals"])
	assert key_name(renewals) == hashlib.md5(text.encode()).hexdigest()
	assert key_name(Key("A", "", "", "", "", "", None)).isalnum()


def test_a_move_takes_the_old_contribution_out_and_puts_the_new_one_in():
	old = contribution(ROW)
	new = contribution({**ROW, "sales_stage": "Negotiation", "base_opportunity_amount": Decimal(2000)})
	changes = deltas([(old, new)])
	assert changes[old.key].deal_count == -1 and changes[old.key].base_amount == -old.base_amount
	assert changes[new.key].deal_count == 1 and changes[new.key].base_amount == Decimal(2000)


def test_unchanged_and_cancelling_changes_are_left_out():
	a = contribution(ROW)
	b = contribution({**ROW, "status": "Quotation"})
	assert deltas([(a, a)]) == {}
	# one deal moves a -> b and another b -> a: nothing changes
	assert deltas([(a, b), (b, a)]) == {}


def test_new_and_deleted_deals():
	a = contribution(ROW)
	assert deltas([(None, a)])[a.key].deal_count == 1
	assert deltas([(a, None)])[a.key].deal_count == -1


def test_changes_are_ordered_by_row_name_for_a_stable_lock_order():
	contributions = [contribution({**ROW, "sales_stage": f"S{i}"}) for i in range(20)]
	keys = list(deltas([(None, c) for c in contributions]))
	assert [key_name(k) for k in keys] == sorted(key_name(k) for k in keys)
	assert isinstance(contributions[0], Contribution)
