"""Scheduler entry points: thin, idempotent, safe to run twice or at once."""

import frappe
from frappe.query_builder.functions import Date
from frappe.utils import today

from opportunity_plus.core.stages import CLOSED_STATUSES, OPEN_STATUSES


def flag_overdue_opportunities() -> None:
	"""Keep `op_is_overdue` true exactly for open opportunities whose expected close date has passed.

	Dates pass without anybody saving the opportunity, so a daily job recomputes the flag in two set-based
	updates (the same rule as core.deal.is_overdue). Running it twice or concurrently gives the same
	result; the flag is derived data, so no history row or modified timestamp changes.
	"""
	opportunity = frappe.qb.DocType("Opportunity")
	overdue = opportunity.status.isin(list(OPEN_STATUSES)) & (opportunity.expected_closing < today())
	frappe.qb.update(opportunity).set(opportunity.op_is_overdue, 1).where(
		overdue & (opportunity.op_is_overdue == 0)
	).run()
	frappe.qb.update(opportunity).set(opportunity.op_is_overdue, 0).where(
		(opportunity.op_is_overdue == 1)
		& (
			opportunity.status.notin(list(OPEN_STATUSES))
			| opportunity.expected_closing.isnull()
			| (opportunity.expected_closing >= today())
		)
	).run()


def reopen_opportunities_with_an_event_today() -> None:
	"""Replaces ERPNext's daily `open_leads_opportunities_based_on_todays_event` (stopped while the app is
	installed, see setup.jobs), which sets every Lead and Opportunity with an open Event today back to
	"Open" — closed, lost and converted opportunities included. Leads are treated as ERPNext does;
	opportunities only while they are still open (a Replied one becomes Open, with a history row).
	Running it twice changes nothing more.
	"""
	event = frappe.qb.DocType("Event")
	participant = frappe.qb.DocType("Event Participants")
	rows = (
		frappe.qb.from_(event)
		.join(participant)
		.on(participant.parent == event.name)
		.select(participant.reference_doctype, participant.reference_docname)
		.distinct()
		.where(
			participant.reference_doctype.isin(["Lead", "Opportunity"])
			& (event.status == "Open")
			& (Date(event.starts_on) == today())
		)
		.run(as_dict=True)
	)
	for row in rows:
		if row.reference_doctype == "Lead":
			frappe.db.set_value("Lead", row.reference_docname, "status", "Open")
			continue
		status = frappe.db.get_value("Opportunity", row.reference_docname, "status")
		if status and status not in CLOSED_STATUSES and status != "Open":
			frappe.get_doc("Opportunity", row.reference_docname).db_set("status", "Open")


def auto_close_opportunities() -> None:
	"""Daily (long queue): close stale opportunities and warn their owners; see autoclose.py."""
	from opportunity_plus import autoclose

	autoclose.run()


def send_follow_up_reminders() -> None:
	"""Mornings: a notification for each follow-up due today, one digest per rep with overdue ones."""
	from opportunity_plus import followups

	followups.notify_due_today()
	followups.send_overdue_digests()


def reconcile_pipeline_summary() -> None:
	"""Repair any drift between the opportunities and the pipeline summary (writes that bypassed the
	document API); logs what it repaired. A named lock keeps two runs apart; each batch commits."""
	from opportunity_plus import summary

	summary.reconcile()


def snapshot_forecasts() -> None:
	"""Weekly (and safe any day): this week's computed figures of every sales person for the current month,
	quarter and fiscal year (forecast_call.take_snapshots: one row per person, period and week, upserted,
	committed per company and period, so a run stopped midway is completed by the next)."""
	from opportunity_plus import forecast_call

	forecast_call.take_snapshots()


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def remind_forecast_calls() -> None:
	"""On the settings' weekday: a notification to each Sales Person's user who has not called this week
	for the current period, at most one a week (a second run that day finds it sent)."""
	from frappe import _
	from frappe.utils import get_datetime, getdate, nowdate

	from opportunity_plus import forecast_call, planning
	from opportunity_plus.core.forecast_call import week_start

	day = frappe.db.get_single_value("Opportunity Plus Settings", "forecast_call_reminder_day")
	today_ = getdate(nowdate())
	if not day or WEEKDAYS[today_.weekday()] != day:
		return
	monday = get_datetime(week_start(today_))
	company = frappe.db.get_single_value("Global Defaults", "default_company")
	if not company:
		return
	period, _years = forecast_call.resolve(company, None)
	persons = {node.name for node in forecast_call.tree()}
	users = frappe.get_all("User", filters={"enabled": 1, "user_type": "System User"}, pluck="name")
	person_of = {
		user: person for user, person in planning.sales_persons_of(users).items() if person in persons
	}
	if not person_of:
		return
	# who called this week, and who was already reminded: two reads for everyone
	called = set(
		frappe.get_all(
			forecast_call.SUBMISSION,
			filters={
				"submission_type": forecast_call.CALL,
				"sales_person": ("in", sorted(set(person_of.values()))),
				"period": period.key,
				"submitted_on": (">=", monday),
			},
			pluck="sales_person",
		)
	)
	reminded = set(
		frappe.get_all(
			"Notification Log",
			filters={
				"for_user": ("in", sorted(person_of)),
				"document_type": "Sales Person",
				"creation": (">=", monday),
			},
			pluck="for_user",
		)
	)
	for user, person in sorted(person_of.items()):
		if person in called or user in reminded:
			continue
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"for_user": user,
				"type": "Alert",
				"document_type": "Sales Person",
				"document_name": person,
				"subject": _("Your forecast call for {0} is due this week").format(period.key),
				"email_content": _("Submit your Commit and Best Case on the Sales Forecast page."),
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
