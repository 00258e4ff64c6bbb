# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import cint

from opportunity_plus.setup import jobs

MAX_PIPELINE_CHART_MONTHS = 36


class OpportunityPlusSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from opportunity_plus.opportunity_plus.doctype.opportunity_plus_auto_close_rule.opportunity_plus_auto_close_rule import (
			OpportunityPlusAutoCloseRule,
		)

		allow_deleting_closed: DF.Check
		amount_from_items: DF.Check
		assignment_cap: DF.Int
		auto_close_after_days: DF.Int
		auto_close_enabled: DF.Check
		auto_close_open: DF.Check
		auto_close_quotation: DF.Check
		auto_close_replied: DF.Check
		auto_close_rules: DF.Table[OpportunityPlusAutoCloseRule]
		auto_close_warning_days: DF.Int
		close_date_required_from_stage: DF.Link | None
		follow_up_digest: DF.Check
		follow_up_notify: DF.Check
		pipeline_chart_months: DF.Int
		probability_follows_stage: DF.Check
		quotation_stage: DF.Link | None
		reassign_on_disable: DF.Check
		require_lost_reason: DF.Check
		working_hours_end: DF.Time | None
		working_hours_start: DF.Time | None
	# end: auto-generated types

	def validate(self):
		if self.working_hours_start and self.working_hours_end:
			from frappe.utils import get_time

			if get_time(self.working_hours_end) <= get_time(self.working_hours_start):
				frappe.throw(_("The working day must end after it starts."))
		if not 1 <= cint(self.pipeline_chart_months) <= MAX_PIPELINE_CHART_MONTHS:
			frappe.throw(
				_("Months Ahead in the Pipeline Chart must be between 1 and {0}.").format(
					MAX_PIPELINE_CHART_MONTHS
				)
			)
		if cint(self.auto_close_enabled):
			from opportunity_plus.autoclose import policy_from, validate_policy

			validate_policy(policy_from(self))

	def on_update(self):
		# Exactly one auto-close rule in force: ERPNext's job stops while ours is on.
		jobs.sync_stock_jobs(bool(cint(self.auto_close_enabled)))

	def onload(self):
		stock_stopped = jobs.stock_auto_close_stopped()
		if cint(self.auto_close_enabled):
			rule = _("Opportunity Plus auto-close (ERPNext's own auto-close job is stopped)")
		elif not stock_stopped:
			days = frappe.db.get_single_value("CRM Settings", "close_opportunity_after_days") or 15
			rule = _(
				"ERPNext's own: Replied opportunities unchanged for {0} days are closed (CRM Settings)"
			).format(days)
		else:
			rule = _("None: no auto-close job runs")
		self.set_onload("rule_in_force", rule)
