from datetime import date
from decimal import Decimal

import pytest

from opportunity_plus.core.targets import (
	FISCAL_YEAR,
	MONTH,
	NO_FISCAL_YEAR,
	QUARTER,
	UNKNOWN_PERIOD,
	Achieved,
	DealSums,
	FiscalYear,
	PeriodError,
	TargetRow,
	TreeNode,
	attainment_row,
	attainment_tree,
	fiscal_year_months,
	fiscal_year_of,
	following_periods,
	parse_period,
	period_key_of,
	period_of,
	period_targets,
	rolled_targets,
	shown_tree,
	subtrees,
	tree_target,
)

# An April-March fiscal year, and the calendar year after a short one.
FY_2026 = FiscalYear("2026-2027", date(2026, 4, 1), date(2027, 3, 31))
FY_2027 = FiscalYear("2027-2028", date(2027, 4, 1), date(2028, 3, 31))
CALENDAR = FiscalYear("2026", date(2026, 1, 1), date(2026, 12, 31))
YEARS = (FY_2026, FY_2027)
# 10 % in each of April..September, 5 % in each of October..March (sums to 90 %: ERPNext insists on 100,
# the split does not need it)
DISTRIBUTION = {
	**{name: 10 for name in ("April", "May", "June", "July", "August", "September")},
	**{name: 5 for name in ("October", "November", "December", "January", "February", "March")},
}


# --- periods ----------------------------------------------------------------------------------------


def test_month_period():
	period = parse_period("2026-12", YEARS)
	assert (period.key, period.kind, period.start, period.end) == (
		"2026-12",
		MONTH,
		date(2026, 12, 1),
		date(2026, 12, 31),
	)
	assert period.months == (date(2026, 12, 1),)
	assert parse_period("2028-02", YEARS).end == date(2028, 2, 29)


def test_quarter_period_is_the_calendar_quarter():
	period = parse_period("2026-Q4", YEARS)
	assert (period.kind, period.start, period.end) == (QUARTER, date(2026, 10, 1), date(2026, 12, 31))
	assert period.months == (date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1))
	assert parse_period("2027-q1", YEARS).key == "2027-Q1"


def test_fiscal_year_period_by_name_first():
	years = (FiscalYear("2026-12", date(2026, 12, 1), date(2027, 11, 30)),)
	period = parse_period("2026-12", years)
	assert (period.kind, period.start, period.end) == (FISCAL_YEAR, date(2026, 12, 1), date(2027, 11, 30))
	assert len(period.months) == 12
	assert parse_period(" 2026-2027 ", YEARS).months[0] == date(2026, 4, 1)


@pytest.mark.parametrize("text", ["", None, "2026-13", "2026-Q5", "Q4 2026", "2025-2026"])
def test_unknown_period(text):
	with pytest.raises(PeriodError) as error:
		parse_period(text, YEARS)
	assert error.value.code == UNKNOWN_PERIOD


def test_fiscal_year_months_of_a_year_starting_mid_month():
	assert fiscal_year_months(FY_2026)[0] == date(2026, 4, 1)
	assert len(fiscal_year_months(FY_2026)) == 12
	odd = FiscalYear("odd", date(2026, 4, 15), date(2026, 7, 14))
	assert fiscal_year_months(odd) == (date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1))


def test_fiscal_year_of():
	assert fiscal_year_of(date(2027, 3, 31), YEARS) == FY_2026
	assert fiscal_year_of(date(2027, 4, 1), YEARS) == FY_2027
	assert fiscal_year_of(date(2026, 3, 31), YEARS) is None


def test_following_periods_across_years():
	keys = [p.key for p in following_periods(parse_period("2026-11", YEARS), 3, YEARS)]
	assert keys == ["2026-11", "2026-12", "2027-01"]
	keys = [p.key for p in following_periods(parse_period("2026-Q4", YEARS), 2, YEARS)]
	assert keys == ["2026-Q4", "2027-Q1"]
	keys = [p.key for p in following_periods(parse_period("2026-2027", YEARS), 3, YEARS)]
	assert keys == ["2026-2027", "2027-2028"]  # no third fiscal year defined
	with pytest.raises(ValueError):
		following_periods(parse_period("2026-11", YEARS), 0, YEARS)


