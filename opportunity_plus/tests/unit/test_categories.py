import pytest

from opportunity_plus.core.categories import (
	BEST_CASE,
	CATEGORIES,
	CLOSED,
	COMMIT,
	OMITTED,
	OVERRIDE_CATEGORIES,
	PIPELINE,
	CategoryBucket,
	category_tree,
	default_stage_category,
	effective_category,
	flat_rows,
	override_after_save,
	stage_categories_to_fill,
	sum_by_key,
)
from opportunity_plus.core.stages import DEFAULT_PIPELINE
from opportunity_plus.core.targets import TreeNode


def test_categories():
	assert CATEGORIES == ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")
	assert CLOSED not in OVERRIDE_CATEGORIES


def test_default_categories_of_the_default_pipeline():
	assert {stage.name: default_stage_category(stage.name, stage.kind) for stage in DEFAULT_PIPELINE} == {
		"Prospecting": PIPELINE,
		"Qualification": PIPELINE,
		"Needs Analysis": PIPELINE,
		"Value Proposition": PIPELINE,
		"Identifying Decision Makers": PIPELINE,
		"Perception Analysis": PIPELINE,
		"Proposal/Price Quote": BEST_CASE,
		"Negotiation/Review": BEST_CASE,
		"Won": CLOSED,
		"Lost": OMITTED,
	}


def test_other_stages_by_kind():
	assert default_stage_category("Demo", "Open") == PIPELINE
	assert default_stage_category("Signed", "Won") == CLOSED
	assert default_stage_category("No Budget", "Lost") == OMITTED
	assert default_stage_category(" negotiation/review ", None) == BEST_CASE
	# the kind wins over a stock name
	assert default_stage_category("Negotiation/Review", "Lost") == OMITTED


def test_only_blank_stage_categories_are_filled():
	existing = [("Prospecting", "Open", None), ("Negotiation/Review", "Open", COMMIT), ("Won", "Won", "")]
	assert stage_categories_to_fill(existing) == [("Prospecting", PIPELINE), ("Won", CLOSED)]


@pytest.mark.parametrize(
	"status, override, stage_category, expected",
	[
		("Converted", OMITTED, PIPELINE, CLOSED),
		("Lost", COMMIT, BEST_CASE, OMITTED),
		("Closed", COMMIT, BEST_CASE, OMITTED),
		("Open", COMMIT, PIPELINE, COMMIT),
		("Quotation", OMITTED, BEST_CASE, OMITTED),
		("Replied", None, BEST_CASE, BEST_CASE),
		("Open", "", None, PIPELINE),
		("Open", CLOSED, PIPELINE, PIPELINE),  # Closed is not an owner's choice
		("Open", "Nonsense", "Nonsense", PIPELINE),
		("Open", None, CLOSED, COMMIT),  # an open stage marked Closed
	],
)
def test_effective_category(status, override, stage_category, expected):
	assert effective_category(status=status, override=override, stage_category=stage_category) == expected


def test_override_is_cleared_by_a_stage_change_unless_set_in_the_same_save():
	assert override_after_save(override=COMMIT, stage_changed=True, override_changed=False) is None
	assert override_after_save(override=COMMIT, stage_changed=True, override_changed=True) == COMMIT
	assert override_after_save(override=COMMIT, stage_changed=False, override_changed=False) == COMMIT
	assert override_after_save(override="", stage_changed=False, override_changed=True) is None


def bucket(key, period, category, count, amount):
	return CategoryBucket(key=key, period=period, category=category, count=count, base_amount=amount)


BUCKETS = [
	bucket("France", "2026-11", COMMIT, 1, 100),
	bucket("France", "2026-11", BEST_CASE, 2, 200),
	bucket("France", "2026-12", PIPELINE, 1, 400),
	bucket("France", "2026-12", CLOSED, 1, 800),
	bucket("Germany", "2026-11", OMITTED, 3, 1600),
	bucket("Germany", "2026-11", None, 1, 5),  # no category stored yet: Pipeline
	bucket("Europe", "2026-12", COMMIT, 1, 10),
	bucket(None, "2026-11", COMMIT, 1, 1),
	bucket("France", "2027-01", COMMIT, 1, 99999),  # outside the periods asked for
	bucket("Asia", None, COMMIT, 1, 99999),
]
PERIODS = ["2026-11", "2026-12"]


def test_flat_rows_per_period_and_in_total():
	rows = {row.key: row for row in flat_rows(sum_by_key(BUCKETS, PERIODS), PERIODS)}
	assert list(rows) == ["Europe", "France", "Germany", None]
	france = rows["France"]
	november = france.periods["2026-11"]
	assert (november.commit_amount, november.best_case_amount, november.best_case_count) == (100.0, 300.0, 3)
	assert (november.pipeline_amount, november.closed_amount, november.open_amount) == (0.0, 0.0, 300.0)
	total = france.total
	assert (total.closed_amount, total.closed_count, total.commit_amount) == (800.0, 1, 100.0)
	assert (total.best_case_amount, total.pipeline_amount, total.open_amount, total.open_count) == (
		300.0,
		400.0,
		700.0,
		4,
	)
	germany = rows["Germany"].total
	assert (germany.omitted_amount, germany.omitted_count, germany.pipeline_amount) == (1600.0, 3, 5.0)


def test_category_tree_rolls_reps_up_to_their_managers():
	tree = [
		TreeNode("All", None),
		TreeNode("Europe", "All"),
		TreeNode("France", "Europe"),
		TreeNode("Germany", "Europe"),
		TreeNode("Asia", "All"),
	]
	rows = category_tree(tree, sum_by_key(BUCKETS, PERIODS), PERIODS)
	assert [(row.key, row.parent, row.indent) for row in rows] == [
		("All", None, 0),
		("Europe", "All", 1),
		("France", "Europe", 2),
		("Germany", "Europe", 2),
		(None, None, 0),
	]
	europe = rows[1]
	assert europe.total.commit_amount == 110.0
	assert europe.total.best_case_amount == 310.0
	assert europe.periods["2026-12"].commit_amount == 10.0
	assert europe.total.omitted_count == 3
	assert rows[0].total == europe.total
	assert rows[-1].total.commit_amount == 1.0

	only_france = category_tree(tree, sum_by_key(BUCKETS, PERIODS), PERIODS, readable=lambda n: n == "France")
	assert [(row.key, row.parent, row.indent) for row in only_france] == [
		("France", None, 0),
		(None, None, 0),
	]
