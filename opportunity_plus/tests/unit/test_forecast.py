from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from opportunity_plus.core.forecast import (
	GROUPINGS,
	Deal,
	ForecastRow,
	MixedCompaniesError,
	deal_base_amount,
	deal_weighted_amount,
	forecast,
	month_key,
	outcome,
	pivot,
	quarter_key,
	totals,
)

STAGE_ORDER = {
	"Qualification": 10,
	"Needs Analysis": 20,
	"Proposal": 30,
	"Negotiation": 40,
	"Won": 50,
	"Lost": 60,
}


def deal(name="D", **fields):
	values = dict(name=name, company="ACME", status="Open", amount=0)
	values.update(fields)
	return Deal(**values)


# A company in USD with deals quoted in EUR and USD. Expected figures below are worked out by hand:
#   D1 Proposal      open  EUR 1000 x 1.1      = 1100 at 50% ->  550   2026-11-15 alice
#   D2 Proposal      open  USD 2000 (base)     = 2000 at 25% ->  500   2026-12-31 bob
#   D3 Negotiation   open  EUR 500, base 560   =  560 at 75% ->  420   2026-11-01 alice
#   D4 Qualification open  USD 300, no prob.   =  300 at  0  ->    0   no date    no owner
#   D5 Won           won   USD 5000                                    2026-10-10 alice
#   D6 Lost          lost  USD 1200                                    2025-11-20 bob
#   D7 Proposal      lost  USD 800 (Closed)                            2026-11-30 bob
FIXTURE = [
	deal(
		"D1",
		stage="Proposal",
		amount=1000,
		conversion_rate=1.1,
		probability=50,
		close_date=date(2026, 11, 15),
		owner="alice",
		territory="North",
		source="Web",
		opportunity_type="Sales",
	),
	deal(
		"D2",
		status="Quotation",
		stage="Proposal",
		amount=2000,
		base_amount=2000,
		probability=25,
		close_date=date(2026, 12, 31),
		owner="bob",
		territory="South",
		source="Referral",
		opportunity_type="Sales",
	),
	deal(
		"D3",
		status="Replied",
		stage="Negotiation",
		amount=500,
		conversion_rate=1.1,
		base_amount=560,
		probability=75,
		close_date=date(2026, 11, 1),
		owner="alice",
		territory="North",
		source="Web",
		opportunity_type="Support",
	),
	deal("D4", stage="Qualification", amount=300, probability=None),
	deal(
		"D5",
		status="Converted",
		stage="Won",
		stage_kind="Won",
		amount=5000,
		probability=100,
		close_date=date(2026, 10, 10),
		owner="alice",
		territory="South",
		source="Web",
		opportunity_type="Sales",
	),
	deal(
		"D6",
		status="Lost",
		stage="Lost",
		stage_kind="Lost",
		amount=1200,
		probability=0,
		close_date=date(2025, 11, 20),
		owner="bob",
		territory="North",
		source="Referral",
		opportunity_type="Sales",
	),
	deal(
		"D7",
		status="Closed",
		stage="Proposal",
		stage_kind="Open",
		amount=800,
		probability=50,
		close_date=date(2026, 11, 30),
		owner="bob",
		territory="North",
		opportunity_type="Sales",
	),
]


def row(key, count, open_count, amount, weighted, won_count, won_amount, lost_count, lost_amount, win_rate):
	return ForecastRow(
		key=key,
		count=count,
		open_count=open_count,
		amount=amount,
		weighted_amount=weighted,
		won_count=won_count,
		won_amount=won_amount,
		lost_count=lost_count,
		lost_amount=lost_amount,
		win_rate=win_rate,
	)


# --- Deal, amounts, outcome ------------------------------------------------------------------------


def test_deal_is_frozen_and_keyword_only():
	d = deal()
	with pytest.raises(AttributeError):
		d.amount = 5  # type: ignore[misc]
	with pytest.raises(TypeError):
		Deal("D", "ACME", "Open", 0)  # type: ignore[misc]


def test_base_amount_from_conversion_rate():
	assert deal_base_amount(deal(amount=1000, conversion_rate=1.1)) == Decimal("1100.0")


def test_base_amount_given_wins_over_conversion():
	assert deal_base_amount(deal(amount=1000, conversion_rate=1.1, base_amount=1095.5)) == Decimal("1095.5")


def test_base_amount_zero_is_a_given_value():
	assert deal_base_amount(deal(amount=1000, conversion_rate=1.1, base_amount=0)) == 0


