"""Follow-ups: one Event and ToDo per follow-up (created once, moved, closed), the errors, the day's
notification and the overdue digest (scheduled functions called directly), deletion, REST and permissions."""

from datetime import datetime, timedelta
from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, get_datetime, getdate, now_datetime, nowdate

from opportunity_plus import followups
from opportunity_plus.api.followups import get_calendar_events, get_my_follow_ups, set_follow_up
from opportunity_plus.pipeline import SETTINGS
from opportunity_plus.tests.integration import factories
from opportunity_plus.tests.integration.test_closing import lost_reason


def in_days(days: int, hour: int = 11) -> datetime:
	"""A whole-second moment `days` from today at `hour` o'clock (days >= 1 is always in the future)."""
	return datetime.combine(add_days(getdate(nowdate()), days), datetime.min.time()) + timedelta(hours=hour)


def settings(**values):
	doc = frappe.get_single(SETTINGS)
	doc.update(values)
	doc.save()
	return doc


def outgoing_email_account() -> None:
	"""A default outgoing account (never used: emails only queue), so the digest's email is queued."""
	if not frappe.db.exists("Email Account", {"default_outgoing": 1, "enable_outgoing": 1}):
		frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": "OP Test Outgoing",
				"email_id": "op-test-outgoing@example.com",
				"enable_outgoing": 1,
				"default_outgoing": 1,
				"smtp_server": "localhost",
				"no_smtp_authentication": 1,
			}
		).insert(ignore_permissions=True)


class FollowUpCase(FrappeTestCase):
	def setUp(self):
		self.rep = factories.sales_user()

	def with_follow_up(self, due=None, user=None, **values):
		return factories.opportunity(
			op_next_contact_date=due or in_days(2), op_next_contact_by=user or self.rep, **values
		)

	def events(self, opp_name, status=None):
		names = frappe.get_all(
			"Event Participants",
			filters={"reference_doctype": "Opportunity", "reference_docname": opp_name},
			pluck="parent",
		)
		filters = {"name": ("in", names or [""])}
		if status:
			filters["status"] = status
		return frappe.get_all(
			"Event", filters=filters, fields=["name", "owner", "starts_on", "ends_on", "status"]
		)

	def todos(self, opp_name, status=None):
		filters = {
			"reference_type": "Opportunity",
			"reference_name": opp_name,
			"assignment_rule": ("is", "not set"),
		}
		if status:
			filters["status"] = status
		return frappe.get_all("ToDo", filters=filters, fields=["name", "allocated_to", "date", "status"])

	def assertOneOpen(self, opp, user, due):
		events, todos = self.events(opp.name, "Open"), self.todos(opp.name, "Open")
		self.assertEqual(len(events), 1, events)
		self.assertEqual(len(todos), 1, todos)
		self.assertEqual((events[0].name, todos[0].name), (opp.op_follow_up_event, opp.op_follow_up_todo))
		self.assertEqual(
			frappe.db.get_value("Opportunity", opp.name, ["op_follow_up_event", "op_follow_up_todo"]),
			(events[0].name, todos[0].name),
		)
		self.assertEqual((events[0].owner, get_datetime(events[0].starts_on)), (user, due))
		self.assertEqual(get_datetime(events[0].ends_on), due + timedelta(minutes=30))
		self.assertEqual((todos[0].allocated_to, getdate(todos[0].date)), (user, due.date()))
		return events[0].name, todos[0].name

	def assertAllClosed(self, opp_name):
		self.assertEqual(self.events(opp_name, "Open"), [])
		self.assertEqual(self.todos(opp_name, "Open"), [])
		self.assertEqual([e.status for e in self.events(opp_name)], ["Closed"])


