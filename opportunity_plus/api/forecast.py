"""Weighted pipeline forecast over REST: `/api/method/opportunity_plus.api.forecast.get_forecast`.

The database sums the opportunities the caller may read (role, user permissions, permission query
conditions and shares apply, as in a list view) by group, status and stage; core.forecast turns those
sums into rows. All amounts are in the company's currency (ERPNext's base amounts).
"""

from dataclasses import asdict, replace

import frappe
from frappe import _
from frappe.utils import add_months, get_first_day, get_last_day, getdate, nowdate

from opportunity_plus import summary
from opportunity_plus.api.utils import echo, parse_date, parse_filters
from opportunity_plus.core.forecast import (
	GROUPINGS,
	PERIODS,
	Bucket,
	forecast_buckets,
	pivot_buckets,
	totals,
)
from opportunity_plus.permissions import read_scope
from opportunity_plus.pipeline import get_stages, stage_order

# The Opportunity column each grouping reads besides stage and close month, which every query groups by:
# periods use the month's last day, from which the core derives the year-aware month or quarter.
GROUP_COLUMNS = {
	"owner": "`opportunity_owner`",
	"territory": "`territory`",
	"source": "`source`",
	"opportunity_type": "`opportunity_type`",
}
# The pipeline summary's key each grouping reads ("" for stage and periods, which every read groups by);
# groupings without one are read from the opportunities.
GROUP_KEYS = {
	"stage": "",
	"close_month": "",
	"close_quarter": "",
	"owner": "opportunity_owner",
	"territory": "territory",
}
# Extra equality filters a caller may pass.
FILTER_FIELDS = ("territory", "opportunity_owner", "source", "opportunity_type", "sales_stage", "status")


@frappe.whitelist()
@frappe.read_only()
def get_forecast(
	company: str | None = None,
	group_by: str = "stage",
	from_date: str | None = None,
	to_date: str | None = None,
	period: str = "month",
	filters: dict | str | None = None,
) -> dict:
	"""Per group: count, open amount, weighted amount, won/lost count and amount, win rate; plus a total
	and a periods x stage pivot of the weighted open pipeline. Dates filter the expected closing date."""
	return build_forecast(company, group_by, from_date, to_date, period, filters)


def forecast_company(company) -> str:
	"""The company asked for, else the user's default; refused unless it exists."""
	company = company or default_company()
	if not isinstance(company, str) or not frappe.db.exists("Company", company):
		frappe.throw(
			_("Select a company: the forecast never mixes companies' currencies."), title=_("Company")
		)
	return company


def build_forecast(company, group_by, from_date, to_date, period, filters) -> dict:
	company = forecast_company(company)
	if group_by not in GROUPINGS:
		frappe.throw(
			_("Cannot group the forecast by {0}. Choose one of: {1}.").format(
				echo(group_by), ", ".join(GROUPINGS)
			)
		)
	if period not in PERIODS:
		frappe.throw(_("Period must be month or quarter, not {0}.").format(echo(period)))
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	from_date, to_date = parse_date(from_date, _("From Date")), parse_date(to_date, _("To Date"))
	if from_date and to_date and from_date > to_date:
		frappe.throw(_("From Date {0} is after To Date {1}.").format(from_date, to_date))

	filters = parse_filters(filters, FILTER_FIELDS, "forecast")
	kinds = {name: stage.kind for name, stage in get_stages().items()}
	order = stage_order()
	# One read serves both the rows and the chart: grouped by month as well, the buckets add up to any
	# grouping here, and the months to the chart's periods. The pipeline summary answers where it can
	# (month-aligned window, its keys, a restriction it can state); else the opportunities are scanned.
	rows = summary.forecast_rows(company, from_date, to_date, filters, GROUP_KEYS.get(group_by))
	if rows is None:
		rows = _scan_rows(group_by, *_where(company, from_date, to_date, filters))
	buckets = _buckets(rows, group_by, company, kinds)
	rows = forecast_buckets(
		[bucket for bucket, _month in buckets]
		if group_by not in ("close_month", "close_quarter")
		else [replace(bucket, value=month) for bucket, month in buckets],
		group_by,
		stage_order=order,
	)
	chart = pivot_buckets(
		[replace(bucket, value=month) for bucket, month in buckets], period, stage_order=order
	)
	return {
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		"group_by": group_by,
		"from_date": str(from_date) if from_date else None,
		"to_date": str(to_date) if to_date else None,
		"rows": [asdict(row) for row in rows],
		"total": asdict(totals(rows)),
		"chart": chart,
	}


