from dataclasses import replace
from datetime import date

import pytest

from opportunity_plus.core.forecast import Bucket, MixedCompaniesError
from opportunity_plus.core.winloss import (
	DIMENSIONS,
	ClosedDeal,
	CompetitorRow,
	LossBucket,
	ReasonMonthRow,
	WinRateRow,
	analyse,
	loss_buckets,
	lost_by_competitor,
	lost_reasons_by_month,
	months_between,
	outcome_buckets,
	win_rate_total,
	win_rates,
)


def deal(name, status, closed_on, amount, **fields):
	return ClosedDeal(
		name=name, company="ACME", status=status, closed_on=closed_on, base_amount=amount, **fields
	)


# Closed deals of a company in USD, across a year end. Expected figures below are worked out by hand:
#   L1 Lost      2025-11-20   100.00  Price          Rival A          Web       alice North Sales
#   L2 Lost      2025-12-05   250.10  Price, Timing  Rival A, Rival B Referral  bob   North Sales
#   L3 Closed    2026-01-15   400.00  -              -                -         bob   South Support
#   L4 Lost      2026-01-31     0.20  Timing twice   Rival B          Web       alice South Sales
#   W1 Converted 2025-12-31  1000.00                                  Web       alice North Sales
#   W2 Converted 2026-01-01  2000.55  (Price, Rival A on a won deal: ignored)
#                                                                     Referral  bob   South Support
#   O1 Open      2026-01-10   999.00  Price          Rival A          Web (not closed: ignored everywhere)
FIXTURE = [
	deal(
		"L1",
		"Lost",
		date(2025, 11, 20),
		100,
		lost_reasons=("Price",),
		competitors=("Rival A",),
		source="Web",
		owner="alice",
		territory="North",
		opportunity_type="Sales",
	),
	deal(
		"L2",
		"Lost",
		date(2025, 12, 5),
		250.10,
		lost_reasons=("Price", "Timing"),
		competitors=("Rival A", "Rival B"),
		source="Referral",
		owner="bob",
		territory="North",
		opportunity_type="Sales",
	),
	deal(
		"L3",
		"Closed",
		date(2026, 1, 15),
		400,
		owner="bob",
		territory="South",
		opportunity_type="Support",
	),
	deal(
		"L4",
		"Lost",
		date(2026, 1, 31),
		0.20,
		lost_reasons=("Timing", "Timing"),
		competitors=("Rival B",),
		source="Web",
		owner="alice",
		territory="South",
		opportunity_type="Sales",
	),
	deal(
		"W1",
		"Converted",
		date(2025, 12, 31),
		1000,
		source="Web",
		owner="alice",
		territory="North",
		opportunity_type="Sales",
	),
	deal(
		"W2",
		"Converted",
		date(2026, 1, 1),
		2000.55,
		lost_reasons=("Price",),
		competitors=("Rival A",),
		source="Referral",
		owner="bob",
		territory="South",
		opportunity_type="Support",
	),
	deal(
		"O1",
		"Open",
		date(2026, 1, 10),
		999,
		lost_reasons=("Price",),
		competitors=("Rival A",),
		source="Web",
	),
]


# --- months ----------------------------------------------------------------------------------------


def test_months_between_crosses_year_ends_without_merging_years():
	months = months_between(date(2025, 11, 30), date(2027, 1, 1))
	assert len(months) == 15
	assert months[:3] == ["2025-11", "2025-12", "2026-01"]
	assert months[-2:] == ["2026-12", "2027-01"]
	assert months.count("2025-12") == months.count("2026-12") == 1


def test_months_between_one_month_and_reversed():
	assert months_between(date(2026, 2, 1), date(2026, 2, 28)) == ["2026-02"]
	assert months_between(date(2026, 3, 1), date(2026, 2, 28)) == []


# --- (a) lost reasons by month ---------------------------------------------------------------------


