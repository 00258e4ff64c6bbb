"""The forecast call over REST.

- `GET  opportunity_plus.api.forecast_call.get_forecast_call?company=…&period=…&sales_person=…`: a sales
  person's call for a period (default: the caller's own, the current period of the settings' kind): the
  computed figures (with the team's), their calls, this week against last week, the trend of the period's
  weeks, and each direct report's latest call, the caller's adjustment and the computed figures.
- `POST opportunity_plus.api.forecast_call.submit_call` (company, period, commit, best_case, note): the
  caller's own call.
- `POST opportunity_plus.api.forecast_call.adjust_call` (company, period, sales_person, commit, best_case,
  note): a manager's adjustment of a direct report's call (a Sales Manager: anyone's).
- `GET  opportunity_plus.api.forecast_call.get_accuracy?company=…&period=…&sales_person=…`: each week's
  Commit call against what was won, per person of the caller's team.
- `GET  opportunity_plus.api.forecast_call.my_forecast_call`: the workspace card.
Who sees and does what: forecast_call.py.
"""

from datetime import timedelta

import frappe
from frappe import _
from frappe.utils import flt, getdate, nowdate

from opportunity_plus import forecast_call as glue
from opportunity_plus.api.utils import chart_filters, check_exists, echo, parse_name
from opportunity_plus.core import forecast_call as rules
from opportunity_plus.core import targets as target_rules

MAX_NOTE = 2000


def _company(company) -> str:
	from opportunity_plus import planning

	return planning.company_or_default(parse_name(company, _("Company"), required=False))


def _period(company: str, period):
	period = parse_name(period, _("Period"), required=False)
	return glue.resolve(company, period)


def _person(sales_person) -> str | None:
	"""The sales person asked for, else the caller's own; None for a caller who is none (a Sales Manager
	then picks one; anyone else is told to ask for a Sales Person)."""
	name = parse_name(sales_person, _("Sales Person"), required=False)
	if name:
		name = check_exists("Sales Person", name, _("Sales Person"))
		glue.check_sees(name)
		return name
	return glue.own_person()


def _header(company: str, period) -> dict:
	return {
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		"period": period.key,
		"period_kind": period.kind,
		"from_date": str(period.start),
		"to_date": str(period.end),
	}


def _no_person(company: str, period) -> dict:
	"""The answer for a caller who is no Sales Person and named none: what to do, no figures."""
	everyone = glue.sees_everyone()
	return {
		**_header(company, period),
		"sales_person": None,
		"reason": _("Pick a Sales Person to see their forecast call.")
		if everyone
		else _("Your user is not a Sales Person: ask your manager to link your Employee to a Sales Person."),
		"pick_from": [node.name for node in glue.tree() if not node.parent] if everyone else [],
	}


def _check_reader() -> None:
	if frappe.session.user == "Guest" or not (
		frappe.has_permission(glue.SUBMISSION, "read") or glue.sees_everyone()
	):
		frappe.throw(_("You are not permitted to read forecast calls."), frappe.PermissionError)


def _changes(this_week, last_week) -> list[dict]:
	return [
		{
			"name": change.name,
			"now": change.now,
			"before": change.before,
			"delta": change.delta,
			"direction": change.direction,
		}
		for change in rules.week_over_week(this_week, last_week)
	]


