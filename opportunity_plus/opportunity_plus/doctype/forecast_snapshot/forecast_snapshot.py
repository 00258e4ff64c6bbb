# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document


class ForecastSnapshot(Document):
	"""A week's computed figures of a sales person and period, written by the app (forecast_call.py)."""

	def validate(self):
		frappe.throw(_("Forecast snapshots are written by the app only."), frappe.PermissionError)

	def on_trash(self):
		if not frappe.flags.in_uninstall:
			frappe.throw(_("Forecast snapshots are kept: they cannot be deleted."), frappe.PermissionError)
