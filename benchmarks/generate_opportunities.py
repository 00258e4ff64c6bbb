"""Bulk-insert benchmark Opportunities into a site, and remove them again.

	cd ~/frappe-bench/sites && ../env/bin/python ../apps/opportunity_plus/benchmarks/generate_opportunities.py
	... generate_opportunities.py --count 20000 --site mysite.localhost --company "My Company"
	... generate_opportunities.py --remove

--site defaults to the bench's default site, --company to the site's default company (site_options.py).
The deals are in that company, mostly in its currency, the rest in two of USD / EUR / GBP with Currency
Exchange records into the company currency.

Rows go in with multi-row INSERTs, bypassing controllers and hooks, so 100k opportunities take seconds
rather than the hour doc.insert would. The spread aims at what a real pipeline
looks like: mostly open deals in early stages, closed outcomes mostly in the past, several currencies,
owners, territories, sources and types.

Two Sales Pipelines: about 70 % of the deals are in the site's default pipeline (half of them with the
pipeline left blank, as deals saved before pipelines are, half naming it), 30 % in a second pipeline
`OPBENCH-Projects` of two of the default's open stages (at other probabilities and categories), two open
stages of its own (`OPBENCH-Site Survey`, `OPBENCH-Permitting`) and the default's won and lost stages.

Everything generated is recognisable by its name, so `--remove` deletes exactly that and nothing else:
opportunities `OPBENCH-<n>` and their item lines `OPBENCH-<n>-<line>`, items `OPBENCH-ITEM-<n>`, customers
`OPBENCH-CUST-<n>`, leads `OPBENCH-LEAD-<n>`, territories `OPBENCH-<region>`, users
`opbench.<first>@example.invalid`, Currency Exchange `OPBENCH-<from>-<to>`, the Sales Pipeline
`OPBENCH-Projects` and its Sales Stages `OPBENCH-<stage>` (and a Customer Group `OPBENCH-Customers` only on
a site without one). Existing Sales Stages, Lead Sources, Opportunity Types, Item Groups and UOMs are used as
they are (the three types are created only if missing, and then kept). No index is added: the benchmarks
measure the stock table.
"""

import argparse
import itertools
import json
import os
import random
import sys
import time
from datetime import date, datetime, timedelta

import frappe
from frappe.utils.nestedset import get_root_of

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_options

PREFIX = "OPBENCH-"
CUSTOMER_PREFIX = f"{PREFIX}CUST-"
ITEM_PREFIX = f"{PREFIX}ITEM-"
LEAD_PREFIX = f"{PREFIX}LEAD-"
USER_DOMAIN = "@example.invalid"
USER_PREFIX = "opbench."
NAMING_SERIES = "CRM-OPP-.YYYY.-"
OPEN_STATUSES = ("Open", "Quotation", "Replied")
DEADLOCK_RETRIES = 5

# What one unit is worth in USD: fixed, illustrative rates, so that runs are reproducible. A company
# currency outside this table is taken as worth one USD.
USD_VALUE = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
# The company's currency, then two others (deal_currencies).
CURRENCY_WEIGHTS = (70, 20, 10)
CUSTOMER_GROUP = f"{PREFIX}Customers"
# The second pipeline: its share of the deals, its own stages (name, probability, forecast category) and
# the default pipeline's open stages it shares, by their position among the default's open stages, at
# its own probability and category; then the default's won and lost stages.
PIPELINE = f"{PREFIX}Projects"
PIPELINE_SHARE = 0.3
PIPELINE_OWN_STAGES = ((f"{PREFIX}Site Survey", 25, "Pipeline"), (f"{PREFIX}Permitting", 50, "Best Case"))
PIPELINE_SHARED_STAGES = ((0, 10, "Pipeline"), (-2, 70, "Commit"))

OWNERS = ("alice", "bruno", "chen", "dana", "emeka", "farah")
TERRITORIES = ("Europe", "North America", "Asia Pacific", "Latin America", "Middle East")
OPPORTUNITY_TYPES = ("Sales", "Support", "Maintenance")
OPPORTUNITY_TYPE_WEIGHTS = (70, 15, 15)
CUSTOMER_COUNT = 100
LEAD_COUNT = 100
ITEM_COUNT = 60
# Share of deals with item lines, and how many lines those have (the rest carry an amount only, as many
# real pipelines do for early-stage deals).
ITEM_LINE_SHARE = 0.6
ITEM_LINES = (1, 2, 3, 4)
ITEM_LINE_WEIGHTS = (45, 30, 15, 10)
ITEM_THEMES = ("Blade set", "Gearbox", "Pitch motor", "Yaw bearing", "Controller", "Service hours")

