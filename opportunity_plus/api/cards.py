"""Number cards of the Opportunity Plus workspace (Number Card type "Custom").

Each reads the same permission-filtered forecast as the report, for the card's company filter or the
user's default company.
"""

from decimal import ROUND_HALF_UP, Decimal

import frappe
from frappe.utils import add_months, get_first_day, get_last_day, nowdate

from opportunity_plus.api.forecast import build_forecast, current_quarter, open_pipeline_rows
from opportunity_plus.api.utils import chart_company


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


@frappe.whitelist()
@frappe.read_only()
def open_pipeline(filters: dict | str | None = None) -> dict:
	_company, rows = open_pipeline_rows(chart_company(filters))
	return _card(_money(row.base_amount for row in rows), "Currency", ["query-report", "Pipeline Forecast"])


@frappe.whitelist()
@frappe.read_only()
def weighted_pipeline(filters: dict | str | None = None) -> dict:
	_company, rows = open_pipeline_rows(chart_company(filters))
	return _card(
		_money(row.weighted_amount for row in rows), "Currency", ["query-report", "Pipeline Forecast"]
	)


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
	"""Won / (won + lost) over the deals expected to close in the last twelve calendar months (this
	one included): whole months, so that the pipeline summary answers it."""
	last = get_last_day(nowdate())
	first = get_first_day(add_months(last, -11))
	total = build_forecast(chart_company(filters), "stage", first, last, "month", None)["total"]
	rate = None if total["win_rate"] is None else round(total["win_rate"] * 100, 1)
	return _card(
		rate,
		"Percent",
		["query-report", "Pipeline Forecast"],
		{"from_date": str(first), "to_date": str(last)},
	)
