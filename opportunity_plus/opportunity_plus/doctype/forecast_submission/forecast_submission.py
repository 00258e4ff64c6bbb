# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

from decimal import Decimal, InvalidOperation

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import fmt_money, now_datetime

from opportunity_plus import forecast_call as glue
from opportunity_plus.core import forecast_call as rules


class ForecastSubmission(Document):
	"""A forecast call or a manager's adjustment: written once, never edited (forecast_call.py)."""

	def validate(self):
		if not self.is_new():
			frappe.throw(
				_("A forecast call cannot be changed: submit a new one, which supersedes it."),
				frappe.PermissionError,
			)
		if self.submission_type not in (glue.CALL, glue.ADJUSTMENT):
			frappe.throw(_("Type must be Call or Adjustment."))
		if not self.company or not frappe.db.exists("Company", self.company):
			frappe.throw(_("Select a company."), title=_("Company"))
		period, years = glue.resolve(self.company, self.period)
		self.period, self.period_kind = period.key, period.kind
		self.from_date, self.to_date = period.start, period.end
		self.currency = frappe.get_cached_value("Company", self.company, "default_currency")
		if not self.sales_person or not frappe.db.exists("Sales Person", self.sales_person):
			frappe.throw(_("Select a Sales Person."), title=_("Sales Person"))
		self._check_who_submits()
		self._check_amounts()
		team, _own = glue.computed(self.company, period, years)
		figures = team.get(self.sales_person) or rules.Figures()
		self.computed_closed = figures.closed
		self.computed_commit = figures.commit
		self.computed_best_case = figures.best_case
		self.computed_pipeline = figures.pipeline
		self.has_target = int(figures.target is not None)
		self.computed_target = figures.target or 0
		self.computed_gap = figures.gap or 0
		self.submitted_by = frappe.session.user
		self.submitted_on = now_datetime()
		self.flags.op_figures = figures

	def _check_who_submits(self):
		mine = glue.own_person()
		if self.submission_type == glue.CALL:
			self.adjusted_by = None
			if self.sales_person != mine:
				frappe.throw(
					_("You submit only your own forecast call, as Sales Person {0}.").format(
						frappe.bold(mine)
						if mine
						else _("(none: link your user to a Sales Person through an Employee)")
					),
					frappe.PermissionError,
				)
			return
		self.adjusted_by = mine
		if glue.sees_everyone():
			if self.sales_person == mine:
				frappe.throw(_("Adjust a report's call, not your own: submit your own call instead."))
			return
		if not mine or self.sales_person not in glue.children_of(mine):
			frappe.throw(
				_("You adjust only the calls of your direct reports in the Sales Person tree."),
				frappe.PermissionError,
			)

	def _check_amounts(self):
		values = []
		for fieldname, label in (("commit_amount", _("Commit")), ("best_case_amount", _("Best Case"))):
			raw = self.get(fieldname)
			try:
				value = Decimal(str(raw if raw not in (None, "") else "x"))
			except InvalidOperation:
				frappe.throw(_("{0} must be an amount.").format(label))
			if not value.is_finite():
				frappe.throw(_("{0} must be an amount.").format(label))
			values.append(value)
		error = rules.call_error(*values)
		if error == rules.NEGATIVE:
			frappe.throw(_("A forecast call cannot be negative."))
		if error == rules.TOO_LARGE:
			frappe.throw(
				_("A forecast call can be at most {0}.").format(
					fmt_money(rules.MAX_AMOUNT, currency=self.currency)
				)
			)
		if error == rules.BEST_CASE_BELOW_COMMIT:
			frappe.throw(_("Best Case includes Commit: it cannot be below Commit."))

	def after_insert(self):
		# "on every submission": the week's snapshot of the person who called (or was adjusted)
		figures = self.flags.op_figures
		if figures is not None:
			glue.store_snapshots(self.company, self.period, {self.sales_person: figures})

	def on_trash(self):
		if not frappe.flags.in_uninstall:
			frappe.throw(_("Forecast calls are kept: they cannot be deleted."), frappe.PermissionError)