# Closed outcomes are mostly in the past; deals closing later are mostly still open.
STATUS_WEIGHTS_PAST = {"Open": 20, "Quotation": 8, "Replied": 7, "Converted": 30, "Lost": 25, "Closed": 10}
STATUS_WEIGHTS_FUTURE = {"Open": 55, "Quotation": 20, "Replied": 15, "Converted": 5, "Lost": 4, "Closed": 1}

NAME_FIRST = (
	"Gale",
	"Breeze",
	"North",
	"Summit",
	"Harbor",
	"Prairie",
	"Coastal",
	"Granite",
	"Silver",
	"Falcon",
)
NAME_SECOND = ("Turbines", "Energy", "Utilities", "Grid", "Power", "Renewables", "Farms", "Systems", "Works")
NAME_SUFFIX = ("Ltd", "Inc", "GmbH", "LLC", "plc", "SA")
PERSON_FIRST = ("Ana", "Ben", "Carla", "David", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kofi")
PERSON_LAST = ("Novak", "Okafor", "Silva", "Tanaka", "Muller", "Haddad", "Kowalski", "Reyes", "Berg")
DEAL_THEMES = (
	"Turbine upgrade",
	"Blade inspection",
	"Service contract",
	"Spare parts",
	"Site expansion",
	"Contract renewal",
	"Gearbox retrofit",
	"Monitoring system",
)

OPPORTUNITY_FIELDS = (
	"name",
	"creation",
	"modified",
	"modified_by",
	"owner",
	"docstatus",
	"idx",
	"naming_series",
	"title",
	"opportunity_from",
	"party_name",
	"customer_name",
	"status",
	"opportunity_type",
	"source",
	"opportunity_owner",
	"_assign",
	"sales_stage",
	"probability",
	"expected_closing",
	"transaction_date",
	"territory",
	"currency",
	"conversion_rate",
	"opportunity_amount",
	"base_opportunity_amount",
	"company",
	"language",
	"op_pipeline",
	"op_is_overdue",
	"op_probability_overridden",
	"total",
	"base_total",
)

ITEM_FIELDS = (
	"name",
	"creation",
	"modified",
	"modified_by",
	"owner",
	"docstatus",
	"idx",
	"parent",
	"parenttype",
	"parentfield",
	"item_code",
	"item_name",
	"item_group",
	"description",
	"uom",
	"qty",
	"rate",
	"amount",
	"base_rate",
	"base_amount",
)


def deal_currencies(company_currency: str) -> dict[str, float]:
	"""The deals' currencies and their rates into the company currency: the company's own first (rate 1),
	then two of USD / EUR / GBP. The rates are also written as Currency Exchange records dated today, so
	that ERPNext converts with the same rates instead of calling an online service."""
	value = USD_VALUE.get(company_currency, 1.0)
	others = [currency for currency in USD_VALUE if currency != company_currency][:2]
	return {company_currency: 1.0, **{currency: round(USD_VALUE[currency] / value, 6) for currency in others}}


def company_currency(company: str) -> str:
	return frappe.get_cached_value("Company", company, "default_currency")


def owner_emails() -> list[str]:
	return [f"{USER_PREFIX}{first}{USER_DOMAIN}" for first in OWNERS]


def territory_names() -> list[str]:
	return [f"{PREFIX}{region}" for region in TERRITORIES]


def existing_count() -> int:
	return frappe.db.sql("select count(*) from `tabOpportunity` where name like %s", f"{PREFIX}%")[0][0]


def insert_rows(doctype: str, fields, rows, chunk_size: int = 5000) -> None:
	"""Multi-row INSERTs of `chunk_size` rows, values escaped by the driver.

	Like frappe.db.bulk_insert, but that builds each statement through pypika, which takes ~0.4 ms a row
	for Opportunity's 30 columns (40 s for 100k); a placeholder string takes a fifth of that.
	"""
	columns = ", ".join(f"`{field}`" for field in fields)
	row_placeholder = "({})".format(", ".join(["%s"] * len(fields)))
	rows = iter(rows)
	while chunk := list(itertools.islice(rows, chunk_size)):
		committed(
			f"insert into `tab{doctype}` ({columns}) values {', '.join([row_placeholder] * len(chunk))}",
			tuple(value for row in chunk for value in row),
		)


def committed(statement: str, values=()) -> None:
	"""Run one write and commit it, retrying it when MariaDB picks it as a deadlock victim.

	The site is shared (tests may run against it meanwhile), so each chunk is its own short transaction:
	it holds its locks briefly, and a deadlock costs a retry of that chunk only. Callers commit their
	earlier work first, because a deadlock rolls back the whole transaction.
	"""
	for attempt in range(1, DEADLOCK_RETRIES + 1):
		try:
			frappe.db.sql(statement, values)
			frappe.db.commit()
			return
		except frappe.QueryDeadlockError:
			frappe.db.rollback()
			if attempt == DEADLOCK_RETRIES:
				raise
			time.sleep(attempt)


# ---------------------------------------------------------------------------------------------------------
# Helper records


def ensure_helpers(rng: random.Random, now: datetime, company: str) -> dict:
	"""Create the helper records that are missing and return what the opportunities draw from."""
	currencies = deal_currencies(company_currency(company))
	ensure_users(now)
	ensure_territories()
	ensure_opportunity_types()
	frappe.db.commit()
	ensure_currency_exchange(now, currencies)
	parties = ensure_parties(rng, now, company)
	items = ensure_items(rng, now)
	stages = load_stages()
	pipelines = {"default": default_pipeline_name(), "projects": ensure_pipeline(now, stages)}
	sources = frappe.get_all("Lead Source", pluck="name", order_by="name")
	territories = [*territory_names(), *existing_leaf_territories()]
	return {
		"parties": parties,
		"items": items,
		"stages": stages,
		"pipelines": pipelines,
		"projects_stages": load_pipeline_stages(PIPELINE),
		"sources": sources,
		"territories": territories,
		"owners": owner_emails(),
		"company": company,
		"currencies": currencies,
	}


def ensure_users(now: datetime) -> None:
	# Bare tabUser rows: enough for Link fields and the report's `_assign`, and unlike User.insert they
	# enqueue no contact or avatar job, so removing the rows removes everything.
	missing = [email for email in owner_emails() if not frappe.db.exists("User", email)]
	rows = []
	for email in missing:
		first = email.removeprefix(USER_PREFIX).split("@")[0].title()
		rows.append(
			(email, now, now, "Administrator", "Administrator", email, first, "Bench", f"{first} Bench", 1)
		)
	fields = ["name", "creation", "modified", "modified_by", "owner", "email"]
	fields += ["first_name", "last_name", "full_name", "enabled"]
	if rows:
		insert_rows("User", fields, rows)
		committed("update `tabUser` set user_type = 'System User' where name in %s", [tuple(missing)])
		frappe.cache.delete_key("enabled_users")


def ensure_territories() -> None:
	for name in territory_names():
		if not frappe.db.exists("Territory", name):
			# Through the document so the nested set (lft / rgt) stays correct.
			frappe.get_doc(
				{"doctype": "Territory", "territory_name": name, "parent_territory": get_root_of("Territory")}
			).insert(ignore_permissions=True)


def existing_leaf_territories() -> list[str]:
	return frappe.get_all(
		"Territory",
		filters={"is_group": 0, "name": ("not like", f"{PREFIX}%")},
		pluck="name",
		order_by="name",
	)


def ensure_opportunity_types() -> None:
	for name in OPPORTUNITY_TYPES:
		if not frappe.db.exists("Opportunity Type", name):
			frappe.get_doc({"doctype": "Opportunity Type", "name": name}).insert(ignore_permissions=True)


def ensure_currency_exchange(now: datetime, currencies: dict[str, float]) -> None:
	into = next(iter(currencies))  # the company currency
	rows = []
	for currency, rate in currencies.items():
		name = f"{PREFIX}{currency}-{into}"
		if currency != into and not frappe.db.exists("Currency Exchange", name):
			rows.append((name, now, now, "Administrator", "Administrator", now.date()))
			rows[-1] += (currency, into, rate, 1, 1)
	fields = ["name", "creation", "modified", "modified_by", "owner", "date"]
	fields += ["from_currency", "to_currency", "exchange_rate", "for_buying", "for_selling"]
	if rows:
		insert_rows("Currency Exchange", fields, rows)


def company_name(rng: random.Random) -> str:
	return f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)} {rng.choice(NAME_SUFFIX)}"


