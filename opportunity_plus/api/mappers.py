"""From an opportunity to a quotation, supplier quotations and a request for quotation.

ERPNext's own mappers do the mapping (`erpnext.crm.doctype.opportunity.opportunity`); these endpoints
check the caller's permissions and the deal's status first, then complete what the mappers leave out.
`core.mapping` decides what to fix; this module loads, checks, calls and writes.
"""

import frappe
from erpnext.accounts.party import get_party_details
from erpnext.crm.doctype.opportunity import opportunity as erpnext_opportunity
from frappe import _
from frappe.contacts.doctype.contact.contact import get_contact_details
from frappe.model.document import Document
from frappe.utils import flt, getdate, today

from opportunity_plus.api.utils import echo, get_document, parse_json_value, parse_name
from opportunity_plus.core import mapping

OPPORTUNITY = "Opportunity"


# --- Quotation -------------------------------------------------------------------------------------


@frappe.whitelist()
def make_quotation(source_name: str, target_doc: str | dict | Document | None = None) -> Document:
	"""Opportunity > Create > Quotation (and REST), in place of ERPNext's method of the same name.

	ERPNext maps the opportunity; then the quotation gets the deal name as its title, the details of
	the opportunity's contact (ERPNext keeps the contact but shows the party's primary one), each line's
	agreed rate (else the selling price list's), and always its opportunity link.
	"""
	opportunity = _opportunity_to_map(source_name, "Quotation", mapping.QUOTATION)
	quotation = erpnext_opportunity.make_quotation(opportunity.name, _target_quotation(target_doc))
	_complete_quotation(quotation, opportunity)
	return quotation


def _target_quotation(target_doc):
	"""The quotation being filled (the desk may send the open form's), as ERPNext's mapper takes it."""
	if target_doc is None or target_doc == "" or isinstance(target_doc, Document):
		return target_doc or None
	target = parse_json_value(target_doc, _("Target Document"), dict)
	if target.get("doctype") != "Quotation":
		frappe.throw(
			_("The target document must be a Quotation, not {0}.").format(echo(target.get("doctype")))
		)
	# as JSON text, which ERPNext's mapper (frappe.model.mapper.get_mapped_doc) turns into the document
	return frappe.as_json(target)


def _complete_quotation(quotation: Document, opportunity: Document) -> None:
	quotation.opportunity = opportunity.name
	if opportunity.title and not quotation.title:
		quotation.title = opportunity.title
	_use_opportunity_contact(quotation, opportunity)
	# The currency is the opportunity's and ERPNext converts it at the rate of the quotation's date (the
	# one its sales order and invoice use); without any rate its mapper refuses, naming the missing
	# Currency Exchange record.
	changed = False
	for item, source in _mapped_lines(quotation, opportunity):
		rate = mapping.quotation_rate(source.rate, item.rate, item.price_list_rate)
		if rate != flt(item.rate):
			item.rate = rate
			changed = True
	if changed:
		quotation.run_method("calculate_taxes_and_totals")


def _use_opportunity_contact(quotation: Document, opportunity: Document) -> None:
	contact = opportunity.contact_person
	if not contact or quotation.contact_person != contact:
		return
	if not frappe.has_permission("Contact", "read", doc=contact):
		return
	details = get_contact_details(contact)
	quotation.update({field: value for field, value in details.items() if quotation.meta.has_field(field)})


def _mapped_lines(quotation: Document, opportunity: Document) -> list[tuple[Document, Document]]:
	"""Pairs of (quotation line, opportunity line) for the lines the mapper has just added.

	Quotation lines know their opportunity but not which line they came from; the mapper appends them
	in the opportunity's order (only the selected ones when the desk passed a selection), so the last
	lines pointing at the opportunity pair up with its lines. A pair whose item differs is dropped.
	"""
	selected = (frappe.flags.selected_children or {}).get("items")
	sources = [row for row in opportunity.items if not selected or row.name in selected]
	mapped = [item for item in quotation.items if item.prevdoc_docname == opportunity.name]
	if not sources or len(mapped) < len(sources):
		return []
	pairs = zip(mapped[-len(sources) :], sources, strict=True)
	return [(item, source) for item, source in pairs if item.item_code == source.item_code]


# --- Supplier Quotations ---------------------------------------------------------------------------


