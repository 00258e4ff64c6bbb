"""Auto-close against other sessions: two runs started together close each opportunity once and warn
each owner once; a note, mail or edit committed by a person after a run planned its batch keeps that deal
open.

Unlike the other integration tests this one commits: the second run needs its own database connection,
and a connection sees only committed rows. It creates its records under unique names in its own
territory, and its `finally` deletes every row it created or caused (and restores the settings), committed.

The job reads the whole site. So that a run here never closes (and commits) anybody else's opportunities
on a shared development site, the candidate loader is narrowed to the test's opportunities; the selection
query, the lock, the re-check under a row lock, closing and warning all run unchanged.
"""

import threading
import time
from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_to_date, now_datetime, random_string

from opportunity_plus import autoclose, summary
from opportunity_plus.pipeline import SETTINGS
from opportunity_plus.tests.integration import factories

STALE_DAYS = (31, 35, 40, 60)
WARNED_DAYS = 27
SETTINGS_VALUES = {
	"auto_close_enabled": 1,
	"auto_close_after_days": 30,
	"auto_close_warning_days": 5,
	"auto_close_open": 1,
	"auto_close_replied": 1,
	"auto_close_quotation": 0,
}
THREAD_TIMEOUT_SECONDS = 120
# Committed writes on a shared site meet other sessions' open transactions (a test inserting a Territory
# locks the nested set): retry what deadlocks.
ATTEMPTS = 5
USER_CHILD_TABLES = ("Has Role", "Block Module", "User Email", "DefaultValue", "User Social Login")


def with_retries(action):
	"""Run `action` and commit; on a deadlock or lock wait timeout roll back and run it again."""
	for attempt in range(1, ATTEMPTS + 1):
		try:
			result = action()
			frappe.db.commit()
			return result
		except (frappe.QueryDeadlockError, frappe.QueryTimeoutError):
			frappe.db.rollback()
			if attempt == ATTEMPTS:
				raise
			time.sleep(attempt)


def only(names: set[str]):
	"""autoclose.candidate_batches narrowed to `names`."""
	original = autoclose.candidate_batches

	def candidate_batches(policy, batch_size=autoclose.BATCH_SIZE, horizon_days=0):
		for rows in original(policy, batch_size, horizon_days):
			mine = [row for row in rows if row.name in names]
			if mine:
				yield mine

	return candidate_batches


def in_another_session(action, user: str = "Administrator") -> None:
	"""Run `action` as `user` on a connection of its own (a thread) and commit it, like a person's request
	reaching the site while the job runs."""
	site, sites_path = frappe.local.site, frappe.local.sites_path
	errors = []

	def run() -> None:
		frappe.init(site, sites_path=sites_path)
		try:
			frappe.connect()
			frappe.set_user(user)
			action()
			frappe.db.commit()
		except Exception as exception:
			errors.append(exception)
		finally:
			frappe.destroy()

	thread = threading.Thread(target=run)
	thread.start()
	thread.join(THREAD_TIMEOUT_SECONDS)
	if thread.is_alive():
		raise TimeoutError("the other session did not finish")
	if errors:
		raise errors[0]


