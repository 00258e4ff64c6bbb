"""The Opportunity Plus workspace charts (Dashboard Chart Sources of the same names).

Both read the permission-filtered forecast (permissions.read_scope), for the chart's company filter or
the user's default company, so each role sees the figures of exactly the deals it may read. Frappe's own
Group By and Report charts would cache one result per chart for every user; these are computed per call.
Frappe's chart widget also sends the chart's name, time span and the like: they are accepted and unused.
"""

from datetime import date

import frappe
from frappe import _
from frappe.utils import cint, flt, formatdate, getdate, nowdate

from opportunity_plus.api.forecast import build_forecast
from opportunity_plus.api.utils import chart_company
from opportunity_plus.core.forecast import OVERDUE, look_ahead
from opportunity_plus.pipeline import get_settings

DEFAULT_MONTHS_AHEAD = 12


def _company(filters) -> str | None:
	"""The company of the chart's filters (its only one), or None for the user's default company."""
	return chart_company(filters)


@frappe.whitelist()
@frappe.read_only()
def weighted_pipeline_by_close_month(filters: str | dict | None = None, **chart_args) -> dict:
	"""Weighted open pipeline by close month and stage, from this month on (setting *Months Ahead in the
	Pipeline Chart*), with one Overdue bar first for open deals whose close date has passed."""
	months = cint(get_settings().pipeline_chart_months) or DEFAULT_MONTHS_AHEAD
	today = getdate(nowdate())
	first = today.replace(day=1)
	result = build_forecast(_company(filters), "close_month", None, None, "month", None)
	chart_data = look_ahead(result["chart"], first, months)
	return {
		"labels": [_month_label(period) for period in chart_data["periods"]],
		"datasets": [
			{"name": stage or _("No Stage"), "values": chart_data["weighted"][stage]}
			for stage in chart_data["stages"]
		],
	}


def _month_label(period: str) -> str:
	if period == OVERDUE:
		return _("Overdue")
	year, month = period.split("-")
	return formatdate(date(int(year), int(month), 1), "MMM yyyy")


@frappe.whitelist()
@frappe.read_only()
def open_pipeline_by_stage(filters: str | dict | None = None, **chart_args) -> dict:
	"""Open amount (company currency) by sales stage, in pipeline order."""
	result = build_forecast(_company(filters), "stage", None, None, "month", None)
	rows = [row for row in result["rows"] if flt(row["amount"])]
	return {
		"labels": [row["key"] or _("No Stage") for row in rows],
		"datasets": [{"name": _("Open Amount"), "values": [row["amount"] for row in rows]}],
	}