def test_base_amount_defaults_and_missing_values():
	assert deal_base_amount(deal(amount=250)) == 250
	assert deal_base_amount(deal(amount=250, conversion_rate=None)) == 250
	assert deal_base_amount(deal(amount=None)) == 0
	assert deal_base_amount(deal(amount=Decimal("10.10"), conversion_rate=Decimal("2"))) == Decimal("20.20")


def test_weighted_amount_of_a_deal():
	assert deal_weighted_amount(deal(amount=1000, conversion_rate=1.1, probability=50)) == 550
	assert deal_weighted_amount(deal(amount=1000, probability=None)) == 0
	assert deal_weighted_amount(deal(amount=1000, probability=12.5)) == 125


@pytest.mark.parametrize(
	("status", "stage_kind", "expected"),
	[
		("Open", None, "open"),
		("Quotation", "Open", "open"),
		("Replied", None, "open"),
		("Converted", None, "won"),
		("Converted", "Open", "won"),
		("Open", "Won", "won"),
		("Lost", None, "lost"),
		("Closed", None, "lost"),
		("Closed", "Open", "lost"),
		("Open", "Lost", "lost"),
		# Status beats a stale stage kind.
		("Converted", "Lost", "won"),
		("Lost", "Won", "lost"),
	],
)
def test_outcome(status, stage_kind, expected):
	assert outcome(deal(status=status, stage_kind=stage_kind)) == expected


# --- period keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
	("day", "month", "quarter"),
	[
		(date(2026, 1, 1), "2026-01", "2026-Q1"),
		(date(2026, 3, 31), "2026-03", "2026-Q1"),
		(date(2026, 4, 1), "2026-04", "2026-Q2"),
		(date(2026, 6, 30), "2026-06", "2026-Q2"),
		(date(2026, 7, 1), "2026-07", "2026-Q3"),
		(date(2026, 9, 30), "2026-09", "2026-Q3"),
		(date(2026, 10, 1), "2026-10", "2026-Q4"),
		(date(2026, 12, 31), "2026-12", "2026-Q4"),
		(date(999, 5, 5), "0999-05", "0999-Q2"),
	],
)
def test_period_keys(day, month, quarter):
	assert month_key(day) == month
	assert quarter_key(day) == quarter


# --- forecast: validation and empty input ----------------------------------------------------------


def test_groupings():
	assert GROUPINGS == (
		"stage",
		"close_month",
		"close_quarter",
		"owner",
		"territory",
		"source",
		"opportunity_type",
		"pipeline",
	)


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_forecast_empty(group_by):
	assert forecast([], group_by) == []


def test_forecast_unknown_grouping():
	with pytest.raises(ValueError, match="customer"):
		forecast([], "customer")
	# A glue typo must surface even without deals to group.
	with pytest.raises(ValueError):
		forecast(FIXTURE, "Stage")


def test_forecast_mixed_companies():
	deals = [deal("A", company="ACME"), deal("B", company="Globex"), deal("C", company="ACME")]
	with pytest.raises(MixedCompaniesError) as caught:
		forecast(deals, "stage")
	assert caught.value.companies == ("ACME", "Globex")
	assert isinstance(caught.value, ValueError)


def test_pivot_mixed_companies():
	with pytest.raises(MixedCompaniesError):
		pivot([deal("A", company="ACME"), deal("B", company="Globex")], "month")


def test_forecast_accepts_a_generator():
	rows = forecast((d for d in FIXTURE), "owner")
	assert [r.key for r in rows] == ["alice", "bob", None]


# --- forecast: the hand-computed fixture -----------------------------------------------------------


def test_forecast_by_stage():
	assert forecast(FIXTURE, "stage", stage_order=STAGE_ORDER) == [
		row("Qualification", 1, 1, 300.0, 0.0, 0, 0.0, 0, 0.0, None),
		row("Proposal", 3, 2, 3100.0, 1050.0, 0, 0.0, 1, 800.0, 0.0),
		row("Negotiation", 1, 1, 560.0, 420.0, 0, 0.0, 0, 0.0, None),
		row("Won", 1, 0, 0.0, 0.0, 1, 5000.0, 0, 0.0, 1.0),
		row("Lost", 1, 0, 0.0, 0.0, 0, 0.0, 1, 1200.0, 0.0),
	]