def test_period_of_without_a_fiscal_year():
	with pytest.raises(PeriodError) as error:
		period_of(date(2030, 1, 1), FISCAL_YEAR, YEARS)
	assert error.value.code == NO_FISCAL_YEAR


def test_period_key_of():
	periods = following_periods(parse_period("2026-11", YEARS), 2, YEARS)
	assert period_key_of(date(2026, 12, 31), periods) == "2026-12"
	assert period_key_of(date(2027, 1, 1), periods) is None
	assert period_key_of(None, periods) is None


# --- targets ----------------------------------------------------------------------------------------


def test_month_target_follows_the_distribution():
	rows = [TargetRow(holder="Ann", fiscal_year="2026-2027", amount=1200, distribution=DISTRIBUTION)]
	assert period_targets(rows, parse_period("2026-05", YEARS), YEARS) == {"Ann": Decimal(120)}
	assert period_targets(rows, parse_period("2026-12", YEARS), YEARS) == {"Ann": Decimal(60)}


def test_target_without_distribution_is_even_over_the_fiscal_years_months():
	rows = [TargetRow(holder="Ann", fiscal_year="2026-2027", amount=1200)]
	assert period_targets(rows, parse_period("2026-05", YEARS), YEARS) == {"Ann": Decimal(100)}


def test_quarter_target_spanning_two_fiscal_years():
	rows = [
		TargetRow(holder="Ann", fiscal_year="2026-2027", amount=1200, distribution=DISTRIBUTION),
		TargetRow(holder="Ann", fiscal_year="2027-2028", amount=2400),
	]
	# 2027-Q1 = Jan..Mar 2027: all in 2026-2027 at 5 % each; 2027-Q2 = Apr..Jun 2027: 2027-2028, 200 each
	assert period_targets(rows, parse_period("2027-Q1", YEARS), YEARS) == {"Ann": Decimal(180)}
	assert period_targets(rows, parse_period("2027-Q2", YEARS), YEARS) == {"Ann": Decimal(600)}


def test_fiscal_year_target_is_the_whole_row():
	rows = [TargetRow(holder="Ann", fiscal_year="2026-2027", amount=1000, distribution={"April": 100})]
	assert period_targets(rows, parse_period("2026-2027", YEARS), YEARS) == {"Ann": Decimal(1000)}


def test_a_row_whose_distribution_gives_the_month_nothing_is_still_a_target():
	rows = [TargetRow(holder="Ann", fiscal_year="2026-2027", amount=1000, distribution={"April": 100})]
	assert period_targets(rows, parse_period("2026-05", YEARS), YEARS) == {"Ann": Decimal(0)}


def test_targets_of_other_years_and_item_groups():
	rows = [
		TargetRow(holder="Ann", fiscal_year="2026-2027", amount=1200, item_group="Services"),
		TargetRow(holder="Ann", fiscal_year="2026-2027", amount=2400, item_group="Products"),
		TargetRow(holder="Bob", fiscal_year="2025-2026", amount=9999),
		TargetRow(holder="Cid", fiscal_year="2026-2027", amount=1200),
	]
	period = parse_period("2026-05", YEARS)
	assert period_targets(rows, period, YEARS) == {"Ann": Decimal(300), "Cid": Decimal(100)}
	assert period_targets(rows, period, YEARS, item_group="Services") == {"Ann": Decimal(100)}
	assert period_targets(rows, parse_period("2030-01", YEARS), YEARS) == {}


# --- trees ------------------------------------------------------------------------------------------

#   All
#   ├── Europe
#   │   ├── France
#   │   └── Germany
#   └── Asia
TREE = [
	TreeNode("All", None),
	TreeNode("Europe", "All"),
	TreeNode("France", "Europe"),
	TreeNode("Germany", "Europe"),
	TreeNode("Asia", "All"),
]


def test_subtrees():
	members = subtrees(TREE)
	assert sorted(members["Europe"]) == ["Europe", "France", "Germany"]
	assert sorted(members["All"]) == ["All", "Asia", "Europe", "France", "Germany"]
	assert members["Asia"] == ["Asia"]


