# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.utils import flt

from opportunity_plus.api.funnel import build_stage_conversion
from opportunity_plus.api.utils import report_filters


@frappe.read_only()
def execute(filters: dict | None = None):
	filters = report_filters(filters)
	result = build_stage_conversion(
		filters.company,
		filters.pipeline,
		filters.from_date,
		filters.to_date,
		filters.territory,
		filters.opportunity_owner,
	)
	columns = [
		{"fieldname": "stage", "label": _("Sales Stage"), "fieldtype": "Data", "width": 200},
		{"fieldname": "kind", "label": _("Kind"), "fieldtype": "Data", "width": 80},
		_percent("probability", _("Probability %")),
		_count("entered", _("Entered")),
		_count("went_on", _("Went On")),
		_percent("conversion", _("Conversion %")),
		_count("won", _("Won Here")),
		_count("lost", _("Lost Here")),
		_count("still_open", _("Still Here")),
		_percent("reached", _("Reached %")),
		{
			"fieldname": "median_days",
			"label": _("Median Days in Stage"),
			"fieldtype": "Float",
			"precision": 1,
			"width": 150,
		},
		_count("finished_stays", _("Finished Stays")),
	]
	kinds = {"Open": _("Open"), "Won": _("Won"), "Lost": _("Lost")}
	data = [
		{
			**row,
			"kind": kinds.get(row["kind"], row["kind"]),
			"conversion": _as_percent(row["conversion"]),
			"reached": _as_percent(row["reached"]),
		}
		for row in result["stages"]
	]
	chart = None
	if result["deals"]:
		open_rows = [row for row in result["stages"] if row["kind"] != "Lost"]
		chart = {
			"data": {
				"labels": [row["stage"] for row in open_rows],
				"datasets": [
					{"name": _("Entered"), "values": [row["entered"] for row in open_rows]},
					{"name": _("Went On"), "values": [row["went_on"] or 0 for row in open_rows]},
				],
			},
			"type": "bar",
			"fieldtype": "Int",
			"colors": ["#5e64ff", "#29cd42"],
			"title": _("Deals entering each stage of {0} and going on").format(result["pipeline"]),
		}
	message = _(
		"Deals created from {0} to {1} in the pipeline {2}. A deal went on from a stage when it later entered a "
		"stage further along (not a Lost one) or was won from it."
	).format(result["from_date"], result["to_date"], frappe.utils.escape_html(result["pipeline"]))
	return columns, data, message, chart, _summary(result)


def _count(fieldname: str, label: str) -> dict:
	return {"fieldname": fieldname, "label": label, "fieldtype": "Int", "width": 100}


def _percent(fieldname: str, label: str) -> dict:
	return {"fieldname": fieldname, "label": label, "fieldtype": "Percent", "precision": 1, "width": 110}


def _as_percent(value):
	return None if value is None else flt(value * 100, 1)


def _summary(result: dict) -> list[dict]:
	rate = result["win_rate"]
	return [
		{"value": result["deals"], "label": _("Deals"), "datatype": "Int", "indicator": "Blue"},
		{"value": result["won"], "label": _("Won"), "datatype": "Int", "indicator": "Green"},
		{"value": result["lost"], "label": _("Lost"), "datatype": "Int", "indicator": "Red"},
		{"value": result["still_open"], "label": _("Open"), "datatype": "Int", "indicator": "Orange"},
		{
			"value": "-" if rate is None else f"{flt(rate * 100, 1)} %",
			"label": _("Win Rate"),
			"datatype": "Data",
			"indicator": "Blue",
		},
	]
