"""doc_events for User: a disabled user's open opportunities go back to the assignment rules."""

import frappe

from opportunity_plus import assignment
from opportunity_plus.pipeline import get_settings


def on_update(doc, method=None) -> None:
	if frappe.flags.in_install or frappe.flags.in_patch:
		return
	# A user inserted disabled held nothing; one just disabled may hold open opportunities.
	if doc.enabled or not doc.get_doc_before_save() or not doc.has_value_changed("enabled"):
		return
	if not get_settings().reassign_on_disable:
		return
	assignment.reassign_open_opportunities(doc.name)
