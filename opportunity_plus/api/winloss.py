"""Win/loss analysis over REST: `/api/method/opportunity_plus.api.winloss.get_win_loss`.

Covers the closed opportunities the caller may read (role, user permissions, permission query conditions
and shares apply, exactly as in the forecast) whose closing date falls in the window. The database sums
them by month and lost reason, by competitor and by dimension and status; core.winloss turns the sums
into rows. Amounts are in the company's currency (ERPNext's base amounts).

The closing date of a deal is its Closed On (`op_closed_on`): the day its status last became Converted,
Lost or Closed, kept by the app on every channel (events.opportunity, auto-close); opportunities closed
before the app knew them were given the day they were declared lost (`op_lost_on`), else the last time the
deal history recorded the status, else their last modification (setup.install.backfill_closed_on).
"""

from dataclasses import asdict
from datetime import date

import frappe
from frappe import _

from opportunity_plus import summary
from opportunity_plus.api.forecast import _where, default_company, group_column
from opportunity_plus.api.utils import echo, parse_date, parse_pipeline
from opportunity_plus.core.forecast import Bucket
from opportunity_plus.core.stages import CLOSED_STATUSES
from opportunity_plus.core.winloss import (
	DIMENSIONS,
	LossBucket,
	lost_by_competitor,
	lost_reasons_by_month,
	win_rate_total,
	win_rates,
)

# The covering index that holds each dimension (install.FORECAST_INDEXES).
OUTCOME_INDEX = {
	"source": "op_closed_source_index",
	"opportunity_type": "op_closed_source_index",
	"owner": "op_closed_index",
	"territory": "op_closed_index",
	"pipeline": "op_closed_index",
}
# The closed statuses core.forecast.outcome counts as lost.
LOST_STATUSES = ("Lost", "Closed")
# The tag tables of a lost deal: child doctype and the field holding the tag.
TAG_TABLES = {
	"lost_reasons": ("Opportunity Lost Reason Detail", "lost_reason"),
	"competitors": ("Competitor Detail", "competitor"),
}


@frappe.whitelist()
@frappe.read_only()
def get_win_loss(
	company: str | None = None,
	from_date: str | None = None,
	to_date: str | None = None,
	dimension: str = "source",
	pipeline: str | None = None,
) -> dict:
	"""Lost reasons by month, lost deals by competitor and the win rate by `dimension` (source,
	opportunity_type, owner, territory or pipeline) of the deals closed between the dates (both optional);
	`pipeline` (a Sales Pipeline's name) keeps that pipeline's deals only."""
	return build_win_loss(company, from_date, to_date, dimension, pipeline=pipeline)


PARTS = ("lost_reasons", "competitors", "win_rate")


def build_win_loss(company, from_date, to_date, dimension, parts=PARTS, pipeline=None) -> dict:
	"""The analysis; `parts` limits it to what a caller shows (the report shows one view and the totals):
	a part not asked for is None, the win-rate total is always there."""
	company = company or default_company()
	if not company:
		frappe.throw(
			_("Select a company: the win/loss analysis never mixes companies' currencies."),
			title=_("Company"),
		)
	if not isinstance(company, str) or not frappe.db.exists("Company", company):
		frappe.throw(_("Company {0} does not exist.").format(echo(company)), title=_("Company"))
	if dimension not in DIMENSIONS:
		frappe.throw(
			_("Cannot break the win rate down by {0}. Choose one of: {1}.").format(
				echo(dimension), ", ".join(DIMENSIONS)
			)
		)
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	from_date, to_date = parse_date(from_date, _("From Date")), parse_date(to_date, _("To Date"))
	if from_date and to_date and from_date > to_date:
		frappe.throw(_("From Date {0} is after To Date {1}.").format(from_date, to_date))
	pipeline = parse_pipeline(pipeline)

	# The company, the pipeline and the caller's read restrictions, exactly as the forecast applies them.
	where, values = _where(company, None, None, {}, pipeline)
	values.update(
		closed_statuses=tuple(sorted(CLOSED_STATUSES)),
		lost_statuses=LOST_STATUSES,
		from_date=from_date,
		to_date=to_date,
	)
	window = _window(from_date, to_date)

	# by the dimension when the win rates are shown, else by status only (for the totals; from the
	# pipeline summary where it can answer)
	by = dimension if "win_rate" in parts else None
	totals = (
		None if by else summary.closed_totals(company, from_date, to_date, sorted(CLOSED_STATUSES), pipeline)
	)
	buckets = (
		[
			Bucket(
				company=company,
				value=None,
				status=row.status,
				count=row.deal_count,
				base_amount=row.base_amount,
				weighted_amount=0,
			)
			for row in totals
		]
		if totals is not None
		else _outcome_buckets(company, by, where, window, values)
	)
	rates = win_rates(buckets, dimension)
	total = win_rate_total(rates)
	trend = (
		lost_reasons_by_month(
			_loss_buckets("lost_reasons", where, window, values, by_month=True),
			first_month=from_date,
			last_month=to_date,
		)
		if "lost_reasons" in parts
		else None
	)
	competitors = (
		lost_by_competitor(
			_loss_buckets("competitors", where, window, values, by_month=False), lost_deals=total.lost_count
		)
		if "competitors" in parts
		else None
	)
	return {
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		"from_date": str(from_date) if from_date else None,
		"to_date": str(to_date) if to_date else None,
		"dimension": dimension,
		"pipeline": pipeline,
		"lost_reasons": asdict(trend) if trend is not None else None,
		"competitors": [asdict(row) for row in competitors] if competitors is not None else None,
		"win_rate": {"rows": [asdict(row) for row in rates] if by else None, "total": asdict(total)},
	}