@frappe.whitelist()
def get_supplier_plan(opportunity: str) -> dict:
	"""What Create > Supplier Quotation would make: each supplier with its lines, the lines that have no
	default supplier for the opportunity's company (they need one picked), and the opportunity's
	existing supplier quotations."""
	doc = _opportunity_to_map(opportunity, "Supplier Quotation", mapping.SUPPLIER_QUOTATION)
	plan = mapping.plan_supplier_quotations(_source_lines(doc))
	rows = {row.name: row for row in doc.items}
	return {
		"suppliers": [
			{"supplier": supplier, "items": [_line_summary(rows[line]) for line in lines]}
			for supplier, lines in plan.groups.items()
		],
		"unassigned": [_line_summary(rows[line.line]) for line in plan.unassigned],
		# so that a second click does not go unnoticed: the drafts already made (that the user may see)
		"existing": frappe.get_list(
			"Supplier Quotation",
			filters={"opportunity": doc.name, "docstatus": ["<", 2]},
			fields=["name", "supplier", "docstatus"],
			order_by="creation asc",
		),
	}


@frappe.whitelist(methods=["POST"])
def make_supplier_quotations(opportunity: str, supplier_for_unassigned: str | None = None) -> list[str]:
	"""One draft Supplier Quotation per supplier, each with the opportunity lines that supplier quotes.

	A line goes to its item's default supplier for the opportunity's company, else to the first supplier
	in the item's supplier list; lines with neither go to `supplier_for_unassigned`. Each draft links
	back to the opportunity, is priced from the supplier's buying price list (not the opportunity's
	selling rates) and asks for the lines by the expected closing date. Returns the drafts' names.
	"""
	doc = _opportunity_to_map(opportunity, "Supplier Quotation", mapping.SUPPLIER_QUOTATION)
	if not doc.items:
		frappe.throw(
			_("Opportunity {0} has no items to ask suppliers for.").format(doc.name), title=_("No Items")
		)
	supplier_for_unassigned = parse_name(supplier_for_unassigned, _("Supplier"), required=False)
	if supplier_for_unassigned:
		_check_supplier(supplier_for_unassigned)
	plan = mapping.plan_supplier_quotations(_source_lines(doc), supplier_for_unassigned)
	if not plan.complete:
		frappe.throw(
			_(
				"These items have no default supplier for {0}: {1}. Choose a supplier for them, or set "
				"their default supplier."
			).format(doc.company, ", ".join(line.item_code or str(line.line) for line in plan.unassigned)),
			title=_("Supplier Needed"),
		)
	names = []
	for supplier, lines in plan.groups.items():
		quotation = _supplier_quotation(doc, supplier, lines)
		quotation.insert()
		names.append(quotation.name)
	return names


def _source_lines(doc: Document) -> list[mapping.SourceLine]:
	codes = list({row.item_code for row in doc.items if row.item_code})
	defaults: dict[str, list[str]] = {}
	listed: dict[str, list[str]] = {}
	if codes:
		for row in frappe.get_all(
			"Item Default",
			filters={"parenttype": "Item", "parent": ["in", codes], "company": doc.company},
			fields=["parent", "default_supplier"],
		):
			defaults.setdefault(row.parent, []).append(row.default_supplier)
		for row in frappe.get_all(
			"Item Supplier",
			filters={"parenttype": "Item", "parent": ["in", codes]},
			fields=["parent", "supplier"],
			order_by="idx asc",
		):
			listed.setdefault(row.parent, []).append(row.supplier)
	named = {name for names in (*defaults.values(), *listed.values()) for name in names if name}
	usable = set(
		frappe.get_all("Supplier", filters={"name": ["in", list(named)], "disabled": 0}, pluck="name")
		if named
		else []
	)
	return [
		mapping.SourceLine(
			line=row.name,
			item_code=row.item_code,
			candidates=tuple(
				name
				for name in defaults.get(row.item_code, []) + listed.get(row.item_code, [])
				if name in usable
			),
		)
		for row in doc.items
	]


def _line_summary(row: Document) -> dict:
	return {"idx": row.idx, "item_code": row.item_code, "item_name": row.item_name, "qty": row.qty}


