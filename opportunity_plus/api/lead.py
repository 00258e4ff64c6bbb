"""From a lead to a customer with its first opportunity, in one step that either all happens or not at all.

ERPNext's own mapper (`erpnext.crm.doctype.lead.lead.make_customer`) makes the customer, and the
customer marks its lead Converted as it does from the Lead form; then the deal is opened for the customer
and, on request, the lead's open opportunities move to the customer.
"""

import frappe
from erpnext.crm.doctype.lead.lead import make_customer
from frappe import _
from frappe.model.document import Document
from frappe.utils import flt

from opportunity_plus.api.utils import echo, get_document, parse_date, parse_flag, parse_name
from opportunity_plus.core import deal as deal_rules
from opportunity_plus.core.stages import OPEN_STATUSES
from opportunity_plus.pipeline import get_pipeline

LEAD = "Lead"
CUSTOMER = "Customer"
OPPORTUNITY = "Opportunity"
SAVEPOINT = "opportunity_plus_convert_lead"


@frappe.whitelist(methods=["POST"])
def convert_lead(
	lead: str,
	deal_name: str | None = None,
	amount: float | None = None,
	expected_closing: str | None = None,
	sales_stage: str | None = None,
	move_open_opportunities: bool = False,
	pipeline: str | None = None,
) -> dict:
	"""Make a Customer from `lead` and an Opportunity for it; optionally move the lead's open opportunities.

	Needs read and write permission on the lead (and write on each opportunity moved), and create
	permission on Customer and Opportunity. A lead that is already converted or has a customer is
	refused. The opportunity goes to `pipeline` (default: the one the pipelines' rules choose), and its
	stage must be one of that pipeline's. Returns the new customer's and opportunity's names and the
	opportunities moved.
	"""
	doc = get_document(LEAD, lead, _("Lead"), "read")
	doc.check_permission("write")
	frappe.has_permission(CUSTOMER, "create", throw=True)
	frappe.has_permission(OPPORTUNITY, "create", throw=True)
	_check_not_converted(doc)
	# The deal's own values, checked before anything is written (the opportunity's save checks them again).
	deal_name = parse_name(deal_name, _("Deal Name"), required=False)
	_check_amount(amount)
	expected_closing = parse_date(expected_closing, _("Expected Closing Date"))
	sales_stage = parse_name(sales_stage, _("Sales Stage"), required=False)
	if sales_stage and not frappe.db.exists("Sales Stage", sales_stage):
		frappe.throw(
			_("Sales Stage {0} does not exist.").format(echo(sales_stage)),
			frappe.LinkValidationError,
			title=_("Not Found"),
		)
	pipeline = parse_name(pipeline, _("Sales Pipeline"), required=False)
	if pipeline and not get_pipeline(pipeline):
		frappe.throw(
			_("Sales Pipeline {0} does not exist.").format(echo(pipeline)),
			frappe.LinkValidationError,
			title=_("Not Found"),
		)
	move_open_opportunities = parse_flag(move_open_opportunities, _("Move Open Opportunities"))
	# checked before anything is written, so a refusal leaves no trace
	to_move = _open_opportunities(doc.name) if move_open_opportunities else []

	frappe.db.savepoint(SAVEPOINT)
	try:
		customer = make_customer(doc.name)
		customer.insert()
		opportunity = _first_opportunity(customer, deal_name, amount, expected_closing, sales_stage, pipeline)
		for deal in to_move:
			deal.opportunity_from = CUSTOMER
			deal.party_name = customer.name
			# a save (not db_set) so that the app's history and stage rules see the move
			deal.save()
	except Exception:
		frappe.db.rollback(save_point=SAVEPOINT)
		raise
	return {
		"customer": customer.name,
		"opportunity": opportunity.name,
		"moved_opportunities": [deal.name for deal in to_move],
	}


def _check_amount(amount) -> None:
	error = deal_rules.amount_error(amount)
	if error == deal_rules.NEGATIVE:
		frappe.throw(_("Amount cannot be negative ({0}).").format(echo(amount)), title=_("Invalid Amount"))
	if error:
		frappe.throw(
			_("Amount must be a number from 0 to less than {0}, not {1}.").format(
				f"{deal_rules.MAX_AMOUNT:,}", echo(amount)
			),
			title=_("Invalid Amount"),
		)


def _check_not_converted(doc: Document) -> None:
	customer = doc.customer or frappe.db.get_value(CUSTOMER, {"lead_name": doc.name})
	if customer:
		frappe.throw(
			_("Lead {0} already has a customer: {1}.").format(doc.name, customer),
			title=_("Already Converted"),
		)
	if doc.status == "Converted":
		frappe.throw(_("Lead {0} is already converted.").format(doc.name), title=_("Already Converted"))


def _open_opportunities(lead: str) -> list[Document]:
	deals = [
		frappe.get_doc(OPPORTUNITY, name)
		for name in frappe.get_all(
			OPPORTUNITY,
			filters={"opportunity_from": LEAD, "party_name": lead, "status": ["in", list(OPEN_STATUSES)]},
			pluck="name",
			order_by="creation asc",
		)
	]
	for deal in deals:
		deal.check_permission("write")
	return deals


def _first_opportunity(
	customer: Document,
	deal_name: str | None,
	amount: float | None,
	expected_closing,
	sales_stage: str | None,
	pipeline: str | None = None,
) -> Document:
	company = frappe.defaults.get_user_default("Company") or frappe.db.get_single_value(
		"Global Defaults", "default_company"
	)
	if not company:
		frappe.throw(_("Set a default company first."), title=_("No Default Company"))
	values = {
		"doctype": OPPORTUNITY,
		"opportunity_from": CUSTOMER,
		"party_name": customer.name,
		"customer_name": customer.customer_name,
		"title": deal_name or customer.customer_name,
		"opportunity_amount": flt(amount),
		"company": company,
		"currency": frappe.get_cached_value("Company", company, "default_currency"),
	}
	# left out when not given, so the doctype's defaults apply
	if expected_closing:
		values["expected_closing"] = expected_closing
	if sales_stage:
		values["sales_stage"] = sales_stage
	if pipeline:
		values["op_pipeline"] = pipeline
	return frappe.get_doc(values).insert()
