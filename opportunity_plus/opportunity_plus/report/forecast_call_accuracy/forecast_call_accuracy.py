# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.utils import flt

from opportunity_plus.api.forecast_call import get_accuracy
from opportunity_plus.api.utils import report_filters


@frappe.read_only()
def execute(filters: dict | None = None):
	filters = report_filters(filters)
	result = get_accuracy(filters.company, filters.period, filters.sales_person)
	currency = result["currency"]
	weeks = [week["week"] for week in result["rows"][0]["weeks"]] if result["rows"] else []
	columns = [
		{"fieldname": "sales_person", "label": _("Sales Person"), "fieldtype": "Data", "width": 200},
		_money("won", _("Won")),
		{"fieldname": "calls", "label": _("Calls"), "fieldtype": "Int", "width": 70},
		*[_money(f"week_{index}", _("Week of {0}").format(week)) for index, week in enumerate(weeks)],
		_percent("last_error", _("Last Call's Error %")),
		_percent("mean_absolute_error", _("Mean Absolute Error %")),
		# Data, not Link: a report's Link column makes Frappe check the caller may read Currency
		{"fieldname": "currency", "label": _("Currency"), "fieldtype": "Data", "hidden": 1},
	]
	data = []
	for row in result["rows"]:
		called = [week for week in row["weeks"] if week["commit"] is not None]
		last = called[-1] if called else None
		data.append(
			{
				"sales_person": row["sales_person"],
				"indent": row["indent"],
				"won": row["won"],
				"calls": row["calls"],
				**{f"week_{index}": week["commit"] for index, week in enumerate(row["weeks"])},
				"last_error": None if not last or last["error"] is None else flt(last["error"] * 100, 1),
				"mean_absolute_error": None
				if row["mean_absolute_error"] is None
				else flt(row["mean_absolute_error"] * 100, 1),
				"currency": currency,
			}
		)
	chart = None
	called_rows = [row for row in data if row["calls"]]
	if called_rows:
		chart = {
			"data": {
				"labels": [row["sales_person"] for row in called_rows],
				"datasets": [
					{
						"name": _("Last Commit Call"),
						"values": [
							next(
								(
									row[f"week_{index}"]
									for index in reversed(range(len(weeks)))
									if row.get(f"week_{index}") is not None
								),
								0,
							)
							for row in called_rows
						],
					},
					{"name": _("Won"), "values": [row["won"] for row in called_rows]},
				],
			},
			"type": "bar",
			"fieldtype": "Currency",
			"colors": ["#5e64ff", "#29cd42"],
			"title": _("Last Commit call against what was won, {0}").format(result["period"]),
		}
	message = (
		None
		if result["ended"]
		else _("{0} has not ended: what is won so far counts as won.").format(result["period"])
	)
	return columns, data, message, chart


def _money(fieldname: str, label: str) -> dict:
	return {
		"fieldname": fieldname,
		"label": label,
		"fieldtype": "Currency",
		"options": "currency",
		"width": 140,
	}


def _percent(fieldname: str, label: str) -> dict:
	return {"fieldname": fieldname, "label": label, "fieldtype": "Percent", "precision": 1, "width": 140}