class TestEventAndToDo(FollowUpCase):
	def test_saving_creates_one_event_and_todo_once(self):
		due = in_days(2)
		opp = self.with_follow_up(due)
		event, todo = self.assertOneOpen(opp, self.rep, due)
		participant = frappe.get_all(
			"Event Participants", filters={"parent": event}, fields=["reference_doctype", "reference_docname"]
		)
		self.assertEqual(
			[(p.reference_doctype, p.reference_docname) for p in participant], [("Opportunity", opp.name)]
		)
		doc = frappe.get_doc("Event", event)
		self.assertEqual((doc.event_type, doc.event_category, doc.send_reminder), ("Private", "Call", 1))
		self.assertTrue(frappe.has_permission("Event", "write", doc, user=self.rep))

		# saving again, from the same instance and from a fresh one, changes nothing
		opp.save()
		opp.description = "more notes"
		opp.save()
		frappe.get_doc("Opportunity", opp.name).save()
		self.assertEqual(self.assertOneOpen(opp, self.rep, due), (event, todo))
		self.assertEqual(len(self.events(opp.name)), 1)
		self.assertEqual(len(self.todos(opp.name)), 1)

	def test_moving_the_date_moves_the_same_event_and_told_again(self):
		opp = self.with_follow_up(in_days(2))
		event, todo = opp.op_follow_up_event, opp.op_follow_up_todo
		frappe.db.set_value("Opportunity", opp.name, "op_follow_up_notified_on", nowdate())
		opp.reload()
		opp.op_next_contact_date = in_days(5, 15)
		opp.save()
		self.assertEqual(self.assertOneOpen(opp, self.rep, in_days(5, 15)), (event, todo))
		self.assertIsNone(frappe.db.get_value("Opportunity", opp.name, "op_follow_up_notified_on"))

	def test_changing_the_person_hands_over_the_same_event_and_todo(self):
		opp = self.with_follow_up(in_days(2))
		event, todo = opp.op_follow_up_event, opp.op_follow_up_todo
		other = factories.sales_user()
		opp.op_next_contact_by = other
		opp.save()
		self.assertEqual(self.assertOneOpen(opp, other, in_days(2)), (event, todo))
		self.assertFalse(
			frappe.has_permission("Event", "read", frappe.get_doc("Event", event), user=self.rep)
		)
		self.assertIn(other, frappe.parse_json(frappe.db.get_value("Opportunity", opp.name, "_assign")))

	def test_clearing_closes_and_setting_again_reopens_the_event(self):
		opp = self.with_follow_up(in_days(2))
		event, todo = opp.op_follow_up_event, opp.op_follow_up_todo
		opp.op_next_contact_date = None
		opp.save()
		self.assertAllClosed(opp.name)
		self.assertEqual(frappe.db.get_value("ToDo", todo, "status"), "Cancelled")

		opp.op_next_contact_date = in_days(3)
		opp.save()
		new_event, new_todo = self.assertOneOpen(opp, self.rep, in_days(3))
		self.assertEqual(new_event, event)  # one Event per opportunity
		self.assertNotEqual(new_todo, todo)  # the ended ToDo stays in the history

	def test_losing_the_opportunity_closes_it(self):
		opp = self.with_follow_up()
		opp.declare_enquiry_lost([{"lost_reason": lost_reason()}], [], "Went elsewhere")
		self.assertAllClosed(opp.name)

	def test_status_set_outside_a_save_closes_it(self):
		opp = self.with_follow_up()
		frappe.get_doc("Opportunity", opp.name).db_set("status", "Closed")
		self.assertAllClosed(opp.name)

		# and reopening brings the same Event back
		reopened = frappe.get_doc("Opportunity", opp.name)
		reopened.status = "Open"
		reopened.save()
		self.assertEqual(self.assertOneOpen(reopened, self.rep, in_days(2))[0], opp.op_follow_up_event)

	def test_close_for_closes_follow_ups_of_opportunities_closed_in_bulk(self):
		closed, still_open = self.with_follow_up(), self.with_follow_up()
		frappe.db.set_value("Opportunity", closed.name, "status", "Closed")  # a raw bulk update: no hooks
		followups.close_for([closed.name, still_open.name])
		self.assertAllClosed(closed.name)
		self.assertOneOpen(still_open, self.rep, in_days(2))

	def test_a_form_or_rest_body_cannot_blank_the_links(self):
		opp = self.with_follow_up()
		event, todo = opp.op_follow_up_event, opp.op_follow_up_todo
		stale = frappe.get_doc("Opportunity", opp.name)
		stale.op_follow_up_event = stale.op_follow_up_todo = None
		stale.op_next_contact_date = in_days(4)
		stale.save()
		self.assertEqual(self.assertOneOpen(stale, self.rep, in_days(4)), (event, todo))

	def test_sync_without_a_follow_up_runs_no_query(self):
		opp = factories.opportunity()
		opp.description = "changed"
		opp.save()
		with patch.object(frappe.db, "sql", side_effect=AssertionError("query")):
			followups.sync(opp)
		with_follow_up = self.with_follow_up()
		with_follow_up.reload()
		with_follow_up.save()
		with patch.object(frappe.db, "sql", side_effect=AssertionError("query")):
			followups.sync(with_follow_up)  # unchanged follow-up: decided from memory

	def test_deleting_an_opportunity_with_a_follow_up(self):
		opp = self.with_follow_up()
		event, todo = opp.op_follow_up_event, opp.op_follow_up_todo
		frappe.delete_doc("Opportunity", opp.name)
		self.assertFalse(frappe.db.exists("Opportunity", opp.name))
		self.assertFalse(frappe.db.exists("Event", event))
		self.assertFalse(frappe.db.exists("ToDo", todo))


