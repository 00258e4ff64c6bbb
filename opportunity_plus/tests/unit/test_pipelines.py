import pytest

from opportunity_plus.core.pipelines import (
	DUPLICATE_STAGE,
	ITEMS,
	NO_OPEN_STAGE,
	NO_STAGES,
	SUBMITTED_QUOTATION,
	Pipeline,
	PipelineStage,
	choose_pipeline,
	map_stage,
	missing_for_entry,
	parse_required_fields,
	pipeline_errors,
	unknown_required_fields,
)
from opportunity_plus.core.stages import Stage


def pipeline(name: str, *rows, default=False, enabled=True, types=(), companies=()) -> Pipeline:
	"""rows: (stage, kind) pairs, in order."""
	return Pipeline(
		name=name,
		stages=tuple(
			PipelineStage(Stage(stage, 10 * index, kind, 10 * (index + 1)))
			for index, (stage, kind) in enumerate(rows)
		),
		enabled=enabled,
		is_default=default,
		opportunity_types=frozenset(types),
		companies=frozenset(companies),
	)


NEW_BUSINESS = pipeline(
	"New Business",
	("Prospecting", "Open"),
	("Qualification", "Open"),
	("Proposal", "Open"),
	("Negotiation", "Open"),
	("Won", "Won"),
	("Lost", "Lost"),
	("Lost to Competitor", "Lost"),
	default=True,
)
RENEWALS = pipeline(
	"Renewals",
	("Renewal Due", "Open"),
	("Negotiation", "Open"),
	("Renewed", "Won"),
	("Churned", "Lost"),
	types=("Maintenance",),
)


# --- choosing the pipeline -----------------------------------------------------------------------------


def test_a_deal_without_a_matching_rule_goes_to_the_default():
	assert choose_pipeline([NEW_BUSINESS, RENEWALS], "Sales", "ACME") == "New Business"


def test_a_rule_by_opportunity_type():
	assert choose_pipeline([NEW_BUSINESS, RENEWALS], "Maintenance", "ACME") == "Renewals"


def test_the_most_specific_rule_wins_then_the_name():
	by_company = pipeline("Z Company", ("A", "Open"), companies=("ACME",))
	by_both = pipeline("Y Both", ("A", "Open"), types=("Maintenance",), companies=("ACME",))
	by_type = pipeline("X Type", ("A", "Open"), types=("Maintenance",))
	pipelines = [NEW_BUSINESS, by_company, by_type, by_both, RENEWALS]
	assert choose_pipeline(pipelines, "Maintenance", "ACME") == "Y Both"
	assert choose_pipeline(pipelines, "Maintenance", "Other Co") == "Renewals"  # types only: by name
	assert choose_pipeline(pipelines, "Sales", "ACME") == "Z Company"


def test_ties_go_to_the_first_name():
	first = pipeline("alpha", ("A", "Open"), types=("Maintenance",))
	second = pipeline("Beta", ("A", "Open"), types=("Maintenance",))
	assert choose_pipeline([NEW_BUSINESS, second, first], "Maintenance", None) == "alpha"


def test_disabled_pipelines_and_pipelines_without_a_rule_are_never_chosen():
	disabled = pipeline("Off", ("A", "Open"), types=("Sales",), enabled=False)
	manual = pipeline("By Hand", ("A", "Open"))
	assert choose_pipeline([NEW_BUSINESS, disabled, manual], "Sales", "ACME") == "New Business"


def test_no_default_and_no_rule_is_none():
	assert choose_pipeline([RENEWALS], "Sales", None) is None


# --- moving a deal to another pipeline --------------------------------------------------------------------


def test_the_same_stage_where_the_new_pipeline_has_it():
	assert map_stage("Negotiation", NEW_BUSINESS, RENEWALS) == "Negotiation"


def test_the_nearest_stage_of_the_same_kind():
	# the first of four open stages -> the first of two; the third of four (2/3) -> the second of two
	assert map_stage("Prospecting", NEW_BUSINESS, RENEWALS) == "Renewal Due"
	assert map_stage("Proposal", NEW_BUSINESS, RENEWALS) == "Negotiation"
	assert map_stage("Qualification", NEW_BUSINESS, RENEWALS) == "Renewal Due"  # 1/3 rounds down
	assert map_stage("Won", NEW_BUSINESS, RENEWALS) == "Renewed"
	assert map_stage("Lost to Competitor", NEW_BUSINESS, RENEWALS) == "Churned"
	assert map_stage("Churned", RENEWALS, NEW_BUSINESS) == "Lost"
	assert map_stage("Renewal Due", RENEWALS, NEW_BUSINESS) == "Prospecting"


def test_a_kind_the_new_pipeline_lacks_goes_to_its_first_open_stage():
	only_open = pipeline("Only Open", ("Intro", "Open"), ("Deal", "Open"))
	assert map_stage("Won", NEW_BUSINESS, only_open) == "Intro"


def test_without_a_stage_or_an_unknown_one_the_first_open_stage():
	assert map_stage(None, NEW_BUSINESS, RENEWALS) == "Renewal Due"
	assert map_stage("Gone", NEW_BUSINESS, RENEWALS) == "Renewal Due"
	assert map_stage("Proposal", None, RENEWALS) == "Renewal Due"


def test_an_empty_pipeline_has_no_stage():
	assert map_stage("Proposal", NEW_BUSINESS, pipeline("Empty")) is None


# --- entry rules ----------------------------------------------------------------------------------------


def test_missing_fields_in_the_rows_order():
	required = ["opportunity_amount", "contact_person", ITEMS, "expected_closing", SUBMITTED_QUOTATION]
	values = {"opportunity_amount": 0, "contact_person": "  ", "expected_closing": "2027-01-01"}
	assert missing_for_entry(required, values, item_count=0, has_submitted_quotation=False) == [
		"opportunity_amount",
		"contact_person",
		ITEMS,
		SUBMITTED_QUOTATION,
	]


def test_nothing_missing():
	required = ["opportunity_amount", ITEMS, SUBMITTED_QUOTATION]
	assert (
		missing_for_entry(required, {"opportunity_amount": 10.5}, item_count=2, has_submitted_quotation=True)
		== []
	)
	assert missing_for_entry([], {}, item_count=0, has_submitted_quotation=False) == []


@pytest.mark.parametrize(
	("text", "names"),
	[
		(None, []),
		("", []),
		("contact_person", ["contact_person"]),
		(" items ,\nopportunity_amount\n\n items ", ["items", "opportunity_amount"]),
	],
)
def test_parse_required_fields(text, names):
	assert parse_required_fields(text) == names


def test_unknown_required_fields():
	assert unknown_required_fields(
		["items", SUBMITTED_QUOTATION, "no_such_field"], ["items", "opportunity_amount"]
	) == ["no_such_field"]


# --- a pipeline's own rules -----------------------------------------------------------------------------


def test_pipeline_errors():
	assert pipeline_errors([]) == [(NO_STAGES, None)]
	assert pipeline_errors([("Won", "Won"), ("Lost", "Lost")]) == [(NO_OPEN_STAGE, None)]
	assert pipeline_errors([("A", "Open"), ("A", "Open")]) == [(DUPLICATE_STAGE, "A")]
	assert pipeline_errors([("A", "Open"), ("Won", "Won")]) == []
	with pytest.raises(ValueError):
		pipeline_errors([("A", "Maybe")])
