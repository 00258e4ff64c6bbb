"""Lead → Customer with its first opportunity (api.lead.convert_lead), all or nothing."""

from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, getdate, random_string, today

from opportunity_plus.api import lead as lead_api
from opportunity_plus.events import opportunity as opportunity_events
from opportunity_plus.tests.integration import factories


def make_lead(**values) -> str:
	return (
		frappe.get_doc(
			{
				"doctype": "Lead",
				"lead_name": f"OP Lead {random_string(6)}",
				"company_name": f"OP Co {random_string(6)}",
				**values,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def customers_of(lead: str) -> list[str]:
	return frappe.get_all("Customer", filters={"lead_name": lead}, pluck="name")


def opportunities_of(party: str) -> list[str]:
	return frappe.get_all("Opportunity", filters={"party_name": party}, pluck="name")


class TestConvertLead(FrappeTestCase):
	def test_customer_and_opportunity_are_made_and_linked(self):
		lead = make_lead()
		closing = add_days(today(), 20)
		result = lead_api.convert_lead(
			lead, deal_name="Wind farm", amount=5000, expected_closing=closing, sales_stage="Prospecting"
		)

		customer = frappe.get_doc("Customer", result["customer"])
		self.assertEqual(customer.lead_name, lead)
		self.assertEqual(customer.customer_name, frappe.db.get_value("Lead", lead, "company_name"))
		opportunity = frappe.get_doc("Opportunity", result["opportunity"])
		self.assertEqual((opportunity.opportunity_from, opportunity.party_name), ("Customer", customer.name))
		self.assertEqual((opportunity.title, opportunity.opportunity_amount), ("Wind farm", 5000))
		self.assertEqual(getdate(opportunity.expected_closing), getdate(closing))
		self.assertEqual(opportunity.sales_stage, "Prospecting")
		self.assertEqual(opportunity.company, factories.company())
		# as when the customer is made from the Lead form
		self.assertEqual(frappe.db.get_value("Lead", lead, "status"), "Converted")
		self.assertEqual(result["moved_opportunities"], [])

	def test_a_converted_lead_is_refused(self):
		lead = make_lead()
		lead_api.convert_lead(lead, deal_name="First")
		before = frappe.db.count("Opportunity")
		with self.assertRaises(frappe.ValidationError) as raised:
			lead_api.convert_lead(lead, deal_name="Second")
		self.assertIn("already has a customer", str(raised.exception))
		self.assertEqual(frappe.db.count("Opportunity"), before)
		self.assertEqual(len(customers_of(lead)), 1)

		other = make_lead()
		frappe.db.set_value("Lead", other, "status", "Converted")
		with self.assertRaises(frappe.ValidationError):
			lead_api.convert_lead(other)
		self.assertEqual(customers_of(other), [])

	def test_open_opportunities_move_to_the_customer(self):
		lead = make_lead()
		open_deal = factories.opportunity(party_name=lead, title="Open deal")
		lost_deal = factories.opportunity(party_name=lead, title="Lost deal")
		frappe.db.set_value("Opportunity", lost_deal.name, "status", "Lost")

		with patch(
			"opportunity_plus.events.opportunity.validate", wraps=opportunity_events.validate
		) as validate:
			result = lead_api.convert_lead(lead, deal_name="New deal", move_open_opportunities=True)

		self.assertEqual(result["moved_opportunities"], [open_deal.name])
		moved = frappe.get_doc("Opportunity", open_deal.name)
		self.assertEqual((moved.opportunity_from, moved.party_name), ("Customer", result["customer"]))
		left = frappe.get_doc("Opportunity", lost_deal.name)
		self.assertEqual((left.opportunity_from, left.party_name), ("Lead", lead))
		# saved as a document, so the app's hooks ran on it
		self.assertIn(open_deal.name, [call.args[0].name for call in validate.call_args_list])
		self.assertEqual(set(opportunities_of(result["customer"])), {open_deal.name, result["opportunity"]})

	def test_without_moving_the_open_opportunities_stay_with_the_lead(self):
		lead = make_lead()
		open_deal = factories.opportunity(party_name=lead)
		lead_api.convert_lead(lead)
		self.assertEqual(frappe.db.get_value("Opportunity", open_deal.name, "party_name"), lead)

	def test_a_failure_after_the_customer_leaves_nothing(self):
		lead = make_lead()
		customers, opportunities = frappe.db.count("Customer"), frappe.db.count("Opportunity")
		with self.assertRaises(frappe.LinkValidationError):
			lead_api.convert_lead(lead, deal_name="Bad", sales_stage=f"No such stage {random_string(6)}")
		self.assertEqual(customers_of(lead), [])
		self.assertEqual(frappe.db.count("Customer"), customers)
		self.assertEqual(frappe.db.count("Opportunity"), opportunities)
		self.assertNotEqual(frappe.db.get_value("Lead", lead, "status"), "Converted")

	def test_a_failure_while_moving_leaves_nothing(self):
		lead = make_lead()
		open_deal = factories.opportunity(party_name=lead)
		customers, opportunities = frappe.db.count("Customer"), frappe.db.count("Opportunity")
		original_save = frappe.model.document.Document.save

		def failing_save(doc, *args, **kwargs):
			if doc.doctype == "Opportunity" and doc.name == open_deal.name:
				raise frappe.ValidationError("forced")
			return original_save(doc, *args, **kwargs)

		with patch.object(frappe.model.document.Document, "save", failing_save):
			with self.assertRaises(frappe.ValidationError):
				lead_api.convert_lead(lead, deal_name="Half", move_open_opportunities=True)
		self.assertEqual(customers_of(lead), [])
		self.assertEqual(frappe.db.count("Customer"), customers)
		self.assertEqual(frappe.db.count("Opportunity"), opportunities)
		self.assertEqual(frappe.db.get_value("Opportunity", open_deal.name, "party_name"), lead)

	def test_a_sales_user_converts_a_lead_of_their_territory(self):
		mine = factories.territory()
		lead = make_lead(territory=mine)
		frappe.set_user(factories.sales_user(territory_name=mine))
		result = lead_api.convert_lead(lead, deal_name="Mine")
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Customer", result["customer"], "lead_name"), lead)

	def test_a_sales_user_without_write_permission_on_the_lead_is_refused(self):
		mine, theirs = factories.territory(), factories.territory()
		lead = make_lead(territory=theirs)
		customers, opportunities = frappe.db.count("Customer"), frappe.db.count("Opportunity")
		frappe.set_user(factories.sales_user(territory_name=mine))
		with self.assertRaises(frappe.PermissionError):
			lead_api.convert_lead(lead, deal_name="Not mine")
		frappe.set_user("Administrator")
		self.assertEqual(customers_of(lead), [])
		self.assertEqual(frappe.db.count("Customer"), customers)
		self.assertEqual(frappe.db.count("Opportunity"), opportunities)