@frappe.whitelist()
@frappe.read_only()
def get_forecast_call(
	company: str | None = None, period: str | None = None, sales_person: str | None = None
) -> dict:
	"""A sales person's forecast call for a period and their direct reports' (see the module docstring).
	A caller who is no Sales Person and names none gets `sales_person` None and the `reason`."""
	_check_reader()
	company = _company(company)
	period, years = _period(company, period)
	person = _person(sales_person)
	if not person:
		return _no_person(company, period)
	nodes = glue.tree()
	children = glue.children_by_parent(nodes)
	reports = children.get(person, [])
	team, own = glue.computed(company, period, years, nodes)
	mine = glue.own_person()
	calls = glue.calls(company, period.key, [person, *reports])
	# the team's manager's adjustments of their reports
	adjustments = glue.calls(company, period.key, reports, glue.ADJUSTMENT, adjusted_by=person)
	stored = glue.snapshots(company, period.key, [person, *reports])
	this_week = rules.week_start(getdate(nowdate()))
	last_week = this_week - timedelta(days=7)

	lines, report_lines = [], []
	for report in reports:
		call = (calls.get(report) or [None])[-1]
		adjustment = (adjustments.get(report) or [None])[-1]
		line = rules.ReportLine(
			report, team.get(report, rules.Figures()), glue.as_call(call), glue.as_call(adjustment)
		)
		report_lines.append(line)
		weeks = stored.get(report, {})
		lines.append(
			{
				"sales_person": report,
				"has_team": bool(children.get(report)),
				"computed": glue.figures_dict(line.computed),
				"call": glue.call_dict(call),
				"adjustment": glue.call_dict(adjustment),
				"effective": _call_figures(line.effective),
				"week_over_week": _changes(weeks.get(this_week), weeks.get(last_week)),
			}
		)
	own_figures = own.get(person, rules.Figures())
	default = (
		rules.rolled_up_call(own_figures, report_lines)
		if reports
		else rules.suggested_call(team.get(person, rules.Figures()))
	)
	person_calls = calls.get(person, [])
	person_weeks = stored.get(person, {})
	trend = []
	for week in rules.weeks_of(period.start, period.end):
		if week > this_week:
			break
		figures = person_weeks.get(week)
		week_end = glue.as_datetime_end(week + timedelta(days=6))
		call = rules.latest([glue.as_call(row) for row in person_calls], until=week_end)
		if figures is None and call is None:
			continue
		trend.append(
			{
				"week": str(week),
				**(glue.figures_dict(figures) or {}),
				"call_commit": None if call is None else glue._money(call.commit),
				"call_best_case": None if call is None else glue._money(call.best_case),
			}
		)
	return {
		**_header(company, period),
		"week": str(this_week),
		"sales_person": person,
		"parent_sales_person": next((node.parent for node in nodes if node.name == person), None),
		"can_submit": person == mine,
		"can_adjust": bool(reports) and person == mine,
		"computed": glue.figures_dict(team.get(person, rules.Figures())),
		"own_deals": glue.figures_dict(own_figures),
		"call": glue.call_dict(person_calls[-1] if person_calls else None),
		"calls": [glue.call_dict(row) for row in reversed(person_calls)],
		"default_call": _call_figures(default),
		"week_over_week": _changes(person_weeks.get(this_week), person_weeks.get(last_week)),
		"trend": trend,
		"reports": lines,
	}


def _call_figures(call: rules.Call | None) -> dict | None:
	if call is None:
		return None
	return {"commit": glue._money(call.commit), "best_case": glue._money(call.best_case)}


def _amount(value, label: str):
	if value is None or value == "":
		frappe.throw(_("{0} is required.").format(label))
	if isinstance(value, bool) or not isinstance(value, int | float | str):
		frappe.throw(_("{0} must be an amount, not {1}.").format(label, echo(value)))
	try:
		number = float(value)
	except (TypeError, ValueError):
		number = None
	if number is None or number != number or number in (float("inf"), float("-inf")):
		frappe.throw(_("{0} must be an amount, not {1}.").format(label, echo(value)))
	return flt(number, 2)


def _note(note) -> str | None:
	if note is None or note == "":
		return None
	if not isinstance(note, str):
		frappe.throw(_("Note must be text, not {0}.").format(echo(note)))
	if len(note) > MAX_NOTE:
		frappe.throw(_("Note is too long: at most {0} characters.").format(MAX_NOTE))
	return note.strip() or None


def _submit(kind: str, company, period, sales_person, commit, best_case, note) -> dict:
	if not frappe.has_permission(glue.SUBMISSION, "create"):
		frappe.throw(_("You are not permitted to submit forecast calls."), frappe.PermissionError)
	company = _company(company)
	resolved, _years = _period(company, period)
	doc = frappe.get_doc(
		{
			"doctype": glue.SUBMISSION,
			"submission_type": kind,
			"company": company,
			"period": resolved.key,
			"sales_person": sales_person,
			"commit_amount": _amount(commit, _("Commit")),
			"best_case_amount": _amount(best_case, _("Best Case")),
			"note": _note(note),
		}
	)
	doc.insert()
	return {
		"name": doc.name,
		"submission_type": doc.submission_type,
		"company": doc.company,
		"period": doc.period,
		"sales_person": doc.sales_person,
		"adjusted_by": doc.adjusted_by,
		"commit": glue._money(doc.commit_amount),
		"best_case": glue._money(doc.best_case_amount),
		"note": doc.note,
		"submitted_on": str(doc.submitted_on),
		"computed": {
			"closed": glue._money(doc.computed_closed),
			"commit": glue._money(doc.computed_commit),
			"best_case": glue._money(doc.computed_best_case),
			"pipeline": glue._money(doc.computed_pipeline),
			"target": glue._money(doc.computed_target) if doc.has_target else None,
			"gap": glue._money(doc.computed_gap) if doc.has_target else None,
		},
	}


