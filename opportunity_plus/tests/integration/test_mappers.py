"""Opportunity → Quotation and Supplier Quotations on real ERPNext documents, and the stage they move."""

from unittest.mock import patch

import frappe
from frappe.model.mapper import make_mapped_doc, map_docs
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, getdate, random_string, today

from opportunity_plus.api import mappers
from opportunity_plus.pipeline import SETTINGS, first_stage_of_kind
from opportunity_plus.tests.integration import factories

ERPNEXT_MAKE_QUOTATION = "erpnext.crm.doctype.opportunity.opportunity.make_quotation"


# --- data ------------------------------------------------------------------------------------------


def item(*, selling: float | None = None, buying: float | None = None, default_supplier=None, suppliers=()):
	doc = frappe.get_doc(
		{
			"doctype": "Item",
			"item_code": f"OP-MAP-{random_string(8)}",
			"item_group": factories.item_group(),
			"stock_uom": factories.uom(),
			"is_stock_item": 0,
			"item_defaults": [{"company": factories.company(), "default_supplier": default_supplier}]
			if default_supplier
			else [],
			"supplier_items": [{"supplier": name} for name in suppliers],
		}
	).insert(ignore_permissions=True)
	# The site's default price lists, which quotations and supplier quotations take their prices from.
	for price_list, rate in (
		(factories.price_list("selling"), selling),
		(factories.price_list("buying"), buying),
	):
		if rate:
			frappe.get_doc(
				{
					"doctype": "Item Price",
					"item_code": doc.name,
					"price_list": price_list,
					"price_list_rate": rate,
				}
			).insert(ignore_permissions=True)
	return doc.name


