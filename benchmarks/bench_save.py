"""What the app's hooks cost on a stock Opportunity save, and make_quotation from a 50-item opportunity.

	cd ~/frappe-bench/sites && ../env/bin/python ../apps/opportunity_plus/benchmarks/bench_save.py
	... bench_save.py --runs 50 --items 50

In one process, in one transaction that is rolled back at the end (nothing is left on the site):

1. Opportunity saves with and without the app's document hooks, interleaved run by run so that load
   changes hit both alike. "Without" drops every `opportunity_plus.*` handler from Frappe's doc_events for
   that save only; the app's custom fields stay (they are data). Two kinds of save: one that changes an
   untracked field (the contact's mobile number) and one that moves the expected closing date (a change the
   app records as history). Prints p50 / p95 ms and SQL statements per save (counted at frappe.db.sql),
   and the overhead as a percentage and as extra statements.
2. Opportunity > Create > Quotation from an opportunity with `--items` lines: ERPNext's
   `erpnext.crm.doctype.opportunity.opportunity.make_quotation` against the app's
   `opportunity_plus.api.mappers.make_quotation` (what the desk button calls while the app is installed),
   interleaved, p50 / p95 and the ratio.

It never asserts: read the numbers. Goals from the issue: at most +15% and at most 10 extra SQL statements
per save; make_quotation no slower than stock.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import frappe
from erpnext.crm.doctype.opportunity.opportunity import make_quotation as stock_make_quotation
from frappe.utils import add_days, nowdate, random_string

from opportunity_plus.api.mappers import make_quotation as app_make_quotation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_opportunities as generator
import site_options

GOAL_OVERHEAD = 0.15
GOAL_EXTRA_SQL = 10
APP_PREFIX = "opportunity_plus."


class SqlCounter:
	"""Counts statements sent through frappe.db.sql while active."""

	def __init__(self):
		self.count = 0
		self._sql = None

	def __enter__(self):
		self.count = 0
		self._sql = frappe.db.sql

		def counted(*args, **kwargs):
			self.count += 1
			return self._sql(*args, **kwargs)

		frappe.db.sql = counted
		return self

	def __exit__(self, *exc):
		del frappe.db.sql  # back to the class's method


def hooks_without_app() -> dict:
	"""Frappe's doc_events with every handler of this app removed."""
	frappe.local.doc_events_hooks = None
	full = frappe.get_doc_hooks()
	stripped = {}
	for doctype, events in full.items():
		stripped[doctype] = {
			event: [handler for handler in handlers if not handler.startswith(APP_PREFIX)]
			for event, handlers in events.items()
		}
	frappe.local.doc_events_hooks = full
	return full, stripped


def percentile(samples: list[float], fraction: float) -> float:
	ordered = sorted(samples)
	return ordered[max(0, round(fraction * len(ordered) + 0.5) - 1)]


def summary(samples: list[float]) -> tuple[float, float]:
	return statistics.median(samples), percentile(samples, 0.95)


def make_items(count: int) -> list[str]:
	group = frappe.db.get_value("Item Group", {"is_group": 0}, "name", order_by="lft")
	codes = []
	for number in range(count):
		code = f"OPBENCH-SAVE-{random_string(6)}-{number:02d}"
		frappe.get_doc(
			{
				"doctype": "Item",
				"item_code": code,
				"item_name": f"Bench line {number:02d}",
				"item_group": group,
				"stock_uom": generator.default_uom(),
				"is_stock_item": 0,
			}
		).insert(ignore_permissions=True)
		codes.append(code)
	return codes


def make_opportunity(company: str, customer: str, items: list[str]):
	doc = frappe.get_doc(
		{
			"doctype": "Opportunity",
			"opportunity_from": "Customer",
			"party_name": customer,
			"company": company,
			"currency": generator.company_currency(company),
			"expected_closing": add_days(nowdate(), 30),
			"items": [{"item_code": code, "qty": 2, "rate": 100 + index} for index, code in enumerate(items)],
		}
	)
	return doc.insert(ignore_permissions=True)


def time_saves(name: str, change, runs: int, full: dict, stripped: dict) -> dict:
	"""Interleaved saves of the same opportunity, each changed by `change(doc, run)` first."""
	results = {"with": [], "without": [], "sql_with": [], "sql_without": []}
	for run in range(runs + 2):
		for variant, hooks in (("with", full), ("without", stripped)):
			frappe.local.doc_events_hooks = hooks
			doc = frappe.get_doc("Opportunity", name)
			change(doc, run)
			with SqlCounter() as counter:
				started = time.perf_counter()
				doc.save(ignore_permissions=True)
				elapsed = (time.perf_counter() - started) * 1000
			if run >= 2:  # the first two of each are warm-up
				results[variant].append(elapsed)
				results[f"sql_{variant}"].append(counter.count)
	frappe.local.doc_events_hooks = full
	return results