@frappe.whitelist(methods=["POST"])
def submit_call(
	commit: float | str | None = None,
	best_case: float | str | None = None,
	company: str | None = None,
	period: str | None = None,
	note: str | None = None,
) -> dict:
	"""The caller's own forecast call for the period (default: the current one)."""
	mine = glue.own_person()
	if not mine:
		frappe.throw(
			_("Your user is not a Sales Person: ask your manager to link your Employee to a Sales Person."),
			frappe.PermissionError,
		)
	return _submit(glue.CALL, company, period, mine, commit, best_case, note)


@frappe.whitelist(methods=["POST"])
def adjust_call(
	sales_person: str | None = None,
	commit: float | str | None = None,
	best_case: float | str | None = None,
	company: str | None = None,
	period: str | None = None,
	note: str | None = None,
) -> dict:
	"""A manager's adjustment of a direct report's call (a Sales Manager: of anyone's)."""
	person = check_exists("Sales Person", parse_name(sales_person, _("Sales Person")), _("Sales Person"))
	return _submit(glue.ADJUSTMENT, company, period, person, commit, best_case, note)


@frappe.whitelist()
@frappe.read_only()
def get_accuracy(
	company: str | None = None, period: str | None = None, sales_person: str | None = None
) -> dict:
	"""Each week's latest Commit call of the period against what was won in it, per person of the team of
	`sales_person` (default: the caller's own; a Sales Manager without one: the whole tree)."""
	_check_reader()
	company = _company(company)
	period, years = _period(company, period)
	nodes = glue.tree()
	members = glue.members_of(nodes)
	name = parse_name(sales_person, _("Sales Person"), required=False)
	if name:
		check_exists("Sales Person", name, _("Sales Person"))
		glue.check_sees(name)
		people = members.get(name, [name])
	else:
		mine = glue.own_person()
		if mine:
			people = members.get(mine, [mine])
		elif glue.sees_everyone():
			people = [node.name for node in nodes]
		else:
			people = []  # no Sales Person: no calls to hold against anything
	visible = glue.visible_persons()
	if visible is not None:
		people = [person for person in people if person in visible]
	team, _own = glue.computed(company, period, years, nodes)
	calls = glue.calls(company, period.key, people)
	shown = set(people)
	rows = []
	# in tree order, each under its nearest shown manager (as the targets' and categories' trees)
	for person, parent, indent in target_rules.shown_tree(nodes, shown.__contains__):
		won = team.get(person, rules.Figures()).closed
		result = rules.accuracy(
			person, [glue.as_call(row) for row in calls.get(person, [])], won, period.start, period.end
		)
		rows.append(
			{
				"sales_person": person,
				"parent": parent,
				"indent": indent,
				"won": glue._money(won),
				"calls": len(calls.get(person, [])),
				"weeks": [
					{
						"week": str(week.week),
						"commit": None if week.commit is None else glue._money(week.commit),
						"best_case": None if week.best_case is None else glue._money(week.best_case),
						"error": week.error,
					}
					for week in result.weeks
				],
				"mean_absolute_error": result.mean_absolute_error,
			}
		)
	return {
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		"period": period.key,
		"from_date": str(period.start),
		"to_date": str(period.end),
		"ended": period.end < getdate(nowdate()),
		"rows": rows,
	}


@frappe.whitelist()
@frappe.read_only()
def my_forecast_call(filters: dict | str | None = None) -> dict:
	"""The workspace card "My Forecast Call": the caller's latest Commit call for the current period when
	they have called this week, else "Due" (or "No Sales Person" for a user who is none). A click opens the
	Sales Forecast page's Forecast Call view."""
	if frappe.session.user == "Guest" or not frappe.has_permission(glue.SUBMISSION, "read"):
		frappe.throw(_("You are not permitted to read forecast calls."), frappe.PermissionError)
	company, _pipeline = chart_filters(filters)
	company = _company(company)
	period, _years = glue.resolve(company, None)
	mine = glue.own_person()
	text, due = _("No Sales Person"), True
	if mine:
		rows = glue.calls(company, period.key, [mine]).get(mine, [])
		due = not rows or getdate(rows[-1].submitted_on) < rules.week_start(getdate(nowdate()))
		if due:
			text = _("Due")
		else:
			# in the number card's base format: the desk converts it to the site's number format
			currency = frappe.get_cached_value("Company", company, "default_currency")
			symbol = frappe.db.get_value("Currency", currency, "symbol", cache=True) or currency
			text = f"{symbol} {flt(rows[-1].commit_amount, 2):,.2f}"
	return {
		"value": text,
		# The desk shows a card's value as $(frappe.format(value, this dict)).text(): a Data value such as
		# "$ 1,234.50" is taken for a jQuery selector and throws; Code wraps the (escaped) text in <pre>.
		"fieldtype": "Code",
		"route": ["sales-forecast"],
		"route_options": {"view": "call", "period": period.key, "company": company},
		"due": due,
		"period": period.key,
	}