def test_forecast_by_close_quarter_is_year_aware():
	assert forecast(FIXTURE, "close_quarter") == [
		row("2025-Q4", 1, 0, 0.0, 0.0, 0, 0.0, 1, 1200.0, 0.0),
		row("2026-Q4", 5, 3, 3660.0, 1470.0, 1, 5000.0, 1, 800.0, 0.5),
		row(None, 1, 1, 300.0, 0.0, 0, 0.0, 0, 0.0, None),
	]


def test_forecast_by_close_month():
	assert forecast(FIXTURE, "close_month") == [
		row("2025-11", 1, 0, 0.0, 0.0, 0, 0.0, 1, 1200.0, 0.0),
		row("2026-10", 1, 0, 0.0, 0.0, 1, 5000.0, 0, 0.0, 1.0),
		row("2026-11", 3, 2, 1660.0, 970.0, 0, 0.0, 1, 800.0, 0.0),
		row("2026-12", 1, 1, 2000.0, 500.0, 0, 0.0, 0, 0.0, None),
		row(None, 1, 1, 300.0, 0.0, 0, 0.0, 0, 0.0, None),
	]


def test_forecast_by_owner():
	assert forecast(FIXTURE, "owner") == [
		row("alice", 3, 2, 1660.0, 970.0, 1, 5000.0, 0, 0.0, 1.0),
		row("bob", 3, 1, 2000.0, 500.0, 0, 0.0, 2, 2000.0, 0.0),
		row(None, 1, 1, 300.0, 0.0, 0, 0.0, 0, 0.0, None),
	]


def test_forecast_by_territory_source_and_type():
	assert [(r.key, r.count, r.weighted_amount) for r in forecast(FIXTURE, "territory")] == [
		("North", 4, 970.0),
		("South", 2, 500.0),
		(None, 1, 0.0),
	]
	assert [(r.key, r.count, r.amount) for r in forecast(FIXTURE, "source")] == [
		("Referral", 2, 2000.0),
		("Web", 3, 1660.0),
		(None, 2, 300.0),
	]
	assert [(r.key, r.count, r.won_amount, r.lost_amount) for r in forecast(FIXTURE, "opportunity_type")] == [
		("Sales", 5, 5000.0, 2000.0),
		("Support", 1, 0.0, 0.0),
		(None, 1, 0.0, 0.0),
	]


def test_forecast_by_pipeline():
	# FIXTURE's deals in two pipelines: D1-D4 in Projects, D5 and D6 in Default, D7 in none (the glue puts
	# such a deal in the default pipeline; here it stays None and sorts last)
	pipelines = {"D1": "Projects", "D2": "Projects", "D3": "Projects", "D4": "Projects"}
	pipelines.update({"D5": "Default", "D6": "Default"})
	deals = [replace(d, pipeline=pipelines.get(d.name)) for d in FIXTURE]
	assert forecast(deals, "pipeline") == [
		row("Default", 2, 0, 0.0, 0.0, 1, 5000.0, 1, 1200.0, 0.5),
		row("Projects", 4, 4, 3960.0, 1470.0, 0, 0.0, 0, 0.0, None),
		row(None, 1, 0, 0.0, 0.0, 0, 0.0, 1, 800.0, 0.0),
	]


def test_totals_of_fixture():
	expected = row("total", 7, 4, 3960.0, 1470.0, 1, 5000.0, 2, 2000.0, 1 / 3)
	for group_by in GROUPINGS:
		assert totals(forecast(FIXTURE, group_by, stage_order=STAGE_ORDER)) == expected


def test_totals_empty():
	assert totals([]) == row("total", 0, 0, 0.0, 0.0, 0, 0.0, 0, 0.0, None)


def test_totals_sums_the_displayed_rounded_figures():
	rows = [row("a", 1, 1, 0.01, 0.01, 0, 0.0, 0, 0.0, None), row("b", 2, 1, 0.02, 0.02, 1, 0.1, 0, 0.0, 1.0)]
	total = totals(rows)
	# Float addition gives 0.01 + 0.02 == 0.030000000000000002.
	assert (total.amount, total.weighted_amount, total.won_amount) == (0.03, 0.03, 0.1)
	assert (total.count, total.open_count, total.won_count, total.win_rate) == (3, 2, 1, 1.0)


# --- forecast: money handling ----------------------------------------------------------------------


def test_two_currencies_in_one_company_sum_in_base_currency():
	deals = [
		deal("EUR", stage="Proposal", amount=1000, conversion_rate=1.1, probability=50),
		deal("INR", stage="Proposal", amount=100000, conversion_rate=0.012, probability=50),
	]
	[proposal] = forecast(deals, "stage")
	# Raw transaction amounts would add up to 101000.
	assert (proposal.amount, proposal.weighted_amount) == (2300.0, 1150.0)


