"""Auto-close over REST: `/api/method/opportunity_plus.api.autoclose.preview` (a dry run)."""

import frappe
from frappe import _

from opportunity_plus import autoclose
from opportunity_plus.api.utils import parse_int
from opportunity_plus.pipeline import SETTINGS


@frappe.whitelist()
def preview(horizon_days: int = 30) -> list[dict]:
	"""Which opportunities the auto-close job would warn or close today and within `horizon_days`, and
	when; changes nothing. For those who may manage the settings (System Manager, Sales Manager)."""
	if not frappe.has_permission(SETTINGS, "write"):
		frappe.throw(
			_("Only those who manage Opportunity Plus Settings can preview auto-close."),
			frappe.PermissionError,
		)
	return autoclose.preview(parse_int(horizon_days, _("Days Ahead"), 0, 366))
