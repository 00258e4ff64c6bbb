"""Pipeline movement and the forecast as of a past date, over REST.

`GET /api/method/opportunity_plus.api.movement.get_movement` — the open pipeline of a period of close
dates as it stood on date A, what changed it until date B (new deals, amounts raised and lowered, pulled
into the period, pushed out of it, won, lost, closed, reopened), and the pipeline on B; each step lists
its deals. `GET ...get_forecast_as_of` — the open pipeline by stage or by forecast category as it stood
on a past date.

Both rebuild past states from the deal history (core.movement): only the opportunities changed or
created since the earlier date are read one by one; the rest are as they are now and come from the
pipeline summary. A date stands for the end of that day. Opportunities older than the deal history
(created before the app recorded it) are never guessed: they are reported as "no history before …".
The caller sees only the opportunities they may read (permissions.read_scope). Territory, owner and the
Sales Pipeline (`pipeline` keeps one pipeline's deals) are taken as they are now: a deal moved to another
pipeline counts in its new pipeline's past too (the deal history records the move, and its stage then).
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

import frappe
from frappe import _
from frappe.utils import add_months, flt, get_datetime, get_first_day, get_last_day, getdate, nowdate
from frappe.utils.nestedset import get_descendants_of

from opportunity_plus import planning, summary
from opportunity_plus.api.forecast import default_company, pipeline_column
from opportunity_plus.api.utils import check_exists, echo, parse_date, parse_int, parse_name, parse_pipeline
from opportunity_plus.core import movement as core
from opportunity_plus.core.stages import OPEN_STATUSES
from opportunity_plus.permissions import read_scope
from opportunity_plus.pipeline import get_pipelines, get_stages, ordered_stages

HISTORY_SINCE_DEFAULT = "opportunity_plus_history_since"
MAX_LIMIT = 500
BATCH = 2000
GROUPINGS = ("stage", "category")


def step_labels() -> dict[str, str]:
	return {
		core.NEW: _("New deals"),
		core.RAISED: _("Amounts raised"),
		core.LOWERED: _("Amounts lowered"),
		core.PULLED_IN: _("Pulled into the period"),
		core.PUSHED_OUT: _("Close date moved out of the period"),
		core.WON: _("Won"),
		core.LOST: _("Lost"),
		core.CLOSED: _("Closed"),
		core.REOPENED: _("Reopened"),
		core.NO_HISTORY: _("No history before the deal history began"),
	}


@frappe.whitelist()
@frappe.read_only()
def get_movement(
	company: str | None = None,
	from_date: str | None = None,
	to_date: str | None = None,
	period: str | None = None,
	period_start: str | None = None,
	period_end: str | None = None,
	territory: str | None = None,
	opportunity_owner: str | None = None,
	limit: int = 50,
	pipeline: str | None = None,
) -> dict:
	"""How the open pipeline of the period (`period`: "2026-12", "2026-Q4" or a fiscal year's name; or
	close dates `period_start`..`period_end`; default: this quarter) moved from the end of `from_date` (default: 7 days ago) to the end of `to_date` (default:
	today). Each step lists up to `limit` of its deals, largest first. `pipeline`: one Sales Pipeline's
	deals only."""
	context = context_of(
		company, period_start, period_end, territory, opportunity_owner, period, pipeline=pipeline
	)
	today = getdate(nowdate())
	start_day = parse_date(from_date, _("From Date")) or today - timedelta(days=7)
	end_day = parse_date(to_date, _("To Date")) or today
	limit = parse_int(limit, _("Limit"), 1, MAX_LIMIT)
	if start_day >= end_day:
		frappe.throw(_("From Date {0} must be before To Date {1}.").format(start_day, end_day))
	if end_day > today:
		frappe.throw(_("To Date {0} is in the future: the pipeline can be told up to today.").format(end_day))
	known_since = history_since()
	result = compute_movement(
		context, _end_of(start_day), None if end_day == today else _end_of(end_day), listed=limit
	)
	labels = step_labels()
	steps = []
	for step in core.STEPS:
		found = result.steps[step]
		if not found.count:
			continue
		listed = sorted(found.deals, key=lambda deal: abs(deal["amount"]), reverse=True)[:limit]
		steps.append(
			{
				"step": step,
				"label": labels[step],
				"amount": _money(found.amount),
				"count": found.count,
				"deals": [{**deal, "amount": _money(deal["amount"])} for deal in listed],
			}
		)
	return {
		**_header(context),
		"from_date": str(start_day),
		"to_date": str(end_day),
		"history_since": str(known_since),
		"opening": _money(result.opening),
		"closing": _money(result.closing),
		"steps": steps,
		"balanced": result.balanced,
	}


@frappe.whitelist()
@frappe.read_only()
def get_forecast_as_of(
	company: str | None = None,
	as_of: str | None = None,
	group_by: str = "stage",
	period: str | None = None,
	period_start: str | None = None,
	period_end: str | None = None,
	territory: str | None = None,
	opportunity_owner: str | None = None,
	pipeline: str | None = None,
) -> dict:
	"""The open pipeline of the period by stage or forecast category as it stood at the end of `as_of`
	(default: today): deals, amount and weighted amount per group. `pipeline`: one Sales Pipeline's
	deals only."""
	if group_by not in GROUPINGS:
		frappe.throw(_("Group by stage or category, not {0}.").format(echo(group_by)))
	context = context_of(
		company, period_start, period_end, territory, opportunity_owner, period, pipeline=pipeline
	)
	today = getdate(nowdate())
	day = parse_date(as_of, _("As Of")) or today
	if day > today:
		frappe.throw(_("As Of {0} is in the future: the pipeline can be told up to today.").format(day))
	known_since = history_since()
	groups, unknown = forecast_as_of(context, _end_of(day), group_by, day < today)
	order = _group_order(group_by, context["pipeline"])
	rows = [
		{
			"key": key,
			"count": totals.count,
			"amount": _money(totals.amount),
			"weighted_amount": _money(totals.weighted),
		}
		for key, totals in sorted(groups.items(), key=lambda item: order(item[0]))
	]
	return {
		**_header(context),
		"as_of": str(day),
		"group_by": group_by,
		"history_since": str(known_since),
		"rows": rows,
		"total": {
			"count": sum(row["count"] for row in rows),
			"amount": flt(sum(row["amount"] for row in rows), 2),
			"weighted_amount": flt(sum(row["weighted_amount"] for row in rows), 2),
		},
		"no_history": {"count": unknown.count, "amount": _money(unknown.amount)},
	}


def forecast_as_of(
	context: dict, moment: datetime, group_by: str, past: bool = True
) -> tuple[dict, core.Totals]:
	"""The open pipeline of `context` by stage or category at `moment`, and what cannot be told (deals
	that existed before the deal history began, when `moment` is before it)."""
	known_since = history_since()
	now_by_group = {
		row[group_by]: core.Totals(
			row.deal_count, Decimal(str(row.base_amount)), Decimal(str(row.weighted_amount))
		)
		for row in _open_now(context, group_by)
	}
	unknown = core.Totals()
	deals = []
	if past:
		where, values = _where(context)
		values["moment"] = moment
		in_pipeline = _in_pipeline_now(context, values)
		# deals created after the moment were not there; before the history began, none can be told
		created = "`tabOpportunity`.`creation` > %(moment)s"
		_subtract(now_by_group, _grouped(f"{where} and {in_pipeline} and {created}", values, group_by))
		if moment < known_since:
			unknown_by_group = _grouped(f"{where} and {in_pipeline} and not ({created})", values, group_by)
			_subtract(now_by_group, unknown_by_group)
			for totals in unknown_by_group.values():
				unknown.count += totals.count
				unknown.amount += totals.amount
				unknown.weighted += totals.weighted
		else:
			deals = _deals_changed_since(context, moment)
	categories_of = _stage_categories()

	def group_of(state):
		if group_by == "stage":
			return state.stage or None
		return state.category or core.effective_category(state, categories_of(state.pipeline))

	groups, _unknown = core.as_of(now_by_group, deals, moment, context["period"], group_of)
	return groups, unknown


def compute_movement(
	context: dict, start: datetime, end: datetime | None, listed: int = MAX_LIMIT
) -> core.Movement:
	"""The movement of the open pipeline of `context` between two moments (`end` None: now).

	Rebuilt one by one: deals that existed at `start` and changed since (and, with an `end`, deals
	created by then that changed after it). Summed by the database: deals created since `start` and
	unchanged after `end` (new), deals created after `end` (in neither), and, for a `start` before the
	deal history began, the deals that existed then (no history).
	"""
	known_since = history_since()
	known = start >= known_since
	pipeline_now = sum((Decimal(str(row.base_amount)) for row in _open_now(context, ())), Decimal(0))
	where, values = _where(context)
	values.update(start=start, end=end, known_since=known_since)
	after_end = "history.`changed_on` > %(end)s" if end else "0"
	changed_after_end = (
		f"exists (select 1 from `tabOpportunity History` history where history.`opportunity` = "
		f"`tabOpportunity`.`name` and {after_end})"
		if end
		else "0"
	)
	# one by one: existed at start and changed since (when known), or changed after the end
	names = frappe.db.sql_list(
		f"""
		select distinct `tabOpportunity`.`name` from `tabOpportunity History` history
		join `tabOpportunity` on `tabOpportunity`.`name` = history.`opportunity`
		where {where} and history.`changed_on` > %(start)s and (
			(`tabOpportunity`.`creation` <= %(start)s and {"1" if known else "0"})
			or ({after_end} and `tabOpportunity`.`creation` <= {"%(end)s" if end else "now(6)"})
		)
		""",
		values,
	)
	deals = [
		deal
		for offset in range(0, len(names), BATCH)
		for deal in _load(names[offset : offset + BATCH], start)
	]
	in_pipeline = _in_pipeline_now(context, values)
	aggregates = [
		# created since start, as they are now (no change after the end): new in the pipeline
		_aggregate(
			f"{where} and {in_pipeline} and `tabOpportunity`.`creation` > %(start)s"
			+ (" and `tabOpportunity`.`creation` <= %(end)s" if end else "")
			+ f" and not {changed_after_end}",
			values,
			step=core.NEW,
			listed=listed,
		),
	]
	if end:
		# created after the end: in neither the opening nor the closing
		aggregates.append(
			_aggregate(
				f"{where} and {in_pipeline} and `tabOpportunity`.`creation` > %(end)s",
				values,
				step=None,
				in_closing=False,
				listed=0,
			)
		)
	if not known:
		# existed before the deal history began: not told at start, as they are now at the end
		aggregates.append(
			_aggregate(
				f"{where} and {in_pipeline} and `tabOpportunity`.`creation` <= %(start)s and not {changed_after_end}",
				values,
				step=core.NO_HISTORY,
				listed=listed,
			)
		)
	return core.movement(pipeline_now, deals, start, end, context["period"], known_since, aggregates)


def _where(context) -> tuple[str, dict]:
	"""The company, filters and the caller's read restriction, over `tabOpportunity`."""
	scope = read_scope()
	conditions = ["`tabOpportunity`.`company` = %(company)s"]
	values = {"company": context["company"], **scope.values}
	if context["territories"]:
		conditions.append("`tabOpportunity`.`territory` in %(territories)s")
		values["territories"] = context["territories"]
	if context["owner"]:
		conditions.append("`tabOpportunity`.`opportunity_owner` = %(owner)s")
		values["owner"] = context["owner"]
	if context["pipeline"]:
		conditions.append(f"{pipeline_column()} = %(pipeline)s")
		values["pipeline"] = context["pipeline"]
	if scope.condition:
		conditions.append(f"({scope.condition})")
	return " and ".join(conditions), values