def test_many_small_amounts_do_not_drift():
	deals = [deal(f"D{i}", stage="S", amount=0.1, probability=100) for i in range(10)]
	[group] = forecast(deals, "stage")
	assert group.amount == 1.0 and group.weighted_amount == 1.0
	assert sum(d.amount for d in deals) != 1.0  # the float sum the core avoids


def test_rounding_is_half_up_on_the_exact_decimal():
	# round(1.005, 2) on floats gives 1.0 because 1.005 is stored as 1.00499...
	[group] = forecast([deal(stage="S", amount=1.005, probability=100)], "stage")
	assert group.amount == 1.01 and group.weighted_amount == 1.01


def test_rounding_happens_once_per_group_not_per_deal():
	# Each deal weighs 0.005; rounding per deal would give 0.03, the exact group total is 0.015 -> 0.02.
	deals = [deal(f"D{i}", stage="S", amount=0.01, probability=50) for i in range(3)]
	[group] = forecast(deals, "stage")
	assert group.weighted_amount == 0.02


def test_none_probability_weighs_zero_but_counts_in_pipeline():
	[group] = forecast([deal(stage="S", amount=400, probability=None)], "stage")
	assert (group.open_count, group.amount, group.weighted_amount) == (1, 400.0, 0.0)


def test_money_is_plain_float():
	[group] = forecast([deal(stage="S", amount=Decimal("12.345"), probability=Decimal("10"))], "stage")
	assert type(group.amount) is float and group.amount == 12.35
	assert type(group.weighted_amount) is float and group.weighted_amount == 1.23


# --- forecast: grouping and sorting details --------------------------------------------------------


def test_win_rate_none_without_closed_deals_and_fraction_otherwise():
	open_only = forecast([deal("A", owner="x"), deal("B", owner="x")], "owner")
	assert open_only[0].win_rate is None
	mixed = [deal("W1", status="Converted"), deal("W2", status="Converted"), deal("L", status="Lost")]
	mixed += [deal("O", status="Open")]
	[group] = forecast(mixed, "owner")
	assert group.win_rate == pytest.approx(2 / 3)
	assert (group.won_count, group.lost_count, group.open_count, group.count) == (2, 1, 1, 4)


def test_same_month_of_different_years_never_merge():
	deals = [
		deal("A", close_date=date(2025, 11, 5), amount=1, probability=100),
		deal("B", close_date=date(2026, 11, 5), amount=2, probability=100),
	]
	assert [(r.key, r.amount) for r in forecast(deals, "close_month")] == [("2025-11", 1.0), ("2026-11", 2.0)]
	assert [(r.key, r.amount) for r in forecast(deals, "close_quarter")] == [
		("2025-Q4", 1.0),
		("2026-Q4", 2.0),
	]


def test_december_and_january_fall_in_q4_and_q1_of_their_years():
	deals = [deal("Dec", close_date=date(2025, 12, 31)), deal("Jan", close_date=date(2026, 1, 1))]
	assert [r.key for r in forecast(deals, "close_quarter")] == ["2025-Q4", "2026-Q1"]


def test_periods_sort_chronologically_not_by_insertion():
	deals = [
		deal("A", close_date=date(2027, 2, 1)),
		deal("B"),
		deal("C", close_date=date(2026, 10, 1)),
		deal("D", close_date=date(2026, 9, 1)),
	]
	assert [r.key for r in forecast(deals, "close_month")] == ["2026-09", "2026-10", "2027-02", None]


def test_stage_sort_uses_order_then_name_then_unknown_then_none():
	deals = [deal(s, stage=s) for s in ["zeta", "Won", None, "Alpha", "Proposal", "Qualification", ""]]
	order = {"Qualification": 0, "Proposal": 1, "Won": 1}
	assert [r.key for r in forecast(deals, "stage", stage_order=order)] == [
		"Qualification",
		"Proposal",
		"Won",
		"Alpha",
		"zeta",
		None,
	]


def test_stage_sort_without_order_is_by_name():
	deals = [deal(s, stage=s) for s in ["Proposal", "negotiation", "Lost"]]
	assert [r.key for r in forecast(deals, "stage")] == ["Lost", "negotiation", "Proposal"]


def test_empty_string_groups_with_none():
	deals = [deal("A", owner=""), deal("B", owner=None), deal("C", owner="carol")]
	assert [(r.key, r.count) for r in forecast(deals, "owner")] == [("carol", 1), (None, 2)]


