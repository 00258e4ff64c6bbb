"""The forecast call's glue: who is whose manager, the computed figures, submissions and weekly snapshots.

Sales persons are ERPNext's Sales Person tree; a user is a sales person through the Employee whose user
they are (planning.sales_persons_of). A person's figures include their team's (the subtree's) deals, as
the forecast by category and the targets roll them up.

Who sees what (Forecast Submission, Forecast Snapshot, and every method of api.forecast_call):
- a sales person sees their own calls and snapshots and those of everyone below them in the tree;
- an adjustment is seen by the manager who made it and everyone above them (not by the adjusted rep);
- a Sales Manager (and Administrator) sees all of them;
- nobody edits or deletes one; a person submits only their own call, and adjusts only a direct report's
  (a Sales Manager: anyone's).
The computed figures are those of every deal of the person and their team, whoever is looking: a call is
made on the team's real numbers; they are shown only to the people above.
"""

import hashlib
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal

import frappe
from frappe import _
from frappe.utils import getdate, now_datetime, nowdate

from opportunity_plus import bulk, planning
from opportunity_plus.core import categories as category_rules
from opportunity_plus.core import targets as target_rules
from opportunity_plus.core.forecast_call import Call, Figures, subtree_figures, week_start

SUBMISSION = "Forecast Submission"
SNAPSHOT = "Forecast Snapshot"
SALES_PERSON = "Sales Person"
CALL = "Call"
ADJUSTMENT = "Adjustment"
MANAGER_ROLES = ("Sales Manager", "System Manager")
PERIOD_KINDS = {"Month": "month", "Quarter": "quarter", "Fiscal Year": "fiscal_year"}


# --- the tree and the caller ------------------------------------------------------------------------


def tree() -> list:
	return planning.tree(SALES_PERSON)


def members_of(nodes=None) -> dict[str, list[str]]:
	"""Each sales person with itself and everyone below them."""
	return target_rules.subtrees(nodes if nodes is not None else tree())


def children_by_parent(nodes) -> dict[str, list[str]]:
	"""Each manager's direct reports."""
	found: dict[str, list[str]] = {}
	for node in nodes:
		if node.parent:
			found.setdefault(node.parent, []).append(node.name)
	return found


def children_of(person: str, nodes=None) -> list[str]:
	return children_by_parent(nodes if nodes is not None else tree()).get(person, [])


def own_person(user: str | None = None) -> str | None:
	"""The caller's Sales Person (through their Employee), or None."""
	user = user or frappe.session.user
	return planning.sales_persons_of([user]).get(user)


def sees_everyone(user: str | None = None) -> bool:
	user = user or frappe.session.user
	return user == "Administrator" or "Sales Manager" in frappe.get_roles(user)


def visible_persons(user: str | None = None) -> set[str] | None:
	"""The sales persons whose calls and snapshots `user` sees; None: every one."""
	user = user or frappe.session.user
	if sees_everyone(user):
		return None
	mine = own_person(user)
	if not mine:
		return set()
	return set(members_of().get(mine, [mine]))


def check_sees(person: str) -> None:
	visible = visible_persons()
	if visible is not None and person not in visible:
		frappe.throw(
			_("You may not see the forecast of Sales Person {0}: only your own and your team's.").format(
				frappe.bold(person)
			),
			frappe.PermissionError,
		)


# --- permissions (hooks) ------------------------------------------------------------------------------


def _in_list(column: str, names: set[str]) -> str:
	return f"{column} in ({', '.join(frappe.db.escape(name) for name in sorted(names))})"


def submission_query(user: str | None = None, doctype: str | None = None) -> str:
	visible = visible_persons(user)
	if visible is None:
		return ""
	if not visible:
		return "1 = 0"
	table = f"`tab{SUBMISSION}`"
	return (
		f"(({table}.`submission_type` = 'Call' and {_in_list(f'{table}.`sales_person`', visible)}) or "
		f"({table}.`submission_type` = 'Adjustment' and {_in_list(f'{table}.`adjusted_by`', visible)}))"
	)


def submission_has_permission(doc, ptype: str = "read", user: str | None = None) -> bool:
	if ptype not in ("read", "report", "export", "print", "create"):
		return False  # never edited, deleted or shared
	if ptype == "create" or doc.is_new():
		return True  # validate decides, with a message
	visible = visible_persons(user)
	if visible is None:
		return True
	person = doc.adjusted_by if doc.submission_type == ADJUSTMENT else doc.sales_person
	return bool(person) and person in visible


def snapshot_query(user: str | None = None, doctype: str | None = None) -> str:
	visible = visible_persons(user)
	if visible is None:
		return ""
	if not visible:
		return "1 = 0"
	return _in_list(f"`tab{SNAPSHOT}`.`sales_person`", visible)