def test_lost_reasons_by_month_hand_computed():
	trend = analyse(FIXTURE, "source").lost_reasons
	assert trend.months == ["2025-11", "2025-12", "2026-01"]
	assert [(s.reason, s.counts, s.amounts, s.total_count, s.total_amount) for s in trend.series] == [
		# Price and Timing both lost 2 deals: the larger amount (350.10 > 250.30) comes first.
		("Price", [1, 1, 0], [100.0, 250.1, 0.0], 2, 350.1),
		# L4 lists Timing twice: counted once.
		("Timing", [0, 1, 1], [0.0, 250.1, 0.2], 2, 250.3),
		# L3 was closed without a reason; no reason always comes last.
		(None, [0, 0, 1], [0.0, 0.0, 400.0], 1, 400.0),
	]
	assert trend.rows == [
		ReasonMonthRow("2025-11", "Price", 1, 100.0),
		ReasonMonthRow("2025-12", "Price", 1, 250.1),
		ReasonMonthRow("2025-12", "Timing", 1, 250.1),
		ReasonMonthRow("2026-01", "Timing", 1, 0.2),
		ReasonMonthRow("2026-01", None, 1, 400.0),
	]


def test_a_deal_with_two_reasons_counts_fully_under_each():
	buckets = loss_buckets(
		[deal("X", "Lost", date(2026, 5, 5), 300, lost_reasons=("A", "B"))], "lost_reasons"
	)
	trend = lost_reasons_by_month(buckets)
	assert [(s.reason, s.total_count, s.total_amount) for s in trend.series] == [
		("A", 1, 300.0),
		("B", 1, 300.0),
	]


def test_won_and_open_deals_have_no_lost_reasons():
	assert loss_buckets([d for d in FIXTURE if d.name in ("W2", "O1")], "lost_reasons") == []
	assert lost_reasons_by_month([]).months == []


def test_window_fills_quiet_months_with_zeros():
	trend = analyse(
		FIXTURE, "source", first_month=date(2025, 10, 1), last_month=date(2026, 3, 31)
	).lost_reasons
	assert trend.months == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
	assert trend.series[0].counts == [0, 1, 1, 0, 0, 0]
	# Rows list only the months that had a loss.
	assert {row.month for row in trend.rows} == {"2025-11", "2025-12", "2026-01"}


def test_window_without_any_loss_still_gives_its_months():
	trend = lost_reasons_by_month([], first_month=date(2026, 11, 1), last_month=date(2027, 2, 28))
	assert (trend.months, trend.series, trend.rows) == (["2026-11", "2026-12", "2027-01", "2027-02"], [], [])


def test_the_same_month_of_two_years_stays_apart():
	buckets = [
		LossBucket(closed_on=date(2025, 12, 31), tag="Price", count=2, base_amount=20),
		LossBucket(closed_on=date(2026, 12, 1), tag="Price", count=3, base_amount=30),
	]
	trend = lost_reasons_by_month(buckets)
	assert len(trend.months) == 13
	assert [(r.month, r.count, r.amount) for r in trend.rows] == [("2025-12", 2, 20.0), ("2026-12", 3, 30.0)]


def test_database_buckets_in_a_month_add_up_and_blank_tags_mean_none():
	# As the glue passes them: several rows per month (any day of it), "" and NULL for no reason.
	buckets = [
		LossBucket(closed_on=date(2026, 2, 28), tag="Price", count=2, base_amount=100),
		LossBucket(closed_on=date(2026, 2, 3), tag="Price", count=1, base_amount=None),
		LossBucket(closed_on=date(2026, 2, 28), tag="", count=1, base_amount=5),
		LossBucket(closed_on=date(2026, 2, 28), tag=None, count=2, base_amount=7),
	]
	trend = lost_reasons_by_month(buckets)
	assert trend.rows == [
		ReasonMonthRow("2026-02", "Price", 3, 100.0),
		ReasonMonthRow("2026-02", None, 3, 12.0),
	]


def test_deals_without_a_close_date_come_last():
	buckets = [
		LossBucket(closed_on=None, tag="Price", count=1, base_amount=1),
		LossBucket(closed_on=date(2026, 4, 1), tag="Price", count=1, base_amount=2),
	]
	trend = lost_reasons_by_month(buckets)
	assert trend.months == ["2026-04", None]
	assert trend.series[0].counts == [1, 1]


