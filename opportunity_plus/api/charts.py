"""The Opportunity Plus workspace charts (Dashboard Chart Sources of the same names).

Both read the permission-filtered forecast (permissions.read_scope), for the chart's company filter or
the user's default company and for every Sales Pipeline or the one of its `pipeline` filter (each user
sets a chart's filters for themselves), so each role sees the figures of exactly the deals it may read. Frappe's own
Group By and Report charts would cache one result per chart for every user; these are computed per call.
Frappe's chart widget also sends the chart's name, time span and the like: they are accepted and unused.
"""

from datetime import date
from decimal import Decimal

import frappe
from frappe import _
from frappe.utils import cint, flt, formatdate, getdate, nowdate

from opportunity_plus.api.forecast import open_pipeline_rows
from opportunity_plus.api.utils import chart_filters
from opportunity_plus.core.forecast import OVERDUE, look_ahead
from opportunity_plus.pipeline import get_settings, stage_order

DEFAULT_MONTHS_AHEAD = 12


@frappe.whitelist()
@frappe.read_only()
def weighted_pipeline_by_close_month(filters: str | dict | None = None, **chart_args) -> dict:
	"""Weighted open pipeline by close month and stage, from this month on (setting *Months Ahead in the
	Pipeline Chart*), with one Overdue bar first for open deals whose close date has passed."""
	months = cint(get_settings().pipeline_chart_months) or DEFAULT_MONTHS_AHEAD
	first = getdate(nowdate()).replace(day=1)
	company, pipeline = chart_filters(filters)
	_company, rows = open_pipeline_rows(company, ("stage", "close_month"), pipeline)
	order = stage_order(pipeline)
	chart_data = look_ahead(monthly_pivot(rows, order), first, months)
	return {
		"labels": [_month_label(period) for period in chart_data["periods"]],
		"datasets": [
			{"name": stage or _("No Stage"), "values": chart_data["weighted"][stage]}
			for stage in chart_data["stages"]
		],
	}


def monthly_pivot(rows, order: dict) -> dict:
	"""Open pipeline rows by stage and close month as core.forecast's pivot shape."""
	cells: dict[tuple, Decimal] = {}
	for row in rows:
		if row.close_month:
			period = f"{getdate(row.close_month):%Y-%m}"
			cells[(row.stage, period)] = cells.get((row.stage, period), Decimal(0)) + Decimal(
				str(row.weighted_amount)
			)
	periods = sorted({period for _stage, period in cells})
	stages = sorted(
		{stage for stage, _period in cells},
		key=lambda stage: (stage is None, order.get(stage, 10**6), stage or ""),
	)
	return {
		"periods": periods,
		"stages": stages,
		"weighted": {
			stage: [flt(cells.get((stage, period), 0), 2) for period in periods] for stage in stages
		},
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
	company, pipeline = chart_filters(filters)
	_company, rows = open_pipeline_rows(company, pipeline=pipeline)
	order = stage_order(pipeline)
	rows = sorted(
		(row for row in rows if flt(row.base_amount)),
		key=lambda row: (row.stage is None, order.get(row.stage, 10**6), row.stage or ""),
	)
	return {
		"labels": [row.stage or _("No Stage") for row in rows],
		"datasets": [{"name": _("Open Amount"), "values": [flt(row.base_amount, 2) for row in rows]}],
	}
