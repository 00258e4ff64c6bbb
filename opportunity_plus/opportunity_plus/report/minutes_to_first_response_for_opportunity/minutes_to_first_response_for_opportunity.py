# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

"""Minutes from an opportunity's creation to its first reply, in working hours and wall clock.

Builds on Frappe's `first_response_time` (the wall-clock figures; ERPNext's "First Response Time for
Opportunity" averages it per day) and the app's `op_first_response_minutes` (working hours). Opportunities
are those created in the period that the user may read.
"""

from datetime import date

import frappe
from frappe import _
from frappe.utils import format_time, formatdate, get_fullname

from opportunity_plus.api.utils import check_exists, echo, parse_date, report_filters
from opportunity_plus.core.response import DAY, GROUP_BYS, OWNER, ResponseGroup, group_figures, summarize
from opportunity_plus.response import load_response_rows, working_hours

WORKING, WALL = "working", "wall"
BASES = (WORKING, WALL)


@frappe.read_only()
def execute(filters: dict | None = None):
	filters = report_filters(filters)
	group_by = filters.group_by or DAY
	basis = filters.basis or WORKING
	if group_by not in GROUP_BYS:
		frappe.throw(
			_("Cannot group by {0}. Choose one of: {1}.").format(echo(group_by), ", ".join(GROUP_BYS))
		)
	if basis not in BASES:
		frappe.throw(_("Unknown basis {0}. Choose one of: {1}.").format(echo(basis), ", ".join(BASES)))
	from_date = parse_date(filters.from_date, _("From Date"), required=True)
	to_date = parse_date(filters.to_date, _("To Date"), required=True)
	if from_date > to_date:
		frappe.throw(_("From Date {0} is after To Date {1}.").format(from_date, to_date))
	if filters.company:
		check_exists("Company", filters.company, _("Company"))
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)

	rows = load_response_rows(filters.company, from_date, to_date, group_by)
	groups = summarize(rows, group_by)
	total = group_figures(None, rows)
	data = [_row(group, _label(group.key, group_by)) for group in groups]
	if data:
		data.append({**_row(total, _("Total")), "bold": 1})
	return _columns(group_by), data, _message(), _chart(groups, data, basis), _summary(total)


def _label(key, group_by: str) -> str:
	if key is None:
		return _("Not Set")
	if group_by == DAY:
		return formatdate(key)
	if group_by == OWNER:
		return get_fullname(key)
	return key


def _row(group: ResponseGroup, label: str) -> dict:
	return {
		"key": label,
		"responded": group.responded,
		"not_responded": group.not_responded,
		"average_working": group.average_working,
		"median_working": group.median_working,
		"average_wall": group.average_wall,
		"median_wall": group.median_wall,
	}


def _columns(group_by: str) -> list[dict]:
	labels = {"day": _("Created On"), "owner": _("Opportunity Owner"), "source": _("Source")}

	def minutes(fieldname: str, label: str) -> dict:
		return {"fieldname": fieldname, "label": label, "fieldtype": "Float", "precision": 1, "width": 170}

	return [
		{"fieldname": "key", "label": labels[group_by], "fieldtype": "Data", "width": 200},
		{"fieldname": "responded", "label": _("Responded"), "fieldtype": "Int", "width": 110},
		{"fieldname": "not_responded", "label": _("Not Responded Yet"), "fieldtype": "Int", "width": 140},
		# Short labels: the grid cuts long ones, and "Average Minutes (W..." reads the same for both bases.
		minutes("average_working", _("Working: Avg Min")),
		minutes("median_working", _("Working: Median Min")),
		minutes("average_wall", _("Wall Clock: Avg Min")),
		minutes("median_wall", _("Wall Clock: Median Min")),
	]


def _message() -> str:
	day_start, day_end = working_hours()
	return _(
		"Working minutes count {0} to {1} on the company's working days (its default holiday list, else "
		"Monday to Friday); wall-clock minutes are Frappe's First Response Time."
	).format(format_time(day_start), format_time(day_end))


def _chart(groups: list[ResponseGroup], data: list[dict], basis: str) -> dict | None:
	# Groups without a figure on this basis (no reply yet) are left out: a bar at 0 would read as instant.
	rows = [row for row in data[: len(groups)] if row[f"average_{basis}"] is not None]
	if not rows:
		return None
	name = _("Working") if basis == WORKING else _("Wall Clock")
	return {
		"data": {
			"labels": [row["key"] for row in rows],
			"datasets": [
				{
					"name": _("Average ({0})").format(name),
					"values": [row[f"average_{basis}"] for row in rows],
				},
				{"name": _("Median ({0})").format(name), "values": [row[f"median_{basis}"] for row in rows]},
			],
		},
		"type": "bar",
		"fieldtype": "Float",
		"title": _("Minutes to first response ({0})").format(name),
	}


def _summary(total: ResponseGroup) -> list[dict]:
	def minutes(value: float | None, label: str, indicator: str) -> dict:
		return {
			"value": "-" if value is None else f"{value:.1f}",
			"label": label,
			"datatype": "Data",
			"indicator": indicator,
		}

	return [
		{"value": total.responded, "label": _("Responded"), "datatype": "Int", "indicator": "Green"},
		{
			"value": total.not_responded,
			"label": _("Not Responded Yet"),
			"datatype": "Int",
			"indicator": "Orange",
		},
		minutes(total.average_working, _("Average Minutes (Working)"), "Blue"),
		minutes(total.median_working, _("Median Minutes (Working)"), "Blue"),
		minutes(total.average_wall, _("Average Minutes (Wall Clock)"), "Grey"),
		minutes(total.median_wall, _("Median Minutes (Wall Clock)"), "Grey"),
	]
