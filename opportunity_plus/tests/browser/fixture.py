"""The browser layer's data, committed so the test server (another process) shows it.

Run by the layer with the bench's Python from the bench's `sites` folder, never imported by pytest:

    python fixture.py setup SITE      # removes any leftover of an earlier run, then creates the data
    python fixture.py teardown SITE   # removes everything the layer created (also what the tests made)

`setup` reads the test users' password from $OP_BROWSER_PASSWORD and prints one line
`OPB-FIXTURE-JSON: {...}` with the names the tests need. Everything is prefixed "OPB" (territories,
users opb.*@example.com, leads, customers, deal names), so teardown finds it again by name alone, even
after an aborted run. Nothing depends on one site's data: the company is the site's default company and
an item, a lost reason and the territories' parent are found or created.

Only frappe is imported, not the app: the bench may run another checkout of opportunity_plus than the
one under test, and this file must not depend on which.
"""

import json
import os
import sys
from datetime import date

import frappe
from frappe.utils import add_days, get_datetime, get_last_day, getdate, nowdate

PREFIX = "OPB"
TERRITORY = "OPB Territory"
OTHER_TERRITORY = "OPB Other Territory"
REP = "opb.rep@example.com"
MANAGER = "opb.manager@example.com"
USERS = {REP: ("OPB", "Rep", "Sales User"), MANAGER: ("OPB", "Manager", "Sales Manager")}
ITEM = "OPB Widget"
LOST_REASON = "OPB No Budget"
PARTY_LEAD = "OPB Party"
OTHER_PARTY_LEAD = "OPB Other Party"
# One lead per role for Lead > Create > Customer with Opportunity (a lead converts once).
CONVERT_LEADS = {"Sales User": "OPB Convert Rep", "Sales Manager": "OPB Convert Manager"}
CLOSED_STATUSES = ("Lost", "Closed", "Converted")
# A second sales pipeline with stages of its own; entering its quote stage needs a contact person.
RENEWALS = "OPB Renewals"
RENEWAL_DUE, RENEWAL_QUOTE, RENEWED, CHURNED = (
	"OPB Renewal Due",
	"OPB Renewal Quote",
	"OPB Renewed",
	"OPB Churned",
)
QUOTE_GUIDANCE = "OPB: send the renewal quote to the customer's contact."
CONTACT = "OPB Contact"
# One renewal per role to drag on the board and one to open in the form (a move changes the deal).
RENEWAL_DEALS = {
	"Sales User": ("OPB Renewal Board Rep", "OPB Renewal Form Rep"),
	"Sales Manager": ("OPB Renewal Board Manager", "OPB Renewal Form Manager"),
}
# The forecast call: the manager's user is a Sales Person (a group) with the rep's under it, each through an
# Employee whose user they are; the rep has called once already, so the manager's reports table has a call
# to show and adjust whichever test runs first.
MANAGER_PERSON = "OPB Manager"
REP_PERSON = "OPB Rep"
SALES_PERSONS = {MANAGER: (MANAGER_PERSON, 1), REP: (REP_PERSON, 0)}
FIRST_CALL = {"commit_amount": 1000, "best_case_amount": 1500, "note": "OPB: the rep's first call"}