def test_names_sort_case_insensitively():
	deals = [deal(t, territory=t) for t in ["west", "East", "north"]]
	assert [r.key for r in forecast(deals, "territory")] == ["East", "north", "west"]


def test_won_and_lost_by_stage_kind_only():
	deals = [
		deal("A", stage="Signed", stage_kind="Won", amount=100, probability=100),
		deal("B", stage="Dropped", stage_kind="Lost", amount=50, probability=20),
	]
	rows = {r.key: r for r in forecast(deals, "stage")}
	assert (rows["Signed"].won_amount, rows["Signed"].amount, rows["Signed"].weighted_amount) == (
		100.0,
		0.0,
		0.0,
	)
	assert (rows["Dropped"].lost_amount, rows["Dropped"].weighted_amount) == (50.0, 0.0)


# --- pivot -----------------------------------------------------------------------------------------


def test_pivot_by_month_of_fixture():
	assert pivot(FIXTURE, "month", stage_order=STAGE_ORDER) == {
		"periods": ["2026-11", "2026-12", None],
		"stages": ["Qualification", "Proposal", "Negotiation"],
		"weighted": {
			"Qualification": [0.0, 0.0, 0.0],
			"Proposal": [550.0, 500.0, 0.0],
			"Negotiation": [420.0, 0.0, 0.0],
		},
	}


def test_pivot_by_quarter_of_fixture():
	assert pivot(FIXTURE, "quarter", stage_order=STAGE_ORDER) == {
		"periods": ["2026-Q4", None],
		"stages": ["Qualification", "Proposal", "Negotiation"],
		"weighted": {"Qualification": [0.0, 0.0], "Proposal": [1050.0, 0.0], "Negotiation": [420.0, 0.0]},
	}


def test_pivot_weighted_matches_forecast_per_period():
	result = pivot(FIXTURE, "month", stage_order=STAGE_ORDER)
	per_period = [
		sum(values[i] for values in result["weighted"].values()) for i in range(len(result["periods"]))
	]
	rows = {r.key: r.weighted_amount for r in forecast(FIXTURE, "close_month")}
	assert per_period == [rows[p] for p in result["periods"]]


def test_pivot_quarters_are_year_aware_and_chronological():
	deals = [
		deal("A", stage="S", close_date=date(2026, 1, 15), amount=100, probability=10),
		deal("B", stage="S", close_date=date(2025, 12, 15), amount=100, probability=20),
		deal("C", stage="S", close_date=date(2026, 12, 15), amount=100, probability=30),
	]
	assert pivot(deals, "quarter") == {
		"periods": ["2025-Q4", "2026-Q1", "2026-Q4"],
		"stages": ["S"],
		"weighted": {"S": [20.0, 10.0, 30.0]},
	}


def test_pivot_empty_and_closed_only():
	empty = {"periods": [], "stages": [], "weighted": {}}
	assert pivot([], "month") == empty
	closed = [
		deal("W", status="Converted", stage="Won", close_date=date(2026, 1, 1), amount=9, probability=100)
	]
	assert pivot(closed, "quarter") == empty


def test_pivot_unknown_period():
	with pytest.raises(ValueError):
		pivot(FIXTURE, "week")
	with pytest.raises(ValueError):
		pivot([], "close_month")


def test_pivot_unknown_stage_sorts_after_ordered_and_none_last():
	deals = [
		deal("A", stage=None, close_date=date(2026, 1, 1), amount=10, probability=50),
		deal("B", stage="Custom", close_date=date(2026, 1, 1), amount=10, probability=50),
		deal("C", stage="Proposal", close_date=date(2026, 1, 1), amount=10, probability=50),
	]
	assert pivot(deals, "month", stage_order=STAGE_ORDER)["stages"] == ["Proposal", "Custom", None]


# --- buckets: what the database sums -----------------------------------------------------------------


