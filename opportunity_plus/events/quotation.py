"""doc_events for ERPNext's Quotation: a submitted quotation moves its opportunities to the proposal
stage; a lost quotation carries its reasons to its opportunities."""

import frappe
from frappe.utils import flt

from opportunity_plus.core.mapping import stage_after_quotation
from opportunity_plus.pipeline import get_settings, get_stages


def on_submit(doc, method=None) -> None:
	"""ERPNext has just set the status of the quotation's opportunities to Quotation (with db_set):
	move each one's stage to the configured proposal stage, never backwards (core.mapping)."""
	stages = get_stages()
	settings = get_settings()
	target = stages.get(settings.quotation_stage or "")
	if not target:
		return
	names = {doc.opportunity} | {item.prevdoc_docname for item in doc.items if item.get("prevdoc_docname")}
	for name in sorted(filter(None, names)):
		if not frappe.db.exists("Opportunity", name):
			continue
		opportunity = frappe.get_doc("Opportunity", name)
		stage = stage_after_quotation(opportunity.status, stages.get(opportunity.sales_stage or ""), target)
		if not stage:
			continue
		values = {"sales_stage": stage, "op_probability_overridden": 0}
		if settings.probability_follows_stage:
			values["probability"] = flt(target.probability)
		# As ERPNext updates the status: on the quotation's behalf, whatever the user's rights on the
		# opportunity, and without its validation (history is still recorded by its on_change).
		opportunity.db_set(values, update_modified=False)


def on_update_after_submit(doc, method=None) -> None:
	"""ERPNext marks the opportunity Lost with db_set and drops the quotation's lost reasons and
	competitors (erpnext#46948): copy them, so the win/loss record says why."""
	if doc.status != "Lost" or not doc.get("lost_reasons"):
		return
	names = {doc.opportunity} | {item.prevdoc_docname for item in doc.items if item.get("prevdoc_docname")}
	for name in filter(None, names):
		opportunity = frappe.get_doc("Opportunity", name)
		if opportunity.status != "Lost" or opportunity.get("lost_reasons"):
			continue
		for row in doc.lost_reasons:
			reason = _opportunity_lost_reason(row.lost_reason)
			opportunity.append("lost_reasons", {"lost_reason": reason})
		for row in doc.get("competitors") or []:
			opportunity.append("competitors", {"competitor": row.competitor})
		if doc.order_lost_reason and not opportunity.order_lost_reason:
			opportunity.order_lost_reason = doc.order_lost_reason
		# ERPNext updates the opportunity's status on the quotation's behalf regardless of the user's rights
		# on it; the reasons travel the same way.
		opportunity.flags.ignore_permissions = True
		opportunity.save()


def _opportunity_lost_reason(quotation_reason: str) -> str:
	"""Quotations and opportunities keep separate lost-reason lists: reuse or create the same name."""
	if not frappe.db.exists("Opportunity Lost Reason", quotation_reason):
		frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": quotation_reason}).insert(
			ignore_permissions=True
		)
	return quotation_reason
