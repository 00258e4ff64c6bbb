"""Minutes to first response: records an opportunity's first reply in working minutes, and backfills it.

Frappe stores `first_response_time` (wall-clock seconds from creation to the first reply) itself, but only
for a "Sent" Communication whose sender or session user is a System User. This module adds, on the first
reply however it was sent (desk, REST, the email account's outgoing mail, or a rep's own mail pulled in by
the email account), `op_first_responded_on` and `op_first_response_minutes` (working hours from Opportunity
Plus Settings, working days from the company's default holiday list), and fills `first_response_time`
where Frappe did not, so ERPNext's own report sees those replies too. The rules are core.response's.
"""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import frappe
from frappe.utils import add_days, flt, get_datetime, get_time, getdate

from opportunity_plus.core.response import (
	DAY,
	OWNER,
	SOURCE,
	FirstResponse,
	ResponseRow,
	first_response,
	is_first_response,
	working_day_rule,
)
from opportunity_plus.pipeline import get_settings

DEFAULT_DAY_START = "09:00:00"
DEFAULT_DAY_END = "17:00:00"
BACKFILL_BATCH = 500


def record_first_response(communication) -> bool:
	"""Store the opportunity's first response if `communication` is one and none is stored yet.

	Returns whether it stored one. Values are written without saving the opportunity (no hooks, no new
	`modified`); only the first reply counts, a later one never changes them.
	"""
	if communication.reference_doctype != "Opportunity" or not communication.reference_name:
		return False
	if not is_first_response(
		communication.communication_type,
		communication.sent_or_received,
		communication.sent_or_received == "Received" and is_internal_sender(communication.sender),
	):
		return False
	opportunity = frappe.db.get_value(
		"Opportunity",
		communication.reference_name,
		["name", "creation", "company", "first_response_time", "op_first_responded_on"],
		as_dict=True,
	)
	if not opportunity or opportunity.op_first_responded_on:
		return False
	times = response_times(opportunity.creation, responded_on(communication), opportunity.company)
	values = {
		"op_first_responded_on": times.responded_on,
		"op_first_response_minutes": times.working_minutes,
	}
	if not opportunity.first_response_time:
		# Frappe did not count this reply (received from a rep, or created by a non-System-User session).
		values["first_response_time"] = times.wall_seconds
	frappe.db.set_value("Opportunity", opportunity.name, values, update_modified=False)
	return True


def is_internal_sender(sender: str | None) -> bool:
	"""Whether a mail's sender is one of the company's own people: an enabled System User's address."""
	if not sender:
		return False
	return bool(frappe.db.exists("User", {"email": sender, "enabled": 1, "user_type": "System User"}))


def responded_on(communication) -> datetime:
	"""When the reply was sent: its date (a pulled mail carries its Date header, so earlier than its
	creation), never later than when it reached the site."""
	created = get_datetime(communication.creation)
	sent = communication.get("communication_date")
	return min(get_datetime(sent), created) if sent else created


def response_times(created, responded, company: str | None, is_working_day=None) -> FirstResponse:
	day_start, day_end = working_hours()
	return first_response(
		get_datetime(created),
		get_datetime(responded),
		day_start,
		day_end,
		is_working_day or working_days(company),
	)


def working_hours():
	settings = get_settings()
	return (
		get_time(settings.working_hours_start or DEFAULT_DAY_START),
		get_time(settings.working_hours_end or DEFAULT_DAY_END),
	)


def working_days(company: str | None) -> Callable[[date], bool]:
	"""The company's working days: its default holiday list, else Monday to Friday."""
	# Read, not cached: once per opportunity, and a cached Company would outlive a rolled-back change.
	holiday_list = company and frappe.db.get_value("Company", company, "default_holiday_list")
	if not holiday_list:
		return working_day_rule()
	doc = frappe.get_cached_doc("Holiday List", holiday_list)
	return working_day_rule(
		[getdate(row.holiday_date) for row in doc.holidays], getdate(doc.from_date), getdate(doc.to_date)
	)


