from decimal import Decimal

import pytest

from opportunity_plus.core import stages
from opportunity_plus.core.stages import (
	DEFAULT_PIPELINE,
	STAGE_KINDS,
	Stage,
	probability_error,
	reconcile_stage,
	resolve_probability,
	sort_stages,
	stages_to_fill,
	stages_to_seed,
)

# --- Stage and the default pipeline ---------------------------------------------------------------


def test_stage_kinds():
	assert STAGE_KINDS == ("Open", "Won", "Lost")


def test_stage_defaults_and_frozen():
	stage = Stage("Discovery", 15)
	assert (stage.kind, stage.order) == ("Open", 0)
	with pytest.raises(AttributeError):
		stage.probability = 20  # type: ignore[misc]


def test_stage_rejects_unknown_kind():
	with pytest.raises(ValueError):
		Stage("Done", 100, "won")


def test_default_pipeline_content():
	assert [(s.name, s.probability, s.kind, s.order) for s in DEFAULT_PIPELINE] == [
		("Prospecting", 5, "Open", 10),
		("Qualification", 10, "Open", 20),
		("Needs Analysis", 20, "Open", 30),
		("Value Proposition", 30, "Open", 40),
		("Identifying Decision Makers", 40, "Open", 50),
		("Perception Analysis", 50, "Open", 60),
		("Proposal/Price Quote", 60, "Open", 70),
		("Negotiation/Review", 80, "Open", 80),
		("Won", 100, "Won", 90),
		("Lost", 0, "Lost", 100),
	]


# --- stages_to_seed --------------------------------------------------------------------------------


def test_seed_everything_on_empty_site():
	assert stages_to_seed([]) == list(DEFAULT_PIPELINE)


def test_seed_nothing_when_all_present():
	assert stages_to_seed([s.name for s in DEFAULT_PIPELINE]) == []


def test_seed_matches_case_and_whitespace_insensitively():
	seeded = stages_to_seed(["  proposal/price quote ", "WON", "needs analysis", "PROSPECTING"])
	assert [s.name for s in seeded] == [
		"Qualification",
		"Value Proposition",
		"Identifying Decision Makers",
		"Perception Analysis",
		"Negotiation/Review",
		"Lost",
	]


def test_seed_ignores_unrelated_and_empty_names():
	seeded = stages_to_seed(["Discovery", "", None, "Lost"])
	assert [s.name for s in seeded] == [s.name for s in DEFAULT_PIPELINE if s.name != "Lost"]


def test_seed_is_idempotent():
	first = stages_to_seed(["Proposal/Price Quote"])
	assert stages_to_seed(["Proposal/Price Quote", *(s.name for s in first)]) == []


def test_seed_accepts_a_generator():
	assert stages_to_seed(name for name in ["Prospecting"]) == list(DEFAULT_PIPELINE[1:])


def test_fill_gives_defaults_to_erpnexts_unconfigured_stages_only():
	existing = [
		("Prospecting", 0, "Open", 0),  # as ERPNext's setup wizard leaves it
		("qualification", None, None, None),  # case-insensitive match, NULLs
		("Needs Analysis", 35, "Open", 0),  # the site set a probability: keep
		("Value Proposition", 0, "Open", 15),  # the site set an order: keep
		("Discovery", 0, "Open", 0),  # not a default stage
	]
	assert stages_to_fill(existing) == [
		("Prospecting", {"op_probability": 5, "op_stage_kind": "Open", "op_stage_order": 10}),
		("qualification", {"op_probability": 10, "op_stage_kind": "Open", "op_stage_order": 20}),
	]


def test_fill_is_idempotent_once_filled():
	existing = [("Lost", 0, "Open", 0)]
	((name, values),) = stages_to_fill(existing)
	assert values == {"op_probability": 0, "op_stage_kind": "Lost", "op_stage_order": 100}
	assert (
		stages_to_fill([(name, values["op_probability"], values["op_stage_kind"], values["op_stage_order"])])
		== []
	)


# --- probability_error -----------------------------------------------------------------------------


@pytest.mark.parametrize(
	"value", [None, "", "  ", 0, 100, 50, 0.0, 100.0, 33.3, Decimal("99.99"), "75", " 12.5 ", "1e1"]
)
def test_probability_accepted(value):
	assert probability_error(value) is None


@pytest.mark.parametrize(
	"value", [-1, 101, -0.01, 100.01, Decimal("100.001"), "150", "-5", float("inf"), "-Infinity"]
)
def test_probability_out_of_range(value):
	assert probability_error(value) == "out_of_range"


