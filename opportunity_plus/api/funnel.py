"""Stage conversion of one Sales Pipeline over REST:
`GET /api/method/opportunity_plus.api.funnel.get_stage_conversion`.

For the deals created in a window (default: the last three months, today included) that are in the
pipeline now and that the caller may read (permissions.read_scope: roles, user permissions, permission
query conditions, shares), per stage in the pipeline's order: how many deals entered it, how many went on
to a stage further along (or were won from it), were lost in it or are still in it, the share that went
on (the conversion a manager sets the stage's probability by), the share of the deals that reached it,
and the median days a stay in it lasted. The deals' ways through the stages come from the deal history
(core.funnel says how each is read), kept per deal in Opportunity Stage Entry (funnel.py) and summed
here over an index; the pipeline's win rate from their status now.
"""

from dataclasses import asdict
from datetime import datetime, time

import frappe
from frappe import _
from frappe.utils import add_days, add_months, getdate, nowdate
from frappe.utils.nestedset import get_descendants_of

from opportunity_plus import funnel as funnel_rows
from opportunity_plus import summary
from opportunity_plus.api.forecast import default_company, pipeline_column
from opportunity_plus.api.utils import check_exists, echo, parse_date, parse_name, parse_pipeline
from opportunity_plus.core.funnel import (
	STAGE_FIELD,
	STATUS_FIELD,
	DealPath,
	Event,
	FunnelBuilder,
	FunnelStage,
)
from opportunity_plus.permissions import read_scope
from opportunity_plus.pipeline import default_pipeline, get_pipeline

# the default window: deals created in the last three months
DEFAULT_MONTHS = 3
# the longest window one call reads (each deal of the window and its history is read)
MAX_DAYS = 3 * 366
BATCH = 5000


@frappe.whitelist()
@frappe.read_only()
def get_stage_conversion(
	company: str | None = None,
	pipeline: str | None = None,
	from_date: str | None = None,
	to_date: str | None = None,
	territory: str | None = None,
	opportunity_owner: str | None = None,
) -> dict:
	"""The stage conversion of `pipeline` (default: the default pipeline) for the deals of `company`
	created from `from_date` to `to_date` (default: the last three months), optionally of a territory (and
	its descendants) or an opportunity owner."""
	return build_stage_conversion(company, pipeline, from_date, to_date, territory, opportunity_owner)


def build_stage_conversion(company, pipeline, from_date, to_date, territory=None, owner=None) -> dict:
	company = parse_name(company, _("Company"), required=False) or default_company()
	if not company:
		frappe.throw(_("Select a company."), title=_("Company"))
	if not frappe.db.exists("Company", company):
		frappe.throw(_("Company {0} does not exist.").format(echo(company)), title=_("Company"))
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	pipeline = parse_pipeline(pipeline) or default_pipeline()
	found = get_pipeline(pipeline) if pipeline else None
	if not found:
		frappe.throw(_("There is no Sales Pipeline: create one first."), title=_("Sales Pipeline"))
	today = getdate(nowdate())
	end = parse_date(to_date, _("To Date")) or today
	start = parse_date(from_date, _("From Date")) or getdate(add_days(add_months(end, -DEFAULT_MONTHS), 1))
	if start > end:
		frappe.throw(_("From Date {0} is after To Date {1}.").format(start, end))
	if (end - start).days >= MAX_DAYS:
		frappe.throw(
			_("Choose a window of at most {0} days of created deals, not {1}.").format(
				MAX_DAYS, (end - start).days + 1
			)
		)
	territory = parse_name(territory, _("Territory"), required=False)
	territories = None
	if territory:
		territory = check_exists("Territory", territory, _("Territory"))
		territories = [territory, *get_descendants_of("Territory", territory, ignore_permissions=True)]
	owner = parse_name(owner, _("Opportunity Owner"), required=False)
	if owner:
		owner = check_exists("User", owner, _("Opportunity Owner"))

	stages = [FunnelStage(row.stage.name, row.stage.kind, row.stage.probability) for row in found.stages]
	builder = FunnelBuilder(stages)
	if funnel_rows.is_current():
		_from_entries(builder, company, found.name, start, end, territories, owner)
	else:
		# not built yet (an install or migrate is building it): from the deal history itself
		for deal in _deal_paths(company, found.name, start, end, territories, owner):
			builder.add(deal)
	result = builder.funnel()
	return {
		"company": company,
		"pipeline": found.name,
		"from_date": str(start),
		"to_date": str(end),
		"territory": territory,
		"opportunity_owner": owner,
		"deals": result.deals,
		"won": result.won,
		"lost": result.lost,
		"still_open": result.still_open,
		"win_rate": result.win_rate,
		"stages": [asdict(row) for row in result.rows],
	}