class TestValidation(FollowUpCase):
	def assertRefused(self, pattern, exception=followups.FollowUpError, **values):
		opp = factories.opportunity()
		opp.update(values)
		self.assertRaisesRegex(exception, pattern, opp.save)
		self.assertEqual(self.events(opp.name), [])
		self.assertEqual(self.todos(opp.name), [])
		self.assertIsNone(frappe.db.get_value("Opportunity", opp.name, "op_next_contact_date"))

	def test_a_date_in_the_past_is_refused_and_nothing_created(self):
		self.assertRefused("in the past", op_next_contact_date=in_days(-1), op_next_contact_by=self.rep)
		self.assertRefused(
			"in the past",
			op_next_contact_date=now_datetime() - timedelta(hours=1),
			op_next_contact_by=self.rep,
		)

	def test_disabled_missing_and_non_existent_users_are_refused(self):
		frappe.db.set_value("User", self.rep, "enabled", 0)
		self.assertRefused("is disabled", op_next_contact_date=in_days(1), op_next_contact_by=self.rep)
		# Frappe's link check runs before any validate hook: "Could not find Next Contact By: ..."
		self.assertRefused(
			"Next Contact By: nobody@x.invalid",
			frappe.LinkValidationError,
			op_next_contact_date=in_days(1),
			op_next_contact_by="nobody@x.invalid",
		)
		self.assertRefused("Set Next Contact By", op_next_contact_date=in_days(1))

	def test_a_person_who_may_not_read_the_opportunity_is_refused_by_name(self):
		# a colleague limited to another territory, and a website user with no role at all
		colleague = factories.sales_user(territory_name=factories.territory())
		website_user = factories.sales_user(roles=())
		for person in (colleague, website_user):
			with self.subTest(person=person):
				self.assertRefused(
					f"{person}.*may not read opportunity",
					territory=factories.territory(),
					op_next_contact_date=in_days(1),
					op_next_contact_by=person,
				)
				self.assertEqual(frappe.db.count("Notification Log", {"for_user": person}), 0)
		# the same colleague may take a deal of their own territory
		territory = factories.territory()
		own = factories.sales_user(territory_name=territory)
		self.assertEqual(self.with_follow_up(user=own, territory=territory).op_next_contact_by, own)

	def test_an_overdue_follow_up_does_not_block_other_changes(self):
		opp = self.with_follow_up()
		frappe.db.set_value("Opportunity", opp.name, "op_next_contact_date", in_days(-3))
		frappe.db.set_value("User", self.rep, "enabled", 0)
		opp.reload()
		opp.description = "called, no answer"
		opp.save()
		opp.op_next_contact_date = None  # and clearing is always allowed
		opp.save()
		self.assertAllClosed(opp.name)