@pytest.mark.parametrize("value", ["abc", "50%", "1,5", "NaN", float("nan"), True, [], object()])
def test_probability_not_a_number(value):
	assert probability_error(value) == "not_a_number"


# --- resolve_probability ---------------------------------------------------------------------------


def _resolve(**overrides):
	arguments = dict(
		stage_changed=False,
		probability_changed=False,
		new_probability=40.0,
		stage_default=50.0,
		follows_stage=True,
	)
	arguments.update(overrides)
	return resolve_probability(**arguments)


def test_resolve_feature_off_keeps_value_and_never_overrides():
	assert _resolve(follows_stage=False, stage_changed=True) == (40.0, False)
	assert _resolve(follows_stage=False, probability_changed=True) == (40.0, False)
	assert _resolve(follows_stage=False) == (40.0, False)


def test_resolve_stage_change_applies_stage_default():
	assert _resolve(stage_changed=True) == (50.0, False)


def test_resolve_stage_change_without_default_keeps_value():
	assert _resolve(stage_changed=True, stage_default=None) == (40.0, False)


def test_resolve_stage_change_resets_a_cleared_probability():
	assert _resolve(stage_changed=True, new_probability=None) == (50.0, False)


def test_resolve_user_edit_with_stage_change_wins_and_is_overridden():
	assert _resolve(stage_changed=True, probability_changed=True) == (40.0, True)


def test_resolve_user_edit_equal_to_default_is_not_overridden():
	assert _resolve(stage_changed=True, probability_changed=True, new_probability=50) == (50.0, False)
	assert _resolve(probability_changed=True, new_probability=50.0) == (50.0, False)


def test_resolve_user_edit_without_stage_change():
	assert _resolve(probability_changed=True) == (40.0, True)


def test_resolve_user_edit_on_stage_without_default_is_not_overridden():
	assert _resolve(probability_changed=True, stage_default=None) == (40.0, False)


def test_resolve_nothing_changed_reports_existing_override():
	assert _resolve() == (40.0, True)
	assert _resolve(new_probability=50.0) == (50.0, False)
	assert _resolve(stage_default=None) == (40.0, False)


def test_resolve_cleared_probability_on_stage_with_default_is_overridden():
	assert _resolve(probability_changed=True, new_probability=None) == (None, True)


def test_resolve_compares_numbers_not_types():
	assert _resolve(new_probability=Decimal("50.0"), stage_default=50) == (50.0, False)
	assert _resolve(probability_changed=True, new_probability="50", stage_default=50.0) == (50.0, False)


def test_resolve_returns_floats():
	probability, overridden = _resolve(stage_changed=True, stage_default=Decimal("75"))
	assert isinstance(probability, float) and probability == 75.0 and overridden is False


def test_resolve_rejects_non_numbers():
	with pytest.raises(ValueError):
		_resolve(probability_changed=True, new_probability="high")


# --- sort_stages -----------------------------------------------------------------------------------


def test_sort_stages_by_order_then_name_unordered_last():
	unordered = Stage("Alpha", 5)
	also_unordered = Stage("Zeta", 5, order=None)  # type: ignore[arg-type]
	tied_b = Stage("beta", 30, order=30)
	tied_a = Stage("Alpha", 30, order=30)
	first = Stage("Intro", 1, order=1)
	result = sort_stages([also_unordered, tied_b, unordered, first, tied_a])
	assert [(s.name, s.order) for s in result] == [
		("Intro", 1),
		("Alpha", 30),
		("beta", 30),
		("Alpha", 0),
		("Zeta", None),
	]


def test_sort_stages_restores_default_pipeline():
	assert sort_stages(reversed(DEFAULT_PIPELINE)) == list(DEFAULT_PIPELINE)


def test_sort_stages_empty():
	assert sort_stages([]) == []


# --- reconcile_stage -------------------------------------------------------------------------------


def _reconcile(old_status, new_status, old_kind, new_kind):
	return reconcile_stage(
		old_status=old_status,
		new_status=new_status,
		old_stage_kind=old_kind,
		new_stage_kind=new_kind,
		stage_changed=old_kind != new_kind,
		status_changed=old_status != new_status,
	)


def test_reconcile_codes_are_listed():
	assert set(stages.RECONCILE_ACTIONS) == {
		"ok",
		"move_to_won",
		"move_to_lost",
		"reopen_stage",
		"lost_requires_flow",
		"won_requires_conversion",
	}


