"""Targets, attainment and coverage over REST: `/api/method/opportunity_plus.api.targets.get_attainment`.

For one company and period: per Sales Person (the opportunity owner's, through their Employee) or per
Territory, each tree rolled up, and for the company: ERPNext's own targets (Target Detail, split by the
Monthly Distribution), what was won (Converted deals whose closing date, as win/loss dates it, falls in the
period), the open pipeline expected to close in it (and weighted by probability), attainment, gap and
coverage (core.targets). Won and pipeline count only the opportunities the caller may read
(permissions.read_scope); targets show for the sales persons and territories the caller may read.
Amounts are in the company currency (ERPNext's base amounts).

Targets are per sales person and territory, not per Sales Pipeline: with `pipeline`, the won and pipeline
figures are that pipeline's deals only, set against the same (whole) targets.
"""

from dataclasses import asdict

import frappe
from frappe import _

from opportunity_plus import planning, summary
from opportunity_plus.api.forecast import _where
from opportunity_plus.api.utils import parse_pipeline
from opportunity_plus.api.winloss import _closed_deals
from opportunity_plus.core import targets as rules
from opportunity_plus.core.stages import CLOSED_STATUSES, OPEN_STATUSES
from opportunity_plus.core.targets import Achieved, DealSums

GROUPINGS = ("sales_person", "territory")
TREE_OF = {"sales_person": planning.SALES_PERSON, "territory": planning.TERRITORY}


@frappe.whitelist()
@frappe.read_only()
def get_attainment(
	period: str,
	company: str | None = None,
	group_by: str = "sales_person",
	item_group: str | None = None,
	pipeline: str | None = None,
) -> dict:
	"""Target, won, open and weighted pipeline, attainment, gap and coverage for `period` ("2026-12",
	"2026-Q4" or a fiscal year's name) per sales person or territory (`group_by`), trees rolled up, and
	for the company. `item_group`: only that item group's targets, and only the opportunity lines of its
	items (and its descendants' items) as won and pipeline. `pipeline`: won and pipeline of that Sales
	Pipeline's deals only (targets are not per pipeline)."""
	return build_attainment(company, period, group_by, item_group, pipeline)


def build_attainment(company, period, group_by, item_group, pipeline=None) -> dict:
	company = planning.company_or_default(company)
	if group_by not in GROUPINGS:
		frappe.throw(
			_("Cannot show targets by {0}. Choose one of: {1}.").format(
				planning.shown(group_by), ", ".join(GROUPINGS)
			)
		)
	pipeline = parse_pipeline(pipeline)
	planning.check_can_read_opportunities()
	years = planning.fiscal_years(company)
	period = planning.resolve_period(period, years)
	item_groups = planning.item_group_and_descendants(item_group) if item_group else None

	sums = _deal_sums(company, period, item_groups, pipeline)
	person_of = planning.sales_persons_of(row["owner"] for row in sums)
	key_of = {
		"sales_person": lambda row: person_of.get(row["owner"]),
		"territory": lambda row: row["territory"] or None,
	}[group_by]

	own_targets, trees = {}, {}
	for view, doctype in TREE_OF.items():
		trees[view] = planning.tree(doctype)
		own_targets[view] = rules.period_targets(
			planning.target_rows(doctype), period, years, item_group=item_group or None
		)
	readable = planning.readable(TREE_OF[group_by])
	rows = rules.attainment_tree(
		trees[group_by],
		own_targets[group_by],
		[_deal_sums_of(key_of(row), row) for row in sums],
		readable=readable.__contains__,
	)
	company_target, target_from = _company_target(trees, own_targets)
	everything = Achieved()
	for row in sums:
		everything.add(_deal_sums_of(None, row))
	return {
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		"period": period.key,
		"period_kind": period.kind,
		"from_date": str(period.start),
		"to_date": str(period.end),
		"group_by": group_by,
		"item_group": item_group or None,
		"pipeline": pipeline,
		# False: no sales person or territory has a target in the period (won and pipeline still show).
		"has_targets": bool(own_targets["sales_person"] or own_targets["territory"]),
		"rows": [asdict(row) for row in rows],
		"total": {
			**asdict(rules.attainment_row(None, company_target, everything)),
			"key": company,
			"target_from": target_from,
		},
	}