def main(argv: list[str]) -> int:
	if len(argv) != 3 or argv[1] not in ("setup", "teardown"):
		print(__doc__, file=sys.stderr)
		return 2
	command, site = argv[1], argv[2]
	frappe.init(site=site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	try:
		teardown()
		frappe.db.commit()
		if command == "setup":
			names = setup(os.environ["OP_BROWSER_PASSWORD"])
			frappe.db.commit()
			print("OPB-FIXTURE-JSON: " + json.dumps(names, default=str))
	finally:
		frappe.db.rollback()
		frappe.destroy()
	return 0


# --- setup ---------------------------------------------------------------------------------------------


def setup(password: str) -> dict:
	company = default_company()
	currency = frappe.get_cached_value("Company", company, "default_currency")
	territory_parent = root_territory()
	territory(TERRITORY, territory_parent)
	territory(OTHER_TERRITORY, territory_parent)
	for email, (first, last, role) in USERS.items():
		user(email, first, last, role, password)
	frappe.get_doc(
		{
			"doctype": "User Permission",
			"user": REP,
			"allow": "Territory",
			"for_value": TERRITORY,
			"apply_to_all_doctypes": 1,
		}
	).insert(ignore_permissions=True)

	party = lead(PARTY_LEAD, TERRITORY, company)
	other_party = lead(OTHER_PARTY_LEAD, OTHER_TERRITORY, company)
	convert_leads = {role: lead(name, TERRITORY, company) for role, name in CONVERT_LEADS.items()}
	item_code = sales_item()
	stages = open_stages()

	# The deals' Opportunity Owner is whose figures the forecast call counts them in (through the owner's
	# Employee and Sales Person): the rep's territory's deals are the rep's, the other one the manager's.
	def deal(title, party_name, territory_name, stage, closing, rates, pipeline=None):
		doc = frappe.get_doc(
			{
				"op_pipeline": pipeline,
				"opportunity_owner": REP if territory_name == TERRITORY else MANAGER,
				"doctype": "Opportunity",
				"opportunity_from": "Lead",
				"party_name": party_name,
				"title": title,
				"company": company,
				"currency": currency,
				"conversion_rate": 1,
				"territory": territory_name,
				"sales_stage": stage,
				"expected_closing": closing if isinstance(closing, date) else add_days(nowdate(), closing),
				"opportunity_amount": sum(rates),
				"items": [{"item_code": item_code, "qty": 1, "rate": rate} for rate in rates],
			}
		)
		return doc.insert(ignore_permissions=True)

	follow_up_day = getdate(add_days(nowdate(), 2))
	# Closing at the end of this month: inside every default window (forecast year, chart months).
	alpha = deal("OPB Alpha Deal", party, TERRITORY, stages[0], get_last_day(nowdate()), [600, 400])
	# Some history: the stage moves on and the amount grows (one row each), and a follow-up for the rep.
	alpha.sales_stage = stages[2]
	alpha.opportunity_amount = 1500
	alpha.op_next_contact_date = get_datetime(f"{follow_up_day} 10:00:00")
	alpha.op_next_contact_by = REP
	alpha.save(ignore_permissions=True)
	beta = deal("OPB Beta Deal", party, TERRITORY, stages[1], 45, [2500])
	# The manager's own follow-up, so My Follow-ups has a row for each role.
	beta.op_next_contact_date = get_datetime(f"{add_days(follow_up_day, 1)} 11:00:00")
	beta.op_next_contact_by = MANAGER
	beta.save(ignore_permissions=True)
	gamma = deal("OPB Gamma Deal", party, TERRITORY, stages[-2], 75, [3000, 1000])
	lost = deal("OPB Lost Deal", party, TERRITORY, stages[1], 10, [800])
	# ERPNext's own lost flow (the form's Declare Lost): Win Loss Analysis needs a deal closed this year.
	lost.declare_enquiry_lost([{"lost_reason": lost_reason()}], [], "OPB browser fixture")
	hidden = deal("OPB Hidden Deal", other_party, OTHER_TERRITORY, stages[3], 30, [9000])

	renewals_pipeline(stages)
	contact = (
		frappe.get_doc({"doctype": "Contact", "first_name": CONTACT}).insert(ignore_permissions=True).name
	)
	renewal_deals = {}
	for role, titles in RENEWAL_DEALS.items():
		renewal_deals[role] = []
		for title in titles:
			doc = deal(title, party, TERRITORY, RENEWAL_DUE, 60, [700], pipeline=RENEWALS)
			renewal_deals[role].append(doc.name)

	forecast_call = forecast_call_tree(company)

	return {
		"company": company,
		"currency": currency,
		"territory": TERRITORY,
		"other_territory": OTHER_TERRITORY,
		"users": {"Sales User": REP, "Sales Manager": MANAGER},
		"party_lead": party,
		"convert_leads": convert_leads,
		"item": item_code,
		"open_stages": stages,
		"deals": {
			"alpha": alpha.name,
			"beta": beta.name,
			"gamma": gamma.name,
			"lost": lost.name,
			"hidden": hidden.name,
		},
		# what each role may see of the fixture's open deals
		"visible_open": {
			"Sales User": [alpha.name, beta.name, gamma.name],
			"Sales Manager": [alpha.name, beta.name, gamma.name, hidden.name],
		},
		"follow_ups": {"Sales User": alpha.name, "Sales Manager": beta.name},
		"pipeline": {
			"name": RENEWALS,
			"default": default_pipeline(),
			"stages": [RENEWAL_DUE, RENEWAL_QUOTE, RENEWED, CHURNED],
			"quote": RENEWAL_QUOTE,
			"quote_needs": "contact_person",
			"guidance": QUOTE_GUIDANCE,
			"contact": contact,
			"board_deals": {role: names[0] for role, names in renewal_deals.items()},
			"form_deals": {role: names[1] for role, names in renewal_deals.items()},
		},
		"forecast_call": forecast_call,
	}


def forecast_call_tree(company: str) -> dict:
	"""The manager's and the rep's Sales Persons (the rep under the manager), the rep's first call, and a
	snapshot of last week for each, so the page has week-over-week changes to show."""
	root = frappe.db.get_value(
		"Sales Person", {"is_group": 1, "parent_sales_person": ("in", ("", None))}
	) or frappe.db.get_value("Sales Person", {"is_group": 1})
	parent = root
	for email, (name, is_group) in SALES_PERSONS.items():
		employee = frappe.get_doc(
			{
				"doctype": "Employee",
				"first_name": name,
				"gender": frappe.get_all("Gender", pluck="name", order_by="name asc", limit=1)[0],
				"date_of_birth": "1990-01-01",
				"date_of_joining": "2020-01-01",
				"status": "Active",
				"company": company,
				"user_id": email,
				# no User Permission on Employee: it would hide the other one's Sales Person from the user
				"create_user_permission": 0,
			}
		).insert(ignore_permissions=True)
		frappe.get_doc(
			{
				"doctype": "Sales Person",
				"sales_person_name": name,
				"parent_sales_person": parent,
				"is_group": is_group,
				"employee": employee.name,
			}
		).insert(ignore_permissions=True)
		parent = name
	# submitted as the rep, as the page does (a call is only ever the caller's own)
	frappe.set_user(REP)
	try:
		call = frappe.get_doc(
			{
				"doctype": "Forecast Submission",
				"submission_type": "Call",
				"company": company,
				"sales_person": REP_PERSON,
				**FIRST_CALL,
			}
		).insert()
	finally:
		frappe.set_user("Administrator")
	# Last week's figures, a smaller pipeline than this week's (the call stored this week's for the rep).
	# Snapshots are written by the app only: straight into the table, as its weekly job does.
	last_week = add_days(getdate(nowdate()), -getdate(nowdate()).weekday() - 7)
	for person in (MANAGER_PERSON, REP_PERSON):
		frappe.get_doc(
			{
				"doctype": "Forecast Snapshot",
				"name": f"OPB-{person}-{last_week}".replace(" ", "-"),
				"company": company,
				"period": call.period,
				"sales_person": person,
				"week_start": last_week,
				"taken_on": get_datetime(f"{last_week} 06:00:00"),
				"currency": call.currency,
				"closed": 0,
				"commit_amount": 0,
				"best_case": 0,
				"pipeline": 1000,
			}
		).db_insert()
	return {
		"period": call.period,
		"manager": MANAGER_PERSON,
		"rep": REP_PERSON,
		"persons": {"Sales User": REP_PERSON, "Sales Manager": MANAGER_PERSON},
		"first_call": {"commit": FIRST_CALL["commit_amount"], "best_case": FIRST_CALL["best_case_amount"]},
	}


def default_company() -> str:
	company = frappe.db.get_single_value("Global Defaults", "default_company")
	if company and frappe.db.exists("Company", company):
		return company
	companies = frappe.get_all("Company", pluck="name", order_by="creation asc", limit=1)
	if not companies:
		raise SystemExit("the site has no company: complete the setup wizard first")
	return companies[0]


def root_territory() -> str:
	return (
		frappe.db.get_value("Territory", {"is_group": 1, "parent_territory": ("in", ("", None))})
		or frappe.db.get_value("Territory", {"is_group": 1})
		or "All Territories"
	)


def territory(name: str, parent: str) -> None:
	frappe.get_doc(
		{"doctype": "Territory", "territory_name": name, "parent_territory": parent, "is_group": 0}
	).insert(ignore_permissions=True)


def user(email: str, first_name: str, last_name: str, role: str, password: str) -> None:
	frappe.get_doc(
		{
			"doctype": "User",
			"email": email,
			"first_name": first_name,
			"last_name": last_name,
			"user_type": "System User",
			"send_welcome_email": 0,
			"new_password": password,
			"roles": [{"role": role}],
		}
	).insert(ignore_permissions=True)


def lead(name: str, territory_name: str, company: str) -> str:
	return (
		frappe.get_doc(
			{
				"doctype": "Lead",
				"lead_name": name,
				"company_name": f"{name} Ltd",
				"territory": territory_name,
				"company": company,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)


def sales_item() -> str:
	"""Any enabled sales item of the site, else one made for the run (removed by teardown)."""
	existing = frappe.get_all(
		"Item",
		filters={"is_sales_item": 1, "disabled": 0, "has_variants": 0, "name": ("!=", ITEM)},
		pluck="name",
		order_by="creation asc",
		limit=1,
	)
	if existing:
		return existing[0]
	item_group = frappe.db.get_value("Item Group", {"is_group": 0}, "name", order_by="lft asc") or (
		frappe.db.get_value("Item Group", {}, "name", order_by="lft asc")
	)
	uom = "Nos" if frappe.db.exists("UOM", "Nos") else frappe.db.get_value("UOM", {}, "name")
	frappe.get_doc(
		{
			"doctype": "Item",
			"item_code": ITEM,
			"item_name": ITEM,
			"item_group": item_group,
			"stock_uom": uom,
			"is_stock_item": 0,
			"is_sales_item": 1,
		}
	).insert(ignore_permissions=True)
	return ITEM


def lost_reason() -> str:
	if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
		frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert(
			ignore_permissions=True
		)
	return LOST_REASON


def default_pipeline() -> str:
	return frappe.db.get_value("Sales Pipeline", {"is_default": 1}, "name")


def open_stages() -> list[str]:
	"""The open stages of the site's default sales pipeline, in its order."""
	stages = frappe.get_all(
		"Sales Pipeline Stage",
		filters={"parenttype": "Sales Pipeline", "parent": default_pipeline(), "stage_kind": "Open"},
		pluck="sales_stage",
		order_by="idx asc",
	)
	if len(stages) < 4:
		raise SystemExit(f"the browser layer needs at least four open sales stages, the site has {stages}")
	return stages


def renewals_pipeline(default_open: list[str]) -> None:
	"""OPB Renewals with stages of its own. Made with one of the default pipeline's stages first: while the
	default is the site's only pipeline, a new Sales Stage joins it, and these must not."""
	pipeline = frappe.get_doc(
		{
			"doctype": "Sales Pipeline",
			"pipeline_name": RENEWALS,
			"enabled": 1,
			"stages": [{"sales_stage": default_open[0], "stage_kind": "Open"}],
		}
	).insert(ignore_permissions=True)
	for name in (RENEWAL_DUE, RENEWAL_QUOTE, RENEWED, CHURNED):
		frappe.get_doc({"doctype": "Sales Stage", "stage_name": name}).insert(ignore_permissions=True)
	pipeline.set(
		"stages",
		[
			{"sales_stage": RENEWAL_DUE, "stage_kind": "Open", "probability": 30},
			{
				"sales_stage": RENEWAL_QUOTE,
				"stage_kind": "Open",
				"probability": 70,
				"required_fields": "contact_person",
				"guidance": QUOTE_GUIDANCE,
			},
			{"sales_stage": RENEWED, "stage_kind": "Won", "probability": 100},
			{"sales_stage": CHURNED, "stage_kind": "Lost", "probability": 0},
		],
	)
	pipeline.save(ignore_permissions=True)


# --- teardown ------------------------------------------------------------------------------------------


def teardown() -> None:
	"""Remove every OPB record, dependants first. Safe to run when nothing (or only part) is there."""
	lead_names = frappe.get_all("Lead", filters={"lead_name": ("like", f"{PREFIX} %")}, pluck="name")
	customers = frappe.get_all(
		"Customer",
		or_filters={"customer_name": ("like", f"{PREFIX} %"), "lead_name": ("in", lead_names or [""])},
		pluck="name",
	)
	territories = [name for name in (TERRITORY, OTHER_TERRITORY) if frappe.db.exists("Territory", name)]
	deals = set(frappe.get_all("Opportunity", filters={"title": ("like", f"{PREFIX} %")}, pluck="name"))
	for field, values in (("territory", territories), ("party_name", lead_names + customers)):
		if values:
			deals.update(frappe.get_all("Opportunity", filters={field: ("in", values)}, pluck="name"))
	for name in sorted(deals):
		delete_opportunity(name)

	for customer in customers:
		delete_linked("Contact", "Customer", customer)
		delete_linked("Address", "Customer", customer)
		frappe.delete_doc("Customer", customer, ignore_permissions=True, force=True)
	for name in lead_names:
		delete_linked("Contact", "Lead", name)
		delete_linked("Address", "Lead", name)
		frappe.delete_doc("Lead", name, ignore_permissions=True, force=True)

	remove_forecast_call_tree()
	for email in USERS:
		if frappe.db.exists("User", email):
			for permission in frappe.get_all("User Permission", filters={"user": email}, pluck="name"):
				frappe.delete_doc("User Permission", permission, ignore_permissions=True)
			# What the run left in the users' name (follow-up notifications, visited routes); the user's
			# own ToDos, private Events and shares go with the user (User.on_trash).
			for doctype, field in (("Notification Log", "for_user"), ("Route History", "user")):
				frappe.db.delete(doctype, {field: email})
			frappe.delete_doc("User", email, ignore_permissions=True, force=True)
	for name in territories:
		frappe.delete_doc("Territory", name, ignore_permissions=True, force=True)
	if frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
		frappe.delete_doc("Opportunity Lost Reason", LOST_REASON, ignore_permissions=True, force=True)
	if frappe.db.exists("Item", ITEM):
		frappe.delete_doc("Item", ITEM, ignore_permissions=True, force=True)
	for name in frappe.get_all("Contact", filters={"first_name": CONTACT}, pluck="name"):
		frappe.delete_doc("Contact", name, ignore_permissions=True, force=True)
	if frappe.db.exists("Sales Pipeline", RENEWALS):
		frappe.delete_doc("Sales Pipeline", RENEWALS, ignore_permissions=True, force=True)
	for name in (RENEWAL_DUE, RENEWAL_QUOTE, RENEWED, CHURNED):
		if frappe.db.exists("Sales Stage", name):
			frappe.delete_doc("Sales Stage", name, ignore_permissions=True, force=True)
	# the board's remembered pipeline (Frappe's user settings) went with the users


def remove_forecast_call_tree() -> None:
	"""The Sales Persons (reports first), their calls, adjustments and snapshots, and the Employees."""
	persons = [name for name, _is_group in SALES_PERSONS.values()]
	# Calls and snapshots are kept by the app and refuse deletion through the document API.
	frappe.db.delete("Forecast Submission", {"sales_person": ("in", persons)})
	frappe.db.delete("Forecast Submission", {"adjusted_by": ("in", persons)})
	frappe.db.delete("Forecast Submission", {"submitted_by": ("in", list(USERS))})
	frappe.db.delete("Forecast Snapshot", {"sales_person": ("in", persons)})
	for name in reversed(persons):
		if frappe.db.exists("Sales Person", name):
			frappe.delete_doc("Sales Person", name, ignore_permissions=True, force=True)
	for employee in frappe.get_all("Employee", filters={"user_id": ("in", list(USERS))}, pluck="name"):
		frappe.delete_doc("Employee", employee, ignore_permissions=True, force=True)


def delete_opportunity(name: str) -> None:
	doc = frappe.get_doc("Opportunity", name)
	if doc.status in CLOSED_STATUSES:
		# The app keeps closed deals as the win/loss record: reopen first, as a user would.
		doc.status = "Open"
		doc.save(ignore_permissions=True)
	frappe.delete_doc("Opportunity", name, ignore_permissions=True)


def delete_linked(doctype: str, link_doctype: str, link_name: str) -> None:
	names = frappe.get_all(
		"Dynamic Link",
		filters={"parenttype": doctype, "link_doctype": link_doctype, "link_name": link_name},
		pluck="parent",
	)
	for name in set(names):
		frappe.delete_doc(doctype, name, ignore_permissions=True, force=True)


if __name__ == "__main__":
	sys.exit(main(sys.argv))
