# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document


class OpportunityHistory(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		changed_by: DF.Link | None
		changed_field: DF.Literal[
			"sales_stage",
			"status",
			"opportunity_amount",
			"probability",
			"expected_closing",
			"op_forecast_category",
		]
		changed_on: DF.Datetime
		channel: DF.Literal["Desk", "REST", "Data Import", "System"]
		field_label: DF.Data | None
		from_value: DF.Data | None
		opportunity: DF.Link
		to_value: DF.Data | None
	# end: auto-generated types

	def validate(self):
		# History is append-only: rows are written by the app and never edited afterwards.
		if not self.is_new():
			frappe.throw(_("Opportunity history cannot be changed."), frappe.PermissionError)

	def on_trash(self):
		if not frappe.flags.in_uninstall and frappe.db.exists("Opportunity", self.opportunity):
			frappe.throw(_("Opportunity history cannot be deleted."), frappe.PermissionError)