class TestDailyJobs(FollowUpCase):
	def run(self, result=None):
		with factories.no_commit():
			return super().run(result)

	def notifications(self, user, **filters):
		return frappe.get_all(
			"Notification Log",
			filters={"for_user": user, **filters},
			fields=["subject", "document_name", "email_content", "link"],
		)

	def test_notification_on_the_day_once(self):
		today, tomorrow = self.with_follow_up(in_days(1)), self.with_follow_up(in_days(1))
		# due today at noon (the job tells about the whole day, whatever the hour)
		frappe.db.set_value("Opportunity", today.name, "op_next_contact_date", in_days(0, 12))
		lost = self.with_follow_up(in_days(1))
		frappe.db.set_value(
			"Opportunity", lost.name, {"op_next_contact_date": in_days(0, 12), "status": "Lost"}
		)
		self.assertEqual(self.notifications(self.rep), [])

		# The site may have follow-ups of its own due today: count this test's rep only.
		self.assertGreaterEqual(followups.notify_due_today(), 1)
		self.assertEqual(followups.notify_due_today(), 0)
		logs = self.notifications(self.rep)
		self.assertEqual([log.document_name for log in logs], [today.name])
		self.assertIn("Follow-up today at", logs[0].subject)
		self.assertEqual(
			getdate(frappe.db.get_value("Opportunity", today.name, "op_follow_up_notified_on")),
			getdate(nowdate()),
		)
		self.assertIsNone(frappe.db.get_value("Opportunity", tomorrow.name, "op_follow_up_notified_on"))

	def test_no_notification_when_switched_off_or_user_disabled(self):
		opp = self.with_follow_up(in_days(1))
		frappe.db.set_value("Opportunity", opp.name, "op_next_contact_date", in_days(0, 12))
		settings(follow_up_notify=0)
		self.assertIsNone(followups.notify_due_today())
		settings(follow_up_notify=1)
		frappe.db.set_value("User", self.rep, "enabled", 0)
		followups.notify_due_today()
		self.assertEqual(self.notifications(self.rep), [])

	def test_a_follow_up_set_for_later_today_for_someone_else_is_told_at_once(self):
		due = (now_datetime() + timedelta(minutes=2)).replace(microsecond=0)
		if due.date() != getdate(nowdate()):
			self.skipTest("too close to midnight for a follow-up later today")
		opp = self.with_follow_up(due)
		self.assertEqual(len(self.notifications(self.rep, document_name=opp.name)), 1)
		followups.notify_due_today()
		self.assertEqual(len(self.notifications(self.rep, document_name=opp.name)), 1)

	def test_one_digest_per_rep_with_overdue_follow_ups(self):
		second = factories.sales_user()
		overdue = {}
		for user, days in ((self.rep, -5), (self.rep, -2), (second, -1)):
			opp = self.with_follow_up(in_days(1), user=user, title=f"Deal {days}")
			frappe.db.set_value("Opportunity", opp.name, "op_next_contact_date", in_days(days))
			overdue.setdefault(user, []).append(opp.name)
		upcoming = self.with_follow_up(in_days(1), user=second)
		lost = self.with_follow_up(in_days(1), user=second)
		frappe.db.set_value("Opportunity", lost.name, {"op_next_contact_date": in_days(-3), "status": "Lost"})
		outgoing_email_account()
		emails_before = frappe.db.count("Email Queue")

		self.assertGreaterEqual(followups.send_overdue_digests(), 2)
		followups.send_overdue_digests()
		followups.notify_due_today()

		first_logs = self.notifications(self.rep, link=followups.DIGEST_LINK)
		second_logs = self.notifications(second, link=followups.DIGEST_LINK)
		self.assertEqual(len(first_logs), 1)
		self.assertEqual(len(second_logs), 1)
		self.assertEqual(first_logs[0].subject, "2 overdue follow-ups")
		self.assertEqual(second_logs[0].subject, "1 overdue follow-up")
		content = first_logs[0].email_content
		self.assertLess(content.index("Deal -5"), content.index("Deal -2"))  # oldest first
		self.assertNotIn(upcoming.name, second_logs[0].email_content)
		self.assertNotIn(lost.name, second_logs[0].email_content)
		self.assertEqual(frappe.db.count("Email Queue") - emails_before, 2)  # one email each, not two
		for user in (self.rep, second):
			self.assertEqual(
				frappe.db.count(
					"Email Queue Recipient", {"recipient": user, "creation": (">=", in_days(0, 0))}
				),
				1,
			)

	def test_reminders_and_digests_never_name_a_deal_the_person_can_no_longer_read(self):
		territory = factories.territory()
		rep = factories.sales_user(territory_name=territory)
		today_deal = self.with_follow_up(in_days(1), user=rep, territory=territory, title="Moved today")
		overdue_deal = self.with_follow_up(in_days(1), user=rep, territory=territory, title="Moved overdue")
		kept = self.with_follow_up(in_days(1), user=rep, territory=territory, title="Still mine")
		frappe.db.set_value("Opportunity", today_deal.name, "op_next_contact_date", in_days(0, 12))
		frappe.db.set_value("Opportunity", overdue_deal.name, "op_next_contact_date", in_days(-2))
		frappe.db.set_value("Opportunity", kept.name, "op_next_contact_date", in_days(-1))
		# both deals move to a territory the rep may not read
		elsewhere = factories.territory()
		for opp in (today_deal, overdue_deal):
			frappe.db.set_value("Opportunity", opp.name, "territory", elsewhere)
		outgoing_email_account()

		followups.notify_due_today()
		followups.send_overdue_digests()

		logs = self.notifications(rep)
		self.assertEqual(len(logs), 1)  # the digest, for the deal still readable
		self.assertEqual(logs[0].subject, "1 overdue follow-up")
		self.assertIn("Still mine", logs[0].email_content)
		for text in ("Moved today", "Moved overdue", today_deal.name, overdue_deal.name):
			self.assertNotIn(text, logs[0].email_content)

	def test_no_digest_when_switched_off(self):
		opp = self.with_follow_up(in_days(1))
		frappe.db.set_value("Opportunity", opp.name, "op_next_contact_date", in_days(-1))
		settings(follow_up_digest=0)
		self.assertIsNone(followups.send_overdue_digests())
		self.assertEqual(self.notifications(self.rep), [])


