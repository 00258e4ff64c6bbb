"""The write path: what a save costs the app, and saves in two database connections at once.

The concurrency tests commit (a second connection sees only committed rows): they create their deals
under their own territory and customer, and their `finally` deletes every row they created or caused,
committed. The other tests stay in the test's transaction.
"""

import threading

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, add_months, get_first_day, getdate, nowdate, random_string

from opportunity_plus import summary
from opportunity_plus.events import opportunity as opportunity_events
from opportunity_plus.pipeline import ordered_stages
from opportunity_plus.tests.integration import factories
from opportunity_plus.tests.integration.test_autoclose_concurrency import with_retries
from opportunity_plus.tests.integration.test_summary import recomputed, summarised

THREAD_TIMEOUT_SECONDS = 60
ROUNDS = 4


class StatementLog:
	"""The statements sent through frappe.db.sql while active."""

	def __enter__(self):
		self.statements = []
		original = frappe.db.sql

		def logged(query, *args, **kwargs):
			self.statements.append(str(query))
			return original(query, *args, **kwargs)

		frappe.db.sql = logged
		return self

	def __exit__(self, *exc):
		del frappe.db.sql

	def touching(self, table: str) -> list[str]:
		return [statement for statement in self.statements if table in statement]


def open_stages() -> list[str]:
	return [stage.name for stage in ordered_stages() if stage.kind == "Open"]


class TestWhatASaveCosts(FrappeTestCase):
	def test_an_untracked_change_does_not_touch_the_summary_and_a_tracked_one_does_at_commit(self):
		deal = factories.opportunity(
			territory=factories.territory(), expected_closing=add_days(nowdate(), 40)
		)
		summary.flush()
		deal.reload()
		with StatementLog() as log:
			deal.contact_mobile = "+1 555 0101"
			deal.save(ignore_permissions=True)
			summary.flush()  # what the commit would do
		self.assertEqual(log.touching(summary.SUMMARY_TABLE) + log.touching(summary.ENTRY_TABLE), [])

		# a close date moved within its month changes nothing the summary counts either
		closing = getdate(deal.expected_closing)
		same_month = closing.replace(day=28 if closing.day != 28 else 27)
		with StatementLog() as log:
			deal.expected_closing = same_month
			deal.save(ignore_permissions=True)
			summary.flush()
		self.assertEqual(log.touching(summary.SUMMARY_TABLE) + log.touching(summary.ENTRY_TABLE), [])

		with StatementLog() as log:
			deal.sales_stage = open_stages()[1]
			deal.save(ignore_permissions=True)
			counted_in_save = log.touching(summary.SUMMARY_TABLE)
			summary.flush()
		self.assertEqual(counted_in_save, [], "the summary is written at commit, not in the save")
		self.assertTrue(log.touching(summary.SUMMARY_TABLE))
		self.assertEqual(summary._stale_entries([deal.name]), [])

	def test_a_rollback_forgets_what_was_marked(self):
		deal = factories.opportunity(territory=factories.territory())
		self.assertIn(deal.name, getattr(frappe.db, "_op_summary_pending", None) or {})
		frappe.db.rollback()
		self.assertIsNone(getattr(frappe.db, "_op_summary_pending", None))

	def test_a_reader_sees_the_changes_of_its_own_transaction(self):
		territory = factories.territory()
		deals = [
			factories.opportunity(territory=territory, opportunity_amount=amount) for amount in (100, 250)
		]
		deals[0].sales_stage = open_stages()[2]
		deals[0].save(ignore_permissions=True)
		self.assertEqual(summarised([territory]), recomputed([territory]))
		self.assertEqual(sum(count for count, _base, _weighted in summarised([territory]).values()), 2)