def snapshot_has_permission(doc, ptype: str = "read", user: str | None = None) -> bool:
	if ptype not in ("read", "report", "export", "print"):
		return False  # written by the app only
	visible = visible_persons(user)
	return visible is None or doc.sales_person in visible


# --- periods --------------------------------------------------------------------------------------------


def default_period_kind() -> str:
	setting = frappe.db.get_single_value("Opportunity Plus Settings", "forecast_call_period") or "Quarter"
	return PERIOD_KINDS.get(setting, "quarter")


def resolve(company: str, period: str | None):
	"""The period (default: the current one of the settings' kind) and the company's fiscal years."""
	years = planning.fiscal_years(company)
	if not period:
		try:
			return target_rules.period_of(getdate(nowdate()), default_period_kind(), years), years
		except target_rules.PeriodError:
			return target_rules.period_of(getdate(nowdate()), "quarter", years), years
	return planning.resolve_period(period, years), years


# --- the computed figures -----------------------------------------------------------------------------


@contextmanager
def every_deal():
	"""The figures of a call are the person's and team's whole numbers (see the module docstring): the
	readers count every opportunity inside this block (permissions.read_scope)."""
	previous = frappe.flags.op_read_every_opportunity
	frappe.flags.op_read_every_opportunity = True
	try:
		yield
	finally:
		frappe.flags.op_read_every_opportunity = previous


def computed(company: str, period, years, nodes=None) -> tuple[dict[str, Figures], dict[str, Figures]]:
	"""(each sales person's team figures, each one's own deals' figures) for the period."""
	from opportunity_plus.api.categories import _buckets

	nodes = nodes if nodes is not None else tree()
	with every_deal():
		buckets = _buckets(company, [period], None)
	person_of = planning.sales_persons_of(row.owner for row in buckets)
	sums: dict[str, dict[str, Decimal]] = {}
	for row in buckets:
		person = person_of.get(row.owner)
		if not person or row.period != period.key:
			continue
		by_category = sums.setdefault(person, {})
		by_category[row.category] = by_category.get(row.category, Decimal(0)) + Decimal(
			str(row.base_amount or 0)
		)
	own = {}
	for person, by_category in sums.items():
		commit = by_category.get(category_rules.COMMIT, Decimal(0))
		best_case = commit + by_category.get(category_rules.BEST_CASE, Decimal(0))
		own[person] = Figures(
			closed=by_category.get(category_rules.CLOSED, Decimal(0)),
			commit=commit,
			best_case=best_case,
			pipeline=best_case + by_category.get(category_rules.PIPELINE, Decimal(0)),
		)
	own_targets = target_rules.period_targets(planning.target_rows(SALES_PERSON), period, years)
	targets = target_rules.rolled_targets(nodes, own_targets)
	team = subtree_figures(own, members_of(nodes), targets)
	own_with_targets = {
		node.name: Figures(**{**_plain(own.get(node.name, Figures())), "target": own_targets.get(node.name)})
		for node in nodes
	}
	return team, own_with_targets


def _plain(figures: Figures) -> dict:
	return {
		"closed": figures.closed,
		"commit": figures.commit,
		"best_case": figures.best_case,
		"pipeline": figures.pipeline,
	}


def figures_dict(figures: Figures | None) -> dict | None:
	if figures is None:
		return None
	return {
		"closed": _money(figures.closed),
		"commit": _money(figures.commit),
		"best_case": _money(figures.best_case),
		"pipeline": _money(figures.pipeline),
		"target": None if figures.target is None else _money(figures.target),
		"gap": None if figures.gap is None else _money(figures.gap),
		"coverage": None if figures.coverage is None else round(figures.coverage, 2),
	}


def _money(value) -> float:
	return round(float(value or 0), 2) + 0.0


# --- submissions -----------------------------------------------------------------------------------------


def calls(company: str, period: str, persons: list[str], kind: str = CALL, adjusted_by=None) -> dict:
	"""Every submission of `kind` for the persons and period, oldest first, per sales person (adjustments
	only by `adjusted_by`, when given; a Sales Manager's without a Sales Person: adjusted_by blank)."""
	if not persons:
		return {}
	filters = {
		"company": company,
		"period": period,
		"sales_person": ("in", persons),
		"submission_type": kind,
	}
	if kind == ADJUSTMENT and adjusted_by is not False:
		filters["adjusted_by"] = adjusted_by or ("is", "not set")
	found: dict[str, list] = {}
	for row in frappe.get_all(
		SUBMISSION,
		filters=filters,
		fields=[
			"name",
			"sales_person",
			"commit_amount",
			"best_case_amount",
			"note",
			"submitted_on",
			"submitted_by",
			"adjusted_by",
		],
		order_by="submitted_on asc, creation asc",
	):
		found.setdefault(row.sales_person, []).append(row)
	return found