def default_company() -> str | None:
	return frappe.defaults.get_user_default("Company") or frappe.db.get_single_value(
		"Global Defaults", "default_company"
	)


def current_quarter(day=None) -> tuple:
	day = getdate(day or nowdate())
	first = get_first_day(day).replace(month=(day.month - 1) // 3 * 3 + 1)
	return first, get_last_day(add_months(first, 2))


def _where(company, from_date, to_date, filters) -> tuple[str, dict]:
	conditions = ["`tabOpportunity`.`company` = %(company)s"]
	values = {"company": company}
	if from_date:
		conditions.append("`tabOpportunity`.`expected_closing` >= %(from_date)s")
		values["from_date"] = from_date
	if to_date:
		conditions.append("`tabOpportunity`.`expected_closing` <= %(to_date)s")
		values["to_date"] = to_date
	for field, value in filters.items():
		conditions.append(f"`tabOpportunity`.`{field}` = %({field})s")
		values[field] = value
	# The caller's read restrictions, exactly as a list view applies them (permissions.read_scope).
	scope = read_scope()
	if scope.condition:
		conditions.append(f"({scope.condition})")
		values.update(scope.values)
	return " and ".join(conditions), values


def _scan_rows(group_by, where, values) -> list:
	"""One GROUP BY over the permitted opportunities: by group value, close month, status and stage.

	A deal's weighted amount is kept, like every amount, to 9 decimal places (as the pipeline summary
	keeps it), so that both give exactly the same figures."""
	group_column = (
		GROUP_COLUMNS[group_by] if group_by not in ("stage", "close_month", "close_quarter") else "null"
	)
	return frappe.db.sql(
		f"""
		select {group_column} as group_value, last_day(`expected_closing`) as month_end, `status`,
			`sales_stage`, count(*) as deal_count, sum(`base_opportunity_amount`) as base_amount,
			sum(round(`base_opportunity_amount` * `probability` / 100, 9)) as weighted_amount
		from `tabOpportunity`
		where {where}
		group by group_value, month_end, `status`, `sales_stage`
		order by null
		""",
		values,
		as_dict=True,
	)


def _buckets(rows, group_by, company, kinds) -> list[tuple[Bucket, object]]:
	"""(bucket, last day of its close month) pairs."""
	return [
		(
			Bucket(
				company=company,
				value=row.sales_stage if group_by == "stage" else row.group_value,
				status=row.status,
				stage=row.sales_stage,
				stage_kind=kinds.get(row.sales_stage),
				count=row.deal_count,
				base_amount=row.base_amount,
				weighted_amount=row.weighted_amount,
			),
			row.month_end,
		)
		for row in rows
	]


def open_pipeline_rows(company, group_by: tuple[str, ...] = ("stage",)) -> tuple[str, list]:
	"""The company's open pipeline the caller may read (whatever its close date) by stage and the other
	groups asked for, as the forecast counts it open: open status, stage not of a won or lost kind.
	Read from the pipeline summary where it can answer: what the workspace's cards and charts show."""
	company = forecast_company(company)
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	kinds = {name: stage.kind for name, stage in get_stages().items()}
	rows = summary.open_pipeline(
		company, None, None, group_by=("stage", *group_by[1:]) if group_by else ("stage",)
	)
	return company, [row for row in rows if kinds.get(row.stage) not in ("Won", "Lost")]