class TestRestAndPermissions(FollowUpCase):
	def setUp(self):
		super().setUp()
		self.territory = factories.territory()
		self.rep = factories.sales_user(territory_name=self.territory)

	def test_set_follow_up_saves_through_the_rules(self):
		opp = factories.opportunity(territory=self.territory)
		frappe.set_user(self.rep)
		result = set_follow_up(opp.name, str(in_days(3)))
		self.assertEqual(result["next_contact_by"], self.rep)  # the caller by default
		frappe.set_user("Administrator")
		opp.reload()
		self.assertOneOpen(opp, self.rep, in_days(3))

		frappe.set_user(self.rep)
		self.assertRaisesRegex(
			followups.FollowUpError, "in the past", set_follow_up, opp.name, str(in_days(-2))
		)
		set_follow_up(opp.name, None)
		frappe.set_user("Administrator")
		self.assertAllClosed(opp.name)

	def test_set_follow_up_needs_write_permission(self):
		elsewhere = factories.opportunity(territory=factories.territory())
		frappe.set_user(self.rep)
		self.assertRaises(frappe.PermissionError, set_follow_up, elsewhere.name, str(in_days(2)), self.rep)
		frappe.set_user("Administrator")
		self.assertEqual(self.events(elsewhere.name), [])

	def test_rest_resource_update_runs_the_same_hooks(self):
		opp = factories.opportunity(territory=self.territory)
		frappe.set_user(self.rep)
		# what PUT /api/resource/Opportunity/<name> does
		doc = frappe.get_doc("Opportunity", opp.name)
		doc.update({"op_next_contact_date": str(in_days(2)), "op_next_contact_by": self.rep})
		doc.save()
		frappe.set_user("Administrator")
		self.assertOneOpen(doc, self.rep, in_days(2))

	def test_my_follow_ups_lists_only_readable_open_ones(self):
		mine = self.with_follow_up(in_days(2), territory=self.territory)
		overdue = self.with_follow_up(in_days(1), territory=self.territory)
		frappe.db.set_value("Opportunity", overdue.name, "op_next_contact_date", in_days(-2))
		# moved to a territory the rep may not read after the follow-up was set
		moved = self.with_follow_up(in_days(1), territory=self.territory)
		frappe.db.set_value("Opportunity", moved.name, "territory", factories.territory())
		lost = self.with_follow_up(in_days(1), territory=self.territory)
		frappe.db.set_value("Opportunity", lost.name, "status", "Lost")
		frappe.set_user(self.rep)
		rows = get_my_follow_ups()
		self.assertEqual([row["opportunity"] for row in rows], [overdue.name, mine.name])
		self.assertEqual([row["days_overdue"] for row in rows], [2, 0])
		self.assertEqual(
			[row["opportunity"] for row in get_my_follow_ups(till_date=str(in_days(1).date()))],
			[overdue.name],
		)

		from opportunity_plus.opportunity_plus.report.my_follow_ups.my_follow_ups import execute

		columns, data, message = execute({})
		self.assertEqual([row["opportunity"] for row in data], [overdue.name, mine.name])
		self.assertIn("next_contact_date", [c["fieldname"] for c in columns])
		self.assertEqual(message, "1 overdue.")


