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
from opportunity_plus.api.utils import echo, parse_date, parse_filters, parse_pipeline
from opportunity_plus.core.forecast import (
	GROUPINGS,
	PERIODS,
	Bucket,
	forecast_buckets,
	pivot_buckets,
	totals,
)
from opportunity_plus.permissions import read_scope
from opportunity_plus.pipeline import get_pipelines, get_stages, stage_order

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
	"pipeline": "pipeline",
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
	pipeline: str | None = None,
) -> dict:
	"""Per group: count, open amount, weighted amount, won/lost count and amount, win rate; plus a total
	and a periods x stage pivot of the weighted open pipeline. Dates filter the expected closing date;
	`pipeline` (a Sales Pipeline's name) keeps that pipeline's deals only."""
	return build_forecast(company, group_by, from_date, to_date, period, filters, pipeline)


def forecast_company(company) -> str:
	"""The company asked for, else the user's default; refused unless it exists."""
	company = company or default_company()
	if not isinstance(company, str) or not frappe.db.exists("Company", company):
		frappe.throw(
			_("Select a company: the forecast never mixes companies' currencies."), title=_("Company")
		)
	return company


def build_forecast(company, group_by, from_date, to_date, period, filters, pipeline=None) -> dict:
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
	pipeline = parse_pipeline(pipeline)
	kind_of = stage_kinds(pipeline)
	order = stage_order(pipeline)
	# Each row also by pipeline where a stage's kind depends on the deal's pipeline (stage_kinds).
	by_pipeline = kind_of.by_pipeline and group_by != "pipeline"
	# One read serves both the rows and the chart: grouped by month as well, the buckets add up to any
	# grouping here, and the months to the chart's periods. The pipeline summary answers where it can
	# (month-aligned window, its keys, a restriction it can state); else the opportunities are scanned.
	summary_filters = {**filters, "pipeline": pipeline} if pipeline else filters
	rows = summary.forecast_rows(
		company, from_date, to_date, summary_filters, GROUP_KEYS.get(group_by), by_pipeline=by_pipeline
	)
	if rows is None:
		rows = _scan_rows(
			group_by, *_where(company, from_date, to_date, filters, pipeline), by_pipeline=by_pipeline
		)
	buckets = _buckets(rows, group_by, company, kind_of)
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
		"pipeline": pipeline,
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


def pipeline_column() -> str:
	"""The deal's Sales Pipeline as SQL over `tabOpportunity`: a deal without one is in the default one."""
	return summary._scan_expression("pipeline")


class StageKinds(dict):
	"""Each stage's kind (Open, Won, Lost), as `stage_kinds` tells it; `of(stage, pipeline)` reads it."""

	def __init__(self, kinds: dict, per_pipeline: dict, by_pipeline: bool):
		super().__init__(kinds)
		self.per_pipeline = per_pipeline
		# whether a deal's kind needs its pipeline (a stage of two kinds in two pipelines)
		self.by_pipeline = by_pipeline

	def of(self, stage, pipeline=None):
		if pipeline and self.by_pipeline:
			kind = self.per_pipeline.get(pipeline, {}).get(stage)
			if kind:
				return kind
		return self.get(stage)


def stage_kinds(pipeline: str | None = None) -> StageKinds:
	"""A stage's kind is the one it has in the deal's pipeline. Filtered by `pipeline`: its stages' kinds
	(a stage outside it: as across pipelines). Else each stage's kind as across pipelines
	(pipeline.get_stages()), and per pipeline as well where a stage has another kind in another pipeline:
	then readers read each deal's pipeline too."""
	kinds = {name: stage.kind for name, stage in get_stages().items()}
	if pipeline:
		kinds.update({name: stage.kind for name, stage in get_stages(pipeline).items()})
		return StageKinds(kinds, {}, False)
	per_pipeline = {
		name: {row.stage.name: row.stage.kind for row in found.stages}
		for name, found in get_pipelines().items()
	}
	differ = any(
		kind != kinds.get(stage) for stages in per_pipeline.values() for stage, kind in stages.items()
	)
	return StageKinds(kinds, per_pipeline, differ)