def print_saves(label: str, results: dict) -> None:
	with_p50, with_p95 = summary(results["with"])
	without_p50, without_p95 = summary(results["without"])
	sql_with, sql_without = statistics.median(results["sql_with"]), statistics.median(results["sql_without"])
	overhead = with_p50 / without_p50 - 1
	extra = sql_with - sql_without
	print(f"\n{label}")
	print(f"  {'':<28}{'p50 ms':>9}{'p95 ms':>9}{'SQL / save':>12}")
	print(f"  {'stock (app hooks removed)':<28}{without_p50:>9.1f}{without_p95:>9.1f}{sql_without:>12.0f}")
	print(f"  {'with the app':<28}{with_p50:>9.1f}{with_p95:>9.1f}{sql_with:>12.0f}")
	met = overhead <= GOAL_OVERHEAD and extra <= GOAL_EXTRA_SQL
	print(
		f"  overhead: {overhead * 100:+.1f}% time, {extra:+.0f} SQL statements; goal (<= "
		f"{GOAL_OVERHEAD * 100:.0f}% and <= {GOAL_EXTRA_SQL} statements): {'met' if met else 'NOT met'}"
	)


def time_make_quotation(name: str, runs: int) -> dict:
	results = {"stock": [], "app": []}
	for run in range(runs + 2):
		for variant, method in (("stock", stock_make_quotation), ("app", app_make_quotation)):
			started = time.perf_counter()
			quotation = method(name)
			elapsed = (time.perf_counter() - started) * 1000
			if run >= 2:
				results[variant].append(elapsed)
	results["lines"] = len(quotation.items)
	return results


def parse_args(argv=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	site_options.add_arguments(parser)
	parser.add_argument("--runs", type=int, default=40, help="timed saves / mappings per variant")
	parser.add_argument("--items", type=int, default=50, help="lines on the make_quotation opportunity")
	return parser.parse_args(argv)


def main(argv=None) -> None:
	args = parse_args(argv)
	site_options.connect(args)
	try:
		full, stripped = hooks_without_app()
		customer = frappe.get_doc(
			{
				"doctype": "Customer",
				"customer_name": f"OPBENCH-SAVE {random_string(6)}",
				"customer_type": "Company",
			}
		).insert(ignore_permissions=True)
		items = make_items(args.items)
		small = make_opportunity(args.company, customer.name, items[:3])
		large = make_opportunity(args.company, customer.name, items)
		print(
			f"Opportunity save and make_quotation benchmark: site {args.site}, company {args.company}, Python "
			f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
			f"{args.runs} timed runs per variant after 2 warm-up runs, interleaved"
		)

		def untracked(doc, run):
			doc.contact_mobile = f"+1 555 {run:04d}"

		def close_date(doc, run):
			doc.expected_closing = add_days(nowdate(), 31 + run)

		print_saves(
			"save, untracked field changed (3-line opportunity)",
			time_saves(small.name, untracked, args.runs, full, stripped),
		)
		print_saves(
			"save, expected closing date moved (3-line opportunity)",
			time_saves(small.name, close_date, args.runs, full, stripped),
		)
		results = time_make_quotation(large.name, args.runs)
		stock_p50, stock_p95 = summary(results["stock"])
		app_p50, app_p95 = summary(results["app"])
		print(f"\nmake_quotation from a {args.items}-line opportunity ({results['lines']} quotation lines)")
		print(f"  {'':<28}{'p50 ms':>9}{'p95 ms':>9}")
		print(f"  {'ERPNext (stock)':<28}{stock_p50:>9.1f}{stock_p95:>9.1f}")
		print(f"  {'opportunity_plus':<28}{app_p50:>9.1f}{app_p95:>9.1f}")
		ratio = app_p50 / stock_p50
		print(f"  app / stock: {ratio:.2f}x ({'no slower' if ratio <= 1.02 else 'SLOWER'} within 2%)")
		print(f"\nload average after: {os.getloadavg()[0]:.2f}")
	finally:
		frappe.local.doc_events_hooks = None
		frappe.db.rollback()
		frappe.destroy()


if __name__ == "__main__":
	main()
