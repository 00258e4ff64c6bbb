"""The party's deal history: `/api/method/opportunity_plus.api.party.get_party_deals`.

Lists the other opportunities of an opportunity's party, so a rep sees the customer's whole record of
open, won and lost deals on the form. A lead and the customer it was converted to (Customer.lead_name)
are one party here. Rows and sums come from `frappe.get_list`, so the caller sees exactly the
opportunities a list view would show them (role, user permissions, permission rules, shares).
"""

from datetime import date
from decimal import Decimal

import frappe
from frappe import _
from frappe.utils import flt

from opportunity_plus.api.utils import check_exists, parse_int
from opportunity_plus.core.forecast import LOST, OPEN, WON, Deal, outcome

MAX_LIMIT = 100
OUTCOMES = (OPEN, WON, LOST)
DEAL_FIELDS = [
	"name",
	"title",
	"status",
	"sales_stage",
	"opportunity_from",
	"party_name",
	"customer_name",
	"company",
	"base_opportunity_amount",
	"expected_closing",
	"op_lost_on",
	"transaction_date",
	"creation",
]


@frappe.whitelist()
@frappe.read_only()
def get_party_deals(opportunity: str, limit: int = 20) -> dict:
	"""The party's other opportunities (newest first, at most `limit`) and a summary of all of them.

	Amounts are in the company currency (ERPNext's base amount). The summary counts every other deal the
	caller may read: open, won (Converted) and lost (Lost or Closed); it sums the amounts of those whose
	company currency is the current opportunity's and counts the rest in `not_summed`.
	"""
	opportunity = check_exists("Opportunity", opportunity, _("Opportunity"))
	limit = parse_int(limit, _("Limit"), 1, MAX_LIMIT)
	doc = frappe.get_doc("Opportunity", opportunity)
	doc.check_permission("read")

	currency = company_currency(doc.company)
	parties = related_parties(doc.opportunity_from, doc.party_name)
	deals = []
	counts = []
	for party_type, party_name in parties:
		filters = {"opportunity_from": party_type, "party_name": party_name, "name": ("!=", doc.name)}
		deals += frappe.get_list(
			"Opportunity",
			filters=filters,
			fields=DEAL_FIELDS,
			order_by="transaction_date desc, creation desc",
			limit_page_length=limit,
		)
		counts += frappe.get_list(
			"Opportunity",
			filters=filters,
			fields=[
				"status",
				"company",
				"count(name) as deal_count",
				"sum(base_opportunity_amount) as amount",
			],
			group_by="status, company",
			order_by="status asc",
		)

	# Each party's rows come newest first; merged, they must be again.
	deals.sort(key=lambda row: (row.transaction_date or date.min, row.creation), reverse=True)
	return {
		"opportunity": doc.name,
		# The linked lead or customer is named only to those who may read it; its deals are filtered anyway.
		"parties": [
			{"doctype": party_type, "name": party_name}
			for party_type, party_name in parties
			if frappe.has_permission(party_type, "read", party_name)
		],
		"deals": [_deal_row(row) for row in deals[:limit]],
		"summary": _summary(counts, currency),
		"limit": limit,
	}


def related_parties(party_type: str | None, party_name: str | None) -> list[tuple[str, str]]:
	"""The party itself, plus the customer a lead was converted to or the lead a customer came from."""
	if not party_type or not party_name:
		return []
	parties = [(party_type, party_name)]
	# ERPNext marks a lead Converted when a customer is created from it; only then is the (unindexed)
	# Customer.lead_name worth a look.
	if party_type == "Lead" and frappe.db.get_value("Lead", party_name, "status") == "Converted":
		parties += [
			("Customer", name)
			for name in frappe.get_all("Customer", filters={"lead_name": party_name}, pluck="name", limit=5)
		]
	elif party_type == "Customer":
		lead = frappe.db.get_value("Customer", party_name, "lead_name")
		if lead:
			parties.append(("Lead", lead))
	return parties


def company_currency(company: str | None) -> str | None:
	return frappe.get_cached_value("Company", company, "default_currency") if company else None


def _outcome(status: str) -> str:
	# Status alone decides here, as the table shows it: won = Converted, lost = Lost or Closed.
	return outcome(Deal(name="", company="", status=status, amount=None))


def _deal_row(row) -> dict:
	return {
		"name": row.name,
		"title": row.title,
		"status": row.status,
		"outcome": _outcome(row.status),
		"sales_stage": row.sales_stage,
		"opportunity_from": row.opportunity_from,
		"party_name": row.party_name,
		"party_title": row.customer_name or row.party_name,
		"company": row.company,
		"currency": company_currency(row.company),
		"amount": flt(row.base_opportunity_amount),
		"expected_closing": row.expected_closing,
		"lost_on": row.op_lost_on,
		"transaction_date": row.transaction_date,
	}


def _summary(counts: list, currency: str | None) -> dict:
	totals = {key: {"count": 0, "amount": Decimal(0)} for key in (*OUTCOMES, "total")}
	not_summed = 0
	for row in counts:
		summed = company_currency(row.company) == currency
		not_summed += 0 if summed else row.deal_count
		for key in (_outcome(row.status), "total"):
			totals[key]["count"] += row.deal_count
			if summed:
				totals[key]["amount"] += Decimal(str(flt(row.amount)))
	return {
		"currency": currency,
		**{
			key: {"count": value["count"], "amount": flt(value["amount"], 2)} for key, value in totals.items()
		},
		"not_summed": not_summed,
	}
