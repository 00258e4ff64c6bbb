"""Concurrent sales users over REST: a site with the app against stock ERPNext, as users wait for it.

	cd ~/frappe-bench/sites && ../env/bin/python ../apps/opportunity_plus/benchmarks/bench_rest_load.py \
		--stock-site stock.localhost [--site SITE] [--company C] [--workers 4] [--clients 8] [--rounds 15]

Starts gunicorn on 127.0.0.1 (a free port; `--workers` workers, `--preload`, as a production bench runs
it) serving the bench's sites, or uses a server already running (`--url`). The same server and database
serve the site with the app (`--site`) and a site of the same bench with ERPNext but without the app
(`--stock-site`): the stock ERPNext this is compared with. `--clients` REST clients (threads, each with
its own keep-alive connection, token-authenticated as Sales Users) start together and each runs
`--rounds` rounds; a round is what a sales user does to a deal:

	create   POST   /api/resource/Opportunity                   a new deal in the first stage
	stage    PUT    /api/resource/Opportunity/NAME              moved to the second stage
	amount   PUT                                                its amount changed
	close    PUT                                                its expected closing date moved
	items    PUT                                                an item line added
	stage    PUT                                                moved to the third stage
	lost     POST   /api/resource/Opportunity/NAME  {"run_method": "declare_enquiry_lost", ...}
	                                                                  (every third round)

Two scenarios: `hot`, every deal of one owner, territory, customer and close month (the hottest case for
the app's pipeline summary: every write lands on the same summary rows), and `spread`, 20 owners across
five territories and six close months. Each scenario runs the app's site and the stock site in turn,
`--repetitions` times, interleaved (app, stock, stock, app, ...), after one untimed warm-up round on each.

Prints per phase the throughput (requests per second of wall time), p50 / p95 / max per verb, errors
(any response other than 200, with the first messages), deadlocks (InnoDB's counter, server-wide, and
HTTP 508 responses, Frappe's answer to one), then per scenario the app / stock ratios and the goals of
issue #17: throughput >= 0.90x stock, PUT and POST p95 <= 1.15x stock, no error, no lost write, the
pipeline summary exact. Afterwards it reads every deal back and counts lost writes (a 200 whose change is
not in the database: stage, close date, item line, lost status), and on the app's site compares the
pipeline summary with a recomputation (`summary.verify()`).

Everything it creates is named OPBENCH-REST (users opbench.rest.NN@example.invalid, territories, a
customer, an item, a lost reason) and removed at the end with the deals (`--keep` keeps them). It never
asserts: read the numbers.
"""

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import frappe
import requests
from frappe.utils import add_months, get_first_day, getdate, nowdate
from frappe.utils.nestedset import get_root_of

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_options
from site_options import connected

PREFIX = "OPBENCH-REST"
USER_PATTERN = "opbench.rest.{:02d}@example.invalid"
OWNERS = 20
TERRITORIES = 5
CLOSE_MONTHS = 6
SCENARIOS = ("hot", "spread")
PUT_VERBS = ("stage", "amount", "close", "items")
POST_VERBS = ("create", "lost")
GOAL_THROUGHPUT = 0.90
GOAL_P95 = 1.15


# --- the sites -------------------------------------------------------------------------------------------


@dataclass
class SiteSetup:
	site: str
	company: str
	currency: str
	customer: str
	item: str
	uom: str
	lost_reason: str
	stages: list[str]
	territories: list[str]
	today: object  # the site's today (the client threads have no site to ask)
	users: dict[str, str] = field(default_factory=dict)  # user -> "token key:secret"


def open_stages(site: str) -> list[str]:
	"""The site's sales stages an open deal can be in, in pipeline order where the app keeps one."""
	with connected(site):
		if frappe.get_meta("Sales Stage").has_field("op_stage_kind"):
			rows = frappe.get_all(
				"Sales Stage",
				filters={"op_stage_kind": ("in", ("Open", "", None))},
				fields=["name", "op_stage_order"],
			)
			return [row.name for row in sorted(rows, key=lambda row: (row.op_stage_order or 10**6, row.name))]
		return frappe.get_all("Sales Stage", pluck="name", order_by="creation asc")


