"""Auto-close counts whatever a person did last on an opportunity, and never its own writes.

Every deal here was created 100 days ago (threshold 30). Each test gives one deal one kind of activity and
then sets its timestamp back, so that only that kind can keep it open, next to a control deal without it
that must close. An activity committed between planning and closing is in test_autoclose_concurrency.py.
"""

import json

import frappe
import frappe.api.v1
from frappe.desk.form import assign_to
from frappe.utils import add_days, add_to_date, now_datetime, today
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from opportunity_plus import autoclose, tasks
from opportunity_plus import history as history_rows
from opportunity_plus.tests.integration import factories
from opportunity_plus.tests.integration.test_closing import AutoCloseCase, settings

IDLE_DAYS = 100


def rest_put(doctype: str, name: str, data: dict, user: str):
	"""PUT /api/resource/<doctype>/<name> as `user`, through Frappe's own handler, in this transaction."""
	previous_user, previous_request, previous_form = (
		frappe.session.user,
		getattr(frappe.local, "request", None),
		frappe.local.form_dict,
	)
	frappe.set_user(user)
	frappe.local.request = Request(
		EnvironBuilder(method="PUT", path=f"/api/resource/{doctype}/{name}").get_environ()
	)
	frappe.local.form_dict = frappe._dict(data=json.dumps(data))
	try:
		return frappe.api.v1.update_doc(doctype, name)
	finally:
		frappe.local.form_dict, frappe.local.request = previous_form, previous_request
		frappe.set_user(previous_user)


class ActivityCase(AutoCloseCase):
	def setUp(self):
		super().setUp()
		settings(amount_from_items=0)
		# The person: a rep limited to the deals' territory.
		self.rep = factories.sales_user(territory_name=self.territory)

	def old_deal(self, **values) -> str:
		return self.stale(IDLE_DAYS, **values)

	def set_back(self, name: str) -> None:
		"""The deal's own timestamp back to its creation, so only the activity under test is recent."""
		moment = frappe.db.get_value("Opportunity", name, "creation")
		frappe.db.set_value(
			"Opportunity", name, {"modified": moment, "modified_by": "Administrator"}, update_modified=False
		)

	def as_rep(self):
		frappe.set_user(self.rep)

	def assertKeptOpenAgainst(self, active: str, control: str) -> None:
		frappe.set_user("Administrator")
		self.run_job()
		self.assertEqual(self.status(control), "Closed", "the control deal, without the activity, closes")
		self.assertEqual(self.status(active), "Open", "the deal with the activity stays open")


class TestChangesToTheDeal(ActivityCase):
	def test_a_note_added_today_keeps_a_100_day_old_deal_open(self):
		# The case: the deal has history rows from its creation, all 100 days old.
		active, control = self.old_deal(), self.old_deal()
		self.assertTrue(factories.history(active))
		self.as_rep()
		frappe.get_doc("Opportunity", active).add_note("Called: they want a quote in March")
		self.assertKeptOpenAgainst(active, control)

	def test_a_notes_own_date_counts(self):
		# A note whose save left no recent timestamp on the deal (edited in place, imported, ...).
		active, control = self.old_deal(), self.old_deal()
		self.as_rep()
		frappe.get_doc("Opportunity", active).add_note("Met at the trade fair")
		frappe.get_doc("Opportunity", control).add_note("Old note")
		frappe.set_user("Administrator")
		old = add_to_date(now_datetime(), days=-IDLE_DAYS)
		frappe.db.sql("update `tabCRM Note` set added_on = %s where parent = %s", (old, control))
		self.set_back(active)
		self.set_back(control)
		self.assertKeptOpenAgainst(active, control)

	def test_an_item_line_changed_today_over_rest_keeps_it_open(self):
		line = factories.item_line(qty=1, rate=100)
		active = self.old_deal(items=[line])
		control = self.old_deal(items=[line])
		rows = frappe.get_all(
			"Opportunity Item", filters={"parent": active}, fields=["name", "item_code", "rate", "uom"]
		)
		rest_put("Opportunity", active, {"items": [{**rows[0], "qty": 4}]}, user=self.rep)
		self.assertEqual(frappe.db.get_value("Opportunity Item", rows[0].name, "qty"), 4)
		# Only the deal's timestamp shows it: an item line is not a tracked field, so no new history row.
		self.assertFalse(
			frappe.db.exists(
				"Opportunity History", {"opportunity": active, "changed_on": (">", add_days(today(), -1))}
			)
		)
		self.assertKeptOpenAgainst(active, control)

	def test_any_other_field_changed_by_a_person_keeps_it_open(self):
		active, control = self.old_deal(), self.old_deal()
		self.as_rep()
		doc = frappe.get_doc("Opportunity", active)
		doc.phone = "+1 555 0100"
		doc.save()
		self.assertEqual(frappe.db.get_value("Opportunity", active, "modified_by"), self.rep)
		self.assertKeptOpenAgainst(active, control)

	def test_an_administrator_at_the_desk_is_a_person_too(self):
		# The job writes as Administrator; Administrator's own edits still count.
		active, control = self.old_deal(), self.old_deal()
		doc = frappe.get_doc("Opportunity", active)
		doc.phone = "+1 555 0101"
		doc.save()
		self.assertKeptOpenAgainst(active, control)

	def test_a_history_row_written_by_a_person_counts_and_a_system_row_does_not(self):
		active, control = self.old_deal(), self.old_deal()
		moment = now_datetime()
		history_rows.insert_rows(
			[(active, "probability", "Probability", "10", "40")],
			changed_on=moment,
			user=self.rep,
			channel="Desk",
		)
		history_rows.insert_rows(
			[(control, "probability", "Probability", "10", "40")],
			changed_on=moment,
			user=autoclose.JOB_USER,
			channel="System",
		)
		self.assertKeptOpenAgainst(active, control)


