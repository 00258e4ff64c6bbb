"""Sales stages for those who work opportunities.

Stock ERPNext v15 lets only Sales Manager read Sales Stage, yet every Sales User's opportunity has one.
The stage names, kinds, default probabilities and order are part of working a deal, so these methods give
them to anyone who may read opportunities (the form's stage picker and probability, the board, dialogs),
without opening the Sales Stage doctype itself.
"""

import frappe
from frappe import _

from opportunity_plus.pipeline import ordered_stages

MAX_RESULTS = 100


def _check_may_read_opportunities() -> None:
	if not (frappe.has_permission("Opportunity", "read") or frappe.has_permission("Sales Stage", "read")):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)


@frappe.whitelist()
@frappe.read_only()
def get_stages() -> list[dict]:
	"""Every sales stage in pipeline order: name, kind (Open, Won or Lost) and default probability."""
	_check_may_read_opportunities()
	return [
		{"name": stage.name, "kind": stage.kind, "probability": stage.probability}
		for stage in ordered_stages()
	]


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
	if not isinstance(txt, str):
		frappe.throw(_("The search text must be text."))
	start, page_len = int(start or 0), int(page_len or 20)
	if start < 0 or not 0 < page_len <= MAX_RESULTS:
		frappe.throw(_("Page length must be between 1 and {0}.").format(MAX_RESULTS))
	needle = txt.strip().lower()
	matches = [stage for stage in ordered_stages() if needle in stage.name.lower()]
	return [
		(stage.name, _("{0} · {1}%").format(_(stage.kind), stage.probability or 0))
		for stage in matches[start : start + page_len]
	]