def _in_pipeline_now(context, values: dict) -> str:
	period = context["period"]
	values.update(open_statuses=sorted(OPEN_STATUSES), period_start=period.start, period_end=period.end)
	condition = "`tabOpportunity`.`status` in %(open_statuses)s"
	if period.start:
		condition += " and `tabOpportunity`.`expected_closing` >= %(period_start)s"
	if period.end:
		condition += " and `tabOpportunity`.`expected_closing` <= %(period_end)s"
	return condition


GROUP_COLUMNS = {
	"stage": "`tabOpportunity`.`sales_stage`",
	"category": "`tabOpportunity`.`op_effective_forecast_category`",
}


def _grouped(where: str, values: dict, group_by: str) -> dict:
	rows = frappe.db.sql(
		f"""select nullif({GROUP_COLUMNS[group_by]}, '') as grp, count(*) as deals,
			ifnull(sum(`base_opportunity_amount`), 0) as amount,
			ifnull(sum(round(`base_opportunity_amount` * `probability` / 100, 9)), 0) as weighted
		from `tabOpportunity` where {where} group by grp""",
		values,
		as_dict=True,
	)
	return {
		row.grp: core.Totals(row.deals, Decimal(str(row.amount)), Decimal(str(row.weighted))) for row in rows
	}