def prepare(site: str, company: str | None, stages: list[str]) -> SiteSetup:
	"""Create (or find) what the clients need on `site`, and API keys for its users. Commits."""
	with connected(site):
		company = company or site_options.default_company(site)
		root = get_root_of("Territory")
		territories = []
		for number in range(1, TERRITORIES + 1):
			name = f"{PREFIX} T{number:02d}"
			if not frappe.db.exists("Territory", name):
				frappe.get_doc(
					{"doctype": "Territory", "territory_name": name, "parent_territory": root}
				).insert(ignore_permissions=True)
			territories.append(name)
		customer = f"{PREFIX} Customer"
		if not frappe.db.exists("Customer", customer):
			frappe.get_doc(
				{
					"doctype": "Customer",
					"customer_name": customer,
					"customer_type": "Company",
					"customer_group": frappe.db.get_value(
						"Customer Group", {"is_group": 0}, "name", order_by="lft"
					),
					"territory": root,
				}
			).insert(ignore_permissions=True, set_name=customer)
		uom = (
			frappe.db.get_single_value("Stock Settings", "stock_uom")
			or frappe.get_all("UOM", pluck="name", limit=1)[0]
		)
		item = f"{PREFIX}-ITEM"
		if not frappe.db.exists("Item", item):
			frappe.get_doc(
				{
					"doctype": "Item",
					"item_code": item,
					"item_name": "Bench REST line",
					"item_group": frappe.db.get_value("Item Group", {"is_group": 0}, "name", order_by="lft"),
					"stock_uom": uom,
					"is_stock_item": 0,
				}
			).insert(ignore_permissions=True)
		lost_reason = f"{PREFIX} No budget"
		if not frappe.db.exists("Opportunity Lost Reason", lost_reason):
			frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": lost_reason}).insert(
				ignore_permissions=True
			)
		from frappe.core.doctype.user.user import generate_keys

		users = {}
		for number in range(1, OWNERS + 1):
			email = USER_PATTERN.format(number)
			if not frappe.db.exists("User", email):
				frappe.get_doc(
					{
						"doctype": "User",
						"email": email,
						"first_name": f"Bench REST {number:02d}",
						"send_welcome_email": 0,
						"roles": [{"role": "Sales User"}],
					}
				).insert(ignore_permissions=True)
			secret = generate_keys(email)["api_secret"]
			users[email] = f"token {frappe.db.get_value('User', email, 'api_key')}:{secret}"
		setup = SiteSetup(
			site=site,
			company=company,
			currency=frappe.get_cached_value("Company", company, "default_currency"),
			customer=customer,
			item=item,
			uom=uom,
			lost_reason=lost_reason,
			stages=stages,
			territories=territories,
			today=getdate(nowdate()),
			users=users,
		)
		frappe.db.commit()
		return setup


def remove(site: str) -> dict:
	"""Delete the deals of the bench customer and everything prepare() created. Commits."""
	with connected(site):
		customer = f"{PREFIX} Customer"
		names = frappe.get_all("Opportunity", filters={"party_name": customer}, pluck="name")
		removed = {"Opportunity": len(names)}
		if names:
			for child in (
				"Opportunity Item",
				"Opportunity Lost Reason Detail",
				"Competitor Detail",
				"CRM Note",
			):
				frappe.db.sql(
					f"delete from `tab{child}` where parenttype = 'Opportunity' and parent in %s", [names]
				)
			frappe.db.sql(
				"delete from `tabVersion` where ref_doctype = 'Opportunity' and docname in %s", [names]
			)
			frappe.db.sql(
				"delete from `tabComment` where reference_doctype = 'Opportunity' and reference_name in %s",
				[names],
			)
			if frappe.db.table_exists("Opportunity History"):
				frappe.db.sql("delete from `tabOpportunity History` where opportunity in %s", [names])
			frappe.db.sql("delete from `tabOpportunity` where name in %s", [names])
			if "opportunity_plus" in frappe.get_installed_apps():
				from opportunity_plus import summary

				summary.sync(names)
		emails = [USER_PATTERN.format(number) for number in range(1, OWNERS + 1)]
		frappe.db.sql("delete from `tabHas Role` where parenttype = 'User' and parent in %s", [emails])
		frappe.db.sql("delete from `__Auth` where doctype = 'User' and name in %s", [emails])
		removed["User"] = frappe.db.count("User", {"name": ("in", emails)})
		frappe.db.sql("delete from `tabUser` where name in %s", [emails])
		frappe.cache.delete_key("enabled_users")
		for doctype, name in (
			("Customer", customer),
			("Item", f"{PREFIX}-ITEM"),
			("Opportunity Lost Reason", f"{PREFIX} No budget"),
		):
			if frappe.db.exists(doctype, name):
				frappe.delete_doc(doctype, name, ignore_permissions=True, force=True)
		for number in range(1, TERRITORIES + 1):
			name = f"{PREFIX} T{number:02d}"
			if frappe.db.exists("Territory", name):
				frappe.delete_doc("Territory", name, ignore_permissions=True, force=True)
		frappe.db.commit()
		return removed


