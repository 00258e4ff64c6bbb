# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.utils import flt, get_fullname

from opportunity_plus.api.utils import echo, report_filters
from opportunity_plus.api.winloss import build_win_loss

VIEWS = ("lost_reasons", "competitors", "win_rate")
# A stacked chart stays readable with this many series; the rarer reasons are summed as "Other".
MAX_CHART_SERIES = 8


@frappe.read_only()
def execute(filters: dict | None = None):
	filters = report_filters(filters)
	view = filters.view or "lost_reasons"
	if view not in VIEWS:
		frappe.throw(_("Unknown view {0}. Choose one of: {1}.").format(echo(view), ", ".join(VIEWS)))
	# only the view shown (and the totals of its summary) is computed
	result = build_win_loss(
		filters.company,
		filters.from_date,
		filters.to_date,
		filters.dimension or "source",
		parts=(view,),
		pipeline=filters.pipeline,
	)
	currency = result["currency"]
	if view == "lost_reasons":
		columns, data, chart = _lost_reasons(result["lost_reasons"], currency)
		message = _("A deal lost for several reasons counts under each of them.")
	elif view == "competitors":
		columns, data, chart = _competitors(result["competitors"], currency)
		message = _("A deal lost to several competitors counts under each of them.")
	else:
		columns, data, chart = _win_rate(result["win_rate"], result["dimension"], currency)
		message = None
	return columns, data, message, chart, _summary(result["win_rate"]["total"], currency)


def _not_set(value: str | None) -> str:
	return _("Not Set") if value is None else value


def _money(fieldname: str, label: str) -> dict:
	return {
		"fieldname": fieldname,
		"label": label,
		"fieldtype": "Currency",
		"options": "currency",
		"width": 150,
	}


def _count(fieldname: str, label: str) -> dict:
	return {"fieldname": fieldname, "label": label, "fieldtype": "Int", "width": 110}


def _currency_column() -> dict:
	# Carries each row's currency for the Currency columns' "options". Data, not Link: Frappe filters
	# report rows by each Link column's doctype and refuses the whole report to a role that may not read
	# it (no sales role may read Currency).
	return {
		"fieldname": "currency",
		"label": _("Currency"),
		"fieldtype": "Data",
		"hidden": 1,
	}


def _lost_reasons(trend: dict, currency: str) -> tuple[list, list, dict | None]:
	columns = [
		{"fieldname": "month", "label": _("Month"), "fieldtype": "Data", "width": 110},
		{"fieldname": "reason", "label": _("Lost Reason"), "fieldtype": "Data", "width": 240},
		_count("count", _("Lost Deals")),
		_money("amount", _("Lost Amount")),
		_currency_column(),
	]
	data = [
		{**row, "month": _not_set(row["month"]), "reason": _not_set(row["reason"]), "currency": currency}
		for row in trend["rows"]
	]
	series = trend["series"]
	if len(series) > MAX_CHART_SERIES:
		rest = series[MAX_CHART_SERIES - 1 :]
		other = {
			"reason": _("Other"),
			"counts": [sum(counts) for counts in zip(*(s["counts"] for s in rest), strict=True)],
		}
		series = [*series[: MAX_CHART_SERIES - 1], other]
	chart = None
	if trend["rows"]:
		chart = {
			"data": {
				"labels": [_not_set(month) for month in trend["months"]],
				"datasets": [{"name": _not_set(s["reason"]), "values": s["counts"]} for s in series],
			},
			"type": "bar",
			"barOptions": {"stacked": 1},
			"fieldtype": "Int",
			"title": _("Lost deals by month and reason"),
		}
	return columns, data, chart


def _competitors(rows: list[dict], currency: str) -> tuple[list, list, dict | None]:
	columns = [
		{"fieldname": "competitor", "label": _("Competitor"), "fieldtype": "Data", "width": 240},
		_count("count", _("Lost Deals")),
		_money("amount", _("Lost Amount")),
		{
			"fieldname": "share",
			"label": _("% of Lost Deals"),
			"fieldtype": "Percent",
			"precision": 1,
			"width": 130,
		},
		_currency_column(),
	]
	data = [
		{
			**row,
			"competitor": _("No Competitor Recorded") if row["competitor"] is None else row["competitor"],
			"share": None if row["share"] is None else row["share"] * 100,
			"currency": currency,
		}
		for row in rows
	]
	chart = None
	if data:
		chart = {
			"data": {
				"labels": [row["competitor"] for row in data],
				"datasets": [{"name": _("Lost Deals"), "values": [row["count"] for row in data]}],
			},
			"type": "bar",
			"fieldtype": "Int",
			"colors": ["#e24c4c"],
			"title": _("Lost deals by competitor"),
		}
	return columns, data, chart


def _dimension_labels() -> dict:
	return {
		"source": _("Source"),
		"opportunity_type": _("Opportunity Type"),
		"owner": _("Opportunity Owner"),
		"territory": _("Territory"),
		"pipeline": _("Sales Pipeline"),
	}


def _win_rate(result: dict, dimension: str, currency: str) -> tuple[list, list, dict | None]:
	label = _dimension_labels()[dimension]
	columns = [
		{"fieldname": "key", "label": label, "fieldtype": "Data", "width": 220},
		_count("won_count", _("Won")),
		_money("won_amount", _("Won Amount")),
		_count("lost_count", _("Lost")),
		_money("lost_amount", _("Lost Amount")),
		{
			"fieldname": "win_rate",
			"label": _("Win Rate %"),
			"fieldtype": "Percent",
			"precision": 1,
			"width": 110,
		},
		_currency_column(),
	]

	def row(values: dict, key: str) -> dict:
		return {
			**values,
			"key": key,
			"win_rate": None if values["win_rate"] is None else values["win_rate"] * 100,
			"currency": currency,
		}

	def key_label(key: str | None) -> str:
		if key is None:
			return _("Not Set")
		return get_fullname(key) if dimension == "owner" else key

	data = [row(values, key_label(values["key"])) for values in result["rows"]]
	chart = None
	if data:
		# Won and lost stacked: each bar's green share is the win rate, and a group that never won still
		# shows (a bar of 0 % would not), as does how many deals the rate rests on.
		chart = {
			"data": {
				"labels": [values["key"] for values in data],
				"datasets": [
					{"name": _("Won"), "values": [values["won_count"] for values in data]},
					{"name": _("Lost"), "values": [values["lost_count"] for values in data]},
				],
			},
			"type": "bar",
			"barOptions": {"stacked": 1},
			"fieldtype": "Int",
			"colors": ["#29cd42", "#e24c4c"],
			"title": _("Won and lost deals by {0}").format(label),
		}
		data.append({**row(result["total"], _("Total")), "bold": 1})
	return columns, data, chart


def _summary(total: dict, currency: str) -> list[dict]:
	rate = total["win_rate"]
	return [
		{"value": total["won_count"], "label": _("Won Deals"), "datatype": "Int", "indicator": "Green"},
		{
			"value": total["won_amount"],
			"label": _("Won Amount"),
			"datatype": "Currency",
			"currency": currency,
			"indicator": "Green",
		},
		{"value": total["lost_count"], "label": _("Lost Deals"), "datatype": "Int", "indicator": "Red"},
		{
			"value": total["lost_amount"],
			"label": _("Lost Amount"),
			"datatype": "Currency",
			"currency": currency,
			"indicator": "Red",
		},
		{
			# As text: the summary formats a Percent with the site's float precision (33.300 %).
			"value": "-" if rate is None else f"{flt(rate * 100, 1)} %",
			"label": _("Win Rate"),
			"datatype": "Data",
			"indicator": "Blue",
		},
	]
