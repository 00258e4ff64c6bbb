"""Permission hooks: an opportunity's history is visible exactly to those who may read the opportunity."""

import frappe
from frappe.model.db_query import DatabaseQuery


def opportunity_history_query(user: str | None = None) -> str:
	user = user or frappe.session.user
	if user == "Administrator":
		return ""
	conditions = DatabaseQuery("Opportunity", user=user).build_match_conditions()
	if not conditions:
		return ""
	return (
		"`tabOpportunity History`.`opportunity` in "
		f"(select `tabOpportunity`.`name` from `tabOpportunity` where {conditions})"
	)


def opportunity_history_has_permission(doc, ptype: str = "read", user: str | None = None) -> bool:
	if ptype not in ("read", "report", "export", "print", "email", "share"):
		return False  # rows are written by the app only
	return bool(frappe.has_permission("Opportunity", "read", doc.opportunity, user=user))
