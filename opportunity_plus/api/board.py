"""The Pipeline Board (desk page `pipeline-board`): opportunities as cards in one column per sales stage.

Reads go through `frappe.get_list`, so the board shows exactly what the caller's list view would (roles,
user permissions, permission query conditions, shares). Moves save the Opportunity the way the form does,
so the app's stage rules and deal history run unchanged; a move to a lost stage goes through ERPNext's own
lost flow, which records the reasons. Amounts are in the company's currency (ERPNext's base amounts).
"""

import json

import frappe
from frappe import _
from frappe.utils import add_days, cint, flt, nowdate

from opportunity_plus.api.pipelines import requirements_of
from opportunity_plus.api.utils import (
	MAX_NAME_LENGTH,
	check_exists,
	echo,
	get_document,
	parse_filters,
	parse_flag,
	parse_int,
	parse_json_value,
	parse_name,
)
from opportunity_plus.core.stages import OPEN_STATUSES
from opportunity_plus.pipeline import PIPELINE_FIELD, get_pipeline, get_stages, ordered_stages, pipeline_of

# Extra filters a caller may pass; territory also matches the territories below it.
FILTER_FIELDS = ("territory", "opportunity_owner", "opportunity_type", "source")
# Closed deals the board shows when asked to: those closed in the last RECENTLY_CLOSED_DAYS days.
RECENTLY_CLOSED_STATUSES = ("Lost", "Converted")
RECENTLY_CLOSED_DAYS = 30
MAX_CARDS_PER_STAGE = 500
CARD_FIELDS = [
	"name",
	"title",
	"opportunity_from",
	"party_name",
	"customer_name",
	"base_opportunity_amount",
	"probability",
	"expected_closing",
	"op_is_overdue",
	"status",
	"opportunity_owner",
	"sales_stage",
]


class LostFlowRequired(frappe.ValidationError):
	"""A move to a lost stage: the desk answers with the lost dialog (see `declare_lost`)."""


@frappe.whitelist()
@frappe.read_only()
def get_board(
	company: str | None = None,
	filters: dict | str | None = None,
	limit_per_stage: int = 50,
	include_closed: bool = False,
	pipeline: str | None = None,
) -> dict:
	"""One column per stage of `pipeline` (default: the default pipeline) in its order (and "No Stage"
	when some deal has none), each with its kind, default probability, count, amount and weighted amount
	over every matching opportunity of the pipeline, and its `limit_per_stage` largest deals as cards.

	Shows open deals; with `include_closed`, also those lost or converted in the last 30 days."""
	company = company or default_company()
	if not company:
		frappe.throw(_("Select a company: the board never mixes companies' currencies."), title=_("Company"))
	company = check_exists("Company", company, _("Company"))
	limit_per_stage = parse_int(limit_per_stage, _("Cards per stage"), 0, MAX_CARDS_PER_STAGE)
	include_closed = parse_flag(include_closed, _("Include Closed"))
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	board_pipeline = _board_pipeline(pipeline)

	conditions, or_conditions = _conditions(company, _parse_filters(filters), bool(include_closed))
	if board_pipeline:
		conditions.append(_pipeline_condition(board_pipeline))
	totals_by_stage = _totals_by_stage(conditions, or_conditions)

	precision = frappe.get_precision("Opportunity", "base_opportunity_amount")
	cards_by_stage = _cards_by_stage(list(totals_by_stage), conditions, or_conditions, limit_per_stage)
	columns = []
	for stage, kind, probability in _column_stages(totals_by_stage, board_pipeline):
		row = totals_by_stage.get(stage) or frappe._dict()
		count = cint(row.deal_count)
		cards = cards_by_stage.get(stage, [])
		columns.append(
			{
				"stage": stage,
				"label": stage or _("No Stage"),
				"kind": kind,
				"probability": probability,
				"count": count,
				"amount": flt(row.amount, precision),
				"weighted_amount": flt(row.weighted_amount, precision),
				"cards": cards,
				"has_more": count > len(cards),
			}
		)

	open_columns = [column for column in columns if column["kind"] == "Open"]
	return {
		"company": company,
		"pipeline": board_pipeline.name if board_pipeline else None,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		"include_closed": bool(include_closed),
		"limit_per_stage": limit_per_stage,
		"can_write": bool(frappe.has_permission("Opportunity", "write")),
		"columns": columns,
		# the open pipeline: what is still being worked, so Won deals do not inflate the weighted figure
		"totals": {
			"count": sum(column["count"] for column in open_columns),
			"amount": flt(sum(column["amount"] for column in open_columns), precision),
			"weighted_amount": flt(sum(column["weighted_amount"] for column in open_columns), precision),
		},
	}