# --- the clients -----------------------------------------------------------------------------------------


@dataclass
class Sample:
	verb: str
	status: int
	ms: float
	error: str = ""

	@property
	def kind(self) -> str:
		"""What went wrong: Frappe's exception type, else the HTTP status."""
		found = re.search(r'"exc_type":\s*"([^"]+)"', self.error)
		return found.group(1) if found else f"HTTP {self.status}"

	@property
	def in_app(self) -> bool:
		"""Whether the server's traceback passes through the app's code."""
		return "opportunity_plus" in self.error


# Stock Frappe v15: every save loads the document's child rows FOR UPDATE (load_doc_before_save; the REST
# update loads it so too), which on an empty child table locks the gap of its parent index. Two deals
# whose names are neighbours and that both get their first item line (or lost reason) then wait on each
# other's gap: a deadlock, answered with a 500. The stock site shows them at the same rate; they are
# reported apart from the app's errors.
STOCK_DEFECTS = {("items", "QueryDeadlockError"), ("lost", "QueryDeadlockError")}


@dataclass
class Phase:
	scenario: str
	variant: str  # "app" or "stock"
	repetition: int
	samples: list[Sample] = field(default_factory=list)
	wall: float = 0.0
	deadlocks: int = 0
	expected: dict[str, dict] = field(default_factory=dict)  # deal -> the values its last writes set

	@property
	def errors(self) -> list[Sample]:
		return [sample for sample in self.samples if sample.status != 200]

	@property
	def throughput(self) -> float:
		return len(self.samples) / self.wall if self.wall else 0.0


def owner_of(scenario: str, client: int, round_: int, clients: int) -> int:
	"""Which of the 20 users works the deal (0-based): one in the hot scenario, all of them in turn else."""
	return 0 if scenario == "hot" else (client + round_ * clients) % OWNERS


def close_dates(scenario: str, owner: int, today) -> tuple[str, str]:
	"""The deal's first and moved expected closing date: within one month (hot), or across six."""
	month = get_first_day(add_months(today, 1 + (0 if scenario == "hot" else owner % CLOSE_MONTHS)))
	return str(month.replace(day=10)), str(month.replace(day=20))


