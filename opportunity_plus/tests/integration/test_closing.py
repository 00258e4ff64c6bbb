"""Lost reasons, deletion guard, quotation lost, ERPNext's event job, and the auto-close job."""

import threading

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, add_to_date, getdate, now_datetime, today

from opportunity_plus import autoclose, tasks
from opportunity_plus.api.autoclose import preview
from opportunity_plus.pipeline import SETTINGS, first_stage_of_kind
from opportunity_plus.setup import jobs
from opportunity_plus.tests.integration import factories

REASON = "OP Test Reason"


def lost_reason(name=REASON, doctype="Opportunity Lost Reason"):
	if not frappe.db.exists(doctype, name):
		field = "order_lost_reason" if doctype == "Quotation Lost Reason" else "lost_reason"
		frappe.get_doc({"doctype": doctype, field: name}).insert(ignore_permissions=True)
	return name


def settings(**values):
	doc = frappe.get_single(SETTINGS)
	doc.update(values)
	doc.save()
	return doc


class TestDeclaringLost(FrappeTestCase):
	def test_lost_without_a_reason_is_refused_and_nothing_is_written(self):
		opp = factories.opportunity()
		history = len(factories.history(opp.name))
		opp.status = "Lost"
		self.assertRaisesRegex(frappe.ValidationError, "lost reason", opp.save)
		self.assertEqual(frappe.db.get_value("Opportunity", opp.name, "status"), "Open")
		self.assertEqual(len(factories.history(opp.name)), history)

	def test_lost_with_a_reason_stamps_the_day_and_reopening_keeps_history(self):
		opp = factories.opportunity()
		opp.declare_enquiry_lost([{"lost_reason": lost_reason()}], [], "Price too high")
		opp.reload()
		self.assertEqual((opp.status, getdate(opp.op_lost_on)), ("Lost", getdate(today())))
		opp.status = "Open"
		opp.save()
		self.assertIsNone(opp.op_lost_on)
		self.assertEqual(
			[r.to_value for r in factories.history(opp.name, "status")], ["Open", "Lost", "Open"]
		)

	def test_reason_not_required_when_switched_off(self):
		settings(require_lost_reason=0)
		opp = factories.opportunity()
		opp.status = "Lost"
		opp.save()
		self.assertEqual(frappe.db.get_value("Opportunity", opp.name, "status"), "Lost")


class TestDeletionGuard(FrappeTestCase):
	def test_closed_lost_and_converted_cannot_be_deleted(self):
		for status in ("Closed", "Converted"):
			opp = factories.opportunity()
			opp.db_set("status", status)
			self.assertRaisesRegex(
				frappe.PermissionError, "win/loss", frappe.delete_doc, "Opportunity", opp.name
			)
			self.assertTrue(frappe.db.exists("Opportunity", opp.name))

	def test_open_ones_can_and_system_manager_may_when_allowed(self):
		opp = factories.opportunity()
		frappe.delete_doc("Opportunity", opp.name)
		self.assertFalse(frappe.db.exists("Opportunity", opp.name))
		settings(allow_deleting_closed=1)
		closed = factories.opportunity()
		closed.db_set("status", "Closed")
		frappe.delete_doc("Opportunity", closed.name)  # Administrator has System Manager
		self.assertFalse(frappe.db.exists("Opportunity", closed.name))


class TestQuotationLost(FrappeTestCase):
	def test_lost_quotation_carries_its_reasons_and_competitors_to_the_opportunity(self):
		from erpnext.crm.doctype.opportunity.opportunity import make_quotation

		opp = factories.opportunity(
			items=[factories.item_line(qty=1, rate=100)],
			opportunity_amount=100,
		)
		quotation = make_quotation(opp.name)
		quotation.items[0].rate = 100
		quotation.insert()
		quotation.submit()
		if not frappe.db.exists("Competitor", "OP Rival"):
			frappe.get_doc({"doctype": "Competitor", "competitor_name": "OP Rival"}).insert()
		quotation.declare_enquiry_lost(
			[{"lost_reason": lost_reason("OP Too Expensive", "Quotation Lost Reason")}],
			[{"competitor": "OP Rival"}],
			"Went with a rival",
		)
		opp.reload()
		self.assertEqual(opp.status, "Lost")
		self.assertEqual([r.lost_reason for r in opp.lost_reasons], ["OP Too Expensive"])
		self.assertEqual([r.competitor for r in opp.competitors], ["OP Rival"])
		self.assertEqual(opp.order_lost_reason, "Went with a rival")
		self.assertEqual(opp.sales_stage, first_stage_of_kind("Lost").name)