def _subtract(totals_by_group: dict, part: dict) -> None:
	for group, totals in part.items():
		target = totals_by_group.setdefault(group, core.Totals())
		target.count -= totals.count
		target.amount -= totals.amount
		target.weighted -= totals.weighted


def _aggregate(where: str, values: dict, *, step, listed: int, in_closing: bool = True) -> core.Aggregate:
	total = frappe.db.sql(
		f"""select count(*) as deals, ifnull(sum(`base_opportunity_amount`), 0) as amount
		from `tabOpportunity` where {where}""",
		values,
		as_dict=True,
	)[0]
	top = (
		frappe.db.sql(
			f"""select `name`, `title`, `base_opportunity_amount` as amount from `tabOpportunity`
			where {where} order by `base_opportunity_amount` desc limit {int(listed)}""",
			values,
			as_dict=True,
		)
		if listed and total.deals
		else []
	)
	return core.Aggregate(
		amount=Decimal(str(total.amount)),
		count=total.deals,
		step=step,
		in_closing=in_closing,
		deals=tuple(
			{"name": row.name, "title": row.title, "amount": Decimal(str(row.amount))} for row in top
		),
	)


# --- shared ----------------------------------------------------------------------------------------


def history_since() -> datetime:
	"""When the deal history began on this site (set on install; on older installs, the first history
	row). Before it, the state of an opportunity that already existed is not known."""
	value = frappe.db.get_default(HISTORY_SINCE_DEFAULT)
	return get_datetime(value) if value else datetime.min


