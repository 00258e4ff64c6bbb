"""Loading what the target and forecast-category views need from ERPNext: the company's fiscal years, the
period asked for, the Sales Person and Territory trees, their Target Detail rows with each row's Monthly
Distribution, and which Sales Person each opportunity owner is (User → Employee → Sales Person).

What the caller may read of the trees is each doctype's own read permission (`frappe.get_list`); the
opportunities are read by the views themselves, through permissions.read_scope.
"""

import frappe
from frappe import _
from frappe.utils import escape_html
from frappe.utils.nestedset import get_descendants_of
from pypika.terms import ExistsCriterion

from opportunity_plus.api.forecast import default_company
from opportunity_plus.core import targets as rules
from opportunity_plus.core.targets import FiscalYear, Period, PeriodError, TargetRow, TreeNode

SALES_PERSON = "Sales Person"
TERRITORY = "Territory"
TREES = {SALES_PERSON: "parent_sales_person", TERRITORY: "parent_territory"}


def shown(value) -> str:
	"""A caller's value as a message may show it: short, HTML-escaped (the desk shows messages as HTML)."""
	return frappe.bold(escape_html(str(value)[:60]))


def company_or_default(company: str | None) -> str:
	company = company or default_company()
	if not company:
		frappe.throw(_("Select a company: targets and forecasts never mix companies' currencies."))
	if not frappe.db.exists("Company", company):
		frappe.throw(_("Company {0} does not exist.").format(shown(company)), frappe.DoesNotExistError)
	return company


def check_can_read_opportunities() -> None:
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)


def fiscal_years(company: str) -> list[FiscalYear]:
	"""The company's enabled fiscal years: those listing it, and those listing no company (as ERPNext's
	`get_fiscal_years` takes them; read here without its cache, which outlives a rolled-back year)."""
	year = frappe.qb.DocType("Fiscal Year")
	link = frappe.qb.DocType("Fiscal Year Company")
	listed = frappe.qb.from_(link).select(link.name).where(link.parent == year.name)
	rows = (
		frappe.qb.from_(year)
		.select(year.name, year.year_start_date, year.year_end_date)
		.where(year.disabled == 0)
		.where(ExistsCriterion(listed).negate() | ExistsCriterion(listed.where(link.company == company)))
		.orderby(year.year_start_date)
		.run(as_dict=True)
	)
	return [FiscalYear(row.name, row.year_start_date, row.year_end_date) for row in rows]


def resolve_period(period: str | None, years: list[FiscalYear]) -> Period:
	if not period:
		frappe.throw(_("Select a period: a month (2026-12), a quarter (2026-Q4) or a fiscal year."))
	try:
		return rules.parse_period(str(period), years)
	except PeriodError:
		frappe.throw(
			_(
				"{0} is not a period: give a month as 2026-12, a quarter as 2026-Q4, or the name of one of "
				"the company's fiscal years."
			).format(shown(period))
		)


def tree(doctype: str) -> list[TreeNode]:
	"""Every node of a tree doctype, depth-first (lft order), as far as its nested set is kept."""
	parent_field = TREES[doctype]
	return [
		TreeNode(row.name, row.get(parent_field) or None)
		for row in frappe.get_all(doctype, fields=["name", parent_field], order_by="lft asc, name asc")
	]


def readable(doctype: str) -> set[str]:
	"""The records of `doctype` the caller may read (role, user permissions, as its list view)."""
	try:
		return set(frappe.get_list(doctype, pluck="name", limit_page_length=0))
	except frappe.PermissionError:
		frappe.clear_last_message()
		return set()


def target_rows(doctype: str) -> list[TargetRow]:
	"""The Target Detail rows of every Sales Person or Territory, each with its Monthly Distribution."""
	rows = frappe.get_all(
		"Target Detail",
		filters={"parenttype": doctype, "parentfield": "targets"},
		fields=["parent", "fiscal_year", "item_group", "target_amount", "distribution_id"],
	)
	distributions = _distributions({row.distribution_id for row in rows if row.distribution_id})
	return [
		TargetRow(
			holder=row.parent,
			fiscal_year=row.fiscal_year,
			item_group=row.item_group or None,
			amount=row.target_amount,
			# a distribution that no longer exists splits evenly, as no distribution does
			distribution=distributions.get(row.distribution_id) if row.distribution_id else None,
		)
		for row in rows
	]


def _distributions(names: set[str]) -> dict[str, dict[str, float]]:
	if not names:
		return {}
	result: dict[str, dict[str, float]] = {}
	for row in frappe.get_all(
		"Monthly Distribution Percentage",
		filters={"parenttype": "Monthly Distribution", "parent": ("in", sorted(names))},
		fields=["parent", "month", "percentage_allocation"],
	):
		months = result.setdefault(row.parent, {})
		months[row.month] = months.get(row.month, 0) + (row.percentage_allocation or 0)
	# a distribution without rows gives every month 0 %
	return {name: result.get(name, {}) for name in names}


def sales_persons_of(users) -> dict[str, str]:
	"""Opportunity owner (User) → Sales Person, through the Employee whose user it is."""
	users = sorted({user for user in users if user})
	if not users:
		return {}
	employees = frappe.get_all(
		"Employee",
		filters={"user_id": ("in", users)},
		fields=["name", "user_id", "status"],
		order_by="name asc",
	)
	# Active employees first, so a user with an old and a current employee record maps to the current one.
	employee_of = {}
	for row in sorted(employees, key=lambda row: row.status != "Active"):
		employee_of.setdefault(row.user_id, row.name)
	if not employee_of:
		return {}
	person_of_employee = {}
	for row in frappe.get_all(
		"Sales Person",
		filters={"employee": ("in", sorted(set(employee_of.values())))},
		fields=["name", "employee"],
		order_by="name asc",
	):
		person_of_employee.setdefault(row.employee, row.name)
	return {
		user: person_of_employee[employee]
		for user, employee in employee_of.items()
		if employee in person_of_employee
	}


def item_group_and_descendants(item_group: str) -> list[str]:
	if not frappe.db.exists("Item Group", item_group):
		frappe.throw(
			_("Item Group {0} does not exist.").format(shown(item_group)),
			frappe.DoesNotExistError,
		)
	return [item_group, *get_descendants_of("Item Group", item_group)]