class TestEventJob(FrappeTestCase):
	def test_closed_opportunity_with_an_event_today_stays_closed(self):
		closed, replied = factories.opportunity(), factories.opportunity()
		closed.db_set("status", "Closed")
		replied.db_set("status", "Replied")
		for opp in (closed, replied):
			frappe.get_doc(
				{
					"doctype": "Event",
					"subject": "Call",
					"starts_on": now_datetime(),
					"event_participants": [
						{"reference_doctype": "Opportunity", "reference_docname": opp.name}
					],
				}
			).insert(ignore_permissions=True)
		self.assertTrue(
			frappe.db.get_value("Scheduled Job Type", {"method": jobs.STOCK_EVENT_JOB}, "stopped"),
			"ERPNext's job is stopped while the app is installed",
		)
		self.assertIn(
			"opportunity_plus.tasks.reopen_opportunities_with_an_event_today",
			frappe.get_hooks("scheduler_events")["daily"],
		)
		tasks.reopen_opportunities_with_an_event_today()
		self.assertEqual(frappe.db.get_value("Opportunity", closed.name, "status"), "Closed")
		self.assertEqual(frappe.db.get_value("Opportunity", replied.name, "status"), "Open")


class AutoCloseCase(FrappeTestCase):
	def setUp(self):
		settings(
			auto_close_enabled=1,
			auto_close_after_days=30,
			auto_close_warning_days=5,
			auto_close_open=1,
			auto_close_replied=1,
			auto_close_quotation=0,
			auto_close_rules=[],
		)
		self.territory = factories.territory()

	def stale(self, days, **values):
		"""An opportunity whose creation and every activity lie `days` ago."""
		opp = factories.opportunity(territory=self.territory, **values)
		moment = add_to_date(now_datetime(), days=-days)
		frappe.db.set_value(
			"Opportunity", opp.name, {"creation": moment, "modified": moment}, update_modified=False
		)
		frappe.db.sql(
			"update `tabOpportunity History` set changed_on = %s where opportunity = %s", (moment, opp.name)
		)
		return opp.name

	def status(self, name):
		return frappe.db.get_value("Opportunity", name, "status")

	def run_job(self):
		# The job commits per batch; in tests keep everything in the test's transaction.
		with self.assertNoCommit():
			return autoclose.run()

	def assertNoCommit(self):
		return factories.no_commit()


