"""Small factories for integration tests: every record is created inside the test's transaction."""

from contextlib import contextmanager
from unittest.mock import patch

import frappe
from frappe.utils import random_string


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
			"parent_territory": frappe.db.get_value("Territory", {"is_group": 1, "parent_territory": ""})
			or "All Territories",
		}
	).insert(ignore_permissions=True)
	return doc.name


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
			"currency": frappe.get_cached_value("Company", company(), "default_currency"),
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
				"item_group": frappe.db.get_value("Item Group", {"is_group": 0}) or "All Item Groups",
				"stock_uom": "Nos",
				"is_stock_item": 0,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


@contextmanager
def no_commit():
	"""Scheduled jobs commit per batch or before releasing their lock; in a test everything stays in the
	test's transaction, so that it is rolled back."""
	with patch.object(frappe.db, "commit", lambda *args, **kwargs: None):
		yield