class TestCalendar(FollowUpCase):
	def test_calendar_lists_open_follow_ups_in_the_window_only(self):
		territory, other = factories.territory(), factories.territory()
		inside = self.with_follow_up(due=in_days(3), territory=territory)
		later = self.with_follow_up(due=in_days(40), territory=territory)
		elsewhere = self.with_follow_up(due=in_days(3), territory=other)
		without = factories.opportunity(territory=territory)
		lost = self.with_follow_up(due=in_days(4), territory=territory)
		frappe.db.set_value("Opportunity", lost.name, "status", "Lost")
		viewer = factories.sales_user(territory_name=territory)
		frappe.set_user(viewer)

		events = get_calendar_events(start=str(in_days(-1)), end=str(in_days(20)))

		self.assertEqual([event["name"] for event in events], [inside.name])
		event = events[0]
		self.assertEqual(get_datetime(event["op_next_contact_date"]), in_days(3))
		self.assertEqual(get_datetime(event["op_follow_up_end"]), in_days(3) + timedelta(minutes=30))
		self.assertEqual(event["title"], inside.title)
		self.assertNotIn(later.name, [e["name"] for e in events])
		self.assertNotIn(elsewhere.name, [e["name"] for e in events])  # another territory
		self.assertNotIn(without.name, [e["name"] for e in events])

	def test_list_filters_apply_and_a_reversed_window_is_refused(self):
		mine = self.with_follow_up(due=in_days(2))
		theirs = self.with_follow_up(due=in_days(2), user=factories.sales_user())
		events = get_calendar_events(
			start=str(in_days(0)),
			end=str(in_days(5)),
			filters=frappe.as_json([["Opportunity", "op_next_contact_by", "=", self.rep]]),
		)
		names = [event["name"] for event in events]
		self.assertIn(mine.name, names)
		self.assertNotIn(theirs.name, names)
		self.assertRaises(
			frappe.ValidationError, get_calendar_events, start=str(in_days(5)), end=str(in_days(0))
		)

	def test_a_user_who_may_not_read_opportunities_is_refused(self):
		frappe.set_user(factories.sales_user(roles=("Accounts User",)))
		self.assertRaises(
			frappe.PermissionError, get_calendar_events, start=str(in_days(0)), end=str(in_days(5))
		)