@frappe.whitelist(methods=["POST"])
def move_to_stage(opportunity: str, stage: str, values: dict | str | None = None) -> dict:
	"""Move a deal to another stage of its pipeline by saving it as the form would; returns the updated
	card. `values`: the stage's required fields the deal lacks (what the board's dialog asked for), set in
	the same save; a field the stage does not require is refused.

	A lost stage is refused with LostFlowRequired unless the deal is already lost: the desk opens the lost
	dialog instead (`declare_lost`). The app's rules refuse a won stage unless the deal is converted, and a
	stage whose required fields are still empty (MissingForStage, naming them)."""
	doc = get_document("Opportunity", opportunity, _("Opportunity"), "write")
	target = _get_stage(stage, pipeline_of(doc))
	values = _required_values(values, doc, target.name)
	if target.kind == "Lost" and doc.status != "Lost":
		frappe.throw(
			_("{0} is a lost stage: declare the opportunity lost with a reason instead.").format(target.name),
			LostFlowRequired,
			title=_("Use the Lost Flow"),
		)
	if doc.sales_stage != target.name or values:
		doc.update(values)
		doc.sales_stage = target.name
		doc.save()
	return _card(doc)


@frappe.whitelist(methods=["POST"])
def declare_lost(
	opportunity: str,
	lost_reasons: list | str,
	competitors: list | str | None = None,
	detailed_reason: str | None = None,
	stage: str | None = None,
) -> dict:
	"""Declare a deal lost through ERPNext's own flow (reasons, competitors, detailed reason); returns the
	updated card. `stage` picks the lost stage it lands in (default: the first lost stage)."""
	doc = get_document("Opportunity", opportunity, _("Opportunity"), "write")
	reasons = _names(lost_reasons, "lost_reason")
	if not reasons:
		frappe.throw(
			_("Give at least one reason why the opportunity was lost."), title=_("Lost Reason Required")
		)
	_check_all_exist("Opportunity Lost Reason", reasons, _("Opportunity Lost Reason"))
	rivals = _names(competitors, "competitor")
	_check_all_exist("Competitor", rivals, _("Competitor"))
	if doc.status == "Converted":
		frappe.throw(
			_("Opportunity {0} is converted: it cannot be declared lost.").format(doc.name),
			title=_("Converted Opportunity"),
		)
	if stage:
		target = _get_stage(stage, pipeline_of(doc))
		if target.kind != "Lost":
			frappe.throw(_("{0} is not a lost stage.").format(echo(target.name)))
		# set in the same save as the status, so the rules keep this lost stage
		doc.sales_stage = target.name
	doc.declare_enquiry_lost(
		lost_reasons_list=[{"lost_reason": reason} for reason in reasons],
		competitors=[{"competitor": rival} for rival in rivals],
		detailed_reason=detailed_reason,
	)
	return _card(doc)


# --- helpers ---------------------------------------------------------------------------------------


def _parse_filters(filters) -> dict:
	# one existing value per field (utils.parse_filters); territory also matches the territories below it
	return parse_filters(filters, FILTER_FIELDS, "board")


def _conditions(company: str, filters: dict, include_closed: bool) -> tuple[list, list | None]:
	"""get_list filters (all must match) and or_filters (one must match) for the board's deals."""
	conditions = [["Opportunity", "company", "=", company]]
	for field, value in filters.items():
		operator = "descendants of (inclusive)" if field == "territory" else "="
		conditions.append(["Opportunity", field, operator, value])
	if not include_closed:
		conditions.append(["Opportunity", "status", "in", sorted(OPEN_STATUSES)])
		return conditions, None
	# open deals, or deals that closed recently (ERPNext's lost and convert flows update `modified`)
	conditions.append(["Opportunity", "status", "in", [*sorted(OPEN_STATUSES), *RECENTLY_CLOSED_STATUSES]])
	cutoff = add_days(nowdate(), -RECENTLY_CLOSED_DAYS)
	return conditions, [
		["Opportunity", "status", "in", sorted(OPEN_STATUSES)],
		["Opportunity", "modified", ">=", cutoff],
	]


def default_company() -> str | None:
	return frappe.defaults.get_user_default("Company") or frappe.db.get_single_value(
		"Global Defaults", "default_company"
	)


def _totals_by_stage(conditions: list, or_conditions: list | None) -> dict[str | None, frappe._dict]:
	"""Count, amount and weighted amount of every matching deal the caller may read, by stage."""
	totals = {}
	for row in frappe.get_list(
		"Opportunity",
		filters=conditions,
		or_filters=or_conditions,
		fields=[
			"sales_stage",
			"count(name) as deal_count",
			"sum(base_opportunity_amount) as amount",
			"sum(round(base_opportunity_amount * probability / 100, 9)) as weighted_amount",
		],
		group_by="sales_stage",
		order_by="sales_stage asc",
	):
		# NULL and "" both mean "no stage"
		total = totals.setdefault(
			row.sales_stage or None, frappe._dict(deal_count=0, amount=0.0, weighted_amount=0.0)
		)
		total.deal_count += cint(row.deal_count)
		total.amount += flt(row.amount)
		total.weighted_amount += flt(row.weighted_amount)
	return totals