def _company_target(trees, own_targets):
	"""The company's target: the territory tree's where any territory has one for the period, else the
	sales person tree's. Shown only to a caller who may read the tree's root(s)."""
	for view in ("territory", "sales_person"):
		if not own_targets[view]:
			continue
		doctype = TREE_OF[view]
		roots = rules.roots(trees[view])
		if not all(frappe.has_permission(doctype, "read", root) for root in roots):
			return None, None
		return rules.tree_target(trees[view], own_targets[view]), doctype
	return None, None


def _deal_sums_of(key, row) -> DealSums:
	return DealSums(
		key=key,
		won_count=row["won_count"],
		won_amount=row["won_amount"],
		open_count=row["open_count"],
		open_amount=row["open_amount"],
		weighted_amount=row["weighted_amount"],
	)


def _lines(item_groups, opportunity: str) -> str:
	"""A join restricting the deal to its lines of the item groups, whose amount replaces the deal's."""
	if not item_groups:
		return ""
	return f"""
		join (
			select `parent`, sum(`base_amount`) as base_amount
			from `tabOpportunity Item`
			where `parenttype` = 'Opportunity' and `item_group` in %(item_groups)s
			group by `parent`
		) line on line.`parent` = {opportunity}"""


def _pipeline_of_lines(where: str, values: dict, item_groups) -> list:
	"""The open pipeline of the period counting only the lines of the item groups' items."""
	return frappe.db.sql(
		f"""
		select `tabOpportunity`.`opportunity_owner` as owner, `tabOpportunity`.`territory`,
			count(*) as deal_count, sum(line.`base_amount`) as amount,
			sum(round(line.`base_amount` * `tabOpportunity`.`probability` / 100, 9)) as weighted_amount
		from `tabOpportunity`
		{_lines(item_groups, "`tabOpportunity`.`name`")}
		where {where} and `tabOpportunity`.`status` in %(open_statuses)s
			and `tabOpportunity`.`expected_closing` between %(from_date)s and %(to_date)s
		group by owner, `tabOpportunity`.`territory`
		order by null
		""",
		values,
		as_dict=True,
	)


def _deal_sums(company, period, item_groups, pipeline=None) -> list[dict]:
	"""Won and open figures per (owner, territory) of the permitted deals (of `pipeline`) of the period."""
	where, values = _where(company, None, None, {}, pipeline)
	values.update(
		closed_statuses=tuple(sorted(CLOSED_STATUSES)),
		open_statuses=tuple(sorted(OPEN_STATUSES)),
		from_date=period.start,
		to_date=period.end,
		item_groups=tuple(item_groups or ()),
	)
	won_amount = "line.`base_amount`" if item_groups else "deal.`base_amount`"
	won = frappe.db.sql(
		f"""
		select deal.`owner`, deal.`territory`, count(*) as deal_count, sum({won_amount}) as amount
		from ({_closed_deals(where, "`tabOpportunity`.`opportunity_owner` as owner, `tabOpportunity`.`territory`,")}) deal
		{_lines(item_groups, "deal.`name`")}
		where deal.`status` = 'Converted' and deal.`closed_on` between %(from_date)s and %(to_date)s
		group by deal.`owner`, deal.`territory`
		order by null
		""",
		values,
		as_dict=True,
	)
	if item_groups:
		pipeline = _pipeline_of_lines(where, values, item_groups)
	else:
		# the open pipeline from the pipeline summary where it can answer (whole months, a restriction it
		# can state), else from the opportunities
		pipeline = [
			frappe._dict(
				owner=row.owner,
				territory=row.territory,
				deal_count=row.deal_count,
				amount=row.base_amount,
				weighted_amount=row.weighted_amount,
			)
			for row in summary.open_pipeline(
				company, period.start, period.end, pipeline=pipeline, group_by=("owner", "territory")
			)
		]
	sums: dict[tuple, dict] = {}

	def entry(row) -> dict:
		key = (row.owner or None, row.territory or None)
		return sums.setdefault(
			key,
			{
				"owner": key[0],
				"territory": key[1],
				"won_count": 0,
				"won_amount": 0,
				"open_count": 0,
				"open_amount": 0,
				"weighted_amount": 0,
			},
		)

	for row in won:
		target = entry(row)
		target["won_count"] += row.deal_count
		target["won_amount"] += row.amount or 0
	for row in pipeline:
		target = entry(row)
		target["open_count"] += row.deal_count
		target["open_amount"] += row.amount or 0
		target["weighted_amount"] += row.weighted_amount or 0
	return list(sums.values())