def test_reconcile_nothing_changed_is_ok_even_when_inconsistent():
	assert _reconcile("Open", "Open", "Open", "Open") == "ok"
	# Stale data is not repaired on an unrelated save.
	assert _reconcile("Open", "Open", "Won", "Won") == "ok"


@pytest.mark.parametrize("old_status", ["Open", "Quotation", "Replied", "Lost", "Closed"])
@pytest.mark.parametrize("kind", ["Open", "Lost", None])
def test_reconcile_converted_moves_stage_to_won(old_status, kind):
	assert _reconcile(old_status, "Converted", kind, kind) == "move_to_won"


def test_reconcile_converted_with_won_stage_is_ok():
	assert _reconcile("Quotation", "Converted", "Won", "Won") == "ok"
	# Status and stage move together in one save.
	assert _reconcile("Quotation", "Converted", "Open", "Won") == "ok"


def test_reconcile_converted_overrides_a_lost_stage_picked_in_same_save():
	assert _reconcile("Quotation", "Converted", "Open", "Lost") == "move_to_won"


@pytest.mark.parametrize("old_status", ["Open", "Quotation", "Replied", "Converted", "Closed"])
@pytest.mark.parametrize("kind", ["Open", "Won", None])
def test_reconcile_lost_moves_stage_to_lost(old_status, kind):
	assert _reconcile(old_status, "Lost", kind, kind) == "move_to_lost"


def test_reconcile_lost_with_lost_stage_is_ok():
	assert _reconcile("Open", "Lost", "Lost", "Lost") == "ok"
	assert _reconcile("Open", "Lost", "Open", "Lost") == "ok"


def test_reconcile_lost_overrides_a_won_stage_picked_in_same_save():
	assert _reconcile("Open", "Lost", "Open", "Won") == "move_to_lost"


@pytest.mark.parametrize("status", ["Open", "Quotation", "Replied", "Converted", "Closed"])
def test_reconcile_picking_lost_stage_requires_lost_flow(status):
	assert _reconcile(status, status, "Open", "Lost") == "lost_requires_flow"


@pytest.mark.parametrize("status", ["Open", "Quotation", "Replied", "Lost", "Closed"])
def test_reconcile_picking_won_stage_requires_conversion(status):
	assert _reconcile(status, status, "Open", "Won") == "won_requires_conversion"


def test_reconcile_moving_between_lost_stages_of_a_lost_deal_is_ok():
	result = reconcile_stage(
		old_status="Lost",
		new_status="Lost",
		old_stage_kind="Lost",
		new_stage_kind="Lost",
		stage_changed=True,
		status_changed=False,
	)
	assert result == "ok"


def test_reconcile_moving_between_won_stages_of_a_converted_deal_is_ok():
	assert _reconcile("Converted", "Converted", "Won", "Won") == "ok"
	result = reconcile_stage(
		old_status="Converted",
		new_status="Converted",
		old_stage_kind="Won",
		new_stage_kind="Won",
		stage_changed=True,
		status_changed=False,
	)
	assert result == "ok"


@pytest.mark.parametrize("old_status", ["Lost", "Converted", "Closed"])
@pytest.mark.parametrize("new_status", ["Open", "Quotation", "Replied"])
@pytest.mark.parametrize("kind", ["Won", "Lost"])
def test_reconcile_reopen_moves_stage_back(old_status, new_status, kind):
	assert _reconcile(old_status, new_status, kind, kind) == "reopen_stage"


def test_reconcile_reopen_with_open_stage_is_ok():
	assert _reconcile("Lost", "Open", "Open", "Open") == "ok"
	# The user picked an open stage in the same save as the reopen.
	assert _reconcile("Lost", "Open", "Lost", "Open") == "ok"
	assert _reconcile("Closed", "Replied", None, None) == "ok"


def test_reconcile_reopen_to_a_closed_kind_stage_is_refused_not_reopened():
	assert _reconcile("Lost", "Open", "Open", "Lost") == "lost_requires_flow"
	assert _reconcile("Lost", "Open", "Lost", "Won") == "won_requires_conversion"


def test_reconcile_between_open_statuses_never_reopens():
	assert _reconcile("Open", "Quotation", "Won", "Won") == "ok"
	assert _reconcile("Quotation", "Replied", "Lost", "Lost") == "ok"


def test_reconcile_closing_is_ok():
	assert _reconcile("Open", "Closed", "Open", "Open") == "ok"


def test_reconcile_closed_deal_moved_to_open_stage_is_ok():
	assert _reconcile("Lost", "Lost", "Lost", "Open") == "ok"