def test_buckets_give_the_same_rows_as_the_deals_they_sum():
	from opportunity_plus.core.forecast import Bucket, forecast_buckets, pivot_buckets

	day = date(2026, 2, 10)
	deals = [
		Deal(name="a", company="C", status="Open", amount=100, probability=50, close_date=day, stage="S1"),
		Deal(name="b", company="C", status="Open", amount=300, probability=10, close_date=day, stage="S1"),
		Deal(name="c", company="C", status="Converted", amount=1000, close_date=date(2026, 5, 1), stage="S1"),
		Deal(name="d", company="C", status="Lost", amount=70, close_date=date(2026, 5, 2), stage="S2"),
	]
	buckets = [
		# the rows a GROUP BY (expected_closing, status, sales_stage) returns for those deals
		Bucket(
			company="C", value=day, status="Open", stage="S1", count=2, base_amount=400, weighted_amount=80
		),
		Bucket(
			company="C",
			value=date(2026, 5, 1),
			status="Converted",
			stage="S1",
			count=1,
			base_amount=1000,
			weighted_amount=0,
		),
		Bucket(
			company="C",
			value=date(2026, 5, 2),
			status="Lost",
			stage="S2",
			count=1,
			base_amount=70,
			weighted_amount=0,
		),
	]
	by_quarter = forecast_buckets(buckets, "close_quarter")
	assert by_quarter == forecast(deals, "close_quarter")
	assert [
		(r.key, r.count, r.amount, r.weighted_amount, r.won_amount, r.lost_amount, r.win_rate)
		for r in by_quarter
	] == [
		("2026-Q1", 2, 400.0, 80.0, 0.0, 0.0, None),
		("2026-Q2", 2, 0.0, 0.0, 1000.0, 70.0, 0.5),
	]
	assert (
		pivot_buckets(buckets, "month")
		== pivot(deals, "month")
		== {
			"periods": ["2026-02"],
			"stages": ["S1"],
			"weighted": {"S1": [80.0]},
		}
	)


def test_buckets_of_two_companies_are_refused():
	from opportunity_plus.core.forecast import Bucket, forecast_buckets

	buckets = [
		Bucket(company="A", value="S", status="Open", count=1, base_amount=1, weighted_amount=0),
		Bucket(company="B", value="S", status="Open", count=1, base_amount=1, weighted_amount=0),
	]
	with pytest.raises(MixedCompaniesError):
		forecast_buckets(buckets, "stage")


# --- look-ahead chart ------------------------------------------------------------------------------


def test_month_keys_cross_the_year():
	from opportunity_plus.core.forecast import month_keys

	assert month_keys(date(2026, 11, 20), 4) == ["2026-11", "2026-12", "2027-01", "2027-02"]
	with pytest.raises(ValueError):
		month_keys(date(2026, 11, 1), 0)


def test_look_ahead_in_december_shows_the_next_eleven_months_and_the_overdue_deals():
	from opportunity_plus.core.forecast import OVERDUE, look_ahead

	monthly = {
		"periods": ["2026-10", "2026-11", "2026-12", "2027-03", "2028-01", None],
		"stages": ["Proposal", "Negotiation"],
		"weighted": {
			"Proposal": [10.0, 5.5, 100.0, 30.0, 999.0, 7.0],
			"Negotiation": [0.0, 0.0, 0.0, 40.0, 0.0, 0.0],
		},
	}
	chart = look_ahead(monthly, date(2026, 12, 2), 12)
	assert chart["periods"][0] == OVERDUE
	assert chart["periods"][1:] == ["2026-12", *[f"2027-{m:02d}" for m in range(1, 12)]]
	# overdue: Oct + Nov; the 2028 deal and the one without a date are outside the window
	assert chart["weighted"]["Proposal"] == [15.5, 100.0, 0.0, 0.0, 30.0] + [0.0] * 8
	assert chart["weighted"]["Negotiation"] == [0.0, 0.0, 0.0, 0.0, 40.0] + [0.0] * 8
	assert chart["stages"] == ["Proposal", "Negotiation"]


def test_look_ahead_without_overdue_deals_has_no_leading_bar_and_drops_empty_stages():
	from opportunity_plus.core.forecast import look_ahead

	monthly = {
		"periods": ["2026-10", "2027-01"],
		"stages": ["Proposal", "Qualification"],
		"weighted": {"Proposal": [0.0, 20.0], "Qualification": [0.0, 0.0]},
	}
	chart = look_ahead(monthly, date(2026, 12, 1), 3)
	assert chart == {
		"periods": ["2026-12", "2027-01", "2027-02"],
		"stages": ["Proposal"],
		"weighted": {"Proposal": [0.0, 20.0, 0.0]},
	}


def test_look_ahead_of_an_empty_pipeline_is_an_empty_window():
	from opportunity_plus.core.forecast import look_ahead

	chart = look_ahead({"periods": [], "stages": [], "weighted": {}}, date(2026, 12, 1), 2)
	assert chart == {"periods": ["2026-12", "2027-01"], "stages": [], "weighted": {}}
