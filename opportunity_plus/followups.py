"""Follow-ups: an opportunity's next contact (date and person) kept as one open Event in that person's
calendar and one open ToDo in their list, a notification on the day and a morning digest of overdue ones.

The rules are in core.followup; this module loads, writes and translates. Decisions worth knowing:
- The Event and ToDo are found through the opportunity's `op_follow_up_event` / `op_follow_up_todo` and
  kept after the follow-up closes, so a later follow-up reopens the same Event: one Event per opportunity.
- The ToDo references the opportunity, so Frappe treats it as an assignment (sidebar, `_assign`). When
  the follow-up ends it is *Cancelled*, not Closed: Frappe's Assignment Rule engine reopens the Closed
  ToDos of a document on every save and counts every non-cancelled one as an existing assignment. A
  follow-up ToDo cancelled by someone else (e.g. a rule reassigning the opportunity) is replaced by a new
  one the next time the follow-up's date or person changes.
- `sync` runs on every save and `db_set` (on_change): it decides from values already in memory and
  touches the database only when the follow-up changed, opened or closed.
"""

from datetime import datetime

import frappe
from frappe import _
from frappe.utils import add_days, get_datetime, get_link_to_form, getdate, now_datetime, nowdate

from opportunity_plus.core import followup as rules
from opportunity_plus.core.stages import OPEN_STATUSES
from opportunity_plus.locks import job_lock
from opportunity_plus.pipeline import get_settings

EVENT_CLOSED = "Closed"
TODO_ENDED = "Cancelled"
DIGEST_LINK = "/app/query-report/My%20Follow-ups"
JOB_USER = "Administrator"


class FollowUpError(frappe.ValidationError):
	pass


# --- document events -------------------------------------------------------------------------------


def validate(doc, before) -> None:
	"""Refuse a follow-up without a person, for a missing or disabled user, or in the past."""
	_keep_links(doc, before)
	due = _due(doc.op_next_contact_date)
	if not due:
		return  # clearing is always allowed
	user = doc.op_next_contact_by
	changed = before is None or _due(before.op_next_contact_date) != due or before.op_next_contact_by != user
	enabled = _user_enabled(user) if changed and user else None
	can_read = _can_read(doc, user) if changed and enabled else True
	error = rules.validation_error(due, user, enabled, changed, now_datetime(), user_can_read=can_read)
	if error:
		frappe.throw(_validation_message(error, doc, user, due), FollowUpError, title=_("Follow-up"))
	if changed:
		doc.op_follow_up_notified_on = None  # a new date or person is told again on its day


def _validation_message(error: str, doc, user: str | None, due) -> str:
	if error == rules.MISSING_USER:
		return _("Set Next Contact By: the person who makes the follow-up.")
	if error == rules.UNKNOWN_USER:
		return _("Next Contact By: there is no user {0}.").format(user)
	if error == rules.DISABLED_USER:
		return _("Next Contact By: user {0} is disabled. Choose an active user.").format(user)
	if error == rules.CANNOT_READ:
		return _(
			"Next Contact By: {0} ({1}) may not read opportunity {2}, so the follow-up cannot be theirs. "
			"Choose someone who can read it, or give {0} access to it first."
		).format(frappe.utils.get_fullname(user), user, doc.name or _("(new)"))
	return _("Next Contact Date {0} is in the past. Choose a date and time from now on.").format(
		_format_datetime(due)
	)


def _can_read(doc, user: str) -> bool:
	"""Whether `user` may read the opportunity as it will be saved (roles, user permissions, if_owner,
	shares), checked without sharing it: a follow-up must never show a deal to someone who cannot open it."""
	return bool(frappe.has_permission("Opportunity", "read", doc=doc, user=user))


def sync(doc) -> None:
	"""Create, move or close the follow-up's Event and ToDo to match the opportunity."""
	if doc.flags.in_delete or not doc.name:
		return
	desired = _state(doc)
	links = rules.Links(doc.op_follow_up_event, doc.op_follow_up_todo)
	before = doc.get_doc_before_save()
	if doc.flags.op_follow_up_before is before and "op_follow_up_state" in doc.flags:
		# Synced already since this save began (on_change also follows each db_set of a save's hooks).
		previous = doc.flags.op_follow_up_state
	else:
		previous = _state(before) if before else None
	action = rules.sync_action(links, desired, previous)
	if action == rules.CREATE or action == rules.MOVE:
		_write_links(doc, event=_upsert_event(doc, desired), todo=_upsert_todo(doc, desired))
		_notify_if_due_today(doc, desired)
	elif action == rules.CLOSE:
		_close(links)
	doc.flags.op_follow_up_before = before
	doc.flags.op_follow_up_state = desired