class Client(threading.Thread):
	def __init__(
		self, number: int, phase: Phase, setup: SiteSetup, url: str, rounds: int, clients: int, start
	):
		super().__init__(daemon=True)
		self.number, self.phase, self.setup, self.url = number, phase, setup, url
		self.rounds, self.clients, self.start_barrier = rounds, clients, start
		self.samples: list[Sample] = []
		self.expected: dict[str, dict] = {}
		self.session = requests.Session()

	def call(self, verb: str, method: str, path: str, user: str, body: dict):
		headers = {
			"Authorization": self.setup.users[user],
			"Host": self.setup.site,
			"X-Frappe-Site-Name": self.setup.site,
			"Accept": "application/json",
		}
		started = time.perf_counter()
		try:
			response = self.session.request(method, self.url + path, headers=headers, json=body, timeout=120)
			status, text = response.status_code, response.text
		except requests.RequestException as error:
			status, text = 0, repr(error)
		sample = Sample(verb, status, (time.perf_counter() - started) * 1000)
		if status != 200:
			sample.error = text[:20000]
		self.samples.append(sample)
		if status != 200:
			return None
		try:
			return json.loads(text).get("data")
		except ValueError:
			return None

	def run(self):
		self.start_barrier.wait()
		scenario, setup = self.phase.scenario, self.setup
		first, second, third = setup.stages[:3]
		for round_ in range(self.rounds):
			owner = owner_of(scenario, self.number, round_, self.clients)
			user = USER_PATTERN.format(owner + 1)
			territory = setup.territories[0 if scenario == "hot" else owner % TERRITORIES]
			closing, moved = close_dates(scenario, owner, setup.today)
			amount = 1000 + 10 * self.number + round_
			created = self.call(
				"create",
				"POST",
				"/api/resource/Opportunity",
				user,
				{
					"opportunity_from": "Customer",
					"party_name": setup.customer,
					"company": setup.company,
					"currency": setup.currency,
					"opportunity_owner": user,
					"territory": territory,
					"sales_stage": first,
					"expected_closing": closing,
					"opportunity_amount": amount,
				},
			)
			if not created:
				continue
			name, path = created["name"], f"/api/resource/Opportunity/{created['name']}"
			expected = {
				"sales_stage": first,
				"expected_closing": closing,
				"item_rate": None,
				"status": "Open",
			}
			self.expected[name] = expected
			if self.call("stage", "PUT", path, user, {"sales_stage": second}):
				expected["sales_stage"] = second
			self.call("amount", "PUT", path, user, {"opportunity_amount": amount + 500})
			if self.call("close", "PUT", path, user, {"expected_closing": moved}):
				expected["expected_closing"] = moved
			rate = 100 + round_
			line = {
				"item_code": setup.item,
				"item_name": "Bench REST line",
				"uom": setup.uom,
				"qty": 2,
				"rate": rate,
			}
			if self.call("items", "PUT", path, user, {"items": [line]}):
				expected["item_rate"] = rate
			if self.call("stage", "PUT", path, user, {"sales_stage": third}):
				expected["sales_stage"] = third
			if round_ % 3 == 2:
				lost = self.call(
					"lost",
					"POST",
					path,
					user,
					{
						"run_method": "declare_enquiry_lost",
						"lost_reasons_list": [{"lost_reason": setup.lost_reason}],
						"competitors": [],
					},
				)
				if lost is not None or self.samples[-1].status == 200:
					expected["status"] = "Lost"


def innodb_deadlocks(site: str) -> int:
	with connected(site):
		row = frappe.db.sql("show global status like 'Innodb_deadlocks'")
		return int(row[0][1]) if row else 0


def run_phase(phase: Phase, setup: SiteSetup, url: str, clients: int, rounds: int) -> Phase:
	deadlocks_before = innodb_deadlocks(setup.site)
	start = threading.Barrier(clients + 1)
	workers = [Client(number, phase, setup, url, rounds, clients, start) for number in range(clients)]
	for worker in workers:
		worker.start()
	start.wait()
	started = time.perf_counter()
	for worker in workers:
		worker.join()
	phase.wall = time.perf_counter() - started
	for worker in workers:
		phase.samples.extend(worker.samples)
		phase.expected.update(worker.expected)
	phase.deadlocks = innodb_deadlocks(setup.site) - deadlocks_before
	return phase


# --- checks ----------------------------------------------------------------------------------------------


def lost_writes(site: str, expected: dict[str, dict]) -> list[str]:
	"""Deals whose stored values differ from what their successful writes set."""
	if not expected:
		return []
	with connected(site):
		rows = {
			row.name: row
			for row in frappe.get_all(
				"Opportunity",
				filters={"name": ("in", list(expected))},
				fields=["name", "sales_stage", "expected_closing", "status"],
			)
		}
		rates = {
			row.parent: row.rate
			for row in frappe.get_all(
				"Opportunity Item",
				filters={"parenttype": "Opportunity", "parent": ("in", list(expected))},
				fields=["parent", "rate"],
			)
		}
	lost = []
	for name, want in expected.items():
		row = rows.get(name)
		problems = []
		if row is None:
			problems.append("missing")
		else:
			if want["status"] != row.status:
				problems.append(f"status {row.status} != {want['status']}")
			# a lost deal's stage may follow the status (the app moves it to its Lost stage)
			if want["status"] == "Open" and row.sales_stage != want["sales_stage"]:
				problems.append(f"stage {row.sales_stage} != {want['sales_stage']}")
			if str(row.expected_closing) != want["expected_closing"]:
				problems.append(f"closing {row.expected_closing} != {want['expected_closing']}")
			if want["item_rate"] is not None and float(rates.get(name) or 0) != float(want["item_rate"]):
				problems.append(f"item rate {rates.get(name)} != {want['item_rate']}")
		if problems:
			lost.append(f"{name}: {', '.join(problems)}")
	return lost