def as_datetime_end(day: date) -> datetime:
	return datetime.combine(day, time.max)


def as_call(row) -> Call | None:
	if row is None:
		return None
	return Call(
		commit=Decimal(str(row.commit_amount or 0)),
		best_case=Decimal(str(row.best_case_amount or 0)),
		submitted_on=row.submitted_on,
		note=row.note,
	)


def call_dict(row) -> dict | None:
	if row is None:
		return None
	return {
		"name": row.name,
		"commit": _money(row.commit_amount),
		"best_case": _money(row.best_case_amount),
		"note": row.note,
		"submitted_on": str(row.submitted_on) if row.submitted_on else None,
		"submitted_by": row.submitted_by,
	}


# --- snapshots -------------------------------------------------------------------------------------------


SNAPSHOT_COLUMNS = (
	"name",
	"creation",
	"modified",
	"owner",
	"modified_by",
	"docstatus",
	"idx",
	"company",
	"period",
	"sales_person",
	"week_start",
	"taken_on",
	"currency",
	"closed",
	"commit_amount",
	"best_case",
	"pipeline",
	"has_target",
	"target",
	"gap",
	"coverage",
)
UPDATED_COLUMNS = ("modified", "modified_by", "taken_on", "closed", "commit_amount", "best_case", "pipeline")
UPDATED_COLUMNS += ("has_target", "target", "gap", "coverage", "currency")


def snapshot_name(company: str, period: str, person: str, week: date) -> str:
	"""One snapshot per company, period, sales person and week: its name says which."""
	key = "\x1f".join((company, period, person, str(week)))
	return hashlib.sha1(key.encode()).hexdigest()[:20]


def store_snapshots(
	company: str, period: str, figures: dict[str, Figures], moment: datetime | None = None
) -> int:
	"""Keep this week's figures of each sales person: one row per week, the latest computation of the week
	(an upsert: running twice, or two runs at once, leaves one row per person and week)."""
	if not figures:
		return 0
	moment = moment or now_datetime()
	week = week_start(moment)
	currency = frappe.get_cached_value("Company", company, "default_currency")
	user = frappe.session.user
	rows = []
	for person, values in sorted(figures.items()):
		rows.append(
			(
				snapshot_name(company, period, person, week),
				moment,
				moment,
				user,
				user,
				0,
				0,
				company,
				period,
				person,
				week,
				moment,
				currency,
				values.closed,
				values.commit,
				values.best_case,
				values.pipeline,
				int(values.target is not None),
				values.target or 0,
				values.gap or 0,
				values.coverage or 0,
			)
		)
	bulk.upsert(SNAPSHOT, SNAPSHOT_COLUMNS, rows, UPDATED_COLUMNS)
	return len(rows)


def snapshots(company: str, period: str, persons: list[str]) -> dict[str, dict[date, Figures]]:
	"""The stored weekly figures of the persons for the period: person → week → figures."""
	if not persons:
		return {}
	found: dict[str, dict[date, Figures]] = {}
	for row in frappe.get_all(
		SNAPSHOT,
		filters={"company": company, "period": period, "sales_person": ("in", persons)},
		fields=[
			"sales_person",
			"week_start",
			"closed",
			"commit_amount",
			"best_case",
			"pipeline",
			"has_target",
			"target",
		],
		order_by="week_start asc",
		limit_page_length=0,
	):
		found.setdefault(row.sales_person, {})[getdate(row.week_start)] = Figures(
			closed=Decimal(str(row.closed or 0)),
			commit=Decimal(str(row.commit_amount or 0)),
			best_case=Decimal(str(row.best_case or 0)),
			pipeline=Decimal(str(row.pipeline or 0)),
			target=Decimal(str(row.target or 0)) if row.has_target else None,
		)
	return found


def take_snapshots(company: str | None = None, moment: datetime | None = None) -> dict:
	"""This week's figures of every sales person for the current month, quarter and fiscal year of each
	company (or one), committed per company and period. Idempotent (see store_snapshots)."""
	moment = moment or now_datetime()
	companies = [company] if company else frappe.get_all("Company", pluck="name", order_by="name asc")
	nodes = tree()
	written = 0
	if not nodes:
		return {"companies": len(companies), "rows": 0}
	for name in companies:
		years = planning.fiscal_years(name)
		seen = set()
		for kind in ("month", "quarter", "fiscal_year"):
			try:
				period = target_rules.period_of(getdate(moment), kind, years)
			except target_rules.PeriodError:
				continue  # no fiscal year covers today
			if period.key in seen:
				continue
			seen.add(period.key)
			team, _own = computed(name, period, years, nodes)
			every = {node.name: team.get(node.name, Figures()) for node in nodes}
			written += store_snapshots(name, period.key, every, moment)
			frappe.db.commit()
	return {"companies": len(companies), "rows": written}
