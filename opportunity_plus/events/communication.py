"""doc_events for Communication: the first reply to an opportunity, however it was sent (response.py)."""

import frappe

from opportunity_plus import response

SAVEPOINT = "op_first_response"


def on_update(doc, method=None) -> None:
	# Runs on every save of every Communication (mail status changes included): leave at once unless it
	# is a real message on an opportunity. Frappe's own first_response_time update has run before this
	# (the controller's on_update precedes doc_events).
	if doc.reference_doctype != "Opportunity" or doc.communication_type != "Communication":
		return
	# The reply itself matters more than its statistics: a failure here is logged, never stops the mail.
	frappe.db.savepoint(SAVEPOINT)
	try:
		response.record_first_response(doc)
	except Exception:
		frappe.db.rollback(save_point=SAVEPOINT)
		frappe.log_error(
			title="Opportunity Plus: first response not recorded",
			reference_doctype="Opportunity",
			reference_name=doc.reference_name,
		)