class TestAutoClose(AutoCloseCase):
	def test_closing_a_deal_closes_its_open_follow_up(self):
		rep = factories.sales_user()
		opp = factories.opportunity(
			territory=self.territory,
			op_next_contact_date=add_to_date(now_datetime(), days=2),
			op_next_contact_by=rep,
		)
		event, todo = frappe.db.get_value(
			"Opportunity", opp.name, ["op_follow_up_event", "op_follow_up_todo"]
		)
		self.assertEqual(frappe.db.get_value("Event", event, "status"), "Open")
		# Every trace of activity, the follow-up's own included, lies 40 days back.
		moment = add_to_date(now_datetime(), days=-40)
		frappe.db.set_value(
			"Opportunity",
			opp.name,
			{"creation": moment, "modified": moment, "op_next_contact_date": moment},
			update_modified=False,
		)
		frappe.db.sql(
			"update `tabOpportunity History` set changed_on = %s where opportunity = %s", (moment, opp.name)
		)
		frappe.db.sql(
			"update `tabEvent` set modified = %s, starts_on = %s where name = %s", (moment, moment, event)
		)
		frappe.db.sql("update `tabToDo` set modified = %s where reference_name = %s", (moment, opp.name))
		frappe.db.sql(
			"""update `tabCommunication` set communication_date = %(moment)s, creation = %(moment)s
			where reference_name = %(opp)s or name in (select parent from `tabCommunication Link`
			where link_doctype = 'Opportunity' and link_name = %(opp)s)""",
			{"moment": moment, "opp": opp.name},
		)
		frappe.db.sql("update `tabComment` set creation = %s where reference_name = %s", (moment, opp.name))

		self.run_job()

		self.assertEqual(self.status(opp.name), "Closed")
		self.assertEqual(frappe.db.get_value("Event", event, "status"), "Closed")
		self.assertEqual(frappe.db.get_value("ToDo", todo, "status"), "Cancelled")

	def test_closes_after_the_threshold_with_reason_comment_and_history(self):
		due, fresh = self.stale(31), self.stale(10)
		counts = self.run_job()
		self.assertEqual(self.status(due), "Closed")
		self.assertEqual(self.status(fresh), "Open")
		self.assertGreaterEqual(counts["closed"], 1)
		self.assertEqual(
			frappe.get_all("Opportunity Lost Reason Detail", filters={"parent": due}, pluck="lost_reason"),
			["No response"],
		)
		comment = frappe.get_all(
			"Comment", filters={"reference_name": due, "comment_type": "Info"}, pluck="content"
		)
		self.assertTrue(any("no activity for 31 days" in text for text in comment), comment)
		self.assertEqual(factories.history(due, "status")[-1].to_value, "Closed")
		self.assertTrue(frappe.db.exists("Version", {"ref_doctype": "Opportunity", "docname": due}))

	def test_warns_the_owner_once_before_closing(self):
		owner = factories.sales_user()
		name = self.stale(26, opportunity_owner=owner)
		self.run_job()
		self.run_job()
		self.assertEqual(self.status(name), "Open")
		notes = frappe.get_all("Notification Log", filters={"for_user": owner, "document_name": name})
		self.assertEqual(len(notes), 1)

	def test_per_type_override(self):
		if not frappe.db.exists("Opportunity Type", "OP Quick"):
			frappe.get_doc({"doctype": "Opportunity Type", "__newname": "OP Quick"}).insert()
		settings(auto_close_rules=[{"opportunity_type": "OP Quick", "days": 7}])
		quick, normal = self.stale(8, opportunity_type="OP Quick"), self.stale(8)
		self.run_job()
		self.assertEqual((self.status(quick), self.status(normal)), ("Closed", "Open"))

	def test_a_communication_resets_the_clock(self):
		name = self.stale(40)
		frappe.get_doc(
			{
				"doctype": "Communication",
				"communication_type": "Communication",
				"communication_medium": "Email",
				"sent_or_received": "Received",
				"subject": "Still interested",
				"content": "Let's talk next week",
				"reference_doctype": "Opportunity",
				"reference_name": name,
				"communication_date": add_to_date(now_datetime(), days=-2),
			}
		).insert(ignore_permissions=True)
		self.run_job()
		self.assertEqual(self.status(name), "Open")

	def test_dry_run_changes_nothing_and_lists_when(self):
		due, later = self.stale(31), self.stale(20)
		rows = {row["opportunity"]: row for row in preview(horizon_days=30)}
		self.assertEqual(rows[due]["action"], "close")
		self.assertEqual(getdate(rows[later]["close_on"]), getdate(add_days(today(), 10)))
		self.assertEqual((self.status(due), self.status(later)), ("Open", "Open"))
		self.assertFalse(frappe.db.get_value("Opportunity", later, "op_autoclose_warned_on"))

	def test_a_second_run_changes_nothing(self):
		due = self.stale(31)
		self.run_job()
		rows = len(factories.history(due))
		comments = frappe.db.count("Comment", {"reference_name": due})
		counts = self.run_job()
		self.assertEqual((counts["closed"], counts["warned"]), (0, 0))
		self.assertEqual(
			(len(factories.history(due)), frappe.db.count("Comment", {"reference_name": due})),
			(rows, comments),
		)

	def test_stock_auto_close_is_stopped_while_ours_is_on(self):
		self.assertTrue(jobs.stock_auto_close_stopped())
		settings(auto_close_enabled=0)
		self.assertFalse(jobs.stock_auto_close_stopped())

	def test_invalid_settings_are_refused(self):
		self.assertRaisesRegex(frappe.ValidationError, "warning", settings, auto_close_warning_days=30)

	def test_preview_needs_a_manager(self):
		frappe.set_user(factories.sales_user())
		self.assertRaises(frappe.PermissionError, preview)