class TestPartyMapping(FrappeTestCase):
	"""ERPNext's map_fields asks, once per empty column, whether the party's doctype has a standard field of
	that name; the app asks once for all the columns and lets map_fields skip those whose answer is no. The
	mapped values must be exactly ERPNext's."""

	def assertMapsAsERPNext(self, values: dict) -> frappe._dict:
		plain, guarded = frappe.get_doc(dict(values)), frappe.get_doc(dict(values))
		empty = [field for field in plain.meta.get_valid_columns() if not plain.get(field)]
		with StatementLog() as unguarded:
			type(plain).map_fields(plain)  # ERPNext's, as it runs without the app
		opportunity_events.before_validate(guarded)
		with StatementLog() as log:
			guarded.map_fields()
		self.assertNotIn("map_fields", guarded.__dict__, "the wrapper is gone after its one call")
		self.assertEqual(guarded.as_dict(), plain.as_dict())
		self.assertEqual(len(unguarded.touching("`tabDocField`")), len(empty))
		# one question for all, then ERPNext's own for the columns the party's doctype has
		on_party = frappe.get_all(
			"DocField",
			filters={"parent": values["opportunity_from"], "fieldname": ("in", empty)},
			pluck="name",
		)
		self.assertEqual(len(log.touching("`tabDocField`")), 1 + len(on_party))
		self.assertLess(1 + len(on_party), len(empty))
		return plain

	def test_from_a_lead(self):
		lead = frappe.get_doc(
			{
				"doctype": "Lead",
				"lead_name": f"OP Map {random_string(6)}",
				"company_name": f"OP Map Co {random_string(6)}",
				"website": "https://example.com",
				"territory": factories.territory(),
				"city": "Lyon",
				"mobile_no": "+33 6 00 00 00 00",
			}
		).insert(ignore_permissions=True)
		mapped = self.assertMapsAsERPNext(
			{
				"doctype": "Opportunity",
				"opportunity_from": "Lead",
				"party_name": lead.name,
				"company": factories.company(),
			}
		)
		self.assertEqual((mapped.website, mapped.territory), ("https://example.com", lead.territory))

	def test_from_a_customer_with_values_already_set(self):
		territory = factories.territory()
		customer = (
			frappe.get_doc(
				{
					"doctype": "Customer",
					"customer_name": f"OP Map {random_string(6)}",
					"customer_type": "Company",
					"customer_group": factories.customer_group(),
					"territory": territory,
					"website": "https://customer.example.com",
				}
			)
			.insert(ignore_permissions=True)
			.name
		)
		mapped = self.assertMapsAsERPNext(
			{
				"doctype": "Opportunity",
				"opportunity_from": "Customer",
				"party_name": customer,
				"company": factories.company(),
				"website": "https://kept.example.com",  # set: never overwritten
				"op_forecast_category": "",
			}
		)
		self.assertEqual((mapped.website, mapped.territory), ("https://kept.example.com", territory))

	def test_a_save_asks_once(self):
		deal = factories.opportunity(territory=factories.territory())
		deal.contact_mobile = "+1 555 0102"
		empty = [field for field in deal.meta.get_valid_columns() if not deal.get(field)]
		on_party = frappe.get_all(
			"DocField", filters={"parent": deal.opportunity_from, "fieldname": ("in", empty)}, pluck="name"
		)
		with StatementLog() as log:
			deal.save(ignore_permissions=True)
		self.assertEqual(len(log.touching("`tabDocField`")), 1 + len(on_party))
		# against the save ERPNext alone makes (a map_fields of the instance's own is left alone)
		deal.contact_mobile = "+1 555 0103"
		empty = [field for field in deal.meta.get_valid_columns() if not deal.get(field)]
		with StatementLog() as unguarded:
			deal.__dict__["map_fields"] = type(deal).map_fields.__get__(deal)
			deal.save(ignore_permissions=True)
		self.assertEqual(len(unguarded.touching("`tabDocField`")), len(empty))


# --- two connections at once ------------------------------------------------------------------------------


def in_parallel(actions: list, meet: str = "commit") -> list:
	"""Run each action in a thread of its own with its own site context and database connection, and
	commit. With meet="commit" all save first, then all commit together (each still holding its deal's row
	lock); with meet="start" they start together (inserts wait on one another's naming series row, as in
	stock ERPNext, so they cannot all be saved before one commits). Returns the errors."""
	site, sites_path = frappe.local.site, frappe.local.sites_path
	together = threading.Barrier(len(actions), timeout=THREAD_TIMEOUT_SECONDS)
	errors = []

	def run(action) -> None:
		frappe.init(site, sites_path=sites_path)
		try:
			frappe.connect()
			frappe.set_user("Administrator")
			if meet == "start":
				together.wait()
			action()
			if meet == "commit":
				together.wait()
			frappe.db.commit()
		except Exception as exception:
			errors.append(repr(exception))
			together.abort()
			frappe.db.rollback()
		finally:
			frappe.destroy()

	threads = [threading.Thread(target=run, args=(action,)) for action in actions]
	for thread in threads:
		thread.start()
	for thread in threads:
		thread.join(THREAD_TIMEOUT_SECONDS)
	if any(thread.is_alive() for thread in threads):
		errors.append("a save did not finish in time")
	return errors