def supplier(prefix="OP Supplier", **values) -> str:
	return (
		frappe.get_doc(
			{
				"doctype": "Supplier",
				"supplier_name": f"{prefix} {random_string(6)}",
				"supplier_group": frappe.db.get_value("Supplier Group", {"is_group": 0}, "name"),
				**values,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def customer() -> str:
	return (
		frappe.get_doc(
			{
				"doctype": "Customer",
				"customer_name": f"OP Customer {random_string(6)}",
				"customer_type": "Company",
				"customer_group": factories.customer_group(),
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def linked(doctype: str, link_doctype: str, link_name: str, **values) -> str:
	return (
		frappe.get_doc(
			{"doctype": doctype, "links": [{"link_doctype": link_doctype, "link_name": link_name}], **values}
		)
		.insert(ignore_permissions=True)
		.name
	)


def deal(lines, **values):
	"""An opportunity with `lines` as (item_code, qty, rate) and an expected closing date a month ahead."""
	return factories.opportunity(
		title=values.pop("title", f"Deal {random_string(6)}"),
		expected_closing=values.pop("expected_closing", add_days(today(), 30)),
		items=[{"item_code": code, "qty": qty, "rate": rate} for code, qty, rate in lines],
		**values,
	)


def count(doctype: str) -> int:
	return frappe.db.count(doctype)


def set_settings(**values) -> None:
	doc = frappe.get_single(SETTINGS)
	doc.update(values)
	doc.save()


# --- Quotation -------------------------------------------------------------------------------------


class TestMakeQuotation(FrappeTestCase):
	def test_the_desk_button_reaches_the_app(self):
		# Create > Quotation calls ERPNext's path through make_mapped_doc; the override reroutes it.
		self.assertEqual(
			frappe.override_whitelisted_method(ERPNEXT_MAKE_QUOTATION),
			"opportunity_plus.api.mappers.make_quotation",
		)
		opp = deal([(item(selling=70), 1, 0)], title="Desk Deal")
		quotation = make_mapped_doc(ERPNEXT_MAKE_QUOTATION, opp.name)
		self.assertEqual((quotation.title, quotation.opportunity), ("Desk Deal", opp.name))

	def test_quotation_form_get_items_from_opportunity_reaches_the_app_too(self):
		# Quotation > Get Items From > Opportunity maps into the open quotation through map_docs (ERPNext
		# adds the lines only while the quotation has none).
		agreed, listed = item(selling=50), item(selling=70)
		opp = deal([(agreed, 2, 40), (listed, 1, 0)], title="Blade swap")
		draft = frappe.new_doc("Quotation")
		draft.update({"quotation_to": "Lead", "party_name": opp.party_name, "company": opp.company})
		quotation = map_docs(ERPNEXT_MAKE_QUOTATION, frappe.as_json([opp.name]), draft.as_json())
		self.assertEqual((quotation.opportunity, quotation.title), (opp.name, "Blade swap"))
		self.assertEqual([(row.item_code, row.rate) for row in quotation.items], [(agreed, 40), (listed, 70)])

	def test_lead_quotation_keeps_agreed_rates_prices_the_rest_and_submits(self):
		agreed, listed = item(selling=50), item(selling=70)
		opp = deal([(agreed, 2, 40), (listed, 3, 0)], title="Nacelle retrofit")

		quotation = mappers.make_quotation(opp.name)
		quotation.insert()
		quotation.submit()

		quotation.reload()
		self.assertEqual((quotation.quotation_to, quotation.party_name), ("Lead", opp.party_name))
		self.assertEqual(quotation.opportunity, opp.name)
		self.assertEqual(quotation.title, "Nacelle retrofit")
		self.assertEqual(quotation.currency, factories.currency())
		self.assertEqual(quotation.conversion_rate, 1)
		self.assertEqual(
			[(row.item_code, row.qty, row.rate, row.amount) for row in quotation.items],
			[(agreed, 2, 40, 80), (listed, 3, 70, 210)],
		)
		self.assertEqual({row.prevdoc_docname for row in quotation.items}, {opp.name})
		self.assertEqual(quotation.net_total, 290)

	def test_customer_quotation_in_a_foreign_currency_with_the_opportunitys_contact_and_address(self):
		party = customer()
		primary = linked(
			"Contact",
			"Customer",
			party,
			first_name="Primary",
			is_primary_contact=1,
			email_ids=[{"email_id": f"primary-{random_string(5)}@example.com", "is_primary": 1}],
		)
		buyer_email = f"buyer-{random_string(5)}@example.com"
		buyer = linked(
			"Contact",
			"Customer",
			party,
			first_name="Buyer",
			email_ids=[{"email_id": buyer_email, "is_primary": 1}],
		)
		address = linked(
			"Address",
			"Customer",
			party,
			address_title="Site office",
			address_line1="1 Turbine Rd",
			city="Casper",
			country="United States",
			address_type="Billing",
		)
		frappe.db.set_value("Customer", party, "customer_primary_contact", primary)
		foreign = factories.foreign_currency(rate=1.25)
		product = item(selling=70)
		opp = deal(
			[(product, 2, 100)],
			opportunity_from="Customer",
			party_name=party,
			currency=foreign,
			conversion_rate=1.2,
			contact_person=buyer,
			customer_address=address,
		)

		quotation = mappers.make_quotation(opp.name)
		quotation.insert()
		quotation.submit()

		self.assertEqual((quotation.quotation_to, quotation.party_name), ("Customer", party))
		self.assertEqual((quotation.currency, quotation.conversion_rate), (foreign, 1.25))
		self.assertEqual((quotation.items[0].rate, quotation.base_net_total), (100, 250))
		# ERPNext keeps the opportunity's contact but displays the party's primary one: the app aligns them.
		self.assertEqual((quotation.contact_person, quotation.contact_email), (buyer, buyer_email))
		self.assertEqual(quotation.contact_display, "Buyer")
		self.assertEqual(quotation.customer_address, address)
		self.assertIn("1 Turbine Rd", quotation.address_display)

	def test_without_an_exchange_rate_erpnext_refuses_naming_the_missing_record(self):
		opp = deal(
			[(item(selling=70), 1, 100)],
			opportunity_from="Customer",
			party_name=customer(),
			currency=factories.currency_without_rate(),
			conversion_rate=1.2,
		)
		with patch("erpnext.crm.doctype.opportunity.opportunity.get_exchange_rate", return_value=0):
			with self.assertRaisesRegex(frappe.ValidationError, "Currency Exchange"):
				mappers.make_quotation(opp.name)

	def test_prospect_quotation(self):
		prospect = frappe.get_doc(
			{
				"doctype": "Prospect",
				"company_name": f"OP Prospect {random_string(6)}",
				"company": factories.company(),
			}
		).insert(ignore_permissions=True)
		opp = deal([(item(selling=70), 1, 0)], opportunity_from="Prospect", party_name=prospect.name)
		quotation = mappers.make_quotation(opp.name)
		quotation.insert()
		quotation.submit()
		self.assertEqual((quotation.quotation_to, quotation.party_name), ("Prospect", prospect.name))
		self.assertEqual(quotation.items[0].rate, 70)

	def test_closed_lost_and_converted_opportunities_are_refused(self):
		for status, words in (("Closed", "is closed"), ("Lost", "is lost"), ("Converted", "is converted")):
			opp = deal([(item(selling=70), 1, 0)])
			frappe.db.set_value("Opportunity", opp.name, "status", status)
			before = count("Quotation")
			with self.assertRaisesRegex(frappe.ValidationError, words):
				mappers.make_quotation(opp.name)
			self.assertEqual(count("Quotation"), before)

	def test_a_sales_user_who_cannot_read_the_opportunity_gets_a_permission_error(self):
		mine, theirs = factories.territory(), factories.territory()
		opp = deal([(item(selling=70), 1, 0)], territory=theirs)
		before = count("Quotation")
		frappe.set_user(factories.sales_user(territory_name=mine))
		with self.assertRaises(frappe.PermissionError):
			mappers.make_quotation(opp.name)
		with self.assertRaises(frappe.PermissionError):
			make_mapped_doc(ERPNEXT_MAKE_QUOTATION, opp.name)
		frappe.set_user("Administrator")
		self.assertEqual(count("Quotation"), before)

	def test_a_sales_user_who_can_read_it_makes_and_submits_the_quotation(self):
		mine = factories.territory()
		opp = deal([(item(selling=70), 1, 0)], territory=mine)
		frappe.set_user(factories.sales_user(territory_name=mine))
		quotation = mappers.make_quotation(opp.name)
		quotation.insert()
		self.assertEqual(quotation.opportunity, opp.name)


# --- stage -----------------------------------------------------------------------------------------


class TestStageFollowsQuotationAndOrder(FrappeTestCase):
	def submitted_quotation(self, opp):
		quotation = mappers.make_quotation(opp.name)
		quotation.valid_till = add_days(today(), 30)
		quotation.insert()
		quotation.submit()
		return quotation

	def test_quotation_submit_moves_to_the_proposal_stage_and_the_order_to_won(self):
		party = customer()
		opp = deal(
			[(item(selling=70), 2, 0)],
			opportunity_from="Customer",
			party_name=party,
			sales_stage="Prospecting",
		)
		quotation = mappers.make_quotation(opp.name)
		quotation.insert()
		# a draft changes nothing
		self.assertEqual(frappe.db.get_value("Opportunity", opp.name, "sales_stage"), "Prospecting")

		quotation.submit()
		opp.reload()
		self.assertEqual(
			(opp.status, opp.sales_stage, opp.probability), ("Quotation", "Proposal/Price Quote", 60)
		)
		self.assertIn(
			("Prospecting", "Proposal/Price Quote"),
			[(r.from_value, r.to_value) for r in factories.history(opp.name, "sales_stage")],
		)

		from erpnext.selling.doctype.quotation.quotation import make_sales_order

		order = make_sales_order(quotation.name)
		order.delivery_date = add_days(today(), 10)
		order.insert()
		order.submit()
		opp.reload()
		won = first_stage_of_kind("Won")
		self.assertEqual(
			(opp.status, opp.sales_stage, opp.probability), ("Converted", won.name, won.probability)
		)

	def test_a_deal_in_a_later_stage_does_not_move_back(self):
		opp = deal([(item(selling=70), 1, 0)], sales_stage="Negotiation/Review")
		self.submitted_quotation(opp)
		opp.reload()
		self.assertEqual((opp.status, opp.sales_stage), ("Quotation", "Negotiation/Review"))

	def test_the_stage_is_configurable_and_can_be_switched_off(self):
		set_settings(quotation_stage="Perception Analysis")
		opp = deal([(item(selling=70), 1, 0)], sales_stage="Prospecting")
		self.submitted_quotation(opp)
		self.assertEqual(frappe.db.get_value("Opportunity", opp.name, "sales_stage"), "Perception Analysis")

		set_settings(quotation_stage=None)
		opp = deal([(item(selling=70), 1, 0)], sales_stage="Prospecting")
		self.submitted_quotation(opp)
		self.assertEqual(
			frappe.db.get_value("Opportunity", opp.name, ["status", "sales_stage"]),
			("Quotation", "Prospecting"),
		)


# --- Supplier Quotations ---------------------------------------------------------------------------


class TestMakeSupplierQuotations(FrappeTestCase):
	def setUp(self):
		self.blades, self.steel, self.copper = (
			supplier("OP Blades"),
			supplier("OP Steel"),
			supplier("OP Copper"),
		)
		self.blade = item(selling=900, buying=500, default_supplier=self.blades)
		self.tower = item(selling=4000, buying=2500, default_supplier=self.steel)
		self.cable = item(selling=30, buying=12, default_supplier=self.copper)
		# no default for the company: the item's own supplier list decides
		self.bolt = item(selling=2, buying=1, suppliers=[self.steel])

	def test_three_default_suppliers_give_three_supplier_quotations_that_save(self):
		opp = deal([(self.blade, 3, 900), (self.tower, 1, 4000), (self.bolt, 200, 2), (self.cable, 50, 30)])
		names = mappers.make_supplier_quotations(opp.name)

		self.assertEqual(len(names), 3)
		docs = {doc.supplier: doc for doc in (frappe.get_doc("Supplier Quotation", name) for name in names)}
		self.assertEqual(set(docs), {self.blades, self.steel, self.copper})
		lines = {s: [(row.item_code, row.qty, row.rate) for row in doc.items] for s, doc in docs.items()}
		# priced from the buying price list, not at the opportunity's selling rates
		self.assertEqual(lines[self.blades], [(self.blade, 3, 500)])
		self.assertEqual(lines[self.steel], [(self.tower, 1, 2500), (self.bolt, 200, 1)])
		self.assertEqual(lines[self.copper], [(self.cable, 50, 12)])
		for doc in docs.values():
			self.assertEqual((doc.docstatus, doc.opportunity, doc.company), (0, opp.name, opp.company))
			self.assertEqual(
				{getdate(row.expected_delivery_date) for row in doc.items}, {getdate(opp.expected_closing)}
			)
		self.assertEqual(
			frappe.get_all(
				"Supplier Quotation", filters={"opportunity": opp.name}, pluck="name", order_by="name"
			),
			sorted(names),
		)

	def test_the_plan_names_the_lines_that_need_a_supplier(self):
		service = item(selling=100)
		opp = deal([(self.blade, 1, 900), (service, 1, 100)])
		plan = mappers.get_supplier_plan(opp.name)
		self.assertEqual([group["supplier"] for group in plan["suppliers"]], [self.blades])
		self.assertEqual([row["item_code"] for row in plan["unassigned"]], [service])
		self.assertEqual(plan["existing"], [])

		(made,) = mappers.make_supplier_quotations(opp.name, supplier_for_unassigned=self.blades)
		self.assertEqual(
			[(row.name, row.supplier) for row in mappers.get_supplier_plan(opp.name)["existing"]],
			[(made, self.blades)],
		)

	def test_lines_without_a_supplier_need_one_picked_and_nothing_is_made_before(self):
		service = item(selling=100)
		opp = deal([(self.blade, 1, 900), (service, 2, 100)])
		before = count("Supplier Quotation")
		with self.assertRaisesRegex(frappe.ValidationError, service):
			mappers.make_supplier_quotations(opp.name)
		self.assertEqual(count("Supplier Quotation"), before)

		surveyor = supplier("OP Survey")
		names = mappers.make_supplier_quotations(opp.name, supplier_for_unassigned=surveyor)
		by_supplier = {
			doc.supplier: [row.item_code for row in doc.items]
			for doc in (frappe.get_doc("Supplier Quotation", name) for name in names)
		}
		self.assertEqual(by_supplier, {self.blades: [self.blade], surveyor: [service]})

	def test_a_disabled_default_supplier_falls_through_to_the_item_supplier_list(self):
		retired = supplier("OP Retired", disabled=1)
		part = item(buying=7, default_supplier=retired, suppliers=[self.copper])
		opp = deal([(part, 1, 10)])
		(name,) = mappers.make_supplier_quotations(opp.name)
		self.assertEqual(frappe.db.get_value("Supplier Quotation", name, "supplier"), self.copper)

	def test_a_lost_opportunity_is_refused(self):
		opp = deal([(self.blade, 1, 900)])
		frappe.db.set_value("Opportunity", opp.name, "status", "Lost")
		with self.assertRaisesRegex(frappe.ValidationError, "is lost"):
			mappers.make_supplier_quotations(opp.name)

	def test_a_user_who_cannot_read_the_opportunity_gets_a_permission_error(self):
		mine, theirs = factories.territory(), factories.territory()
		opp = deal([(self.blade, 1, 900), (self.tower, 1, 4000)], territory=theirs)
		before = count("Supplier Quotation")
		frappe.set_user(factories.sales_user(territory_name=mine, roles=("Sales User", "Purchase User")))
		with self.assertRaises(frappe.PermissionError):
			mappers.make_supplier_quotations(opp.name)
		with self.assertRaises(frappe.PermissionError):
			mappers.get_supplier_plan(opp.name)
		frappe.set_user("Administrator")
		self.assertEqual(count("Supplier Quotation"), before)


# --- Request for Quotation -------------------------------------------------------------------------


class TestMakeRequestForQuotation(FrappeTestCase):
	def test_one_request_to_several_suppliers_with_each_line_linked_to_its_opportunity_line(self):
		first, second = supplier("OP RFQ A"), supplier("OP RFQ B")
		blade, tower = item(buying=500), item(buying=2500)
		opp = deal([(blade, 3, 900), (tower, 1, 4000)])

		self.assertEqual(mappers.get_request_suppliers(opp.name), [])
		name = mappers.make_request_for_quotation(opp.name, [first, second, first])

		request = frappe.get_doc("Request for Quotation", name)
		self.assertEqual((request.docstatus, request.opportunity), (0, opp.name))
		self.assertEqual([row.supplier for row in request.suppliers], [first, second])
		self.assertEqual(
			[(row.item_code, row.qty, row.op_opportunity, row.op_opportunity_item) for row in request.items],
			[(blade, 3, opp.name, opp.items[0].name), (tower, 1, opp.name, opp.items[1].name)],
		)
		self.assertEqual(getdate(request.schedule_date), getdate(opp.expected_closing))
		self.assertEqual(
			{getdate(row.schedule_date) for row in request.items}, {getdate(opp.expected_closing)}
		)

	def test_the_desk_proposes_the_default_suppliers_and_sends_them_as_json(self):
		first = supplier("OP RFQ A")
		opp = deal([(item(buying=5, default_supplier=first), 1, 9)])
		self.assertEqual(mappers.get_request_suppliers(opp.name), [first])
		name = mappers.make_request_for_quotation(opp.name, frappe.as_json([first]))
		self.assertEqual(
			frappe.db.get_value("Request for Quotation Supplier", {"parent": name}, "supplier"), first
		)

	def test_no_supplier_or_a_lost_opportunity_is_refused(self):
		opp = deal([(item(buying=5), 1, 9)])
		with self.assertRaisesRegex(frappe.ValidationError, "at least one supplier"):
			mappers.make_request_for_quotation(opp.name, [])
		frappe.db.set_value("Opportunity", opp.name, "status", "Lost")
		with self.assertRaisesRegex(frappe.ValidationError, "is lost"):
			mappers.make_request_for_quotation(opp.name, [supplier()])

	def test_a_user_who_cannot_read_the_opportunity_gets_a_permission_error(self):
		mine, theirs = factories.territory(), factories.territory()
		opp = deal([(item(buying=5), 1, 9)], territory=theirs)
		chosen = supplier()
		before = count("Request for Quotation")
		frappe.set_user(factories.sales_user(territory_name=mine, roles=("Sales User", "Purchase User")))
		with self.assertRaises(frappe.PermissionError):
			mappers.make_request_for_quotation(opp.name, [chosen])
		frappe.set_user("Administrator")
		self.assertEqual(count("Request for Quotation"), before)


# --- Expected margin -------------------------------------------------------------------------------


def supplier_quotation(opportunity_name: str, lines, *, submit=False, cancel=False) -> str:
	"""A supplier quotation for the opportunity with `lines` as (item_code, qty, rate)."""
	doc = frappe.get_doc(
		{
			"doctype": "Supplier Quotation",
			"supplier": supplier(),
			"company": factories.company(),
			"opportunity": opportunity_name,
			"items": [{"item_code": code, "qty": qty, "rate": rate} for code, qty, rate in lines],
		}
	)
	doc.run_method("set_missing_values")
	doc.insert(ignore_permissions=True)
	if submit or cancel:
		doc.submit()
	if cancel:
		doc.cancel()
	return doc.name


class TestExpectedMargin(FrappeTestCase):
	def test_the_best_supplier_rate_sets_the_margin(self):
		turbine, blade = item(), item()
		opp = deal([(turbine, 2, 100), (blade, 5, 10)])
		supplier_quotation(opp.name, [(turbine, 2, 80), (blade, 5, 0)])
		supplier_quotation(opp.name, [(turbine, 2, 70)], submit=True)
		supplier_quotation(opp.name, [(turbine, 2, 50)], cancel=True)  # cancelled: ignored
		supplier_quotation(deal([(turbine, 1, 1)]).name, [(turbine, 1, 10)])  # another deal's

		result = mappers.get_expected_margin(opp.name)

		first, second = result["items"]
		self.assertEqual((first["item_code"], first["selling"], first["best_rate"]), (turbine, 200, 70))
		self.assertEqual((first["best_cost"], first["margin"], first["margin_percent"]), (140, 60, 30))
		# quoted at 0 only: not priced yet
		self.assertEqual((second["selling"], second["best_cost"], second["margin"]), (50, None, None))
		self.assertEqual(result["items_without_supplier_rate"], [blade])
		self.assertEqual((result["selling"], result["priced_selling"]), (250, 200))
		self.assertEqual((result["best_cost"], result["margin"], result["margin_percent"]), (140, 60, 30))
		self.assertEqual(result["supplier_quotations"], 2)

	def test_without_read_permission_on_the_opportunity_it_is_refused(self):
		mine, theirs = factories.territory(), factories.territory()
		opp = deal([(item(), 1, 10)], territory=theirs)
		frappe.set_user(factories.sales_user(territory_name=mine))
		with self.assertRaises(frappe.PermissionError):
			mappers.get_expected_margin(opp.name)
		frappe.set_user("Administrator")