def summary_drift(site: str) -> dict:
	with connected(site):
		from opportunity_plus import summary

		if not hasattr(summary, "verify"):  # a version of the app before the check existed
			return {"stale_entries": len(summary._stale_entries()), "wrong_summary_rows": -1}
		return summary.verify()


# --- the server ------------------------------------------------------------------------------------------


def free_port() -> int:
	with socket.socket() as sock:
		sock.bind(("127.0.0.1", 0))
		return sock.getsockname()[1]


@contextmanager
def gunicorn(workers: int, log_path: Path):
	bench = Path.cwd().parent
	port = free_port()
	log = open(log_path, "w")
	process = subprocess.Popen(
		[
			str(bench / "env" / "bin" / "gunicorn"),
			"--bind",
			f"127.0.0.1:{port}",
			"--workers",
			str(workers),
			"--preload",
			"--timeout",
			"120",
			"frappe.app:application",
		],
		cwd=Path.cwd(),
		stdout=log,
		stderr=subprocess.STDOUT,
	)
	try:
		yield f"http://127.0.0.1:{port}"
	finally:
		process.terminate()
		try:
			process.wait(timeout=30)
		except subprocess.TimeoutExpired:
			process.kill()
		log.close()


def wait_until_up(url: str, sites: list[str], seconds: float = 90) -> None:
	deadline = time.monotonic() + seconds
	for site in sites:
		while True:
			try:
				response = requests.get(
					url + "/api/method/ping", headers={"Host": site, "X-Frappe-Site-Name": site}, timeout=5
				)
				if response.status_code == 200:
					break
			except requests.RequestException:
				pass
			if time.monotonic() > deadline:
				sys.exit(f"the server at {url} did not answer for {site} within {seconds:.0f} s")
			time.sleep(0.5)


# --- report ----------------------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
	ordered = sorted(samples)
	return ordered[max(0, round(fraction * len(ordered) + 0.5) - 1)] if ordered else 0.0


def figures(phases: list[Phase], verbs) -> tuple[float, float, float, int]:
	values = [s.ms for phase in phases for s in phase.samples if s.verb in verbs and s.status == 200]
	if not values:
		return 0.0, 0.0, 0.0, 0
	return statistics.median(values), percentile(values, 0.95), max(values), len(values)


def print_phase(phase: Phase) -> None:
	print(
		f"  {phase.scenario:<7}{phase.variant:<6}rep {phase.repetition}: {len(phase.samples)} requests in "
		f"{phase.wall:.2f} s = {phase.throughput:.1f} req/s; errors {len(phase.errors)}; InnoDB deadlocks "
		f"{phase.deadlocks}; HTTP 508 {sum(1 for s in phase.samples if s.status == 508)}"
	)
	for sample in phase.errors[:3]:
		print(f"      {sample.verb} -> {sample.status}: {sample.error[:200]}")


