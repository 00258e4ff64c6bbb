"""A negative (or absurd) opportunity amount, item quantity or rate is refused on save from every channel:
the desk form, REST, data import and code. Before, `opportunity_amount: -5` over REST was saved and summed
into the pipeline, and 1e30 failed in the database with a 500."""

import json

import frappe
from frappe.tests.utils import FrappeTestCase

from opportunity_plus.tests.integration import endpoint, factories

NEGATIVE = "cannot be negative"


def new_opportunity(**values) -> dict:
	company = factories.company()
	return {
		"doctype": "Opportunity",
		"opportunity_from": "Lead",
		"party_name": factories.lead(),
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
		**values,
	}


def line(qty=1, rate=100) -> dict:
	return {"item_code": factories.item(), "qty": qty, "rate": rate}


def bad_values() -> dict:
	"""Case: (values of a new opportunity, what the refusal says)."""
	return {
		"negative amount": ({"opportunity_amount": -5}, NEGATIVE),
		"negative quantity": ({"items": [line(qty=-2)]}, NEGATIVE),
		"negative rate": ({"items": [line(rate=-100)]}, NEGATIVE),
		"absurd amount": ({"opportunity_amount": 1e30}, "too large"),
		"absurd rate": ({"items": [line(rate=1e30)]}, "too large"),
		"amount beyond the column": ({"items": [line(qty=10**6, rate=10**7)]}, "too large"),
	}


class TestAmountsAreNeverNegative(FrappeTestCase):
	def setUp(self):
		self.counts = self.row_counts()

	def row_counts(self) -> tuple:
		return tuple(
			frappe.db.count(table) for table in ("Opportunity", "Opportunity Item", "Opportunity History")
		)

	def assert_nothing_written(self):
		self.assertEqual(self.row_counts(), self.counts)

	def test_code(self):
		for case, (values, message) in bad_values().items():
			with self.subTest(case):
				doc = frappe.get_doc(new_opportunity(**values))
				self.assertRaisesRegex(frappe.ValidationError, message, doc.insert, ignore_permissions=True)
				self.assert_nothing_written()

	def test_data_import(self):
		# Data Import saves each row as a document with frappe.flags.in_import set.
		for case, (values, message) in bad_values().items():
			with self.subTest(case):
				doc = frappe.get_doc(new_opportunity(**values))
				frappe.flags.in_import = True
				try:
					self.assertRaisesRegex(
						frappe.ValidationError, message, doc.insert, ignore_permissions=True
					)
				finally:
					frappe.flags.in_import = False
				self.assert_nothing_written()

	def test_rest_insert(self):
		for case, (values, message) in bad_values().items():
			with self.subTest(case):
				answer = endpoint.call(
					"frappe.client.insert", {"doc": json.dumps(new_opportunity(**values))}, http="POST"
				)
				self.assertEqual(answer.status, 417, answer.message)
				self.assertIn(message, answer.message)
				self.assert_nothing_written()

	def test_rest_update_of_an_existing_deal(self):
		deal = factories.opportunity(items=[line()])
		self.counts = self.row_counts()
		answer = endpoint.call(
			"frappe.client.set_value",
			{"doctype": "Opportunity", "name": deal.name, "fieldname": "opportunity_amount", "value": -5},
			http="POST",
		)
		self.assertEqual(answer.status, 417, answer.message)
		self.assertIn(NEGATIVE, answer.message)
		doc = deal.as_dict()
		doc["items"][0]["qty"] = -1
		answer = endpoint.call("frappe.client.save", {"doc": json.dumps(doc, default=str)}, http="POST")
		self.assertEqual(answer.status, 417, answer.message)
		self.assertIn("Row 1: Quantity cannot be negative", answer.message)
		self.assertEqual(frappe.db.get_value("Opportunity", deal.name, "opportunity_amount"), 1000)
		self.assertEqual(frappe.db.get_value("Opportunity Item", {"parent": deal.name}, "qty"), 1)
		self.assert_nothing_written()

	def test_desk_form_save(self):
		# What the form's Save button calls.
		deal = factories.opportunity()
		self.counts = self.row_counts()
		doc = deal.as_dict()
		doc["opportunity_amount"] = -5
		answer = endpoint.call(
			"frappe.desk.form.save.savedocs",
			{"doc": json.dumps(doc, default=str), "action": "Save"},
			user=factories.sales_user(),
			http="POST",
		)
		self.assertEqual(answer.status, 417, answer.message)
		self.assertIn("Opportunity Amount cannot be negative", answer.message)
		self.assertEqual(frappe.db.get_value("Opportunity", deal.name, "opportunity_amount"), 1000)
		self.assert_nothing_written()

	def test_zero_and_positive_amounts_still_save(self):
		doc = frappe.get_doc(new_opportunity(opportunity_amount=0, items=[line(qty=0, rate=0), line(qty=3)]))
		doc.insert(ignore_permissions=True)
		self.assertEqual([row.amount for row in doc.items], [0, 300])
