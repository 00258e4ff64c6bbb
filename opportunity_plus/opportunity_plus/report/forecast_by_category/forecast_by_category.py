# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _

from opportunity_plus.api.categories import build_category_forecast

# The figures shown per period when the report spans several: (field, label) built per request.
PER_PERIOD = ("closed_amount", "commit_amount", "best_case_amount", "pipeline_amount")


@frappe.read_only()
def execute(filters: dict | None = None):
	filters = frappe._dict(filters or {})
	result = build_category_forecast(
		filters.company, filters.period, filters.group_by or "owner", filters.periods or 1, filters.pipeline
	)
	currency = result["currency"]
	periods = [item["key"] for item in result["periods"]]
	data = [_row(row, periods, currency) for row in result["rows"]]
	data.append({**_row(result["total"], periods, currency), "key": result["company"], "bold": 1})
	message = _("Best Case includes Commit. Pipeline is the Pipeline category alone; Open is all three.")
	return _columns(result["group_by"], periods), data, message, _chart(result, currency)


def _row(row: dict, periods: list[str], currency: str) -> dict:
	values = {
		"key": _("Not Set") if row["key"] is None else row["key"],
		"parent": row.get("parent"),
		"indent": row.get("indent", 0),
		"currency": currency,
		**row["total"],
	}
	if len(periods) > 1:
		for index, period in enumerate(periods):
			for field in PER_PERIOD:
				values[f"p{index}_{field}"] = row["periods"][period][field]
	return values


def _labels() -> dict:
	return {
		"closed_amount": _("Closed"),
		"commit_amount": _("Commit"),
		"best_case_amount": _("Best Case"),
		"pipeline_amount": _("Pipeline"),
		"omitted_amount": _("Omitted"),
		"open_amount": _("Open"),
	}


def _columns(group_by: str, periods: list[str]) -> list[dict]:
	def money(fieldname, label):
		return {
			"fieldname": fieldname,
			"label": label,
			"fieldtype": "Currency",
			"options": "currency",
			"width": 130,
		}

	def count(fieldname, label):
		return {"fieldname": fieldname, "label": label, "fieldtype": "Int", "width": 80}

	labels = _labels()
	group_label = {
		"owner": _("Opportunity Owner"),
		"sales_person": _("Sales Person"),
		"territory": _("Territory"),
		"pipeline": _("Sales Pipeline"),
	}[group_by]
	columns = [{"fieldname": "key", "label": group_label, "fieldtype": "Data", "width": 220}]
	if len(periods) > 1:
		for index, period in enumerate(periods):
			columns += [
				money(f"p{index}_{field}", _("{0} ({1})").format(labels[field], period))
				for field in PER_PERIOD
			]
		columns += [
			money(f"{field}", _("{0} (All Periods)").format(labels[field]))
			for field in ("closed_amount", "commit_amount", "best_case_amount", "pipeline_amount")
		]
		columns += [
			money("omitted_amount", labels["omitted_amount"]),
			money("open_amount", labels["open_amount"]),
		]
	else:
		for field in ("closed", "commit", "best_case", "pipeline", "omitted", "open"):
			columns += [
				money(f"{field}_amount", labels[f"{field}_amount"]),
				count(f"{field}_count", _("{0} Deals").format(labels[f"{field}_amount"])),
			]
	columns.append({"fieldname": "currency", "label": _("Currency"), "fieldtype": "Data", "hidden": 1})
	return columns


def _chart(result: dict, currency: str) -> dict | None:
	periods = result["periods"]
	total = result["total"]["periods"]
	labels = _labels()
	if not any(figures["open_count"] or figures["closed_count"] for figures in total.values()):
		return None
	return {
		"data": {
			"labels": [item["key"] for item in periods],
			"datasets": [
				{"name": labels[field], "values": [total[item["key"]][field] for item in periods]}
				for field in PER_PERIOD
			],
		},
		"type": "bar",
		"fieldtype": "Currency",
		"options": currency,
		"title": _("Forecast by category and period"),
	}