class TestAutoCloseConcurrency(FrappeTestCase):
	def test_two_runs_started_together_close_each_opportunity_once_and_notify_once(self):
		created = {"opportunities": [], "lead": None, "territory": None, "user": None, "settings": None}
		reason_existed = bool(frappe.db.exists("Opportunity Lost Reason", autoclose.NO_RESPONSE))
		try:
			stale, warned = with_retries(lambda: self.create_committed_data(created))
			results, errors = self.run_twice_at_once(set(created["opportunities"]))

			self.assertEqual(errors, [], "both runs finish without an error")
			# Whoever takes the lock does the work; a run that finds it taken returns None, one that
			# starts after the other finished finds nothing left to do.
			finished = [result for result in results if result is not None]
			self.assertTrue(finished, "at least one run acquired the lock")
			self.assertEqual(sum(result["closed"] for result in finished), len(stale))
			self.assertEqual(sum(result["warned"] for result in finished), 1)
			self.assertEqual(sum(result["failed"] for result in finished), 0)

			frappe.db.rollback()  # a fresh snapshot: see what the threads committed
			for name in stale:
				with self.subTest(opportunity=name):
					self.assertEqual(frappe.db.get_value("Opportunity", name, "status"), "Closed")
					self.assertEqual(self.closed_history_rows(name), 1)
					self.assertEqual(self.auto_close_comments(name), 1)
					self.assertEqual(
						frappe.get_all(
							"Opportunity Lost Reason Detail",
							filters={"parenttype": "Opportunity", "parent": name},
							pluck="lost_reason",
						),
						[autoclose.NO_RESPONSE],
					)
					self.assertEqual(self.notifications(name), 0)
			self.assertEqual(frappe.db.get_value("Opportunity", warned, "status"), "Open")
			self.assertEqual(self.notifications(warned, for_user=created["user"]), 1)
			self.assertEqual(self.notifications(warned), 1)
			self.assertEqual(self.closed_history_rows(warned), 0)
		finally:
			self.clean_up(created, reason_existed)

	def test_activity_committed_after_planning_keeps_the_deal_open(self):
		created = {"opportunities": [], "lead": None, "territory": None, "user": None, "settings": None}
		reason_existed = bool(frappe.db.exists("Opportunity Lost Reason", autoclose.NO_RESPONSE))
		try:
			deals = with_retries(lambda: self.create_deals_to_touch(created))
			planned = []
			plan_batch = autoclose.plan_batch

			def plan_then_touch(rows, policy, today):
				decisions = plan_batch(rows, policy, today)
				if not planned:  # the batch's planning; later calls are close()'s re-check
					planned.extend(decisions)
					in_another_session(lambda: self.touch(deals), user=created["user"])
				return decisions

			with (
				patch.object(autoclose, "candidate_batches", only(set(deals.values()))),
				patch.object(autoclose, "plan_batch", plan_then_touch),
			):
				counts = autoclose.run()

			self.assertEqual(
				sorted(decision.name for decision in planned if decision.action == "close"),
				sorted(deals.values()),
				"all four were planned to close",
			)
			self.assertEqual((counts["closed"], counts["failed"]), (1, 0))
			frappe.db.rollback()  # a fresh snapshot: see what the run committed
			self.assertEqual(frappe.db.get_value("Opportunity", deals["control"], "status"), "Closed")
			for kind in ("note", "mail", "edit"):
				with self.subTest(activity=kind):
					self.assertEqual(frappe.db.get_value("Opportunity", deals[kind], "status"), "Open")
					self.assertEqual(self.closed_history_rows(deals[kind]), 0)
					self.assertEqual(self.auto_close_comments(deals[kind]), 0)
		finally:
			self.clean_up(created, reason_existed)

	# --- arrange --------------------------------------------------------------------------------------

	def create_committed_data(self, created: dict) -> tuple[list[str], str]:
		"""Settings, territory, lead, owner and opportunities; committed by the caller."""
		created["opportunities"].clear()  # names from a rolled-back attempt are gone
		settings = self.save_settings(dict(SETTINGS_VALUES), rules=[])
		# A retried attempt reads the settings this one saved: keep what they were before the first.
		created["settings"] = created["settings"] or settings
		created["territory"] = factories.territory("OP Concurrency")
		created["lead"] = factories.lead()
		created["user"] = self.owner_user()
		stale = []
		for index, days in enumerate(STALE_DAYS):
			# Open and Replied are both eligible.
			status = "Replied" if index % 2 else "Open"
			stale.append(self.stale_opportunity(created, days, status=status))
		warned = self.stale_opportunity(created, WARNED_DAYS, opportunity_owner=created["user"])
		return stale, warned

	def stale_opportunity(self, created: dict, days: int, status: str = "Open", **values) -> str:
		"""An opportunity whose creation and every activity lie `days` ago."""
		doc = factories.opportunity(territory=created["territory"], party_name=created["lead"], **values)
		created["opportunities"].append(doc.name)
		moment = add_to_date(now_datetime(), days=-days)
		frappe.db.set_value(
			"Opportunity",
			doc.name,
			{"status": status, "creation": moment, "modified": moment},
			update_modified=False,
		)
		frappe.db.sql(
			"update `tabOpportunity History` set changed_on = %s where opportunity = %s", (moment, doc.name)
		)
		return doc.name

	def owner_user(self) -> str:
		"""An enabled user to warn, as a bare row: inserting a User through its controller also creates a
		Contact, Notification Settings and more, and deleting it updates Contact through an unindexed
		column, which deadlocks with other sessions creating users on a shared site."""
		email = f"op-concurrency-{random_string(8).lower()}@example.com"
		moment = now_datetime()
		frappe.get_doc(
			{
				"doctype": "User",
				"name": email,
				"email": email,
				"first_name": "OP Concurrency",
				"enabled": 1,
				"user_type": "System User",
				"creation": moment,
				"modified": moment,
				"owner": "Administrator",
				"modified_by": "Administrator",
			}
		).db_insert()
		return email

	def create_deals_to_touch(self, created: dict) -> dict[str, str]:
		"""Four deals idle for 60 days: three a person will touch once the run has planned, one control."""
		created["opportunities"].clear()
		settings = self.save_settings(dict(SETTINGS_VALUES, auto_close_warning_days=0), rules=[])
		created["settings"] = created["settings"] or settings
		created["territory"] = factories.territory("OP Concurrency")
		created["lead"] = factories.lead()
		created["user"] = self.owner_user()
		return {kind: self.stale_opportunity(created, 60) for kind in ("note", "mail", "edit", "control")}

	def touch(self, deals: dict[str, str]) -> None:
		"""What the person does while the run is between planning and closing (committed by the caller).

		The note and the mail leave the deals' own timestamp as it was, so only reading the notes and
		Communications again after the row locks (not the planning snapshot) can see them."""
		note = frappe.get_doc("Opportunity", deals["note"])
		note.flags.ignore_permissions = True
		note.add_note("They called back: budget approved")
		stale = frappe.db.get_value("Opportunity", deals["note"], "creation")
		frappe.db.set_value("Opportunity", deals["note"], "modified", stale, update_modified=False)
		frappe.get_doc(
			{
				"doctype": "Communication",
				"communication_type": "Communication",
				"communication_medium": "Email",
				"sent_or_received": "Received",
				"subject": "Re: proposal",
				"content": "Can we meet next week?",
				"reference_doctype": "Opportunity",
				"reference_name": deals["mail"],
				"communication_date": now_datetime(),
			}
		).insert(ignore_permissions=True)
		self.assertEqual(
			frappe.db.get_value("Opportunity", deals["mail"], "modified"),
			frappe.db.get_value("Opportunity", deals["mail"], "creation"),
			"the mail left the deal's timestamp alone",
		)
		edit = frappe.get_doc("Opportunity", deals["edit"])
		edit.phone = "+1 555 0199"
		edit.save(ignore_permissions=True)

	def save_settings(self, values: dict, rules: list[dict]) -> dict:
		"""Save the auto-close settings; return what they were, to restore."""
		doc = frappe.get_single(SETTINGS)
		previous = {field: doc.get(field) for field in values}
		previous_rules = [
			{"opportunity_type": row.opportunity_type, "days": row.days} for row in doc.auto_close_rules
		]
		doc.update(values)
		doc.set("auto_close_rules", rules)
		doc.save(ignore_permissions=True)
		return {"values": previous, "rules": previous_rules}

	# --- act ------------------------------------------------------------------------------------------

	def run_twice_at_once(self, names: set[str]) -> tuple[list, list]:
		site, sites_path = frappe.local.site, frappe.local.sites_path
		barrier = threading.Barrier(2, timeout=THREAD_TIMEOUT_SECONDS)
		results, errors = [None, None], []

		def run(slot: int) -> None:
			# frappe.local is per thread: this thread gets its own site context and database connection.
			frappe.init(site, sites_path=sites_path)
			try:
				frappe.connect()
				frappe.set_user("Administrator")
				barrier.wait()
				results[slot] = autoclose.run()
			except Exception as exception:
				errors.append(repr(exception))
				barrier.abort()
			finally:
				frappe.destroy()

		with patch.object(autoclose, "candidate_batches", only(names)):
			threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
			for thread in threads:
				thread.start()
			for thread in threads:
				thread.join(THREAD_TIMEOUT_SECONDS)
		self.assertFalse(any(thread.is_alive() for thread in threads), "both runs finish in time")
		return results, errors

	# --- assert ---------------------------------------------------------------------------------------

	def closed_history_rows(self, name: str) -> int:
		return frappe.db.count(
			"Opportunity History", {"opportunity": name, "changed_field": "status", "to_value": "Closed"}
		)

	def auto_close_comments(self, name: str) -> int:
		return frappe.db.count(
			"Comment",
			{
				"reference_doctype": "Opportunity",
				"reference_name": name,
				"comment_type": "Info",
				"content": ("like", "Closed automatically%"),
			},
		)

	def notifications(self, name: str, for_user: str | None = None) -> int:
		filters = {"document_type": "Opportunity", "document_name": name}
		if for_user:
			filters["for_user"] = for_user
		return frappe.db.count("Notification Log", filters)

	# --- clean up -------------------------------------------------------------------------------------

	def clean_up(self, created: dict, reason_existed: bool) -> None:
		"""Delete everything the test created or the runs wrote, and restore the settings; committed.

		Every step runs even if an earlier one fails; the first failure is raised at the end.
		"""
		frappe.db.rollback()
		names = created["opportunities"]
		user = created["user"]
		failures = []

		def step(action) -> None:
			try:
				with_retries(action)
			except Exception as exception:
				frappe.db.rollback()
				failures.append(exception)

		def delete(doctype: str, filters: dict) -> None:
			step(lambda: frappe.db.delete(doctype, filters))

		def delete_doc(doctype: str, name: str) -> None:
			step(
				lambda: frappe.delete_doc(
					doctype, name, force=True, ignore_permissions=True, delete_permanently=True
				)
			)

		if names:
			notification_logs = frappe.get_all(
				"Notification Log",
				filters={"document_type": "Opportunity", "document_name": ("in", names)},
				pluck="name",
			)
			if notification_logs:
				delete("Error Log", {"reference_name": ("in", notification_logs)})
				delete("Notification Log", {"name": ("in", notification_logs)})
			delete("Error Log", {"reference_doctype": "Opportunity", "reference_name": ("in", names)})
			communications = frappe.get_all(
				"Communication",
				filters={"reference_doctype": "Opportunity", "reference_name": ("in", names)},
				pluck="name",
			)
			if communications:
				delete("Communication Link", {"parent": ("in", communications)})
				delete("Communication", {"name": ("in", communications)})
			delete("Comment", {"reference_doctype": "Opportunity", "reference_name": ("in", names)})
			delete("Version", {"ref_doctype": "Opportunity", "docname": ("in", names)})
			delete("ToDo", {"reference_type": "Opportunity", "reference_name": ("in", names)})
			delete("Opportunity History", {"opportunity": ("in", names)})
			for child in (
				"Opportunity Lost Reason Detail",
				"Opportunity Item",
				"Competitor Detail",
				"CRM Note",
			):
				delete(child, {"parenttype": "Opportunity", "parent": ("in", names)})
			# Straight from the table: closed opportunities are guarded against deletion. That runs no hook,
			# so the pipeline summary is told here.
			delete("Opportunity", {"name": ("in", names)})
			step(lambda: summary.sync(names))
		if user:
			# The warning's email, if the site queues one.
			queued = frappe.get_all("Email Queue Recipient", filters={"recipient": user}, pluck="parent")
			if queued:
				delete("Email Queue Recipient", {"parent": ("in", queued)})
				delete("Email Queue", {"name": ("in", queued)})
			# Inserted as a bare row (see owner_user), deleted the same way.
			for child in USER_CHILD_TABLES:
				delete(child, {"parenttype": "User", "parent": user})
			delete("Notification Settings", {"name": user})
			delete("User", {"name": user})
		if created["lead"]:
			# Its opportunities are gone and nothing else links to it; its on_trash would only scan other
			# tables for links.
			delete("CRM Note", {"parenttype": "Lead", "parent": created["lead"]})
			delete("Lead", {"name": created["lead"]})
		if created["territory"]:
			delete_doc("Territory", created["territory"])
		if not reason_existed:
			step(self.delete_reason_if_unused)
		if created["settings"]:
			previous = created["settings"]
			step(lambda: self.save_settings(previous["values"], previous["rules"]))
		frappe.db.commit()
		if failures:
			raise failures[0]

	def delete_reason_if_unused(self) -> None:
		if not frappe.db.exists("Opportunity Lost Reason Detail", {"lost_reason": autoclose.NO_RESPONSE}):
			frappe.delete_doc(
				"Opportunity Lost Reason", autoclose.NO_RESPONSE, force=True, delete_permanently=True
			)