def _from_entries(builder, company, pipeline, start, end, territories, owner) -> None:
	"""Sums of the stored rows (funnel.py) over their read index, by stage; the caller's read restriction
	over the rows' company, territory and owner where it can be stated so, else through the opportunities.
	The deals and their status from the opportunities (op_creation_index)."""
	scope = read_scope()
	values = {
		"company": company,
		"pipeline": pipeline,
		"start": start,
		"end": end,
		"start_moment": datetime.combine(start, time.min),
		"end_moment": datetime.combine(end, time.max),
		**scope.values,
	}
	conditions = [
		"summary.`company` = %(company)s",
		"summary.`pipeline` = %(pipeline)s",
		"summary.`created_on` between %(start)s and %(end)s",
	]
	deal_conditions = [
		"`tabOpportunity`.`company` = %(company)s",
		"`tabOpportunity`.`creation` between %(start_moment)s and %(end_moment)s",
		f"{pipeline_column()} = %(pipeline)s",
	]
	if territories:
		conditions.append("summary.`territory` in %(territories)s")
		deal_conditions.append("`tabOpportunity`.`territory` in %(territories)s")
		values["territories"] = territories
	if owner:
		conditions.append("summary.`opportunity_owner` = %(owner)s")
		deal_conditions.append("`tabOpportunity`.`opportunity_owner` = %(owner)s")
		values["owner"] = owner
	if scope.condition:
		deal_conditions.append(f"({scope.condition})")
		over_keys = summary.scope_condition(scope)
		if over_keys and not any(
			f"summary.`{column}`" in over_keys for column in ("sales_stage", "status", "pipeline")
		):
			conditions.append(f"({over_keys})")
		else:
			conditions.append(
				"summary.`opportunity` in (select `tabOpportunity`.`name` from `tabOpportunity` "
				f"where {' and '.join(deal_conditions)})"
			)
	where = " and ".join(conditions)
	# one pass over the read index: the flags summed per stage, and the finished stays per tenth of a day
	durations: dict[str, list] = {}
	for stage, finished, days, entered, went_on, won, lost, still_here, stays in frappe.db.sql(
		f"""select summary.`sales_stage`, summary.`finished`,
			if(summary.`finished`, round(summary.`days`, 1), null) as days, sum(summary.`first_visit`),
			sum(summary.`went_on`), sum(summary.`won`), sum(summary.`lost`), sum(summary.`still_here`),
			count(*)
		from `tab{funnel_rows.ENTRY}` summary force index (`op_stage_entry_read_index`)
		where {where}
		group by summary.`sales_stage`, summary.`finished`, days order by null""",
		values,
	):
		builder.add_counts(stage, entered, went_on, won, lost, still_here)
		if finished:
			durations.setdefault(stage, []).append((days, stays))
	for stage, pairs in durations.items():
		builder.add_durations(stage, pairs)
	for status, count in frappe.db.sql(
		f"""select `tabOpportunity`.`status`, count(*) from `tabOpportunity` force index (`op_creation_index`)
		where {" and ".join(deal_conditions)} group by `tabOpportunity`.`status` order by null""",
		values,
	):
		builder.add_deals(status, count)


def _deal_paths(company, pipeline, start, end, territories, owner):
	"""Each readable deal of the window in `pipeline` now, with its stage and status history (read for
	a batch of deals at a time)."""
	conditions = [
		"`tabOpportunity`.`company` = %(company)s",
		"`tabOpportunity`.`creation` >= %(start)s",
		"`tabOpportunity`.`creation` <= %(end)s",
		f"{pipeline_column()} = %(pipeline)s",
	]
	values = {
		"company": company,
		"start": datetime.combine(start, time.min),
		"end": datetime.combine(end, time.max),
		"pipeline": pipeline,
	}
	if territories:
		conditions.append("`tabOpportunity`.`territory` in %(territories)s")
		values["territories"] = territories
	if owner:
		conditions.append("`tabOpportunity`.`opportunity_owner` = %(owner)s")
		values["owner"] = owner
	scope = read_scope()
	if scope.condition:
		conditions.append(f"({scope.condition})")
		values.update(scope.values)
	rows = frappe.db.sql(
		f"""
		select `name`, `creation`, `sales_stage`, `status`, `op_closed_on`
		from `tabOpportunity`
		where {" and ".join(conditions)}
		""",
		values,
	)
	for offset in range(0, len(rows), BATCH):
		batch = rows[offset : offset + BATCH]
		events: dict[str, list[Event]] = {}
		for name, field, from_value, to_value, changed_on in frappe.db.sql(
			"""
			select `opportunity`, `changed_field`, `from_value`, `to_value`, `changed_on`
			from `tabOpportunity History`
			where `opportunity` in %(names)s and `changed_field` in %(fields)s
			order by `opportunity`, `changed_on`, `changed_field` = 'status', `creation`, `name`
			""",
			{"names": [row[0] for row in batch], "fields": (STAGE_FIELD, STATUS_FIELD)},
		):
			events.setdefault(name, []).append(Event(field, from_value, to_value, changed_on))
		for name, creation, stage, status, closed_on in batch:
			yield DealPath(
				created=creation,
				stage=stage or None,
				status=status,
				closed_on=closed_on,
				events=tuple(events.get(name, ())),
			)