def test_reasons_tied_on_count_sort_by_the_larger_amount_before_the_name():
	buckets = [
		LossBucket(closed_on=date(2026, 1, 1), tag="Alpha", count=1, base_amount=10),
		LossBucket(closed_on=date(2026, 1, 1), tag="Zeta", count=1, base_amount=500),
		LossBucket(closed_on=date(2026, 1, 1), tag="Omega", count=2, base_amount=1),
	]
	assert [s.reason for s in lost_reasons_by_month(buckets).series] == ["Omega", "Zeta", "Alpha"]
	assert [row.competitor for row in lost_by_competitor(buckets)] == ["Omega", "Zeta", "Alpha"]


def test_reasons_tied_on_count_and_amount_sort_by_name_case_insensitively():
	buckets = [
		LossBucket(closed_on=date(2026, 1, 1), tag=tag, count=1, base_amount=10)
		for tag in ("beta", "Alpha", "Gamma")
	]
	assert [s.reason for s in lost_reasons_by_month(buckets).series] == ["Alpha", "beta", "Gamma"]


def test_money_is_rounded_half_up_only_at_the_end():
	# Binary floats would round 1.005 down to 1.0, and 0.1 + 0.2 is not 0.3 in them.
	one = lost_reasons_by_month([LossBucket(closed_on=date(2026, 1, 1), tag="A", count=1, base_amount=1.005)])
	assert one.rows[0].amount == 1.01
	summed = lost_reasons_by_month(
		[LossBucket(closed_on=date(2026, 1, 1), tag="A", count=1, base_amount=v) for v in (0.1, 0.2, 0.005)]
	)
	assert summed.rows[0].amount == 0.31


# --- (b) lost by competitor ------------------------------------------------------------------------


def test_lost_by_competitor_hand_computed():
	assert analyse(FIXTURE, "source").competitors == [
		CompetitorRow("Rival A", 2, 350.1, 0.5),  # L1, L2
		CompetitorRow("Rival B", 2, 250.3, 0.5),  # L2, L4
		CompetitorRow(None, 1, 400.0, 0.25),  # L3
	]


def test_competitor_share_needs_the_number_of_lost_deals():
	buckets = loss_buckets(FIXTURE, "competitors")
	assert [row.share for row in lost_by_competitor(buckets)] == [None, None, None]
	assert [row.share for row in lost_by_competitor(buckets, lost_deals=0)] == [None, None, None]
	assert [row.count for row in lost_by_competitor(buckets, lost_deals=8)] == [2, 2, 1]


def test_unknown_tag_list_is_refused():
	with pytest.raises(ValueError, match="tag"):
		loss_buckets(FIXTURE, "reasons")


# --- (c) win rate by dimension ---------------------------------------------------------------------


def test_win_rate_by_source_hand_computed():
	result = analyse(FIXTURE, "source")
	assert result.win_rates == [
		WinRateRow("Referral", 1, 2000.55, 1, 250.1, 0.5),
		WinRateRow("Web", 1, 1000.0, 2, 100.2, pytest.approx(1 / 3)),
		WinRateRow(None, 0, 0.0, 1, 400.0, 0.0),
	]
	assert result.total == WinRateRow("total", 2, 3000.55, 4, 750.3, pytest.approx(1 / 3))


@pytest.mark.parametrize(
	("dimension", "expected"),
	[
		(
			"owner",
			[("alice", 1, 1000.0, 2, 100.2, 1 / 3), ("bob", 1, 2000.55, 2, 650.1, 1 / 3)],
		),
		(
			"territory",
			[("North", 1, 1000.0, 2, 350.1, 1 / 3), ("South", 1, 2000.55, 2, 400.2, 1 / 3)],
		),
		(
			"opportunity_type",
			[("Sales", 1, 1000.0, 3, 350.3, 0.25), ("Support", 1, 2000.55, 1, 400.0, 0.5)],
		),
	],
)
def test_win_rate_by_each_dimension(dimension, expected):
	rows = analyse(FIXTURE, dimension).win_rates
	assert [
		(r.key, r.won_count, r.won_amount, r.lost_count, r.lost_amount, pytest.approx(r.win_rate))
		for r in rows
	] == expected


