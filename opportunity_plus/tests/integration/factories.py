"""Small factories for integration tests: every record is created inside the test's transaction.

They discover what the site has (its default company and currency, root territory, groups, UOM, price
lists) and create what it lacks, so the tests run on any site made with ERPNext's setup wizard, not only
on ERPNext's test site."""

from contextlib import contextmanager
from unittest.mock import patch

import frappe
from frappe.utils import random_string, today
from frappe.utils.nestedset import get_root_of


def company() -> str:
	"""The site's default company (Global Defaults, as the setup wizard leaves it), else its first one.

	The same company the app's cards and charts use for a user without a default of their own."""
	default = frappe.db.get_single_value("Global Defaults", "default_company")
	if default and frappe.db.exists("Company", default):
		return default
	return frappe.get_all("Company", pluck="name", order_by="creation asc", limit=1)[0]


def territory(prefix: str = "OP Test") -> str:
	doc = frappe.get_doc(
		{
			"doctype": "Territory",
			"territory_name": f"{prefix} {random_string(6)}",
			"parent_territory": get_root_of("Territory"),
		}
	).insert(ignore_permissions=True)
	return doc.name


def currency() -> str:
	"""The default company's currency."""
	return frappe.get_cached_value("Company", company(), "default_currency")


def foreign_currency(rate: float | None = None) -> str:
	"""A currency other than the company's (EUR, else USD). With `rate`, also today's Currency Exchange from
	it into the company currency at that rate, so that ERPNext never asks an online service for one."""
	code = next(code for code in ("EUR", "USD") if code != currency())
	if rate is not None:
		pair = {"from_currency": code, "to_currency": currency(), "date": today()}
		existing = frappe.db.get_value("Currency Exchange", pair)
		if existing:
			frappe.db.set_value("Currency Exchange", existing, "exchange_rate", rate)
		else:
			frappe.get_doc(
				{
					"doctype": "Currency Exchange",
					**pair,
					"exchange_rate": rate,
					"for_selling": 1,
					"for_buying": 1,
				}
			).insert(ignore_permissions=True)
	return code


def currency_without_rate() -> str:
	"""A currency other than the company's with no Currency Exchange record into it on the site."""
	rated = set(
		frappe.get_all("Currency Exchange", filters={"to_currency": currency()}, pluck="from_currency")
	)
	return next(
		code
		for code in frappe.get_all("Currency", order_by="enabled desc, name asc", pluck="name")
		if code != currency() and code not in rated
	)


def customer_group() -> str:
	"""A customer group to put a new customer in: the site's first leaf group, else one made here."""
	group = frappe.db.get_value("Customer Group", {"is_group": 0}, "name", order_by="lft")
	if group:
		return group
	return (
		frappe.get_doc(
			{
				"doctype": "Customer Group",
				"customer_group_name": f"OP Test {random_string(6)}",
				"parent_customer_group": get_root_of("Customer Group"),
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def uom() -> str:
	"""The site's default stock UOM (Stock Settings), else its first enabled UOM."""
	default = frappe.db.get_single_value("Stock Settings", "stock_uom")
	if default and frappe.db.exists("UOM", default):
		return default
	return frappe.db.get_value("UOM", {"enabled": 1}, "name", order_by="name")


def item_group() -> str:
	"""A leaf item group of the site, else its root."""
	return frappe.db.get_value("Item Group", {"is_group": 0}, "name", order_by="lft") or get_root_of(
		"Item Group"
	)


def price_list(kind: str) -> str:
	"""The site's default "selling" or "buying" price list (Selling / Buying Settings); a site without one
	gets one in the company currency, set as the default for this test."""
	settings, field = {
		"selling": ("Selling Settings", "selling_price_list"),
		"buying": ("Buying Settings", "buying_price_list"),
	}[kind]
	name = frappe.db.get_single_value(settings, field)
	if name and frappe.db.exists("Price List", name):
		return name
	name = (
		frappe.get_doc(
			{
				"doctype": "Price List",
				"price_list_name": f"OP Test {kind.title()} {random_string(6)}",
				"currency": currency(),
				"enabled": 1,
				kind: 1,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)
	frappe.db.set_single_value(settings, field, name)
	return name


def lead(name: str | None = None) -> str:
	doc = frappe.get_doc(
		{
			"doctype": "Lead",
			"lead_name": name or f"OP Lead {random_string(6)}",
			"company_name": f"OP Co {random_string(6)}",
		}
	).insert(ignore_permissions=True)
	return doc.name


def opportunity(**values):
	doc = frappe.get_doc(
		{
			"doctype": "Opportunity",
			"opportunity_from": "Lead",
			"party_name": values.pop("party_name", None) or lead(),
			"company": company(),
			"currency": currency(),
			"opportunity_amount": 1000,
			**values,
		}
	)
	return doc.insert(ignore_permissions=True)


def sales_user(*, territory_name: str | None = None, roles=("Sales User",)) -> str:
	email = f"op-{random_string(8).lower()}@example.com"
	user = frappe.get_doc(
		{
			"doctype": "User",
			"email": email,
			"first_name": "OP Test",
			"send_welcome_email": 0,
			"roles": [{"role": role} for role in roles],
		}
	).insert(ignore_permissions=True)
	if territory_name:
		frappe.get_doc(
			{
				"doctype": "User Permission",
				"user": user.name,
				"allow": "Territory",
				"for_value": territory_name,
				"apply_to_all_doctypes": 1,
			}
		).insert(ignore_permissions=True)
	return user.name


def history(opportunity_name: str, field: str | None = None) -> list:
	filters = {"opportunity": opportunity_name}
	if field:
		filters["changed_field"] = field
	return frappe.get_all(
		"Opportunity History",
		filters=filters,
		fields=["changed_field", "from_value", "to_value", "changed_by", "channel"],
		order_by="creation asc",
	)


def item() -> str:
	"""A sales item (created if the site has none)."""
	existing = frappe.get_all(
		"Item", filters={"is_sales_item": 1, "disabled": 0, "has_variants": 0}, pluck="name", limit=1
	)
	if existing:
		return existing[0]
	return (
		frappe.get_doc(
			{
				"doctype": "Item",
				"item_code": f"OP-TEST-{random_string(6)}",
				"item_group": item_group(),
				"stock_uom": uom(),
				"is_stock_item": 0,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def item_line(qty: float = 1, rate: float = 100, item_code: str | None = None) -> dict:
	"""An Opportunity Item row, in the item's own stock UOM."""
	item_code = item_code or item()
	return {
		"item_code": item_code,
		"qty": qty,
		"rate": rate,
		"uom": frappe.db.get_value("Item", item_code, "stock_uom"),
	}


@contextmanager
def no_commit():
	"""Scheduled jobs commit per batch or before releasing their lock; in a test everything stays in the
	test's transaction, so that it is rolled back."""
	with patch.object(frappe.db, "commit", lambda *args, **kwargs: None):
		yield


def legacy_closing_dates(territories: list[str]) -> None:
	"""Forget the Closed On of the territories' deals and derive it again, as a migrate does for deals
	closed before the app kept it (from the deal history, Lost On, or the last modification)."""
	from opportunity_plus.setup import install

	frappe.db.sql(
		"update `tabOpportunity` set op_closed_on = null where territory in %(territories)s",
		{"territories": territories},
	)
	install.backfill_closed_on()
