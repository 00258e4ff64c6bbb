# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _

from opportunity_plus.api.targets import build_attainment


@frappe.read_only()
def execute(filters: dict | None = None):
	filters = frappe._dict(filters or {})
	result = build_attainment(
		filters.company,
		filters.period,
		filters.group_by or "sales_person",
		filters.item_group or None,
		filters.pipeline,
	)
	currency = result["currency"]
	data = [_row(row, currency) for row in result["rows"]]
	data.append({**_row(result["total"], currency), "key": result["company"], "bold": 1})
	message = None
	if not result["has_targets"]:
		message = _(
			"No sales person or territory has a target for {0}: won and pipeline are shown without "
			"attainment. Targets are set on each Sales Person and Territory (Targets table)."
		).format(result["period"])
	return _columns(result["group_by"]), data, message, _chart(result, currency)


def _row(row: dict, currency: str) -> dict:
	return {
		**row,
		"key": _("Not Set") if row["key"] is None else row["key"],
		"attainment": None if row["attainment"] is None else row["attainment"] * 100,
		"currency": currency,
	}


def _columns(group_by: str) -> list[dict]:
	def money(fieldname, label, width=140):
		return {
			"fieldname": fieldname,
			"label": label,
			"fieldtype": "Currency",
			"options": "currency",
			"width": width,
		}

	def number(fieldname, label, fieldtype="Int", width=90):
		return {"fieldname": fieldname, "label": label, "fieldtype": fieldtype, "width": width}

	label = _("Sales Person") if group_by == "sales_person" else _("Territory")
	return [
		# Data, not Link: Frappe drops report rows whose Link value the role may not read, and the
		# company total row names a company.
		{"fieldname": "key", "label": label, "fieldtype": "Data", "width": 220},
		money("target", _("Target")),
		money("won_amount", _("Won")),
		number("won_count", _("Won Deals")),
		number("attainment", _("Attainment %"), "Percent", 110),
		money("gap", _("Gap")),
		money("open_amount", _("Open Pipeline")),
		money("weighted_amount", _("Weighted Pipeline")),
		number("open_count", _("Open Deals")),
		number("coverage", _("Coverage (x)"), "Float", 110),
		number("weighted_coverage", _("Weighted Coverage (x)"), "Float", 150),
		{"fieldname": "currency", "label": _("Currency"), "fieldtype": "Data", "hidden": 1},
	]


def _chart(result: dict, currency: str) -> dict | None:
	rows = [row for row in result["rows"] if row["indent"] == 0 and row["key"] is not None]
	if not rows:
		return None
	return {
		"data": {
			"labels": [row["key"] for row in rows],
			"datasets": [
				{"name": _("Target"), "values": [row["target"] or 0 for row in rows]},
				{"name": _("Won"), "values": [row["won_amount"] for row in rows]},
				{"name": _("Weighted Pipeline"), "values": [row["weighted_amount"] for row in rows]},
			],
		},
		"type": "bar",
		"fieldtype": "Currency",
		"options": currency,
		"title": _("Target, won and weighted pipeline"),
	}