def backfill_first_responses(batch_size: int = BACKFILL_BATCH, commit: bool = False) -> int:
	"""Give opportunities answered before the app was installed their first response in working minutes.

	Idempotent: only opportunities without `op_first_responded_on` are touched. One answered according to
	Frappe (`first_response_time` > 0) was answered at creation + that time; one Frappe never counted takes
	its earliest reply that core.response counts (e.g. a rep's mail pulled in by the email account).
	Returns how many it filled. `commit` commits per batch, for a long run from
	`bench --site SITE execute opportunity_plus.response.backfill_first_responses --kwargs "{'commit': 1}"`.
	"""
	filled = 0
	calendars: dict[str | None, Callable[[date], bool]] = {}
	for next_batch in (_answered_by_frappe, _answered_by_communication):
		after = ""
		while rows := next_batch(after, batch_size):
			for row in rows:
				if row.company not in calendars:
					calendars[row.company] = working_days(row.company)
				times = response_times(row.creation, row.responded_on, row.company, calendars[row.company])
				values = {
					"op_first_responded_on": times.responded_on,
					"op_first_response_minutes": times.working_minutes,
				}
				if not row.first_response_time:
					values["first_response_time"] = times.wall_seconds
				frappe.db.set_value("Opportunity", row.name, values, update_modified=False)
			filled += len(rows)
			after = rows[-1].name
			if commit:
				# A site with many opportunities keeps what is done if the run stops; rerunning resumes.
				frappe.db.commit()  # nosemgrep
	return filled


def _answered_by_frappe(after: str, limit: int) -> list:
	"""The next batch (by name) of opportunities Frappe counted as answered and the app has not recorded."""
	opportunity = frappe.qb.DocType("Opportunity")
	rows = (
		frappe.qb.from_(opportunity)
		.select(opportunity.name, opportunity.creation, opportunity.company, opportunity.first_response_time)
		.where(opportunity.op_first_responded_on.isnull())
		.where(opportunity.first_response_time > 0)
		.where(opportunity.name > after)
		.orderby(opportunity.name)
		.limit(limit)
		.run(as_dict=True)
	)
	for row in rows:
		row.responded_on = get_datetime(row.creation) + timedelta(seconds=row.first_response_time)
	return rows


def _answered_by_communication(after: str, limit: int) -> list:
	"""The next batch (by name) of unrecorded opportunities with a reply Frappe did not count, and the
	earliest such reply.

	The rules of core.response.is_first_response as a query: a real message, sent, or received from an
	enabled System User's address; dated as in `responded_on`. Runs from the Communications linked to
	opportunities (indexed on reference doctype and name), not from every opportunity.
	"""
	return frappe.db.sql(
		"""
		select opportunity.`name`, opportunity.`creation`, opportunity.`company`,
			opportunity.`first_response_time`,
			min(
				least(coalesce(reply.`communication_date`, reply.`creation`), reply.`creation`)
			) as responded_on
		from `tabCommunication` reply
		join `tabOpportunity` opportunity on opportunity.`name` = reply.`reference_name`
		where reply.`reference_doctype` = 'Opportunity'
			and reply.`reference_name` > %(after)s
			and reply.`communication_type` = 'Communication'
			and (
				reply.`sent_or_received` = 'Sent'
				or (
					reply.`sent_or_received` = 'Received'
					and reply.`sender` in (
						select `email` from `tabUser` where `enabled` = 1 and `user_type` = 'System User'
					)
				)
			)
			and opportunity.`op_first_responded_on` is null
		group by opportunity.`name`
		order by opportunity.`name`
		limit %(limit)s
		""",
		{"after": after, "limit": limit},
		as_dict=True,
	)


# The Opportunity field each grouping of the report reads.
GROUP_FIELDS = {DAY: "creation", OWNER: "opportunity_owner", SOURCE: "source"}


def load_response_rows(
	company: str | None, from_date: date, to_date: date, group_by: str
) -> list[ResponseRow]:
	"""The opportunities created between the dates (both included), with their first response in minutes,
	among those the user may read (role, user permissions, permission rules and shares apply).

	Only the grouping's field and the figures are read, as lists: the report may cover many thousand rows.
	"""
	filters = [
		["creation", ">=", datetime.combine(from_date, time.min)],
		["creation", "<", datetime.combine(add_days(to_date, 1), time.min)],
	]
	if company:
		filters.append(["company", "=", company])
	rows = frappe.get_list(
		"Opportunity",
		filters=filters,
		fields=[
			GROUP_FIELDS[group_by],
			"first_response_time",
			"op_first_responded_on",
			"op_first_response_minutes",
		],
		order_by=None,
		limit_page_length=0,
		as_list=True,
	)
	return [
		ResponseRow(
			created=get_datetime(key) if group_by == DAY else None,
			owner=key if group_by == OWNER else None,
			source=key if group_by == SOURCE else None,
			working_minutes=flt(working) if responded_on else None,
			wall_minutes=flt(wall) / 60 if flt(wall) > 0 else None,
		)
		for key, wall, responded_on, working in rows
	]
