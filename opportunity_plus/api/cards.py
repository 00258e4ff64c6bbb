"""Number cards of the Opportunity Plus workspace (Number Card type "Custom").

Each reads the same permission-filtered forecast as the report, for the card's company filter or the
user's default company.
"""

import frappe
from frappe.utils import add_months, getdate, nowdate

from opportunity_plus.api.forecast import build_forecast, current_quarter
from opportunity_plus.api.utils import chart_company


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


@frappe.whitelist()
@frappe.read_only()
def open_pipeline(filters: dict | str | None = None) -> dict:
	total = build_forecast(chart_company(filters), "stage", None, None, "month", None)["total"]
	return _card(total["amount"], "Currency", ["query-report", "Pipeline Forecast"])


@frappe.whitelist()
@frappe.read_only()
def weighted_pipeline(filters: dict | str | None = None) -> dict:
	total = build_forecast(chart_company(filters), "stage", None, None, "month", None)["total"]
	return _card(total["weighted_amount"], "Currency", ["query-report", "Pipeline Forecast"])


@frappe.whitelist()
@frappe.read_only()
def won_this_quarter(filters: dict | str | None = None) -> dict:
	"""Won amount of the deals whose expected closing date falls in the current calendar quarter."""
	first, last = current_quarter()
	total = build_forecast(chart_company(filters), "stage", first, last, "month", None)["total"]
	return _card(
		total["won_amount"],
		"Currency",
		["query-report", "Pipeline Forecast"],
		{"from_date": str(first), "to_date": str(last)},
	)


@frappe.whitelist()
@frappe.read_only()
def win_rate(filters: dict | str | None = None) -> dict:
	"""Won / (won + lost) over the deals expected to close in the last twelve months."""
	today = getdate(nowdate())
	first = add_months(today, -12)
	total = build_forecast(chart_company(filters), "stage", first, today, "month", None)["total"]
	rate = None if total["win_rate"] is None else round(total["win_rate"] * 100, 1)
	return _card(
		rate,
		"Percent",
		["query-report", "Pipeline Forecast"],
		{"from_date": str(first), "to_date": str(today)},
	)
