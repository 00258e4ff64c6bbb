"""Number cards of the Opportunity Plus workspace (Number Card type "Custom").

Each reads the same permission-filtered forecast as the report, for the card's company filter or the
user's default company, and of every Sales Pipeline or the card's `pipeline` filter (a card made with the
Number Card's filter settings: {"company": ..., "pipeline": ...}).
"""

from decimal import ROUND_HALF_UP, Decimal

import frappe
from frappe import _
from frappe.utils import add_months, get_first_day, get_last_day, getdate, nowdate

from opportunity_plus.api.forecast import build_forecast, current_quarter, open_pipeline_rows
from opportunity_plus.api.utils import chart_filters


def _money(amounts) -> float:
	# Each stage rounded to cents (half up) and then added, as the forecast's total row adds its rows.
	cents = Decimal("0.01")
	return float(sum((Decimal(str(a)).quantize(cents, ROUND_HALF_UP) for a in amounts), Decimal(0))) + 0.0


def _card(value, fieldtype: str, route: list, route_options: dict | None = None) -> dict:
	# The card formats the value with this dict as its field: a precision keeps "33.3 %" from
	# showing the site's float precision.
	return {
		"value": value,
		"fieldtype": fieldtype,
		"precision": 1 if fieldtype == "Percent" else None,
		"route": route,
		"route_options": route_options or {},
	}


def _in_pipeline(route_options: dict, pipeline: str | None) -> dict:
	# the report the card opens shows the card's pipeline
	return {**route_options, "pipeline": pipeline} if pipeline else route_options


@frappe.whitelist()
@frappe.read_only()
def open_pipeline(filters: dict | str | None = None) -> dict:
	company, pipeline = chart_filters(filters)
	_company, rows = open_pipeline_rows(company, pipeline=pipeline)
	return _card(
		_money(row.base_amount for row in rows),
		"Currency",
		["query-report", "Pipeline Forecast"],
		_in_pipeline({}, pipeline),
	)


@frappe.whitelist()
@frappe.read_only()
def weighted_pipeline(filters: dict | str | None = None) -> dict:
	company, pipeline = chart_filters(filters)
	_company, rows = open_pipeline_rows(company, pipeline=pipeline)
	return _card(
		_money(row.weighted_amount for row in rows),
		"Currency",
		["query-report", "Pipeline Forecast"],
		_in_pipeline({}, pipeline),
	)


@frappe.whitelist()
@frappe.read_only()
def won_this_quarter(filters: dict | str | None = None) -> dict:
	"""Won amount of the deals whose expected closing date falls in the current calendar quarter."""
	first, last = current_quarter()
	company, pipeline = chart_filters(filters)
	total = build_forecast(company, "stage", first, last, "month", None, pipeline)["total"]
	return _card(
		total["won_amount"],
		"Currency",
		["query-report", "Pipeline Forecast"],
		_in_pipeline({"from_date": str(first), "to_date": str(last)}, pipeline),
	)


@frappe.whitelist()
@frappe.read_only()
def win_rate(filters: dict | str | None = None) -> dict:
	"""Won / (won + lost) over the deals expected to close in the last twelve calendar months (this
	one included): whole months, so that the pipeline summary answers it."""
	last = get_last_day(nowdate())
	first = get_first_day(add_months(last, -11))
	company, pipeline = chart_filters(filters)
	total = build_forecast(company, "stage", first, last, "month", None, pipeline)["total"]
	rate = None if total["win_rate"] is None else round(total["win_rate"] * 100, 1)
	return _card(
		rate,
		"Percent",
		["query-report", "Pipeline Forecast"],
		_in_pipeline({"from_date": str(first), "to_date": str(last)}, pipeline),
	)


@frappe.whitelist()
@frappe.read_only()
def target_attainment(filters: dict | str | None = None) -> dict:
	"""Won / target of the company this quarter (ERPNext's Sales Person or Territory targets). No figure
	(the card shows N/A) where no target is set, or where the caller may not read the company's target
	(a territory-limited rep); the Sales Forecast page says which."""
	total = _quarter_attainment(filters)
	rate = None if total["attainment"] is None else round(total["attainment"] * 100, 1)
	return _card(rate, "Percent", ["sales-forecast"])


@frappe.whitelist()
@frappe.read_only()
def pipeline_coverage(filters: dict | str | None = None) -> dict:
	"""This quarter's open pipeline over what is still missing to its target (a multiple of the gap). No
	figure (N/A) without a target, or once it is met; the Sales Forecast page says which."""
	total = _quarter_attainment(filters)
	coverage = None if total["coverage"] is None else round(total["coverage"], 2)
	return {**_card(coverage, "Float", ["sales-forecast"]), "precision": 2}


def _quarter_attainment(filters) -> dict:
	from opportunity_plus.api.targets import build_attainment

	today = getdate(nowdate())
	quarter = f"{today.year:04d}-Q{(today.month - 1) // 3 + 1}"
	company, pipeline = chart_filters(filters)
	return build_attainment(company, quarter, "territory", None, pipeline)["total"]