def _column_stages(totals_by_stage: dict, pipeline=None) -> list[tuple[str | None, str, float | None]]:
	"""(stage, kind, default probability) of each column, in the pipeline's order."""
	columns = [
		(stage.name, stage.kind, stage.probability) for stage in ordered_stages(pipeline and pipeline.name)
	]
	known = {stage for stage, _kind, _probability in columns}
	# a deal without a stage, or (after a stage was renamed outside the app) with an unknown one
	extra = sorted(stage for stage in totals_by_stage if stage and stage not in known)
	columns.extend((stage, "Open", None) for stage in extra)
	if None in totals_by_stage:
		columns.append((None, "Open", None))
	return columns


def _cards_by_stage(
	stages: list[str | None], conditions: list, or_conditions: list | None, limit: int
) -> dict[str | None, list[dict]]:
	"""The `limit` largest deals of each stage, as cards.

	In two steps: the names per stage first, then every card's fields in one query. Sorting names only is
	several times faster on a large pipeline than sorting whole rows (the forecast's index covers it).
	"""
	if not limit:
		return {}
	names_by_stage = {
		stage: frappe.get_list(
			"Opportunity",
			filters=[*conditions, _stage_condition(stage)],
			or_filters=or_conditions,
			fields=["name"],
			order_by="base_opportunity_amount desc, name asc",
			limit_page_length=limit,
			pluck="name",
		)
		for stage in stages
	}
	names = [name for stage_names in names_by_stage.values() for name in stage_names]
	if not names:
		return {}
	rows = {
		row.name: row
		for row in frappe.get_list(
			"Opportunity",
			filters=[["Opportunity", "name", "in", names]],
			fields=CARD_FIELDS,
			limit_page_length=0,
		)
	}
	return {
		stage: [_card(rows[name]) for name in stage_names if name in rows]
		for stage, stage_names in names_by_stage.items()
	}


def _stage_condition(stage: str | None) -> list:
	if stage:
		return ["Opportunity", "sales_stage", "=", stage]
	return ["Opportunity", "sales_stage", "is", "not set"]


def _card(row) -> dict:
	card = {field: row.get(field) for field in CARD_FIELDS}
	card["expected_closing"] = str(card["expected_closing"]) if card["expected_closing"] else None
	card["base_opportunity_amount"] = flt(card["base_opportunity_amount"])
	card["probability"] = flt(card["probability"])
	card["op_is_overdue"] = cint(card["op_is_overdue"])
	return card


def _get_stage(name: str, pipeline=None):
	"""The stage `name` of the deal's pipeline."""
	name = parse_name(name, _("Sales Stage"))
	stage = get_stages(pipeline.name if pipeline else None).get(name)
	if not stage:
		if pipeline and name in get_stages():
			frappe.throw(
				_("Sales Stage {0} is not a stage of the pipeline {1}.").format(echo(name), pipeline.name),
				title=_("Stage Not in Pipeline"),
			)
		frappe.throw(_("Sales Stage {0} does not exist.").format(echo(name)), frappe.DoesNotExistError)
	return stage


def _board_pipeline(name):
	if name in (None, ""):
		return get_pipeline()
	name = parse_name(name, _("Sales Pipeline"))
	found = get_pipeline(name)
	if not found:
		frappe.throw(_("Sales Pipeline {0} does not exist.").format(echo(name)), frappe.DoesNotExistError)
	return found


def _pipeline_condition(pipeline) -> list:
	# a deal without a pipeline is in the default one
	if pipeline.is_default:
		return ["Opportunity", PIPELINE_FIELD, "in", [pipeline.name, ""]]
	return ["Opportunity", PIPELINE_FIELD, "=", pipeline.name]


def _required_values(values, doc, stage: str) -> dict:
	"""The values the board's dialog sends: only fields the stage requires, never item lines."""
	if values in (None, ""):
		return {}
	values = parse_json_value(values, _("Values"), dict)
	allowed = set(requirements_of(doc.get(PIPELINE_FIELD), stage)) - {"items", "submitted_quotation"}
	unknown = [field for field in values if field not in allowed]
	if unknown:
		frappe.throw(
			_("{0} is not a field the stage {1} asks for.").format(echo(", ".join(map(str, unknown))), stage),
			title=_("Not Asked For"),
		)
	return values


def _names(value, key: str) -> list[str]:
	"""Names from a list of names or of rows ({key: name}), or from its JSON text; a plain string is one
	name. Blanks are dropped, order is kept, duplicates are removed."""
	if value is None or value == "":
		return []
	if isinstance(value, str):
		try:
			value = json.loads(value)
		except ValueError:
			value = [value]
	if isinstance(value, str | dict):
		value = [value]
	if not isinstance(value, list):
		frappe.throw(_("Expected a list of names, not {0}.").format(echo(value)))
	names = []
	for item in value:
		name = item.get(key) if isinstance(item, dict) else item
		if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
			frappe.throw(_("Expected a list of names, not {0}.").format(echo(item)))
		name = name.strip()
		if name and name not in names:
			names.append(name)
	return names


def _check_all_exist(doctype: str, names: list[str], label: str) -> None:
	missing = [name for name in names if not frappe.db.exists(doctype, name)]
	if missing:
		frappe.throw(
			_("{0} not found: {1}").format(label, echo(", ".join(missing))), frappe.DoesNotExistError
		)