def _check_supplier(supplier: str) -> None:
	get_document("Supplier", supplier, _("Supplier"), "read")
	if frappe.db.get_value("Supplier", supplier, "disabled"):
		frappe.throw(_("Supplier {0} is disabled.").format(echo(supplier)), title=_("Disabled Supplier"))


def _supplier_quotation(opportunity: Document, supplier: str, lines: list[str]) -> Document:
	# ERPNext's mapper maps the rows named in selected_children only: one supplier's lines.
	selected = frappe.flags.selected_children
	frappe.flags.selected_children = {"items": lines}
	try:
		quotation = erpnext_opportunity.make_supplier_quotation(opportunity.name)
	finally:
		frappe.flags.selected_children = selected

	quotation.opportunity = opportunity.name
	quotation.supplier = supplier
	party = get_party_details(
		party=supplier,
		party_type="Supplier",
		company=quotation.company,
		posting_date=quotation.transaction_date,
		doctype=quotation.doctype,
	)
	if party.get("currency") and party.get("currency") != quotation.currency:
		quotation.conversion_rate = 0  # the mapped rate was the opportunity's currency's
	# Only what the supplier has: an empty price list would undo the Buying Settings default.
	quotation.update(
		{
			field: value
			for field, value in party.items()
			if value not in (None, "") and quotation.meta.has_field(field)
		}
	)

	needed_by = mapping.required_by(
		getdate(opportunity.expected_closing) if opportunity.expected_closing else None,
		getdate(quotation.transaction_date or today()),
	)
	for item in quotation.items:
		# The mapper copies the opportunity's selling rates: the supplier's buying price applies instead.
		item.rate = item.base_rate = item.amount = item.base_amount = 0
		if needed_by:
			item.expected_delivery_date = needed_by
	quotation.run_method("set_missing_values")
	quotation.run_method("calculate_taxes_and_totals")
	return quotation


# --- Request for Quotation -------------------------------------------------------------------------


@frappe.whitelist()
def get_request_suppliers(opportunity: str) -> list[str]:
	"""The suppliers a request for quotation for the opportunity is proposed to: its items' default
	suppliers (the desk dialog starts from them; the user adds or removes)."""
	doc = _opportunity_to_map(opportunity, "Request for Quotation", mapping.REQUEST_FOR_QUOTATION)
	return list(mapping.plan_supplier_quotations(_source_lines(doc)).groups)


@frappe.whitelist(methods=["POST"])
def make_request_for_quotation(opportunity: str, suppliers: str | list[str]) -> str:
	"""One draft Request for Quotation to `suppliers` for all the opportunity's lines; returns its name.

	ERPNext maps the lines; each RFQ line then keeps which opportunity line it came from
	(`op_opportunity`, `op_opportunity_item`: ERPNext's mapper targets fields the RFQ line does not
	have), and the RFQ asks for them by the expected closing date.
	"""
	doc = _opportunity_to_map(opportunity, "Request for Quotation", mapping.REQUEST_FOR_QUOTATION)
	if isinstance(suppliers, str):
		suppliers = (
			parse_json_value(suppliers, _("Suppliers"), list)
			if suppliers.lstrip().startswith("[")
			else [suppliers]
		)
	suppliers = list(dict.fromkeys(parse_name(name, _("Supplier"), required=False) for name in suppliers))
	suppliers = [name for name in suppliers if name]
	if not doc.items:
		frappe.throw(
			_("Opportunity {0} has no items to ask suppliers for.").format(doc.name), title=_("No Items")
		)
	if not suppliers:
		frappe.throw(_("Choose at least one supplier to send the request to."), title=_("Supplier Needed"))
	for supplier in suppliers:
		_check_supplier(supplier)

	selected = frappe.flags.selected_children
	frappe.flags.selected_children = None  # every line: one request covers the whole opportunity
	try:
		request = erpnext_opportunity.make_request_for_quotation(doc.name)
	finally:
		frappe.flags.selected_children = selected
	request.opportunity = doc.name
	for supplier in suppliers:
		request.append("suppliers", {"supplier": supplier})

	needed_by = mapping.required_by(
		getdate(doc.expected_closing) if doc.expected_closing else None,
		getdate(request.transaction_date or today()),
	)
	if needed_by:
		request.schedule_date = needed_by
	# the mapper adds a line per opportunity line, in order
	for item, source in zip(request.items, doc.items, strict=True):
		item.op_opportunity = doc.name
		item.op_opportunity_item = source.name
		# a line without a unit on the opportunity is in the item's stock unit (the mapper sets factor 1)
		item.uom = item.uom or item.stock_uom
		if needed_by:
			item.schedule_date = needed_by
	request.insert()
	return request.name