def test_rolled_targets_own_wins_else_childrens_sum():
	own = {"France": Decimal(100), "Germany": Decimal(50), "All": Decimal(1000)}
	targets = rolled_targets(TREE, own)
	assert targets == {
		"All": Decimal(1000),  # its own, not 150
		"Europe": Decimal(150),  # none of its own: France + Germany
		"France": Decimal(100),
		"Germany": Decimal(50),
		"Asia": None,
	}
	assert tree_target(TREE, own) == Decimal(1000)
	assert tree_target(TREE, {"France": Decimal(100)}) == Decimal(100)
	assert tree_target(TREE, {}) is None


def test_a_cycle_in_the_tree_does_not_hang():
	nodes = [TreeNode("A", "B"), TreeNode("B", "A")]
	assert sorted(subtrees(nodes)["A"]) == ["A", "B"]
	assert rolled_targets(nodes, {"A": Decimal(1)}) == {"A": Decimal(1), "B": Decimal(1)}


def test_shown_tree_reparents_to_the_nearest_shown_ancestor():
	rows = shown_tree(TREE, lambda name: name != "Europe")
	assert rows == [("All", None, 0), ("France", "All", 1), ("Germany", "All", 1), ("Asia", "All", 1)]
	assert shown_tree(TREE, lambda name: name == "France") == [("France", None, 0)]


# --- attainment -------------------------------------------------------------------------------------


def test_attainment_gap_and_coverage():
	achieved = Achieved(
		won_count=1,
		won_amount=Decimal(250),
		open_count=2,
		open_amount=Decimal(1500),
		weighted_amount=Decimal(375),
	)
	row = attainment_row("Ann", Decimal(1000), achieved)
	assert (row.target, row.won_amount, row.attainment, row.gap) == (1000.0, 250.0, 0.25, 750.0)
	assert (row.coverage, row.weighted_coverage, row.target_met) == (2.0, 0.5, False)


def test_target_met_has_no_coverage():
	achieved = Achieved(won_count=1, won_amount=Decimal(1200), open_count=1, open_amount=Decimal(10))
	row = attainment_row("Ann", Decimal(1000), achieved)
	assert (row.attainment, row.gap, row.coverage, row.weighted_coverage, row.target_met) == (
		1.2,
		-200.0,
		None,
		None,
		True,
	)


def test_no_target_and_zero_target():
	achieved = Achieved(won_count=1, won_amount=Decimal(10))
	row = attainment_row("Ann", None, achieved)
	assert (row.target, row.attainment, row.gap, row.coverage, row.target_met) == (
		None,
		None,
		None,
		None,
		False,
	)
	row = attainment_row("Ann", Decimal(0), achieved)
	assert (row.target, row.attainment, row.gap, row.target_met) == (0.0, None, -10.0, True)


def test_attainment_tree_rolls_up_and_keeps_the_unplaced_deals():
	sums = [
		DealSums(
			key="France", won_count=1, won_amount=100, open_count=1, open_amount=400, weighted_amount=40
		),
		DealSums(key="Germany", won_count=2, won_amount=300),
		DealSums(key="Europe", open_count=1, open_amount=1000, weighted_amount=500),
		DealSums(key=None, won_count=1, won_amount=7),
		DealSums(key="Gone", won_count=1, won_amount=3),
	]
	own = {"France": Decimal(200), "Germany": Decimal(200)}
	rows = {row.key: row for row in attainment_tree(TREE, own, sums)}
	assert list(rows) == ["All", "Europe", "France", "Germany", None]  # Asia: no target, no deals
	europe = rows["Europe"]
	assert (europe.target, europe.won_amount, europe.won_count, europe.open_amount) == (
		400.0,
		400.0,
		3,
		1400.0,
	)
	assert (europe.parent, europe.indent, europe.gap, europe.target_met) == ("All", 1, 0.0, True)
	assert (rows["All"].target, rows["All"].won_amount) == (400.0, 400.0)
	assert rows["France"].coverage == 4.0 and rows["France"].weighted_coverage == 0.4
	assert (rows[None].won_amount, rows[None].won_count, rows[None].target) == (10.0, 2, None)


def test_attainment_tree_shows_only_readable_nodes():
	sums = [DealSums(key="France", won_count=1, won_amount=100)]
	rows = attainment_tree(TREE, {"France": Decimal(200)}, sums, readable=lambda name: name == "France")
	assert [(row.key, row.parent, row.indent, row.target) for row in rows] == [("France", None, 0, 200.0)]
