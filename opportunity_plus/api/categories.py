"""The forecast by category over REST: `/api/method/opportunity_plus.api.categories.get_category_forecast`.

For one company, per period (month, quarter or fiscal year, one or several in a row) and per opportunity
owner, sales person or territory (the last two as a manager's view: each tree rolled up, a parent including
its reps or child territories) or Sales Pipeline: Closed, Commit, Best Case (Commit + Best Case), Pipeline,
Omitted and all open categories together, amounts (company currency) and counts; of every pipeline or of
one (`pipeline`).

A deal counts in its category in force (`op_effective_forecast_category`, categories.py) and in the period
of its closing date when it is closed (Converted, Lost, Closed: the date as win/loss takes it), else of its
expected closing date. Only the opportunities the caller may read count (permissions.read_scope); tree
rows show for the sales persons and territories the caller may read.
"""

from dataclasses import asdict

import frappe
from frappe import _
from frappe.utils import getdate

from opportunity_plus import planning, summary
from opportunity_plus.api.forecast import _where, pipeline_column
from opportunity_plus.api.utils import parse_pipeline
from opportunity_plus.api.winloss import _closed_deals
from opportunity_plus.core import categories as rules
from opportunity_plus.core import targets as periods_rules
from opportunity_plus.core.stages import CLOSED_STATUSES
from opportunity_plus.core.targets import period_key_of

GROUPINGS = ("owner", "sales_person", "territory", "pipeline")
TREE_OF = {"sales_person": planning.SALES_PERSON, "territory": planning.TERRITORY}
MAX_PERIODS = 12


@frappe.whitelist()
@frappe.read_only()
def get_category_forecast(
	period: str,
	company: str | None = None,
	group_by: str = "owner",
	periods: int = 1,
	pipeline: str | None = None,
) -> dict:
	"""The forecast by category for `periods` consecutive periods from `period` ("2026-12", "2026-Q4" or
	a fiscal year's name), per opportunity owner or pipeline, or per sales person or territory rolled up
	the tree; `pipeline` (a Sales Pipeline's name) keeps that pipeline's deals only."""
	return build_category_forecast(company, period, group_by, periods, pipeline)


def build_category_forecast(company, period, group_by, periods, pipeline=None) -> dict:
	company = planning.company_or_default(company)
	if group_by not in GROUPINGS:
		frappe.throw(
			_("Cannot group the forecast by {0}. Choose one of: {1}.").format(
				planning.shown(group_by), ", ".join(GROUPINGS)
			)
		)
	try:
		count = int(periods or 1)
	except (TypeError, ValueError):
		count = 0
	if not 1 <= count <= MAX_PERIODS:
		frappe.throw(
			_("Number of periods must be between 1 and {0}, not {1}.").format(
				MAX_PERIODS, planning.shown(periods)
			)
		)
	pipeline = parse_pipeline(pipeline)
	planning.check_can_read_opportunities()
	years = planning.fiscal_years(company)
	first = planning.resolve_period(period, years)
	window = periods_rules.following_periods(first, count, years)
	keys = [item.key for item in window]

	buckets = _buckets(company, window, pipeline, by_pipeline=group_by == "pipeline")
	key_of = {
		"owner": lambda row: row.owner or None,
		"territory": lambda row: row.territory or None,
		"pipeline": lambda row: row.pipeline or None,
	}
	if group_by == "sales_person":
		person_of = planning.sales_persons_of(row.owner for row in buckets)
		key_of["sales_person"] = lambda row: person_of.get(row.owner)
	by_key = rules.sum_by_key(
		(
			rules.CategoryBucket(
				key=key_of[group_by](row),
				period=row.period,
				category=row.category,
				count=row.deal_count,
				base_amount=row.base_amount,
			)
			for row in buckets
		),
		keys,
	)
	if group_by in ("owner", "pipeline"):
		rows = rules.flat_rows(by_key, keys)
	else:
		rows = rules.category_tree(
			planning.tree(TREE_OF[group_by]),
			by_key,
			keys,
			readable=planning.readable(TREE_OF[group_by]).__contains__,
		)
	total = rules.category_row(None, rules.merged(by_key.values()), keys)
	return {
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		"group_by": group_by,
		"pipeline": pipeline,
		"period_kind": first.kind,
		"periods": [
			{"key": item.key, "from_date": str(item.start), "to_date": str(item.end)} for item in window
		],
		"rows": [asdict(row) for row in rows],
		"total": {**asdict(total), "key": company},
	}


def _buckets(company, window, pipeline=None, by_pipeline=False) -> list:
	"""Permitted deals (of `pipeline`) summed per (owner, territory, category, period, and pipeline when
	`by_pipeline`): open deals by their expected closing month (from the pipeline summary where it can
	answer), closed ones by their closing date."""
	periods = list(window)
	buckets = []
	groups = ("owner", "territory", "category", "close_month", *(("pipeline",) if by_pipeline else ()))
	for row in summary.open_pipeline(
		company, periods[0].start, periods[-1].end, pipeline=pipeline, group_by=groups
	):
		buckets.append(
			frappe._dict(
				owner=row.owner,
				territory=row.territory,
				pipeline=row.get("pipeline"),
				category=row.category,
				period=period_key_of(getdate(row.close_month), periods) if row.close_month else None,
				deal_count=row.deal_count,
				base_amount=row.base_amount,
			)
		)
	where, values = _where(company, None, None, {}, pipeline)
	values.update(
		closed_statuses=tuple(sorted(CLOSED_STATUSES)), from_date=periods[0].start, to_date=periods[-1].end
	)
	pipeline_of = f"{pipeline_column()} as pipeline," if by_pipeline else "null as pipeline,"
	cases = []
	for index, item in enumerate(periods):
		values.update({f"period_{index}": item.key, f"start_{index}": item.start, f"end_{index}": item.end})
		cases.append(
			f"when deal.`closed_on` between %(start_{index})s and %(end_{index})s then %(period_{index})s"
		)
	for row in frappe.db.sql(
		f"""
		select deal.`owner`, deal.`territory`, deal.`pipeline`, deal.`status`,
			case {" ".join(cases)} end as period, count(*) as deal_count, sum(deal.`base_amount`) as base_amount
		from ({_closed_deals(where, f"`tabOpportunity`.`opportunity_owner` as owner, `tabOpportunity`.`territory`, {pipeline_of}")}) deal
		where deal.`closed_on` between %(from_date)s and %(to_date)s
		group by deal.`owner`, deal.`territory`, deal.`pipeline`, deal.`status`, period
		order by null
		""",
		values,
		as_dict=True,
	):
		# A closed deal's category is its status's, whatever its override or stage (core.categories).
		row.category = rules.effective_category(status=row.status, override=None, stage_category=None)
		buckets.append(row)
	return buckets
