"""Follow-ups over REST.

`GET /api/method/opportunity_plus.api.followups.get_my_follow_ups` lists open follow-ups (the caller's by
default), `POST /api/method/opportunity_plus.api.followups.set_follow_up` sets or clears one. Setting saves
the opportunity, so the same validation and Event/ToDo sync run as for the form or
`PUT /api/resource/Opportunity/<name>` with `op_next_contact_date` and `op_next_contact_by`.
"""

from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.utils import add_days, get_datetime, getdate, nowdate

from opportunity_plus.api.utils import (
	check_exists,
	echo,
	get_document,
	parse_date,
	parse_datetime,
	parse_int,
	parse_json_value,
	parse_list_filters,
)
from opportunity_plus.core import followup as rules
from opportunity_plus.core.stages import OPEN_STATUSES

MAX_LIMIT = 500
FIELDS = [
	"name",
	"title",
	"customer_name",
	"party_name",
	"opportunity_from",
	"status",
	"sales_stage",
	"opportunity_amount",
	"currency",
	"op_next_contact_date",
	"op_next_contact_by",
]


@frappe.whitelist()
@frappe.read_only()
def get_my_follow_ups(
	user: str | None = None, till_date: str | None = None, limit: int = MAX_LIMIT
) -> list[dict]:
	"""Open follow-ups of `user` (default: the caller), earliest first, up to `till_date` if given.

	Only opportunities the caller may read are listed (roles, user permissions, sharing), so a manager can
	look at a rep's follow-ups and a rep sees no deal they could not open.
	"""
	limit = parse_int(limit, _("Limit"), 1, MAX_LIMIT)
	user = check_exists("User", user, _("User")) if user else frappe.session.user
	return follow_up_rows(user, parse_date(till_date, _("Till Date")), limit)


def follow_up_rows(user: str, till_date=None, limit: int = MAX_LIMIT) -> list[dict]:
	filters = [
		["status", "in", list(OPEN_STATUSES)],
		["op_next_contact_by", "=", user],
		["op_next_contact_date", "is", "set"],
	]
	if till_date:
		filters.append(
			["op_next_contact_date", "<", datetime.combine(add_days(till_date, 1), datetime.min.time())]
		)
	today = getdate(nowdate())
	rows = frappe.get_list(
		"Opportunity",
		filters=filters,
		fields=FIELDS,
		order_by="op_next_contact_date asc, name asc",
		limit_page_length=limit,
	)
	return [
		{
			"opportunity": row.name,
			"title": row.title or row.customer_name or row.party_name or row.name,
			"party": row.customer_name or row.party_name,
			"opportunity_from": row.opportunity_from,
			"status": row.status,
			"sales_stage": row.sales_stage,
			"amount": row.opportunity_amount,
			"currency": row.currency,
			"next_contact_date": row.op_next_contact_date,
			"next_contact_by": row.op_next_contact_by,
			"days_overdue": rules.days_overdue(get_datetime(row.op_next_contact_date), today),
			"due_today": getdate(row.op_next_contact_date) == today,
		}
		for row in rows
	]


@frappe.whitelist(methods=["POST"])
def set_follow_up(
	opportunity: str, next_contact_date: str | None = None, next_contact_by: str | None = None
) -> dict:
	"""Set (or, without a date, clear) the opportunity's follow-up. Needs write permission on it.

	Without `next_contact_by` the follow-up stays with its current person, else goes to the caller.
	"""
	doc = get_document("Opportunity", opportunity, _("Opportunity"), "write")
	next_contact_date = parse_datetime(next_contact_date, _("Next Contact Date"))
	if next_contact_by:
		next_contact_by = check_exists("User", next_contact_by, _("Next Contact By"))
	if next_contact_date:
		doc.op_next_contact_date = next_contact_date
		doc.op_next_contact_by = next_contact_by or doc.op_next_contact_by or frappe.session.user
	else:
		doc.op_next_contact_date = None
		doc.op_next_contact_by = None
	doc.save()
	return {
		"opportunity": doc.name,
		"next_contact_date": doc.op_next_contact_date,
		"next_contact_by": doc.op_next_contact_by,
		"event": doc.op_follow_up_event,
		"todo": doc.op_follow_up_todo,
	}


CALENDAR_MINUTES = 30


@frappe.whitelist()
@frappe.read_only()
def get_calendar_events(
	start: str,
	end: str,
	filters: str | list | dict | None = None,
	doctype: str | None = None,
	field_map: str | dict | None = None,
	fields: str | list | None = None,
) -> list[dict]:
	"""Follow-ups of open opportunities between `start` and `end`, for the desk calendar of Opportunity.

	Frappe's generic calendar query treats an empty date as open-ended and so returns every opportunity
	without a follow-up; this one reads only those with a next contact in the window, through
	frappe.get_list (roles, user permissions and sharing apply) and with the list view's filters.
	"""
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)
	window_start = parse_datetime(start, _("Start"), required=True)
	window_end = parse_datetime(end, _("End"), required=True)
	if window_start > window_end:
		frappe.throw(_("The calendar window ends before it starts."))
	if doctype not in (None, "", "Opportunity"):
		frappe.throw(_("This calendar shows Opportunities, not {0}.").format(echo(doctype)))
	# The desk's calendar sends its field map and fields too; this method knows its own, but they must be
	# what the desk sends.
	if field_map not in (None, ""):
		parse_json_value(field_map, _("Field Map"), dict)
	if fields not in (None, ""):
		parse_json_value(fields, _("Fields"), list)
	conditions = [
		*parse_list_filters(filters, "Opportunity"),
		["Opportunity", "op_next_contact_date", ">=", window_start],
		["Opportunity", "op_next_contact_date", "<=", window_end],
		["Opportunity", "status", "in", list(OPEN_STATUSES)],
	]
	rows = frappe.get_list(
		"Opportunity",
		fields=["name", "title", "customer_name", "op_next_contact_date", "op_next_contact_by", "status"],
		filters=conditions,
		order_by="op_next_contact_date asc",
		limit_page_length=MAX_LIMIT,
	)
	return [
		{
			"name": row.name,
			"title": row.title or row.customer_name or row.name,
			"op_next_contact_date": row.op_next_contact_date,
			"op_follow_up_end": get_datetime(row.op_next_contact_date) + timedelta(minutes=CALENDAR_MINUTES),
			"all_day": 0,
			"tooltip": _("{0}: follow-up by {1}").format(row.title or row.name, row.op_next_contact_by),
		}
		for row in rows
	]