class TestSavesAtOnce(FrappeTestCase):
	"""Deals of one owner, territory, stage and close month share one summary row: saves in two connections
	at once both land, no deadlock, and the summary equals a recomputation."""

	def setUp(self):
		self.created = {"territory": None, "customer": None, "deals": []}
		self.closing = get_first_day(add_months(getdate(nowdate()), 1)).replace(day=15)

	def tearDown(self):
		frappe.db.rollback()
		names = self.created["deals"]

		def clean():
			if names:
				for child in (
					"Opportunity Item",
					"Opportunity Lost Reason Detail",
					"Competitor Detail",
					"CRM Note",
				):
					frappe.db.delete(child, {"parenttype": "Opportunity", "parent": ("in", names)})
				frappe.db.delete("Opportunity History", {"opportunity": ("in", names)})
				frappe.db.delete("Version", {"ref_doctype": "Opportunity", "docname": ("in", names)})
				frappe.db.delete("Opportunity", {"name": ("in", names)})
				summary.sync(names)
			if self.created["customer"]:
				frappe.db.delete("Customer", {"name": self.created["customer"]})
			if self.created["territory"]:
				frappe.delete_doc("Territory", self.created["territory"], force=True, ignore_permissions=True)

		with_retries(clean)
		super().tearDown()

	def make_shared(self):
		self.created["territory"] = factories.territory("OP Write")
		self.created["customer"] = (
			frappe.get_doc(
				{
					"doctype": "Customer",
					"customer_name": f"OP Write {random_string(6)}",
					"customer_type": "Company",
					"customer_group": factories.customer_group(),
					"territory": self.created["territory"],
				}
			)
			.insert(ignore_permissions=True)
			.name
		)

	def deal(self, stage: str) -> str:
		doc = frappe.get_doc(
			{
				"doctype": "Opportunity",
				"opportunity_from": "Customer",
				"party_name": self.created["customer"],
				"company": factories.company(),
				"currency": factories.currency(),
				"territory": self.created["territory"],
				"opportunity_owner": "Administrator",
				"sales_stage": stage,
				"expected_closing": self.closing,
				"opportunity_amount": 1000,
			}
		).insert(ignore_permissions=True)
		self.created["deals"].append(doc.name)
		return doc.name

	def assertSummaryExact(self):
		frappe.db.rollback()  # a fresh snapshot: what the threads committed
		territory = self.created["territory"]
		self.assertEqual(summarised([territory]), recomputed([territory]))
		self.assertEqual(summary._stale_entries(self.created["deals"]), [])

	def test_two_saves_moving_deals_between_the_same_summary_rows(self):
		first, second = open_stages()[:2]
		with_retries(self.make_shared)
		deals = with_retries(
			lambda: [self.deal(first), self.deal(first), self.deal(second), self.deal(second)]
		)

		def move(name: str, stage: str, amount: float):
			def action():
				doc = frappe.get_doc("Opportunity", name, for_update=True)
				doc.sales_stage = stage
				doc.opportunity_amount = amount
				doc.save(ignore_permissions=True)

			return action

		for round_ in range(ROUNDS):
			with self.subTest(round=round_):
				# the same direction on two deals, and the opposite direction on two others: every pair of
				# transactions locks the same two summary rows
				there, back = (second, first) if round_ % 2 else (first, second)
				amount = 1000 + round_
				errors = in_parallel(
					[move(deals[0], back, amount), move(deals[1], back, amount + 1)]
				) + in_parallel([move(deals[0], there, amount + 2), move(deals[2], there, amount + 3)])
				self.assertEqual(errors, [])
				self.assertSummaryExact()
		stored = frappe.get_all(
			"Opportunity",
			filters={"name": ("in", deals)},
			fields=["name", "sales_stage", "opportunity_amount"],
		)
		by_name = {row.name: row for row in stored}
		self.assertEqual(by_name[deals[2]].opportunity_amount, 1000 + ROUNDS - 1 + 3)
		self.assertEqual(by_name[deals[1]].opportunity_amount, 1000 + ROUNDS - 1 + 1)

	def test_two_new_deals_at_once(self):
		first = open_stages()[0]
		with_retries(self.make_shared)
		names = []

		def create():
			names.append(self.deal(first))

		for round_ in range(ROUNDS):
			with self.subTest(round=round_):
				self.assertEqual(in_parallel([create, create], meet="start"), [])
				self.assertSummaryExact()
		self.assertEqual(len(names), 2 * ROUNDS)
		self.assertEqual(frappe.db.count("Opportunity", {"name": ("in", names)}), 2 * ROUNDS)