def record_history_since() -> None:
	"""On install and migrate: remember when the deal history began, once."""
	if frappe.db.get_default(HISTORY_SINCE_DEFAULT):
		return
	first = frappe.db.sql("select min(`changed_on`) from `tabOpportunity History`")[0][0]
	frappe.db.set_default(HISTORY_SINCE_DEFAULT, str(first or frappe.utils.now_datetime()))


def _end_of(day) -> datetime:
	return datetime.combine(day, time.max)


def _money(value) -> float:
	return flt(value, 2) + 0.0


def context_of(company, period_start, period_end, territory, owner, period=None, pipeline=None) -> dict:
	company = parse_name(company, _("Company"), required=False) or default_company()
	if not company or not frappe.db.exists("Company", company):
		frappe.throw(
			_("Select a company: the pipeline never mixes companies' currencies."), title=_("Company")
		)
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	start = parse_date(period_start, _("Period Start"))
	end = parse_date(period_end, _("Period End"))
	if period:
		resolved = planning.resolve_period(period, planning.fiscal_years(company))
		start, end = resolved.start, resolved.end
	elif not start and not end:
		today = getdate(nowdate())
		start = get_first_day(today).replace(month=(today.month - 1) // 3 * 3 + 1)
		end = get_last_day(add_months(start, 2))
	if start and end and start > end:
		frappe.throw(_("Period Start {0} is after Period End {1}.").format(start, end))
	territory = parse_name(territory, _("Territory"), required=False)
	territories = None
	if territory:
		if not frappe.db.exists("Territory", territory):
			frappe.throw(_("Territory {0} does not exist.").format(frappe.utils.escape_html(territory)))
		territories = [territory, *get_descendants_of("Territory", territory, ignore_permissions=True)]
	owner = parse_name(owner, _("Opportunity Owner"), required=False)
	if owner:
		check_exists("User", owner, _("Opportunity Owner"))
	return {
		"company": company,
		"period": core.Period(start, end),
		"territory": territory,
		"territories": territories,
		"owner": owner,
		"pipeline": parse_pipeline(pipeline),
	}


def _header(context) -> dict:
	period = context["period"]
	return {
		"company": context["company"],
		"currency": frappe.get_cached_value("Company", context["company"], "default_currency"),
		"period_start": str(period.start) if period.start else None,
		"period_end": str(period.end) if period.end else None,
		"territory": context["territory"],
		"opportunity_owner": context["owner"],
		"pipeline": context["pipeline"],
	}


def _open_now(context, group_by) -> list:
	period = context["period"]
	return summary.open_pipeline(
		context["company"],
		period.start,
		period.end,
		territories=context["territories"],
		owner=context["owner"],
		pipeline=context["pipeline"],
		group_by=group_by,
	)


def _deals_changed_since(context, moment: datetime) -> list[core.Deal]:
	"""The readable opportunities of `context` that existed at `moment` and changed since, with their
	history rows since (the rest were at `moment` as they are now, or did not exist yet)."""
	where, values = _where(context)
	values["moment"] = moment
	names = frappe.db.sql_list(
		f"""
		select distinct `tabOpportunity`.`name` from `tabOpportunity History` history
		join `tabOpportunity` on `tabOpportunity`.`name` = history.`opportunity`
		where {where} and history.`changed_on` > %(moment)s and `tabOpportunity`.`creation` <= %(moment)s
		""",
		values,
	)
	return [
		deal
		for offset in range(0, len(names), BATCH)
		for deal in _load(names[offset : offset + BATCH], moment)
	]


def _load(names: list[str], moment: datetime) -> list[core.Deal]:
	category = summary._category_column()
	override = (
		"`op_forecast_category`" if frappe.db.has_column("Opportunity", "op_forecast_category") else "null"
	)
	rows = frappe.db.sql(
		f"""
		select `name`, `title`, `creation`, `status`, `sales_stage`, `opportunity_amount`, `conversion_rate`,
			`base_opportunity_amount`, `probability`, `expected_closing`, {override} as category_override,
			{category} as category, {pipeline_column()} as pipeline
		from `tabOpportunity` where `name` in %(names)s
		""",
		{"names": names},
		as_dict=True,
	)
	changes: dict[str, list] = {}
	for row in frappe.db.sql(
		"""
		select `opportunity`, `changed_on`, `changed_field`, `from_value`
		from `tabOpportunity History`
		where `opportunity` in %(names)s and `changed_on` > %(moment)s
		""",
		{"names": names, "moment": moment},
		as_dict=True,
	):
		changes.setdefault(row.opportunity, []).append((row.changed_on, row.changed_field, row.from_value))
	return [
		core.Deal(
			name=row.name,
			created=row.creation,
			now=core.DealState(
				status=row.status,
				stage=row.sales_stage or None,
				amount=Decimal(str(row.base_opportunity_amount or 0)),
				probability=Decimal(str(row.probability or 0)),
				close_date=row.expected_closing,
				category_override=row.category_override or None,
				category=row.category or None,
				pipeline=row.pipeline or None,
			),
			current_amount=Decimal(str(row.opportunity_amount or 0)),
			conversion_rate=Decimal(str(row.conversion_rate or 1)),
			changes=tuple(changes.get(row.name, ())),
			title=row.title,
		)
		for row in rows
	]


def _stage_categories():
	"""A function of a deal's pipeline giving each stage's default forecast category there (a stage
	outside that pipeline: as across pipelines)."""
	every = {name: stage.forecast_category or "" for name, stage in get_stages().items()}
	per_pipeline = {
		name: {**every, **{row.stage.name: row.stage.forecast_category or "" for row in found.stages}}
		for name, found in get_pipelines().items()
	}
	return lambda pipeline: per_pipeline.get(pipeline, every)


def _group_order(group_by: str, pipeline: str | None = None):
	if group_by == "category":
		order = {
			name: index for index, name in enumerate(("Commit", "Best Case", "Pipeline", "Closed", "Omitted"))
		}
	else:
		order = {stage.name: index for index, stage in enumerate(ordered_stages(pipeline))}
	return lambda key: (order.get(key, len(order)), key or "")