def print_scenario(scenario: str, phases: list[Phase], lost: dict, drift: dict | None) -> dict:
	by_variant = {variant: [p for p in phases if p.variant == variant] for variant in ("stock", "app")}
	print(f"\nScenario {scenario}: {len(phases) // 2} repetitions per variant")
	header = f"  {'':<22}{'stock':>28}{'with opportunity_plus':>30}{'app / stock':>14}"
	print(header)
	print(f"  {'':<22}{'p50':>9}{'p95':>9}{'max':>10}{'p50':>10}{'p95':>10}{'max':>10}{'p50':>7}{'p95':>7}")
	ratios = {}
	groups = [(verb, (verb,)) for verb in ("create", "stage", "amount", "close", "items", "lost")]
	groups += [("all PUT", PUT_VERBS), ("all POST", POST_VERBS)]
	for label, verbs in groups:
		stock, app = figures(by_variant["stock"], verbs), figures(by_variant["app"], verbs)
		if not stock[3] or not app[3]:
			continue
		p50_ratio, p95_ratio = app[0] / stock[0], app[1] / stock[1]
		ratios[label] = (p50_ratio, p95_ratio)
		print(
			f"  {label + ' (ms, n=' + str(app[3]) + ')':<22}{stock[0]:>9.1f}{stock[1]:>9.1f}{stock[2]:>10.1f}"
			f"{app[0]:>10.1f}{app[1]:>10.1f}{app[2]:>10.1f}{p50_ratio:>7.2f}{p95_ratio:>7.2f}"
		)
	throughput = {
		variant: sum(len(p.samples) for p in items) / sum(p.wall for p in items)
		for variant, items in by_variant.items()
	}
	per_rep = {
		variant: " / ".join(f"{p.throughput:.1f}" for p in items) for variant, items in by_variant.items()
	}
	throughput_ratio = throughput["app"] / throughput["stock"]
	print(
		f"  throughput (req/s)    stock {throughput['stock']:.1f} ({per_rep['stock']}), app "
		f"{throughput['app']:.1f} ({per_rep['app']}): {throughput_ratio:.2f}x"
	)
	errors = {variant: sum(len(p.errors) for p in items) for variant, items in by_variant.items()}
	kinds = {
		variant: Counter((s.verb, s.kind) for p in items for s in p.errors)
		for variant, items in by_variant.items()
	}
	for verb, kind in sorted(set(kinds["stock"]) | set(kinds["app"])):
		note = " (stock Frappe's child-table deadlock)" if (verb, kind) in STOCK_DEFECTS else ""
		print(
			f"  error {verb + ' ' + kind:<34} stock {kinds['stock'][(verb, kind)]:>4}, app "
			f"{kinds['app'][(verb, kind)]:>4}{note}"
		)
	app_errors = sum(count for key, count in kinds["app"].items() if key not in STOCK_DEFECTS)
	stock_defects = {variant: sum(kinds[variant][key] for key in STOCK_DEFECTS) for variant in kinds}
	in_app = sum(1 for p in by_variant["app"] for s in p.errors if s.in_app)
	print(f"  errors whose server traceback passes through the app's code: {in_app}")
	deadlocks = {variant: sum(p.deadlocks for p in items) for variant, items in by_variant.items()}
	http_508 = {
		variant: sum(1 for p in items for s in p.samples if s.status == 508)
		for variant, items in by_variant.items()
	}
	print(
		f"  errors                stock {errors['stock']}, app {errors['app']}; InnoDB deadlocks (server-wide "
		f"counter) stock {deadlocks['stock']}, app {deadlocks['app']}; HTTP 508 stock {http_508['stock']}, "
		f"app {http_508['app']}"
	)
	print(
		f"  lost writes           stock {len(lost['stock'])} of {sum(len(p.expected) for p in by_variant['stock'])} deals, "
		f"app {len(lost['app'])} of {sum(len(p.expected) for p in by_variant['app'])} deals"
	)
	for line in (lost["stock"] + lost["app"])[:5]:
		print(f"      {line}")
	if drift is not None:
		exact = not drift["stale_entries"] and not drift["wrong_summary_rows"]
		print(
			f"  pipeline summary      {'exact' if exact else 'DRIFT'} against a recomputation "
			f"({drift['stale_entries']} stale entries, {drift['wrong_summary_rows']} wrong rows)"
		)
	put95 = ratios.get("all PUT", (0, 99))[1]
	post95 = ratios.get("all POST", (0, 99))[1]
	met = {
		f"throughput >= {GOAL_THROUGHPUT:.2f}x stock": throughput_ratio >= GOAL_THROUGHPUT,
		f"PUT p95 <= {GOAL_P95:.2f}x stock": put95 <= GOAL_P95,
		f"POST p95 <= {GOAL_P95:.2f}x stock": post95 <= GOAL_P95,
		"no error of the app's, stock's own no more often (<= 1.2x), no lost write": not app_errors
		and not in_app
		and stock_defects["app"] <= 1.2 * stock_defects["stock"]
		and not lost["app"],
		"summary exact": drift is not None and not drift["stale_entries"] and not drift["wrong_summary_rows"],
	}
	print("  goals: " + "; ".join(f"{goal}: {'met' if ok else 'NOT met'}" for goal, ok in met.items()))
	return {"throughput": throughput_ratio, "put95": put95, "post95": post95, "met": all(met.values())}


