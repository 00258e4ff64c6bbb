# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _

from opportunity_plus.api.forecast import FILTER_FIELDS, build_forecast
from opportunity_plus.api.utils import report_filters


@frappe.read_only()
def execute(filters: dict | None = None):
	filters = report_filters(filters)
	result = build_forecast(
		filters.company,
		filters.group_by or "stage",
		filters.from_date,
		filters.to_date,
		filters.period or "month",
		{field: filters.get(field) for field in FILTER_FIELDS if filters.get(field)},
		filters.pipeline,
	)
	currency = result["currency"]
	group_label = _group_labels()[result["group_by"]]
	none_label = _("Not Set")
	data = [_row(row, none_label, currency) for row in result["rows"]]
	if data:
		data.append({**_row(result["total"], none_label, currency), "key": _("Total"), "bold": 1})
	return _columns(group_label), data, None, _chart(result["chart"], none_label, currency)


def _group_labels() -> dict:
	# Built per request, in the caller's language (at import, `_` would use whoever imported the module).
	return {
		"stage": _("Sales Stage"),
		"close_month": _("Close Month"),
		"close_quarter": _("Close Quarter"),
		"owner": _("Opportunity Owner"),
		"territory": _("Territory"),
		"source": _("Source"),
		"opportunity_type": _("Opportunity Type"),
		"pipeline": _("Sales Pipeline"),
	}


def _row(row: dict, none_label: str, currency: str) -> dict:
	return {
		**row,
		"key": none_label if row["key"] is None else row["key"],
		"win_rate": None if row["win_rate"] is None else row["win_rate"] * 100,
		"currency": currency,
	}


def _columns(group_label: str) -> list[dict]:
	def money(fieldname, label):
		return {
			"fieldname": fieldname,
			"label": label,
			"fieldtype": "Currency",
			"options": "currency",
			"width": 150,
		}

	def count(fieldname, label):
		return {"fieldname": fieldname, "label": label, "fieldtype": "Int", "width": 90}

	return [
		{"fieldname": "key", "label": group_label, "fieldtype": "Data", "width": 200},
		count("count", _("Deals")),
		count("open_count", _("Open")),
		money("amount", _("Open Amount")),
		money("weighted_amount", _("Weighted Amount")),
		count("won_count", _("Won")),
		money("won_amount", _("Won Amount")),
		count("lost_count", _("Lost")),
		money("lost_amount", _("Lost Amount")),
		{"fieldname": "win_rate", "label": _("Win Rate %"), "fieldtype": "Percent", "width": 100},
		# Data, not Link: Frappe filters report rows by each Link column's doctype and refuses the whole
		# report to a role that may not read it (no sales role may read Currency or Sales Stage).
		{
			"fieldname": "currency",
			"label": _("Currency"),
			"fieldtype": "Data",
			"hidden": 1,
		},
	]


def _chart(pivot: dict, none_label: str, currency: str) -> dict | None:
	if not pivot["periods"]:
		return None
	return {
		"data": {
			"labels": [none_label if period is None else period for period in pivot["periods"]],
			"datasets": [
				{"name": none_label if stage is None else stage, "values": pivot["weighted"][stage]}
				for stage in pivot["stages"]
			],
		},
		"type": "bar",
		"barOptions": {"stacked": 1},
		"fieldtype": "Currency",
		"options": currency,
		"title": _("Weighted open pipeline by close period and stage"),
	}