def on_trash(doc) -> None:
	"""The follow-up goes with the opportunity: its Event's participant row would block the deletion."""
	if doc.op_follow_up_event and frappe.db.exists("Event", doc.op_follow_up_event):
		# force: the opportunity being deleted still links the Event.
		frappe.delete_doc("Event", doc.op_follow_up_event, ignore_permissions=True, force=True)
	if doc.op_follow_up_todo and frappe.db.exists("ToDo", doc.op_follow_up_todo):
		frappe.delete_doc("ToDo", doc.op_follow_up_todo, ignore_permissions=True, force=True)


def close_for(names: list[str]) -> None:
	"""Close the follow-ups of opportunities closed without a save (bulk updates such as auto-close)."""
	if not names:
		return
	for row in frappe.get_all(
		"Opportunity",
		filters={"name": ("in", names), "status": ("not in", list(OPEN_STATUSES))},
		# Only deals that ever had a follow-up (the Event and ToDo are made together).
		or_filters={"op_follow_up_event": ("is", "set"), "op_follow_up_todo": ("is", "set")},
		fields=["op_follow_up_event", "op_follow_up_todo"],
	):
		_close(rules.Links(row.op_follow_up_event, row.op_follow_up_todo))


# --- sync helpers ----------------------------------------------------------------------------------


def _due(value) -> datetime | None:
	return rules.normalise(get_datetime(value)) if value else None


def _state(doc) -> rules.FollowUp | None:
	return rules.desired_state(doc.status, _due(doc.op_next_contact_date), doc.op_next_contact_by)


def _keep_links(doc, before) -> None:
	"""The links and the notified day are the app's: a form or REST body cannot blank or forge them."""
	for field in ("op_follow_up_event", "op_follow_up_todo", "op_follow_up_notified_on"):
		doc.set(field, before.get(field) if before else None)


def _user_enabled(user: str) -> bool | None:
	enabled = frappe.db.get_value("User", user, "enabled")
	if enabled is None:
		return None
	return bool(enabled) and user != "Guest"


def _title(doc) -> str:
	return doc.get("title") or doc.get("customer_name") or doc.get("party_name") or doc.name


def _format_datetime(value) -> str:
	return frappe.format(value, {"fieldtype": "Datetime"})


def _upsert_event(doc, follow_up: rules.FollowUp) -> str:
	values = {
		"subject": _("Follow up: {0}").format(_title(doc)),
		"starts_on": follow_up.due,
		"ends_on": follow_up.due + rules.EVENT_DURATION,
		"status": "Open",
	}
	event = _existing("Event", doc.op_follow_up_event)
	if event:
		event.update(values)
		event.save(ignore_permissions=True)
	else:
		event = frappe.get_doc(
			{
				"doctype": "Event",
				**values,
				"event_category": "Call",
				"event_type": "Private",
				"send_reminder": 1,
				"description": _("Follow-up on opportunity {0} ({1}).").format(
					get_link_to_form("Opportunity", doc.name), doc.get("customer_name") or doc.party_name
				),
				"event_participants": [{"reference_doctype": "Opportunity", "reference_docname": doc.name}],
			}
		).insert(ignore_permissions=True)
	if event.owner != follow_up.user:
		# A private Event belongs to its owner (Event's permission rule): make it the contact person's.
		# Frappe sets the owner to the session user on insert, so set it afterwards.
		frappe.db.set_value("Event", event.name, "owner", follow_up.user, update_modified=False)
	return event.name


