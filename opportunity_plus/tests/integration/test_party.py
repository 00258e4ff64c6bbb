"""The party's deal history on the Opportunity form, and the Customer / Lead dashboards counting deals."""

import frappe
from frappe.desk.notifications import get_open_count
from frappe.tests.utils import FrappeTestCase
from frappe.utils import random_string

from opportunity_plus.api.party import get_party_deals
from opportunity_plus.tests.integration import factories

LOST_REASON = "OP Test Reason"


def customer_from_lead(lead_name: str, territory: str | None = None) -> str:
	values = {"territory": territory} if territory else {}
	return (
		frappe.get_doc(
			{
				"doctype": "Customer",
				"customer_name": f"OP Customer {random_string(6)}",
				"customer_type": "Company",
				"lead_name": lead_name,
				**values,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def declare_lost(opportunity) -> None:
	if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
		frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert()
	opportunity.declare_enquiry_lost([{"lost_reason": LOST_REASON}], [])


def set_status(opportunity, status: str) -> None:
	opportunity.reload()
	opportunity.status = status
	opportunity.save()


class PartyFixture(FrappeTestCase):
	"""A lead converted to a customer (in a territory of their own where permissions are tested).

	| deal       | party    | status    | amount |
	| lead_lost  | lead     | Lost      | 100    |
	| current    | customer | Open      | 1000   |  <- the opportunity the form shows
	| open       | customer | Open      | 2000   |
	| won        | customer | Converted | 4000   |
	| lost       | customer | Lost      | 300    |
	| closed     | customer | Closed    | 50     |
	| stranger   | other    | Open      | 7000   |  <- another customer's deal, never listed
	Other deals of the current one: open 1 / 2000, won 1 / 4000, lost 3 / 450 (Lost, Closed, lead's Lost).
	"""

	# Territories are a nested set that tests running alongside also write: create one only where needed.
	needs_territory = False

	def setUp(self):
		self.territory = factories.territory() if self.needs_territory else None
		self.lead = factories.lead()
		self.customer = customer_from_lead(self.lead, self.territory)

		def deal(party_type="Customer", party=None, amount=1000, **values):
			if self.territory:
				values["territory"] = self.territory
			return factories.opportunity(
				opportunity_from=party_type,
				party_name=party or self.customer,
				opportunity_amount=amount,
				**values,
			)

		self.lead_lost = deal("Lead", self.lead, 100, title="Lead deal")
		declare_lost(self.lead_lost)
		self.current = deal(title="Current deal")
		self.open = deal(amount=2000, title="Open deal", expected_closing="2027-03-31")
		self.won = deal(amount=4000, title="Won deal")
		set_status(self.won, "Converted")
		self.lost = deal(amount=300, title="Lost deal")
		declare_lost(self.lost)
		self.closed = deal(amount=50, title="Closed deal")
		set_status(self.closed, "Closed")
		self.stranger = deal(party=customer_from_lead(factories.lead()), amount=7000)


class TestPartyDeals(PartyFixture):
	def test_lists_the_other_deals_with_status_stage_amount_and_dates(self):
		result = get_party_deals(self.current.name)
		deals = {row["name"]: row for row in result["deals"]}
		expected = {
			self.open.name: ("Open", "open", 2000),
			self.won.name: ("Converted", "won", 4000),
			self.lost.name: ("Lost", "lost", 300),
			self.closed.name: ("Closed", "lost", 50),
			self.lead_lost.name: ("Lost", "lost", 100),
		}
		self.assertEqual(
			{name: (row["status"], row["outcome"], row["amount"]) for name, row in deals.items()}, expected
		)
		self.assertEqual(deals[self.open.name]["title"], "Open deal")
		self.assertEqual(str(deals[self.open.name]["expected_closing"]), "2027-03-31")
		self.assertEqual(deals[self.open.name]["sales_stage"], self.open.sales_stage)
		self.assertEqual(deals[self.open.name]["currency"], result["summary"]["currency"])
		self.assertTrue(deals[self.lost.name]["lost_on"])
		self.assertEqual(
			(deals[self.lead_lost.name]["opportunity_from"], deals[self.lead_lost.name]["party_name"]),
			("Lead", self.lead),
		)

	def test_the_current_deal_and_other_parties_deals_are_left_out(self):
		names = {row["name"] for row in get_party_deals(self.current.name)["deals"]}
		self.assertNotIn(self.current.name, names)
		self.assertNotIn(self.stranger.name, names)

	def test_summary_counts_and_sums_every_other_deal_by_outcome(self):
		summary = get_party_deals(self.current.name)["summary"]
		self.assertEqual(
			{
				key: (summary[key]["count"], summary[key]["amount"])
				for key in ("open", "won", "lost", "total")
			},
			{"open": (1, 2000), "won": (1, 4000), "lost": (3, 450), "total": (5, 6450)},
		)
		self.assertEqual(
			summary["currency"], frappe.get_cached_value("Company", factories.company(), "default_currency")
		)
		self.assertEqual(summary["not_summed"], 0)

	def test_a_lead_sees_the_deals_of_the_customer_it_became(self):
		result = get_party_deals(self.lead_lost.name)
		self.assertEqual(
			{row["name"] for row in result["deals"]},
			{self.current.name, self.open.name, self.won.name, self.lost.name, self.closed.name},
		)
		self.assertIn({"doctype": "Customer", "name": self.customer}, result["parties"])

	def test_limit_caps_the_rows_not_the_summary(self):
		result = get_party_deals(self.current.name, limit=2)
		self.assertEqual(len(result["deals"]), 2)
		self.assertEqual(result["summary"]["total"]["count"], 5)
		self.assertRaises(frappe.ValidationError, get_party_deals, self.current.name, limit=0)

	def test_an_unknown_opportunity_is_a_clear_error(self):
		self.assertRaisesRegex(
			frappe.DoesNotExistError, "does not exist", get_party_deals, "CRM-OPP-NO-SUCH-DEAL"
		)


class TestPartyDealsPermissions(PartyFixture):
	needs_territory = True

	def test_a_sales_user_sees_only_the_deals_of_their_territory(self):
		elsewhere = factories.territory()
		hidden = factories.opportunity(
			opportunity_from="Customer",
			party_name=self.customer,
			territory=elsewhere,
			opportunity_amount=9000,
		)
		frappe.set_user(factories.sales_user(territory_name=self.territory))
		result = get_party_deals(self.current.name)
		names = {row["name"] for row in result["deals"]}
		self.assertNotIn(hidden.name, names)
		self.assertIn(self.open.name, names)
		self.assertEqual(result["summary"]["open"], {"count": 1, "amount": 2000})

		frappe.set_user("Administrator")
		self.assertIn(hidden.name, {row["name"] for row in get_party_deals(self.current.name)["deals"]})

	def test_without_read_permission_on_the_opportunity_it_is_refused(self):
		frappe.set_user(factories.sales_user(territory_name=factories.territory()))
		self.assertRaises(frappe.PermissionError, get_party_deals, self.current.name)

	def test_a_user_without_a_sales_role_is_refused(self):
		frappe.set_user(factories.sales_user(roles=("Blogger",)))
		self.assertRaises(frappe.PermissionError, get_party_deals, self.current.name)


class TestDashboards(PartyFixture):
	"""ERPNext's own Customer and Lead dashboards already count opportunities (party_name): no override."""

	def test_customer_and_lead_dashboards_link_opportunities_by_party_name(self):
		for doctype in ("Customer", "Lead"):
			data = frappe.get_meta(doctype).get_dashboard_data()
			items = [item for group in data.transactions for item in group["items"]]
			self.assertIn("Opportunity", items, doctype)
			self.assertEqual(data.non_standard_fieldnames["Opportunity"], "party_name", doctype)

	def test_customer_and_lead_dashboards_count_their_own_opportunities(self):
		# get_open_count caps the session's statement time at 1 s (a request's own connection): put it back.
		timeout = frappe.db.sql("select @@session.max_statement_time")[0][0]
		self.addCleanup(frappe.db.set_execution_timeout, timeout)

		def opportunity_count(doctype, name):
			found = get_open_count(doctype, name)["count"]["external_links_found"]
			return next((row["count"], row["open_count"]) for row in found if row["doctype"] == "Opportunity")

		# the customer's 5 deals (2 open) and the lead's own one, each without the other's
		self.assertEqual(opportunity_count("Customer", self.customer), (5, 2))
		self.assertEqual(opportunity_count("Lead", self.lead), (1, 0))