def _window(from_date: date | None, to_date: date | None) -> str:
	conditions = ["1 = 1"]
	if from_date:
		conditions.append("deal.`closed_on` >= %(from_date)s")
	if to_date:
		conditions.append("deal.`closed_on` <= %(to_date)s")
	return " and ".join(conditions)


def _closed_deals(where: str, extra_columns: str = "", index: str | None = "op_closed_index") -> str:
	"""A derived table of the permitted closed deals with their closing date (`op_closed_on`, see the
	module docstring); MariaDB merges it into the outer query, so a window on the closing date reads a
	range of `op_closed_index`.

	`tabOpportunity` is not aliased because the match conditions name it. `index` names the covering index
	to read (MariaDB otherwise picks the first that starts with the company, and reads table rows).
	"""
	hint = f"force index (`{index}`)" if index else ""
	return f"""
		select `tabOpportunity`.`name`, `tabOpportunity`.`status`,
			`tabOpportunity`.`base_opportunity_amount` as base_amount, {extra_columns}
			`tabOpportunity`.`op_closed_on` as closed_on
		from `tabOpportunity` {hint}
		where {where} and `tabOpportunity`.`status` in %(closed_statuses)s
	"""


def _outcome_buckets(
	company: str, dimension: str | None, where: str, window: str, values: dict
) -> list[Bucket]:
	rows = frappe.db.sql(
		f"""
		select deal.`group_value`, deal.`status`, count(*) as deal_count, sum(deal.`base_amount`) as base_amount
		from ({_closed_deals(where, f"{group_column(dimension) if dimension else 'null'} as group_value,", OUTCOME_INDEX.get(dimension, "op_closed_index"))}) deal
		where {window}
		group by deal.`group_value`, deal.`status`
		order by null
		""",
		values,
		as_dict=True,
	)
	return [
		Bucket(
			company=company,
			value=row.group_value,
			status=row.status,
			count=row.deal_count,
			base_amount=row.base_amount,
			weighted_amount=0,
		)
		for row in rows
	]


def _loss_buckets(tags: str, where: str, window: str, values: dict, *, by_month: bool) -> list[LossBucket]:
	"""Lost deals summed by tag (and month): each deal once per distinct non-blank tag, else once untagged."""
	doctype, field = TAG_TABLES[tags]
	month = "last_day(deal.`closed_on`)" if by_month else "null"
	rows = frappe.db.sql(
		f"""
		select {month} as month_end, tag.`tag`, count(*) as deal_count, sum(deal.`base_amount`) as base_amount
		from ({_closed_deals(where)}) deal
		left join (
			select `parent`, `{field}` as tag
			from `tab{doctype}`
			where `parenttype` = 'Opportunity' and `parentfield` = %(tag_field)s and ifnull(`{field}`, '') != ''
			group by `parent`, `{field}`
		) tag on tag.`parent` = deal.`name`
		where deal.`status` in %(lost_statuses)s and {window}
		group by month_end, tag.`tag`
		order by null
		""",
		{**values, "tag_field": tags},
		as_dict=True,
	)
	return [
		LossBucket(closed_on=row.month_end, tag=row.tag, count=row.deal_count, base_amount=row.base_amount)
		for row in rows
	]