def _where(company, from_date, to_date, filters, pipeline: str | None = None) -> tuple[str, dict]:
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
	if pipeline:
		conditions.append(f"{pipeline_column()} = %(pipeline)s")
		values["pipeline"] = pipeline
	# The caller's read restrictions, exactly as a list view applies them (permissions.read_scope).
	scope = read_scope()
	if scope.condition:
		conditions.append(f"({scope.condition})")
		values.update(scope.values)
	return " and ".join(conditions), values


def group_column(group_by: str) -> str:
	"""The Opportunity column (or expression) a grouping other than stage and periods reads."""
	return pipeline_column() if group_by == "pipeline" else GROUP_COLUMNS[group_by]


def _scan_rows(group_by, where, values, by_pipeline: bool = False) -> list:
	"""One GROUP BY over the permitted opportunities: by group value, close month, status and stage (and
	pipeline, `by_pipeline`).

	A deal's weighted amount is kept, like every amount, to 9 decimal places (as the pipeline summary
	keeps it), so that both give exactly the same figures."""
	group = group_column(group_by) if group_by not in ("stage", "close_month", "close_quarter") else "null"
	pipeline = pipeline_column() if by_pipeline else "null"
	return frappe.db.sql(
		f"""
		select {group} as group_value, last_day(`expected_closing`) as month_end, `status`,
			`sales_stage`, {pipeline} as pipeline_name, count(*) as deal_count,
			sum(`base_opportunity_amount`) as base_amount,
			sum(round(`base_opportunity_amount` * `probability` / 100, 9)) as weighted_amount
		from `tabOpportunity`
		where {where}
		group by group_value, month_end, `status`, `sales_stage`, pipeline_name
		order by null
		""",
		values,
		as_dict=True,
	)


def _buckets(rows, group_by, company, kinds: StageKinds) -> list[tuple[Bucket, object]]:
	"""(bucket, last day of its close month) pairs."""
	return [
		(
			Bucket(
				company=company,
				value=row.sales_stage if group_by == "stage" else row.group_value,
				status=row.status,
				stage=row.sales_stage,
				stage_kind=kinds.of(
					row.sales_stage, row.group_value if group_by == "pipeline" else row.get("pipeline_name")
				),
				count=row.deal_count,
				base_amount=row.base_amount,
				weighted_amount=row.weighted_amount,
			),
			row.month_end,
		)
		for row in rows
	]


def open_pipeline_rows(
	company, group_by: tuple[str, ...] = ("stage",), pipeline: str | None = None
) -> tuple[str, list]:
	"""The company's open pipeline the caller may read (whatever its close date; of one Sales Pipeline,
	`pipeline`) by stage and the other groups asked for, as the forecast counts it open: open status,
	stage not of a won or lost kind (in the deal's pipeline). Read from the pipeline summary where it can
	answer: what the workspace's cards and charts show."""
	company = forecast_company(company)
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	pipeline = parse_pipeline(pipeline)
	kinds = stage_kinds(pipeline)
	keys = ("stage", *group_by[1:]) if group_by else ("stage",)
	extra = ("pipeline",) if kinds.by_pipeline and "pipeline" not in keys else ()
	rows = summary.open_pipeline(company, None, None, pipeline=pipeline, group_by=(*keys, *extra))
	rows = [row for row in rows if kinds.of(row.stage, row.get("pipeline")) not in ("Won", "Lost")]
	if extra:
		rows = _merged(rows, keys)
	return company, rows


def _merged(rows, keys) -> list:
	"""Rows of the same groups added up (read also by pipeline, for the stages' kinds)."""
	merged = {}
	for row in rows:
		key = tuple(row[field] for field in keys)
		total = merged.setdefault(
			key,
			frappe._dict(
				{**dict(zip(keys, key, strict=True)), "deal_count": 0, "base_amount": 0, "weighted_amount": 0}
			),
		)
		total.deal_count += row.deal_count
		total.base_amount += row.base_amount
		total.weighted_amount += row.weighted_amount
	return list(merged.values())
