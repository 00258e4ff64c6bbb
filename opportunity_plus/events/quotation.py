"""doc_events for ERPNext's Quotation: a lost quotation carries its reasons to its opportunities."""

import frappe


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
