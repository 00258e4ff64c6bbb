"""Sales stages for those who work opportunities.

Stock ERPNext v15 lets only Sales Manager read Sales Stage, yet every Sales User's opportunity has one.
The stage names, kinds, default probabilities and order are part of working a deal, so these methods give
them to anyone who may read opportunities (the form's stage picker and probability, the board, dialogs),
without opening the Sales Stage doctype itself.
"""

import frappe
from frappe import _
from frappe.utils import flt

from opportunity_plus.api.utils import MAX_NAME_LENGTH, echo, parse_int, parse_json_value, parse_name
from opportunity_plus.pipeline import get_pipeline, ordered_stages

MAX_RESULTS = 100


def _check_may_read_opportunities() -> None:
	if not (frappe.has_permission("Opportunity", "read") or frappe.has_permission("Sales Stage", "read")):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)


@frappe.whitelist()
@frappe.read_only()
def get_stages(pipeline: str | None = None) -> list[dict]:
	"""The stages of `pipeline` in its order (without one: every stage of every pipeline, the default
	pipeline's first): name, kind (Open, Won or Lost) and default probability."""
	_check_may_read_opportunities()
	pipeline = _pipeline(pipeline)
	return [
		{"name": stage.name, "kind": stage.kind, "probability": stage.probability}
		for stage in ordered_stages(pipeline)
	]


def _pipeline(name) -> str | None:
	if name in (None, ""):
		return None
	name = parse_name(name, _("Sales Pipeline"))
	if not get_pipeline(name):
		frappe.throw(_("Sales Pipeline {0} does not exist.").format(echo(name)), frappe.DoesNotExistError)
	return name


@frappe.whitelist()
@frappe.read_only()
def search_stages(
	doctype: str = "Sales Stage",
	txt: str = "",
	searchfield: str | None = None,
	start: int = 0,
	page_len: int = 20,
	filters: dict | list | str | None = None,
) -> list[tuple]:
	"""Every Sales Stage link field's search (hook `standard_queries`): stages whose name contains `txt`,
	in pipeline order, with their kind and probability as the description."""
	_check_may_read_opportunities()
	if doctype != "Sales Stage":
		frappe.throw(_("This search finds Sales Stages, not {0}.").format(echo(doctype)))
	if searchfield not in (None, "") and not (
		searchfield == "name" or frappe.get_meta("Sales Stage").has_field(searchfield)
	):
		frappe.throw(_("Sales Stage has no field {0} to search.").format(echo(searchfield)))
	if not isinstance(txt, str) or len(txt) > MAX_NAME_LENGTH:
		frappe.throw(_("The search text must be text of at most {0} characters.").format(MAX_NAME_LENGTH))
	start = parse_int(start or 0, _("Start"), 0, 10**6)
	page_len = parse_int(page_len or 20, _("Page Length"), 1, MAX_RESULTS)
	pipeline = None
	if filters not in (None, ""):
		# the link field's filters: the form and the board pass the deal's pipeline
		filters = parse_json_value(filters, _("Filters"), (dict, list))
		if isinstance(filters, dict):
			pipeline = _pipeline(filters.get("pipeline") or filters.get("op_pipeline"))
	needle = txt.strip().lower()
	matches = [stage for stage in ordered_stages(pipeline) if needle in stage.name.lower()]
	kinds = {"Open": _("Open"), "Won": _("Won"), "Lost": _("Lost")}
	return [
		(stage.name, _("{0} · {1}%").format(kinds.get(stage.kind, stage.kind), f"{flt(stage.probability):g}"))
		for stage in matches[start : start + page_len]
	]