# --- main ------------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	site_options.add_arguments(parser)
	site_options.add_stock_site_argument(parser)
	parser.add_argument("--stock-company", help="its company (default: its default company)")
	parser.add_argument("--url", help="a server already serving both sites (default: start gunicorn)")
	parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
	parser.add_argument("--clients", type=int, default=8, help="concurrent REST clients (default 8)")
	parser.add_argument("--rounds", type=int, default=15, help="rounds per client and phase (default 15)")
	parser.add_argument(
		"--repetitions", type=int, default=2, help="phases per variant and scenario (default 2)"
	)
	parser.add_argument("--scenario", choices=(*SCENARIOS, "both"), default="both")
	parser.add_argument("--keep", action="store_true", help="keep the deals, users and records it created")
	return parser.parse_args(argv)


def main(argv=None) -> None:
	args = parse_args(argv)
	site_options.connect(args)
	if "opportunity_plus" not in frappe.get_installed_apps():
		sys.exit(f"{args.site} does not have opportunity_plus installed: pass the app's site with --site.")
	frappe.destroy()
	stock_site = site_options.stock_site(args)
	app_stages, stock_stages = open_stages(args.site), open_stages(stock_site)
	stages = [stage for stage in app_stages if stage in stock_stages][:3]
	if len(stages) < 3:
		sys.exit(f"The two sites share fewer than three open sales stages ({stages}).")
	scenarios = SCENARIOS if args.scenario == "both" else (args.scenario,)
	setups = {
		"app": prepare(args.site, args.company, stages),
		"stock": prepare(stock_site, args.stock_company, stages),
	}
	print(
		f"REST load benchmark: app site {args.site} ({setups['app'].company}), stock site {stock_site} "
		f"({setups['stock'].company}); {args.clients} clients x {args.rounds} rounds per phase; stages "
		f"{', '.join(stages)}; Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
		f"{os.getloadavg()[0]:.2f}"
	)
	log_path = Path(f"/tmp/opportunity_plus-bench-rest-{os.getpid()}.log")
	try:
		with gunicorn(args.workers, log_path) if not args.url else _nothing(args.url) as url:
			print(
				f"server: {url} ({'gunicorn, ' + str(args.workers) + ' workers, --preload; log ' + str(log_path) if not args.url else 'given'})"
			)
			wait_until_up(url, [args.site, stock_site])
			for variant in ("app", "stock"):  # warm-up: every worker loads its caches for both sites
				run_phase(Phase("hot", variant, 0), setups[variant], url, args.clients, 1)
			results = {}
			for scenario in scenarios:
				phases = []
				for repetition in range(1, args.repetitions + 1):
					order = ("app", "stock") if repetition % 2 else ("stock", "app")
					for variant in order:
						phase = run_phase(
							Phase(scenario, variant, repetition),
							setups[variant],
							url,
							args.clients,
							args.rounds,
						)
						print_phase(phase)
						phases.append(phase)
				lost = {
					variant: lost_writes(
						setups[variant].site,
						{
							name: want
							for p in phases
							if p.variant == variant
							for name, want in p.expected.items()
						},
					)
					for variant in ("stock", "app")
				}
				results[scenario] = print_scenario(scenario, phases, lost, summary_drift(args.site))
	finally:
		if not args.keep:
			for site in (args.site, stock_site):
				print(f"removed from {site}: {remove(site)}")
	print(f"\nload average after: {os.getloadavg()[0]:.2f}")
	print("every goal met" if all(r["met"] for r in results.values()) else "some goal NOT met (see above)")


@contextmanager
def _nothing(value):
	yield value


if __name__ == "__main__":
	main()
