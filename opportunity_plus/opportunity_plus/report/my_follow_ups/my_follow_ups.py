# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _

from opportunity_plus.api.followups import follow_up_rows
from opportunity_plus.api.utils import check_exists, parse_date, report_filters


@frappe.read_only()
def execute(filters: dict | None = None):
	"""Open follow-ups of one person (default: the viewer), earliest first, over the deals they may read."""
	filters = report_filters(filters)
	user = check_exists("User", filters.user, _("User")) if filters.user else frappe.session.user
	rows = follow_up_rows(user, parse_date(filters.till_date, _("Till Date")))
	overdue = sum(1 for row in rows if row["days_overdue"])
	message = _("{0} overdue.").format(overdue) if overdue else None
	return _columns(), rows, message


def _columns() -> list[dict]:
	return [
		{
			"fieldname": "next_contact_date",
			"label": _("Next Contact Date"),
			"fieldtype": "Datetime",
			"width": 170,
		},
		{"fieldname": "days_overdue", "label": _("Days Overdue"), "fieldtype": "Int", "width": 110},
		{
			"fieldname": "opportunity",
			"label": _("Opportunity"),
			"fieldtype": "Link",
			"options": "Opportunity",
			"width": 150,
		},
		{"fieldname": "title", "label": _("Deal Name"), "fieldtype": "Data", "width": 200},
		{"fieldname": "party", "label": _("Party"), "fieldtype": "Data", "width": 180},
		{
			"fieldname": "sales_stage",
			"label": _("Sales Stage"),
			"fieldtype": "Data",
			"width": 140,
		},
		{
			"fieldname": "amount",
			"label": _("Amount"),
			"fieldtype": "Currency",
			"options": "currency",
			"width": 130,
		},
		{"fieldname": "status", "label": _("Status"), "fieldtype": "Data", "width": 100},
		# Data, not Link: Frappe filters report rows by each Link column's doctype and refuses the whole
		# report to a role that may not read it (no sales role may read Currency or Sales Stage).
		{
			"fieldname": "currency",
			"label": _("Currency"),
			"fieldtype": "Data",
			"hidden": 1,
		},
	]