def test_win_rate_by_pipeline_hand_computed():
	# L1, L2 and W1 in Projects; L3, L4 and W2 in Default (O1 is open: ignored)
	in_projects = {"L1", "L2", "W1"}
	deals = [replace(d, pipeline="Projects" if d.name in in_projects else "Default") for d in FIXTURE]
	assert analyse(deals, "pipeline").win_rates == [
		WinRateRow("Default", 1, 2000.55, 2, 400.2, pytest.approx(1 / 3)),
		WinRateRow("Projects", 1, 1000.0, 2, 350.1, pytest.approx(1 / 3)),
	]


def test_every_dimension_is_accepted_and_others_refused():
	for dimension in DIMENSIONS:
		assert analyse(FIXTURE, dimension).total.lost_count == 4
	with pytest.raises(ValueError, match="dimension"):
		analyse(FIXTURE, "stage")
	with pytest.raises(ValueError, match="dimension"):
		win_rates([], "close_month")


def test_open_deals_do_not_count_and_no_closed_deal_means_no_win_rate():
	open_only = [
		Bucket(company="ACME", value="Web", status="Open", count=5, base_amount=10, weighted_amount=5)
	]
	assert win_rates(open_only, "source") == []
	assert win_rate_total([]) == WinRateRow("total", 0, 0.0, 0, 0.0, None)


def test_all_lost_is_zero_and_all_won_is_one_not_none():
	rows = win_rates(
		outcome_buckets([deal("A", "Closed", date(2026, 1, 1), 5, source="X")], "source"), "source"
	)
	assert rows[0].win_rate == 0.0
	rows = win_rates(
		outcome_buckets([deal("B", "Converted", date(2026, 1, 1), 5, source="X")], "source"), "source"
	)
	assert rows[0].win_rate == 1.0


def test_database_buckets_give_the_same_rows_as_deals():
	# What the glue gets from GROUP BY source, status for the fixture.
	buckets = [
		Bucket(company="ACME", value="Web", status="Converted", count=1, base_amount=1000, weighted_amount=0),
		Bucket(company="ACME", value="Web", status="Lost", count=2, base_amount=100.2, weighted_amount=0),
		Bucket(
			company="ACME",
			value="Referral",
			status="Converted",
			count=1,
			base_amount=2000.55,
			weighted_amount=0,
		),
		Bucket(
			company="ACME", value="Referral", status="Lost", count=1, base_amount=250.1, weighted_amount=0
		),
		Bucket(company="ACME", value="", status="Closed", count=1, base_amount=400, weighted_amount=0),
	]
	assert win_rates(buckets, "source") == analyse(FIXTURE, "source").win_rates


def test_closed_status_beats_a_stale_stage_kind():
	deals = [
		deal("A", "Converted", date(2026, 1, 1), 1, source="X", stage_kind="Lost"),
		deal("B", "Lost", date(2026, 1, 1), 1, source="X", stage_kind="Won"),
	]
	assert [(r.won_count, r.lost_count) for r in win_rates(outcome_buckets(deals, "source"), "source")] == [
		(1, 1)
	]
	assert len(loss_buckets(deals, "lost_reasons")) == 1


def test_several_companies_are_refused():
	deals = [
		*FIXTURE,
		ClosedDeal(name="Z", company="Other", status="Lost", closed_on=date(2026, 1, 1), base_amount=1),
	]
	with pytest.raises(MixedCompaniesError):
		analyse(deals, "source")


def test_total_sums_the_rounded_rows():
	rows = [WinRateRow("a", 1, 0.01, 0, 0.0, 1.0), WinRateRow("b", 0, 0.0, 3, 0.02, 0.0)]
	assert win_rate_total(rows) == WinRateRow("total", 1, 0.01, 3, 0.02, 0.25)


def test_closed_deal_is_frozen_and_keyword_only():
	d = FIXTURE[0]
	with pytest.raises(AttributeError):
		d.status = "Open"  # type: ignore[misc]
	with pytest.raises(TypeError):
		ClosedDeal("X", "ACME", "Lost", date(2026, 1, 1), 1)  # type: ignore[misc]