# --- common ----------------------------------------------------------------------------------------


def _opportunity_to_map(name: str, doctype: str, target: str) -> Document:
	"""The opportunity, once the caller may read it and create `doctype`, and its status allows it."""
	opportunity = get_document(OPPORTUNITY, name, _("Opportunity"), "read")
	frappe.has_permission(doctype, "create", throw=True)
	blocked = mapping.mapping_blocked(opportunity.status, target)
	if blocked == mapping.DEAL_CONVERTED:
		message = _(
			"Opportunity {0} is converted: its quotation has been ordered. Make a new opportunity for a "
			"new offer."
		)
	elif blocked == mapping.DEAL_LOST:
		message = _("Opportunity {0} is lost. Reopen it to make a {1} from it.")
	elif blocked == mapping.DEAL_CLOSED:
		message = _("Opportunity {0} is closed. Reopen it to make a {1} from it.")
	else:
		return opportunity
	# literal _() calls, so that translation extraction finds them
	label = {
		"Quotation": _("Quotation"),
		"Supplier Quotation": _("Supplier Quotation"),
		"Request for Quotation": _("Request for Quotation"),
	}.get(doctype, doctype)
	frappe.throw(message.format(opportunity.name, label), title=_("Cannot Make {0}").format(label))


# --- Expected margin -------------------------------------------------------------------------------


@frappe.whitelist()
def get_expected_margin(opportunity: str) -> dict:
	"""What the deal would earn if each item were bought at its best supplier rate.

	The best rate is the lowest base (company-currency) rate among the non-cancelled Supplier Quotations
	linked to the opportunity that the caller may read; an unpriced supplier line (rate 0) does not count.
	Per item and in total: selling value (qty * base rate), best cost, margin, margin %, and the items no
	supplier has priced yet (left out of cost and margin).
	"""
	doc = get_document(OPPORTUNITY, opportunity, _("Opportunity"), "read")
	if not frappe.has_permission("Supplier Quotation", "read"):
		# The form shows the margin only to those who may read supplier quotations (opportunity_mappers.js).
		frappe.throw(
			_("The expected margin comes from supplier quotations, which you are not permitted to read."),
			frappe.PermissionError,
			title=_("Not Permitted"),
		)
	quotations = frappe.get_list(
		"Supplier Quotation", filters={"opportunity": doc.name, "docstatus": ["<", 2]}, pluck="name"
	)
	codes = list({row.item_code for row in doc.items if row.item_code})
	quoted = (
		frappe.get_all(
			"Supplier Quotation Item",
			filters={
				"parenttype": "Supplier Quotation",
				"parent": ["in", quotations],
				"item_code": ["in", codes],
			},
			fields=["item_code", "base_rate"],
		)
		if quotations and codes
		else []
	)
	result = mapping.expected_margin(
		[mapping.SellingLine(row.item_code, flt(row.qty), flt(row.base_rate)) for row in doc.items],
		[(row.item_code, row.base_rate) for row in quoted],
	)
	return {
		"opportunity": doc.name,
		"currency": frappe.get_cached_value("Company", doc.company, "default_currency"),
		"items": [
			{
				"idx": row.idx,
				"item_code": line.item_code,
				"qty": line.qty,
				"selling": flt(line.selling, 2),
				"best_rate": line.best_rate,
				"best_cost": None if line.best_cost is None else flt(line.best_cost, 2),
				"margin": None if line.margin is None else flt(line.margin, 2),
				"margin_percent": None if line.margin_percent is None else flt(line.margin_percent, 2),
			}
			for row, line in zip(doc.items, result.lines, strict=True)
		],
		"selling": flt(result.selling, 2),
		"priced_selling": flt(result.priced_selling, 2),
		"best_cost": flt(result.cost, 2),
		"margin": flt(result.margin, 2),
		"margin_percent": None if result.margin_percent is None else flt(result.margin_percent, 2),
		"items_without_supplier_rate": result.unpriced,
		"supplier_quotations": len(quotations),
	}