class TestActivityAroundTheDeal(ActivityCase):
	def communication(self, name: str, sent_or_received: str, *, as_link: bool) -> None:
		values = {
			"doctype": "Communication",
			"communication_type": "Communication",
			"communication_medium": "Email",
			"sent_or_received": sent_or_received,
			"subject": "Re: your quote",
			"content": "Following up",
			"communication_date": now_datetime(),
		}
		if as_link:
			# Filed under the lead, shown on the opportunity's timeline.
			values["timeline_links"] = [{"link_doctype": "Opportunity", "link_name": name}]
		else:
			values.update(reference_doctype="Opportunity", reference_name=name)
		frappe.get_doc(values).insert(ignore_permissions=True)
		self.set_back(name)

	def test_a_mail_sent_by_the_rep_counts(self):
		active, control = self.old_deal(), self.old_deal()
		self.communication(active, "Sent", as_link=False)
		self.assertKeptOpenAgainst(active, control)

	def test_a_mail_received_on_the_timeline_counts(self):
		active, control = self.old_deal(), self.old_deal()
		self.communication(active, "Received", as_link=True)
		self.assertKeptOpenAgainst(active, control)

	def test_a_comment_counts_and_the_jobs_info_comment_does_not(self):
		active, control = self.old_deal(), self.old_deal()
		self.as_rep()
		frappe.get_doc("Opportunity", active).add_comment("Comment", "Budget approved next quarter")
		frappe.set_user("Administrator")
		frappe.get_doc("Opportunity", control).add_comment("Info", "Closed automatically: an earlier run")
		self.set_back(active)
		self.assertKeptOpenAgainst(active, control)

	def test_a_todo_counts(self):
		active, control = self.old_deal(), self.old_deal()
		assign_to.add(
			{"doctype": "Opportunity", "name": active, "assign_to": [self.rep], "description": "Call"}
		)
		self.assertTrue(frappe.db.exists("ToDo", {"reference_type": "Opportunity", "reference_name": active}))
		self.set_back(active)
		self.assertKeptOpenAgainst(active, control)

	def test_an_event_counts(self):
		active, control = self.old_deal(), self.old_deal()
		self.as_rep()
		event = frappe.get_doc(
			{
				"doctype": "Event",
				"subject": "Site visit",
				"starts_on": add_to_date(now_datetime(), days=-IDLE_DAYS),
				"event_participants": [{"reference_doctype": "Opportunity", "reference_docname": active}],
			}
		).insert()
		frappe.set_user("Administrator")
		# Frappe mirrors the Event as a Communication dated at its start; an old start here, so only the
		# Event itself (made today) is recent.
		self.assertTrue(
			frappe.db.exists("Communication", {"reference_doctype": "Event", "reference_name": event.name})
		)
		self.set_back(active)
		self.assertKeptOpenAgainst(active, control)


class TestTheJobsOwnWrites(ActivityCase):
	def test_a_deal_reopened_without_a_trace_closes_again(self):
		# The close's own timestamp, Info comment, Version and System history row are not activity.
		name = self.old_deal()
		self.run_job()
		self.assertEqual(self.status(name), "Closed")
		self.assertEqual(frappe.db.get_value("Opportunity", name, "modified_by"), autoclose.JOB_USER)
		frappe.db.set_value("Opportunity", name, "status", "Open", update_modified=False)
		counts = self.run_job()
		self.assertEqual(self.status(name), "Closed")
		self.assertGreaterEqual(counts["closed"], 1)

	def test_closing_clears_the_overdue_flag_and_the_daily_flag_job_is_no_activity(self):
		name = self.old_deal(expected_closing=add_days(today(), -20))
		tasks.flag_overdue_opportunities()
		self.assertEqual(frappe.db.get_value("Opportunity", name, "op_is_overdue"), 1)
		self.run_job()
		self.assertEqual(self.status(name), "Closed")
		self.assertEqual(frappe.db.get_value("Opportunity", name, "op_is_overdue"), 0)
		version = frappe.get_all(
			"Version", filters={"ref_doctype": "Opportunity", "docname": name}, pluck="data"
		)
		self.assertIn(["op_is_overdue", 1, 0], json.loads(version[0])["changed"])
		# The daily job keeps it that way: a closed deal is never overdue.
		tasks.flag_overdue_opportunities()
		self.assertEqual(frappe.db.get_value("Opportunity", name, "op_is_overdue"), 0)