def _upsert_todo(doc, follow_up: rules.FollowUp) -> str:
	values = {
		"allocated_to": follow_up.user,
		"date": follow_up.due.date(),
		"description": _("Follow up on {0} ({1}) at {2}").format(
			_title(doc), doc.get("customer_name") or doc.party_name, _format_datetime(follow_up.due)
		),
	}
	todo = _existing("ToDo", doc.op_follow_up_todo)
	if todo and todo.status == "Open":
		todo.update(values)
		todo.save(ignore_permissions=True)
		return todo.name
	# None yet, or ended (by the follow-up or by someone else, e.g. an assignment rule): a fresh one.
	return (
		frappe.get_doc(
			{
				"doctype": "ToDo",
				**values,
				"status": "Open",
				"priority": "Medium",
				"reference_type": "Opportunity",
				"reference_name": doc.name,
				"assigned_by": frappe.session.user,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def _existing(doctype: str, name: str | None):
	if not name:
		return None
	try:
		return frappe.get_doc(doctype, name)
	except frappe.DoesNotExistError:
		frappe.clear_last_message()
		return None


def _write_links(doc, event: str, todo: str) -> None:
	if (event, todo) == (doc.op_follow_up_event, doc.op_follow_up_todo):
		return
	# set_value, not db_set: no further on_change, and no new modified timestamp for a derived link.
	frappe.db.set_value(
		doc.doctype,
		doc.name,
		{"op_follow_up_event": event, "op_follow_up_todo": todo},
		update_modified=False,
	)
	doc.op_follow_up_event, doc.op_follow_up_todo = event, todo


def _close(links: rules.Links) -> None:
	event = _existing("Event", links.event)
	if event and event.status == "Open":
		event.status = EVENT_CLOSED
		event.save(ignore_permissions=True)
	todo = _existing("ToDo", links.todo)
	if todo and todo.status == "Open":
		todo.status = TODO_ENDED
		todo.save(ignore_permissions=True)


def _notify_if_due_today(doc, follow_up: rules.FollowUp) -> None:
	"""A follow-up set during its own day for someone else: tell them now (the morning run is past)."""
	today = getdate(nowdate())
	if follow_up.due.date() != today or follow_up.user == frappe.session.user:
		return
	if doc.op_follow_up_notified_on and getdate(doc.op_follow_up_notified_on) == today:
		return
	if not get_settings().follow_up_notify:
		return
	row = rules.FollowUpRow(doc.name, doc.status, follow_up.due, follow_up.user, title=_title(doc))
	if _notify(row, from_user=frappe.session.user):
		frappe.db.set_value(doc.doctype, doc.name, "op_follow_up_notified_on", today, update_modified=False)
		doc.op_follow_up_notified_on = today


# --- daily jobs ------------------------------------------------------------------------------------


def notify_due_today() -> int | None:
	"""One notification to the person of each open follow-up due today, once a day.

	Returns how many were sent, or None when switched off or another run holds the lock.
	"""
	if not get_settings().follow_up_notify:
		return None
	with job_lock("follow_up_notify") as locked:
		if not locked:
			return None
		today = getdate(nowdate())
		rows = _load_rows(
			[
				["op_next_contact_date", ">=", _day_start(today)],
				["op_next_contact_date", "<", _day_start(add_days(today, 1))],
			]
		)
		sent = 0
		for row in rules.due_today(rows, today):
			try:
				frappe.db.savepoint("op_follow_up_notify")
				if _notify(row, from_user=row.owner or JOB_USER):
					sent += 1
				# Marked even when the person switched notifications off, so the row is not reconsidered.
				frappe.db.set_value(
					"Opportunity", row.opportunity, "op_follow_up_notified_on", today, update_modified=False
				)
			except Exception:
				frappe.db.rollback(save_point="op_follow_up_notify")
				frappe.log_error(
					title=_("Follow-up notification failed for {0}").format(row.opportunity),
					reference_doctype="Opportunity",
					reference_name=row.opportunity,
				)
		# Commit before the lock is released, so a run that takes it next sees today's marks.
		frappe.db.commit()
		return sent


def send_overdue_digests() -> int | None:
	"""One digest (notification and email) a day to each person with overdue follow-ups.

	Returns how many digests were sent, or None when switched off or another run holds the lock.
	"""
	if not get_settings().follow_up_digest:
		return None
	with job_lock("follow_up_digest") as locked:
		if not locked:
			return None
		today = getdate(nowdate())
		groups = rules.group_overdue(_load_rows([["op_next_contact_date", "<", _day_start(today)]]), today)
		already = set(
			frappe.get_all(
				"Notification Log",
				filters={
					"for_user": ("in", list(groups) or [""]),
					"link": DIGEST_LINK,
					"creation": (">=", _day_start(today)),
				},
				pluck="for_user",
			)
		)
		sent = 0
		for user, rows in groups.items():
			if user in already or not _notifications_enabled(user):
				continue
			try:
				frappe.db.savepoint("op_follow_up_digest")
				_send_digest(user, rows, today)
				sent += 1
			except Exception:
				frappe.db.rollback(save_point="op_follow_up_digest")
				frappe.log_error(title=_("Follow-up digest failed for {0}").format(user))
		# Commit before the lock is released, so a run that takes it next sees today's digests.
		frappe.db.commit()
		return sent


def _day_start(day) -> datetime:
	return datetime.combine(getdate(day), datetime.min.time())


def _load_rows(due_filters: list) -> list[rules.FollowUpRow]:
	"""Open opportunities with a follow-up matching `due_filters`, with their person's enabled flag."""
	rows = frappe.get_all(
		"Opportunity",
		filters=[
			["status", "in", list(OPEN_STATUSES)],
			["op_next_contact_by", "is", "set"],
			*due_filters,
		],
		fields=[
			"name",
			"status",
			"title",
			"customer_name",
			"party_name",
			"owner",
			"op_next_contact_date",
			"op_next_contact_by",
			"op_follow_up_notified_on",
		],
		order_by="op_next_contact_date asc, name asc",
	)
	users = {row.op_next_contact_by for row in rows}
	enabled = set(
		frappe.get_all("User", filters={"name": ("in", list(users)), "enabled": 1}, pluck="name")
		if users
		else []
	)
	# A reminder or digest never names a deal to someone who can no longer read it (moved to another
	# territory, share removed, role taken away): those rows are left out until access returns.
	readable = _readable_by_person(rows, enabled)
	rows = [row for row in rows if row.name in readable.get(row.op_next_contact_by, ())]
	return [
		rules.FollowUpRow(
			opportunity=row.name,
			status=row.status,
			due=_due(row.op_next_contact_date),
			user=row.op_next_contact_by,
			user_enabled=row.op_next_contact_by in enabled and row.op_next_contact_by != "Guest",
			title=row.title or row.customer_name or row.party_name or row.name,
			party=row.customer_name or row.party_name,
			notified_on=getdate(row.op_follow_up_notified_on) if row.op_follow_up_notified_on else None,
			owner=row.owner,
		)
		for row in rows
	]


def _readable_by_person(rows: list, enabled: set[str]) -> dict[str, set[str]]:
	"""Per enabled person, which of their follow-up opportunities they may read, through
	frappe.get_list as that person (roles, user permissions, if_owner, permission rules, shares)."""
	names_by_user: dict[str, list[str]] = {}
	for row in rows:
		if row.op_next_contact_by in enabled:
			names_by_user.setdefault(row.op_next_contact_by, []).append(row.name)
	readable = {}
	for user, names in names_by_user.items():
		try:
			readable[user] = set(
				frappe.get_list(
					"Opportunity",
					filters={"name": ("in", names)},
					pluck="name",
					user=user,
					limit_page_length=0,
				)
			)
		except frappe.PermissionError:
			frappe.clear_last_message()
			readable[user] = set()
	return readable


def _notifications_enabled(user: str) -> bool:
	from frappe.desk.doctype.notification_settings.notification_settings import is_notifications_enabled

	return bool(is_notifications_enabled(user))


def _notify(row: rules.FollowUpRow, from_user: str) -> bool:
	if not _notifications_enabled(row.user):
		return False
	frappe.get_doc(
		{
			"doctype": "Notification Log",
			"for_user": row.user,
			"type": "Alert",
			"document_type": "Opportunity",
			"document_name": row.opportunity,
			"from_user": from_user,
			"subject": _("Follow-up today at {0}: {1}").format(
				frappe.format(row.due.time(), {"fieldtype": "Time"}), row.title or row.opportunity
			),
		}
	).insert(ignore_permissions=True)
	return True


def _send_digest(user: str, rows: list[rules.FollowUpRow], today) -> None:
	subject = _("1 overdue follow-up") if len(rows) == 1 else _("{0} overdue follow-ups").format(len(rows))
	escape = frappe.utils.escape_html
	lines = "".join(
		f"<tr><td>{get_link_to_form('Opportunity', row.opportunity, escape(row.title or ''))}</td>"
		f"<td>{escape(row.party or '')}</td><td>{_format_datetime(row.due)}</td>"
		f"<td>{_('{0} days').format(rules.days_overdue(row.due, today))}</td></tr>"
		for row in rows
	)
	headings = "".join(
		f"<th>{heading}</th>"
		for heading in (_("Opportunity"), _("Party"), _("Next Contact Date"), _("Overdue"))
	)
	intro = _("Follow-ups past their date on your open opportunities, oldest first:")
	content = f"<p>{intro}</p><table><thead><tr>{headings}</tr></thead><tbody>{lines}</tbody></table>"
	frappe.get_doc(
		{
			"doctype": "Notification Log",
			"for_user": user,
			"type": "Alert",
			"from_user": JOB_USER,
			"subject": subject,
			"email_content": content,
			"link": DIGEST_LINK,
		}
	).insert(ignore_permissions=True)
	# An Alert notification is never emailed by Frappe: send the digest ourselves (queued).
	email = frappe.db.get_value("User", user, "email")
	if not email:
		return
	footer = _("See them all in {0}.").format(
		f'<a href="{frappe.utils.get_url(DIGEST_LINK)}">{_("My Follow-ups")}</a>'
	)
	try:
		frappe.sendmail(recipients=[email], subject=subject, message=f"{content}<p>{footer}</p>")
	except frappe.OutgoingEmailError:
		# A site without outgoing email still gets the digest in the desk's notifications.
		frappe.clear_last_message()