def person_name(rng: random.Random) -> str:
	return f"{rng.choice(PERSON_FIRST)} {rng.choice(PERSON_LAST)}"


def customer_group(now: datetime) -> str:
	"""A leaf Customer Group of the site, else one made for the benchmark (removed with the data)."""
	group = frappe.db.get_value("Customer Group", {"is_group": 0}, "name", order_by="lft")
	if group:
		return group
	if not frappe.db.exists("Customer Group", CUSTOMER_GROUP):
		frappe.get_doc(
			{
				"doctype": "Customer Group",
				"customer_group_name": CUSTOMER_GROUP,
				"parent_customer_group": get_root_of("Customer Group"),
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
	return CUSTOMER_GROUP


def default_uom() -> str:
	"""The site's default stock UOM (Stock Settings), else "Nos" where it exists, else the first UOM."""
	uom = frappe.db.get_single_value("Stock Settings", "stock_uom")
	if uom and frappe.db.exists("UOM", uom):
		return uom
	if frappe.db.exists("UOM", "Nos"):
		return "Nos"
	return frappe.db.get_value("UOM", {"enabled": 1}, "name", order_by="name")


def ensure_parties(rng: random.Random, now: datetime, company: str) -> list[tuple[str, str, str]]:
	"""~200 Customers and Leads, bulk-inserted once.

	Returns (opportunity_from, party_name, customer_name) per party.
	"""
	territories = territory_names()
	customers = {
		f"{CUSTOMER_PREFIX}{number:03d}": f"{company_name(rng)} {number:03d}"
		for number in range(1, CUSTOMER_COUNT + 1)
	}
	leads = {}
	for number in range(1, LEAD_COUNT + 1):
		leads[f"{LEAD_PREFIX}{number:03d}"] = (person_name(rng), f"{company_name(rng)} {number:03d}")

	have = set(frappe.get_all("Customer", filters={"name": ("like", f"{CUSTOMER_PREFIX}%")}, pluck="name"))
	group = customer_group(now)
	rows = [
		(
			name,
			now,
			now,
			"Administrator",
			"Administrator",
			customer,
			"Company",
			group,
			rng.choice(territories),
		)
		for name, customer in customers.items()
		if name not in have
	]
	fields = ["name", "creation", "modified", "modified_by", "owner", "customer_name", "customer_type"]
	fields += ["customer_group", "territory"]
	if rows:
		insert_rows("Customer", fields, rows)

	have = set(frappe.get_all("Lead", filters={"name": ("like", f"{LEAD_PREFIX}%")}, pluck="name"))
	rows = []
	for name, (person, organisation) in leads.items():
		if name in have:
			continue
		first, last = person.split(" ", 1)
		rows.append((name, now, now, "Administrator", "Administrator", first, last, person, organisation))
		rows[-1] += ("Opportunity", company, rng.choice(territories), person)
	fields = ["name", "creation", "modified", "modified_by", "owner", "first_name", "last_name", "lead_name"]
	fields += ["company_name", "status", "company", "territory", "title"]
	if rows:
		insert_rows("Lead", fields, rows)

	# What ERPNext puts in an opportunity's customer_name: the customer's name, or the lead's company.
	parties = [("Customer", name, customer) for name, customer in customers.items()]
	parties += [("Lead", name, organisation) for name, (_person, organisation) in leads.items()]
	return parties


def ensure_items(rng: random.Random, now: datetime) -> list[tuple[str, str, str, str, float]]:
	"""ITEM_COUNT non-stock sales items, bulk-inserted once; returns (code, name, group, uom, list rate)."""
	group = frappe.db.get_value("Item Group", {"is_group": 0}, "name", order_by="lft") or get_root_of(
		"Item Group"
	)
	uom = default_uom()
	items = [
		(f"{ITEM_PREFIX}{number:03d}", f"{ITEM_THEMES[number % len(ITEM_THEMES)]} {number:03d}", group, uom)
		for number in range(1, ITEM_COUNT + 1)
	]
	rates = [round(rng.lognormvariate(7.5, 1.0), -1) or 10.0 for _item in items]
	have = set(frappe.get_all("Item", filters={"name": ("like", f"{ITEM_PREFIX}%")}, pluck="name"))
	rows = [
		(code, now, now, "Administrator", "Administrator", code, name, group, uom, 0, 1, 1, name)
		for code, name, group, uom in items
		if code not in have
	]
	fields = ["name", "creation", "modified", "modified_by", "owner", "item_code", "item_name", "item_group"]
	fields += ["stock_uom", "is_stock_item", "is_sales_item", "is_purchase_item", "description"]
	if rows:
		insert_rows("Item", fields, rows)
	return [(*item, rate) for item, rate in zip(items, rates, strict=True)]


def load_stages() -> dict:
	stages = frappe.get_all(
		"Sales Stage",
		fields=["name", "op_probability", "op_stage_kind", "op_stage_order"],
		order_by="op_stage_order",
	)
	by_kind = {"Open": [], "Won": [], "Lost": []}
	for stage in stages:
		by_kind.setdefault(stage.op_stage_kind or "Open", []).append(stage)
	if not by_kind["Open"] or not by_kind["Won"] or not by_kind["Lost"]:
		sys.exit("The site needs Sales Stages of kind Open, Won and Lost (install opportunity_plus first).")
	opened = by_kind["Open"]
	return {
		"open": [(stage.name, stage.op_probability or 0) for stage in opened],
		# A funnel: early stages hold more deals than late ones.
		"open_weights": [len(opened) - index for index in range(len(opened))],
		"late": [(stage.name, stage.op_probability or 0) for stage in opened[len(opened) // 2 :]],
		"won": (by_kind["Won"][0].name, by_kind["Won"][0].op_probability or 0),
		"lost": (by_kind["Lost"][0].name, by_kind["Lost"][0].op_probability or 0),
	}


def default_pipeline_name() -> str:
	from opportunity_plus.pipeline import default_pipeline

	name = default_pipeline()
	if not name:
		sys.exit("The site has no default Sales Pipeline (migrate opportunity_plus first).")
	return name


def ensure_pipeline(now: datetime, stages: dict) -> str:
	"""The second pipeline, with its own stages (bare Sales Stage rows, like the other helpers: a stage
	saved through the document joins the default pipeline while it is the site's only one)."""
	from opportunity_plus.pipeline import clear_stage_cache

	if frappe.db.exists("Sales Pipeline", PIPELINE):
		return PIPELINE
	rows = [
		(name, now, now, "Administrator", "Administrator", name, probability, "Open", 1000 + index, category)
		for index, (name, probability, category) in enumerate(PIPELINE_OWN_STAGES)
		if not frappe.db.exists("Sales Stage", name)
	]
	fields = ["name", "creation", "modified", "modified_by", "owner", "stage_name", "op_probability"]
	fields += ["op_stage_kind", "op_stage_order", "op_forecast_category"]
	if rows:
		insert_rows("Sales Stage", fields, rows)
	shared = [
		(stages["open"][position][0], probability, category)
		for position, probability, category in PIPELINE_SHARED_STAGES
	]
	own = list(PIPELINE_OWN_STAGES)
	frappe.get_doc(
		{
			"doctype": "Sales Pipeline",
			"pipeline_name": PIPELINE,
			"enabled": 1,
			"is_default": 0,
			"description": "Generated by benchmarks/generate_opportunities.py",
			"stages": [
				{
					"sales_stage": name,
					"stage_kind": "Open",
					"probability": probability,
					"forecast_category": category,
				}
				for name, probability, category in (shared[0], *own, shared[1])
			]
			+ [
				{"sales_stage": stages["won"][0], "stage_kind": "Won", "probability": 100},
				{"sales_stage": stages["lost"][0], "stage_kind": "Lost", "probability": 0},
			],
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	clear_stage_cache()
	return PIPELINE


def load_pipeline_stages(pipeline: str) -> dict:
	"""A pipeline's stages as load_stages gives the default's."""
	from opportunity_plus.pipeline import ordered_stages

	stages = ordered_stages(pipeline)
	opened = [(stage.name, stage.probability or 0) for stage in stages if stage.kind == "Open"]
	won = next(stage for stage in stages if stage.kind == "Won")
	lost = next(stage for stage in stages if stage.kind == "Lost")
	return {
		"open": opened,
		"open_weights": [len(opened) - index for index in range(len(opened))],
		"late": opened[len(opened) // 2 :],
		"won": (won.name, won.probability or 0),
		"lost": (lost.name, lost.probability or 0),
	}


# ---------------------------------------------------------------------------------------------------------
# Opportunities


def opportunity_rows(count: int, helpers: dict, rng: random.Random, today: date, now: datetime):
	"""Yield `count` pairs: a value tuple in OPPORTUNITY_FIELDS order and its item lines in ITEM_FIELDS order."""
	items = helpers["items"]
	parties, sources, territories, owners = (
		helpers["parties"],
		helpers["sources"],
		helpers["territories"],
		helpers["owners"],
	)
	rates = helpers["currencies"]
	currencies, currency_weights = list(rates), list(CURRENCY_WEIGHTS)
	company = helpers["company"]
	past_statuses, past_weights = list(STATUS_WEIGHTS_PAST), list(STATUS_WEIGHTS_PAST.values())
	future_statuses, future_weights = list(STATUS_WEIGHTS_FUTURE), list(STATUS_WEIGHTS_FUTURE.values())
	owner_assign = {owner: json.dumps([owner]) for owner in owners}
	pipelines = helpers["pipelines"]
	for number in range(1, count + 1):
		# the second pipeline's share, and in the default one half left blank (saved before pipelines)
		pick = rng.random()
		if pick < PIPELINE_SHARE:
			pipeline, stages = pipelines["projects"], helpers["projects_stages"]
		else:
			pipeline = pipelines["default"] if pick < PIPELINE_SHARE + (1 - PIPELINE_SHARE) / 2 else None
			stages = helpers["stages"]
		expected_closing = today + timedelta(days=rng.randint(-365, 365))
		if expected_closing < today:
			status = rng.choices(past_statuses, past_weights)[0]
		else:
			status = rng.choices(future_statuses, future_weights)[0]
		if status == "Converted":
			stage, probability = stages["won"]
		elif status == "Lost":
			stage, probability = stages["lost"]
		elif status == "Quotation":
			stage, probability = rng.choice(stages["late"])
		else:
			stage, probability = rng.choices(stages["open"], stages["open_weights"])[0]

		transaction_date = expected_closing - timedelta(days=rng.randint(14, 240))
		if transaction_date > today:
			# a deal that closes far ahead was opened in the last months, not all of them today: the
			# pipeline's movement over a week then reads a week's worth of new deals
			transaction_date = today - timedelta(days=rng.randint(0, 180))
		creation = min(
			now,
			datetime.combine(transaction_date, datetime.min.time())
			+ timedelta(seconds=rng.randint(8 * 3600, 18 * 3600)),
		)
		modified = min(now, creation + timedelta(days=rng.randint(0, 90), seconds=rng.randint(0, 3600)))
		currency = rng.choices(currencies, currency_weights)[0]
		conversion_rate = rates[currency]
		amount = round(rng.lognormvariate(9.6, 0.9), -1)  # median ~15k, a long tail of large deals
		opportunity_from, party_name, customer_name = rng.choice(parties)
		opportunity_type = rng.choices(OPPORTUNITY_TYPES, OPPORTUNITY_TYPE_WEIGHTS)[0]
		owner = rng.choice(owners)
		name = f"{PREFIX}{number:07d}"
		lines = []
		if rng.random() < ITEM_LINE_SHARE:
			count_lines = rng.choices(ITEM_LINES, ITEM_LINE_WEIGHTS)[0]
			for idx, (code, item_name, group, uom, list_rate) in enumerate(rng.sample(items, count_lines), 1):
				qty = rng.choice((1, 1, 2, 3, 5, 10, 20))
				# Item rates are in the company currency; the line is in the deal's.
				rate = round(list_rate / conversion_rate, 2)
				line_amount = round(qty * rate, 2)
				base_rate, base_amount = (
					round(rate * conversion_rate, 2),
					round(line_amount * conversion_rate, 2),
				)
				meta = (
					f"{name}-{idx}",
					creation,
					modified,
					owner,
					owner,
					0,
					idx,
					name,
					"Opportunity",
					"items",
				)
				values = (
					code,
					item_name,
					group,
					item_name,
					uom,
					qty,
					rate,
					line_amount,
					base_rate,
					base_amount,
				)
				lines.append((*meta, *values))
			# With item lines, ERPNext's totals are their sum and the deal's amount follows them.
			amount = round(sum(line[17] for line in lines), 2)
		total = amount if lines else 0
		yield (
			(
				name,
				creation,
				modified,
				owner,
				owner,
				0,
				0,
				NAMING_SERIES,
				f"{customer_name}: {rng.choice(DEAL_THEMES)}"[:140],
				opportunity_from,
				party_name,
				customer_name,
				status,
				opportunity_type,
				rng.choice(sources),
				owner,
				owner_assign[owner],
				stage,
				probability,
				expected_closing,
				transaction_date,
				rng.choice(territories),
				currency,
				conversion_rate,
				amount,
				round(amount * conversion_rate, 2),
				company,
				"en",
				pipeline,
				int(status in OPEN_STATUSES and expected_closing < today),
				0,
				total,
				round(total * conversion_rate, 2),
			),
			lines,
		)


def generate(count: int, company: str, seed: int = 42, chunk_size: int = 5000) -> dict:
	"""Insert `count` opportunities of `company` (and missing helpers) and commit. Expects a connected site."""
	already = existing_count()
	if already:
		sys.exit(
			f"{already} generated opportunities already exist: "
			"run with --remove first (or bench with --reuse)."
		)
	rng = random.Random(seed)
	now = datetime.now().replace(microsecond=0)
	today = now.date()
	started = time.perf_counter()
	helpers = ensure_helpers(rng, now, company)
	frappe.db.commit()
	helpers_seconds = time.perf_counter() - started
	started = time.perf_counter()
	item_lines = 0
	pairs = opportunity_rows(count, helpers, rng, today, now)
	while chunk := list(itertools.islice(pairs, chunk_size)):
		insert_rows("Opportunity", OPPORTUNITY_FIELDS, (row for row, _lines in chunk), chunk_size=chunk_size)
		lines = [line for _row, chunk_lines in chunk for line in chunk_lines]
		insert_rows("Opportunity Item", ITEM_FIELDS, lines, chunk_size=chunk_size)
		item_lines += len(lines)
	frappe.db.commit()
	seconds = time.perf_counter() - started
	inserted = existing_count()
	return {
		"inserted": inserted,
		"item_lines": item_lines,
		"seconds": seconds,
		"helpers_seconds": helpers_seconds,
		# the bulk inserts ran no hook: the app's derived data follows here (not in `seconds`)
		"derived_seconds": keep_derived_data(),
	}


# ---------------------------------------------------------------------------------------------------------
# Removal


def remove() -> dict:
	"""Delete the generated opportunities and every helper record this script created, then commit."""
	started = time.perf_counter()
	removed = {"Opportunity": _delete_like("Opportunity", f"{PREFIX}%")}
	removed["Opportunity Item"] = _delete_like("Opportunity Item", f"{PREFIX}%")
	# the deal history bench_manager's document-API changes wrote
	removed["Opportunity History"] = _delete_like("Opportunity History", f"{PREFIX}%", field="opportunity")
	# Nothing is generated in these, but a developer may have opened and saved a generated deal.
	for child in ("Opportunity Item", "Opportunity Lost Reason Detail", "Competitor Detail", "CRM Note"):
		committed(
			f"delete from `tab{child}` where parenttype = 'Opportunity' and parent like %s", f"{PREFIX}%"
		)
	removed["Customer"] = _delete_like("Customer", f"{CUSTOMER_PREFIX}%")
	removed["Lead"] = _delete_like("Lead", f"{LEAD_PREFIX}%")
	removed["Item"] = _delete_like("Item", f"{ITEM_PREFIX}%")
	removed["Currency Exchange"] = _delete_like("Currency Exchange", f"{PREFIX}%")
	user_pattern = f"{USER_PREFIX}%{USER_DOMAIN}"
	committed("delete from `tabHas Role` where parenttype = 'User' and parent like %s", user_pattern)
	committed("delete from `tabUser Permission` where user like %s", user_pattern)
	removed["User"] = _delete_like("User", user_pattern)
	frappe.cache.delete_key("enabled_users")
	territories = frappe.get_all("Territory", filters={"name": ("like", f"{PREFIX}%")}, pluck="name")
	for name in territories:
		# Through the document so the nested set is rebuilt.
		frappe.delete_doc("Territory", name, ignore_permissions=True, force=True)
	removed["Territory"] = len(territories)
	if frappe.db.exists("Customer Group", CUSTOMER_GROUP):
		frappe.delete_doc("Customer Group", CUSTOMER_GROUP, ignore_permissions=True, force=True)
		removed["Customer Group"] = 1
	removed.update(remove_pipeline())
	frappe.db.commit()
	derived = keep_derived_data()
	return {"removed": removed, "seconds": time.perf_counter() - started, "derived_seconds": derived}


def remove_pipeline() -> dict:
	"""The second pipeline (its deals are gone) and its own stages."""
	from opportunity_plus.pipeline import clear_stage_cache

	removed = {}
	if frappe.db.exists("Sales Pipeline", PIPELINE):
		frappe.delete_doc("Sales Pipeline", PIPELINE, ignore_permissions=True, force=True)
		frappe.db.commit()
		removed["Sales Pipeline"] = 1
	removed["Sales Stage"] = _delete_like("Sales Stage", f"{PREFIX}%")
	clear_stage_cache()
	return removed


def keep_derived_data() -> float:
	"""What the app keeps from every opportunity, brought up to date after bulk inserts or deletes that
	ran no hook: Closed On, the category in force, and the pipeline summary (rebuilt). Commits."""
	from opportunity_plus import categories, summary
	from opportunity_plus.setup import install

	started = time.perf_counter()
	install.backfill_closed_on()
	categories.refresh_effective()
	frappe.db.commit()
	summary.rebuild()
	# Fresh index statistics: after a bulk delete of 1M rows and an insert of 100k, InnoDB's were stale for
	# minutes and MariaDB picked slow plans (movement at 100k: 110 ms before, 42 ms after).
	for doctype in ("Opportunity", "Opportunity Item", summary.SUMMARY, summary.ENTRY):
		frappe.db.sql(f"analyze table `tab{doctype}`")
	return time.perf_counter() - started


def write_stage_history() -> dict:
	"""A deal history for the generated deals, as the app would have written it, set-based:
	the stage each was created with (its pipeline's first open stage) at its creation, a move to the stage
	it has now (when another) between its creation and its last change, and for a closed deal the status
	it closed with on its Closed On day (noon). What Stage Conversion reads. Commits."""
	from opportunity_plus.pipeline import default_pipeline, ordered_stages

	started = time.perf_counter()
	default = default_pipeline()
	first = {
		name: next(stage.name for stage in ordered_stages(name) if stage.kind == "Open")
		for name in (default, PIPELINE)
		if frappe.db.exists("Sales Pipeline", name)
	}
	pipeline = f"ifnull(nullif(o.op_pipeline, ''), {frappe.db.escape(default)})"
	first_stage = (
		"case "
		+ " ".join(
			f"when {pipeline} = {frappe.db.escape(name)} then {frappe.db.escape(stage)}"
			for name, stage in first.items()
		)
		+ " end"
	)
	columns = (
		"name, creation, modified, owner, modified_by, opportunity, changed_field, field_label, from_value, "
		"to_value, changed_on, changed_by, channel"
	)
	generated = f"o.name like {frappe.db.escape(PREFIX + '%')}"

	def missing(suffix: str) -> str:
		# each row once: a second run (or one stopped midway) writes only what is missing
		return (
			f"not exists (select 1 from `tabOpportunity History` h where h.name = concat(o.name, '{suffix}'))"
		)

	moment = "o.creation + interval floor(timestampdiff(second, o.creation, o.modified) / 2) second"
	closed = "timestamp(o.op_closed_on, '12:00:00')"
	statements = (
		f"""insert into `tabOpportunity History` ({columns})
		select concat(o.name, '-s2'), {moment}, {moment}, o.owner, o.owner, o.name, 'sales_stage', 'Sales Stage',
			{first_stage}, o.sales_stage, {moment}, o.owner, 'System'
		from `tabOpportunity` o where {generated} and {missing("-s2")} and o.sales_stage != {first_stage}""",
		f"""insert into `tabOpportunity History` ({columns})
		select concat(o.name, '-s3'), greatest({closed}, {moment}), greatest({closed}, {moment}), o.owner, o.owner,
			o.name, 'status', 'Status', 'Open', o.status, greatest({closed}, {moment}), o.owner, 'System'
		from `tabOpportunity` o where {generated} and {missing("-s3")} and o.status in ('Converted', 'Lost', 'Closed')
			and o.op_closed_on is not null""",
		f"""insert into `tabOpportunity History` ({columns})
		select concat(o.name, '-s1'), o.creation, o.creation, o.owner, o.owner, o.name, 'sales_stage', 'Sales Stage',
			null, {first_stage}, o.creation, o.owner, 'System'
		from `tabOpportunity` o where {generated} and {missing("-s1")}""",
	)
	written = 0
	for statement in statements:
		frappe.db.sql(statement)
		written += frappe.db._cursor.rowcount
		frappe.db.commit()
	frappe.db.sql("analyze table `tabOpportunity History`")
	return {"rows": written, "seconds": time.perf_counter() - started}


def _delete_like(doctype: str, pattern: str, batch_size: int = 5000, field: str = "name") -> int:
	# By primary key, a batch per transaction: one DELETE ... LIKE over 100k rows locks the whole key range
	# for seconds and deadlocked with tests running on the same site.
	deleted = 0
	select = f"select name from `tab{doctype}` where `{field}` like %s limit {batch_size}"
	while names := frappe.db.sql_list(select, pattern):
		committed(f"delete from `tab{doctype}` where name in %s", [tuple(names)])
		deleted += len(names)
	return deleted


# ---------------------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	parser.add_argument("--count", type=int, default=100_000, help="opportunities to insert (default 100000)")
	parser.add_argument("--remove", action="store_true", help="delete everything this script generated")
	site_options.add_arguments(parser)
	parser.add_argument("--seed", type=int, default=42)
	parser.add_argument("--chunk-size", type=int, default=5000, help="rows per INSERT statement")
	parser.add_argument(
		"--stage-history",
		action="store_true",
		help="also write a deal history of stage moves and closings for the generated deals (what Stage "
		"Conversion reads); alone, for deals generated earlier",
	)
	return parser.parse_args(argv)


def main(argv=None) -> None:
	args = parse_args(argv)
	site_options.connect(args)
	try:
		if args.stage_history and existing_count():
			written = write_stage_history()
			print(f"deal history: {written['rows']} rows written in {written['seconds']:.2f} s")
			return
		if args.remove:
			result = remove()
			removed = ", ".join(f"{doctype} {count}" for doctype, count in result["removed"].items())
			print(
				f"removed: {removed} in {result['seconds']:.2f} s (pipeline summary rebuilt in "
				f"{result['derived_seconds']:.2f} s); generated opportunities left: {existing_count()}"
			)
		else:
			result = generate(args.count, args.company, seed=args.seed, chunk_size=args.chunk_size)
			currencies = ", ".join(
				f"{code} {rate:g}" for code, rate in deal_currencies(company_currency(args.company)).items()
			)
			print(f"site {args.site}, company {args.company}; deal currencies and rates: {currencies}")
			print(
				f"inserted {result['inserted']} opportunities with {result['item_lines']} item lines in "
				f"{result['seconds']:.2f} s ({result['inserted'] / result['seconds']:.0f} opportunities/s; "
				f"helpers {result['helpers_seconds']:.2f} s); Closed On, categories and the pipeline summary "
				f"brought up to date in {result['derived_seconds']:.2f} s"
			)
	finally:
		frappe.destroy()


if __name__ == "__main__":
	main()
