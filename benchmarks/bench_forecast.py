"""Time the pipeline forecast against a plain SQL aggregate and ERPNext's own pipeline reports.

	cd ~/frappe-bench/sites && ../env/bin/python ../apps/opportunity_plus/benchmarks/bench_forecast.py
	... bench_forecast.py --count 1000000 --report-runs 3
	... bench_forecast.py --count 20000 --keep        # then: --reuse to time the same data again

Generates the data (generate_opportunities.py; unless --reuse), then calls each case `--warmup` times
untimed and `--runs` times under time.perf_counter, in-process (no HTTP), as a Sales User whose Territory
user permission limits them to one territory (`--as-admin` for Administrator), on a one-year window of
expected closing dates (the current calendar year unless --from-date; ERPNext's report handles at most 12
months) and on the current quarter. The references, on the same data in the same run:

- the plain SQL aggregate with the same filters (company, window, and the very territory condition Frappe
  adds for that user) restricted to ERPNext's own indexes (`ignore index` on the app's);
- ERPNext's Sales Pipeline Analytics and Opportunity Summary by Sales Stage (both read through
  frappe.get_list, so the same user permission applies), `--report-runs` times each.

Prints p50 / p95 in ms per case, the ratios, peak Python memory of one forecast call, and whether the
issue's goals are met; it never asserts. Removes the generated data at the end unless --keep.
"""

import argparse
import cProfile
import io
import math
import os
import platform
import pstats
import statistics
import sys
import time
import tracemalloc
from datetime import date

import frappe
from erpnext.crm.report.opportunity_summary_by_sales_stage.opportunity_summary_by_sales_stage import (
	execute as summary_by_stage,
)
from erpnext.crm.report.sales_pipeline_analytics.sales_pipeline_analytics import execute as pipeline_analytics
from frappe.model.db_query import DatabaseQuery
from frappe.utils import add_days, add_months, getdate

from opportunity_plus.api.forecast import current_quarter, get_forecast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_opportunities as generator
import site_options

# The goals: forecast p50 at most this share of the SQL aggregate (one-year window), and at most
# this many ms for a quarter at 100k.
GOAL_SQL_RATIO = 0.8
GOAL_QUARTER_MS = 20
VIEWER = f"{generator.USER_PREFIX}viewer{generator.USER_DOMAIN}"
VIEWER_TERRITORY = f"{generator.PREFIX}Europe"

FORECAST_YEAR = "forecast, one year (group_by=stage)"
FORECAST_QUARTER = "forecast, one quarter (group_by=stage)"
SQL_YEAR = "SQL aggregate, one year (ERPNext's indexes)"
SQL_QUARTER = "SQL aggregate, one quarter (ERPNext's indexes)"
REFERENCE_SQL = """
	select sales_stage, status, count(*), sum(base_opportunity_amount),
		sum(base_opportunity_amount * probability / 100)
	from `tabOpportunity` ignore index (op_forecast_index)
	where company = %(company)s and expected_closing between %(from_date)s and %(to_date)s {match}
	group by sales_stage, status
"""


def percentile(samples: list[float], fraction: float) -> float:
	"""Nearest-rank percentile: with 20 samples p95 is the 19th fastest."""
	ordered = sorted(samples)
	return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def measure(call, runs: int, warmup: int) -> dict:
	for _ in range(warmup):
		call()
	samples = []
	for _ in range(runs):
		started = time.perf_counter()
		call()
		samples.append((time.perf_counter() - started) * 1000)
	return {"p50": statistics.median(samples), "p95": percentile(samples, 0.95), "samples": samples}


def ensure_viewer() -> None:
	"""A Sales User limited to one generated territory, as bare rows (removed with the generated data)."""
	if not frappe.db.exists("User", VIEWER):
		remove_viewer()  # rows an interrupted run may have left
		now = frappe.utils.now_datetime()
		frappe.db.sql(
			"""insert into `tabUser` (name, creation, modified, modified_by, owner, email, first_name,
			full_name, enabled, user_type) values (%s, %s, %s, 'Administrator', 'Administrator', %s,
			'Viewer', 'Viewer Bench', 1, 'System User')""",
			(VIEWER, now, now, VIEWER),
		)
		frappe.db.sql(
			"""insert into `tabHas Role` (name, creation, modified, modified_by, owner, parent, parenttype,
			parentfield, role, idx) values (%s, %s, %s, 'Administrator', 'Administrator', %s, 'User',
			'roles', 'Sales User', 1)""",
			(f"{generator.PREFIX}viewer-role", now, now, VIEWER),
		)
		frappe.db.sql(
			"""insert into `tabUser Permission` (name, creation, modified, modified_by, owner, user, allow,
			for_value, apply_to_all_doctypes, is_default, hide_descendants) values (%s, %s, %s,
			'Administrator', 'Administrator', %s, 'Territory', %s, 1, 0, 0)""",
			(f"{generator.PREFIX}viewer-permission", now, now, VIEWER, VIEWER_TERRITORY),
		)
		frappe.db.commit()
	frappe.clear_cache(user=VIEWER)


def remove_viewer() -> None:
	frappe.db.delete("Has Role", {"parent": VIEWER})
	frappe.db.delete("User Permission", {"user": VIEWER})
	frappe.db.delete("User", {"name": VIEWER})
	frappe.db.commit()
	frappe.clear_cache(user=VIEWER)


def match_condition() -> str:
	"""The permission condition Frappe adds to the session user's Opportunity queries ('' for admins)."""
	match = DatabaseQuery("Opportunity").build_match_conditions()
	return f"and ({match})" if match else ""


def forecast_cases(company: str, year: tuple, quarter: tuple) -> dict:
	def forecast(window):
		return lambda: get_forecast(
			company=company, group_by="stage", from_date=str(window[0]), to_date=str(window[1])
		)

	def sql(window):
		query = REFERENCE_SQL.format(match=match_condition())
		values = {"company": company, "from_date": window[0], "to_date": window[1]}
		return lambda: frappe.db.sql(query, values)

	return {
		FORECAST_YEAR: forecast(year),
		SQL_YEAR: sql(year),
		FORECAST_QUARTER: forecast(quarter),
		SQL_QUARTER: sql(quarter),
	}


def report_cases(company: str, year: tuple) -> dict:
	def analytics(pipeline_by, based_on):
		filters = {
			"pipeline_by": pipeline_by,
			"based_on": based_on,
			"range": "Monthly",
			"from_date": str(year[0]),
			"to_date": str(year[1]),
			"company": company,
		}
		return lambda: pipeline_analytics(frappe._dict(filters))

	def summary(data_based_on):
		filters = {
			"based_on": "Opportunity Owner",
			"data_based_on": data_based_on,
			"from_date": str(year[0]),
			"to_date": str(year[1]),
			"company": company,
		}
		return lambda: summary_by_stage(frappe._dict(filters))

	return {
		"ERPNext Sales Pipeline Analytics (Sales Stage, Amount)": analytics("Sales Stage", "Amount"),
		"ERPNext Sales Pipeline Analytics (Sales Stage, Number)": analytics("Sales Stage", "Number"),
		"ERPNext Opportunity Summary by Sales Stage (Amount)": summary("Amount"),
	}


def peak_memory_kib(company: str, window: tuple) -> float:
	"""Peak Python allocations of one forecast call: flat when the database does the summing."""
	tracemalloc.start()
	get_forecast(company=company, group_by="stage", from_date=str(window[0]), to_date=str(window[1]))
	_current, peak = tracemalloc.get_traced_memory()
	tracemalloc.stop()
	return peak / 1024


def print_results(results: dict, context: dict) -> None:
	print()
	print(
		f"Opportunity forecast benchmark: site {context['site']}, company {context['company']}, "
		f"MariaDB {context['mariadb']} (InnoDB buffer pool {buffer_pool_mib()} MiB), "
		f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
	)
	print(
		f"N = {context['total']} opportunities in the company ({context['generated']} generated); "
		f"one year {context['year'][0]}..{context['year'][1]}: {context['in_year']} deals, "
		f"{context['visible_year']} visible to the user; one quarter {context['quarter'][0]}.."
		f"{context['quarter'][1]}: {context['in_quarter']} deals, {context['visible_quarter']} visible"
	)
	print(
		f"as {context['user']}; {context['runs']} timed runs after {context['warmup']} warm-up runs "
		f"({context['report_runs']} for ERPNext's reports); the app's forecast index "
		f"{'present' if frappe.db.has_index('tabOpportunity', 'op_forecast_index') else 'ABSENT'}; "
		f"load average {context['load']:.2f} before timing, {os.getloadavg()[0]:.2f} after"
	)
	print()
	width = max(len(label) for label in results)
	print(f"{'case':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}")
	for label, timing in results.items():
		print(f"{label:<{width}}  {timing['p50']:>9.1f}  {timing['p95']:>9.1f}")

	year, quarter = results[FORECAST_YEAR]["p50"], results[FORECAST_QUARTER]["p50"]
	print()
	print("ratios (p50 / p50)")
	print(f"  forecast / SQL aggregate, one year:    {year / results[SQL_YEAR]['p50']:.2f}x")
	print(f"  forecast / SQL aggregate, one quarter: {quarter / results[SQL_QUARTER]['p50']:.2f}x")
	for label, timing in results.items():
		if label.startswith("ERPNext"):
			print(f"  {label} / forecast, one year: {timing['p50'] / year:.1f}x")
	print()
	print(
		f"peak Python memory of one forecast call: {context['memory_year']:.0f} KiB (one year), "
		f"{context['memory_quarter']:.0f} KiB (one quarter)"
	)
	ratio = year / results[SQL_YEAR]["p50"]
	print(
		f"goal: forecast p50 <= {GOAL_SQL_RATIO}x the SQL aggregate (one year): "
		f"{'met' if ratio <= GOAL_SQL_RATIO else 'NOT met'} ({ratio:.2f}x)"
	)
	scale = "" if context["total"] <= 150_000 else " (the goal is set at 100k; reported)"
	print(
		f"goal: forecast p50 <= {GOAL_QUARTER_MS} ms for a quarter: "
		f"{'met' if quarter <= GOAL_QUARTER_MS else 'NOT met'} ({quarter:.1f} ms){scale}"
	)


def buffer_pool_mib() -> int:
	return int(frappe.db.sql("select @@innodb_buffer_pool_size")[0][0]) // 2**20


def check_totals(company: str, window: tuple, visible: int) -> None:
	"""Timings of a wrong answer mean nothing: the forecast must see every deal the user may see."""
	result = get_forecast(company=company, group_by="stage", from_date=str(window[0]), to_date=str(window[1]))
	if result["total"]["count"] != visible:
		print(f"WARNING: forecast counts {result['total']['count']} deals, SQL counts {visible}")


def count_in(company: str, window: tuple, match: str = "") -> int:
	return frappe.db.sql(
		f"""select count(*) from `tabOpportunity` where company = %(company)s
		and expected_closing between %(from_date)s and %(to_date)s {match}""",
		{"company": company, "from_date": window[0], "to_date": window[1]},
	)[0][0]


def profile_forecast(company: str, window: tuple, group_by: str) -> None:
	"""Where one forecast call spends its time: each SQL statement (with its plan), then a cProfile."""
	statements = []
	sql = frappe.db.sql

	def timed_sql(query, *args, **kwargs):
		started = time.perf_counter()
		try:
			return sql(query, *args, **kwargs)
		finally:
			statements.append(((time.perf_counter() - started) * 1000, query, args[0] if args else ()))

	profiler = cProfile.Profile()
	frappe.db.sql = timed_sql
	try:
		started = time.perf_counter()
		profiler.enable()
		get_forecast(company=company, group_by=group_by, from_date=str(window[0]), to_date=str(window[1]))
		profiler.disable()
		total = (time.perf_counter() - started) * 1000
	finally:
		del frappe.db.sql  # back to the class's method
	in_sql = sum(elapsed for elapsed, _query, _values in statements)
	print(
		f"\nprofile of one forecast call (group_by={group_by}): {total:.1f} ms, of which SQL {in_sql:.1f} ms"
	)
	for elapsed, query, values in statements:
		print(f"  {elapsed:7.1f} ms  {' '.join(str(query).split())[:150]}")
		if elapsed > 10:
			for plan in frappe.db.sql(f"explain {query}", values, as_dict=True):
				print(f"             plan: type={plan.type} key={plan.key} rows={plan.rows} {plan.Extra}")
	out = io.StringIO()
	pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
	print("\ncProfile, by cumulative time:")
	print(out.getvalue().strip())


def parse_args(argv=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	parser.add_argument(
		"--count", type=int, default=100_000, help="opportunities to generate (default 100000)"
	)
	parser.add_argument("--reuse", action="store_true", help="time the data already generated; generate none")
	parser.add_argument("--keep", action="store_true", help="keep the generated data at the end")
	site_options.add_arguments(parser)
	parser.add_argument("--runs", type=int, default=20)
	parser.add_argument("--warmup", type=int, default=2)
	parser.add_argument("--report-runs", type=int, default=5, help="timed runs of ERPNext's reports")
	parser.add_argument("--as-admin", action="store_true", help="run as Administrator (no user permission)")
	parser.add_argument("--from-date", help="first day of the 12-month window (default: 1 January this year)")
	parser.add_argument("--profile", action="store_true", help="also print a cProfile of one forecast call")
	return parser.parse_args(argv)


def main(argv=None) -> None:
	args = parse_args(argv)
	site_options.connect(args)
	company = args.company
	today = getdate()
	from_date = getdate(args.from_date) if args.from_date else date(today.year, 1, 1)
	year = (from_date, getdate(add_days(add_months(from_date, 12), -1)))
	quarter = current_quarter(today)
	# The reports cache exchange rates in Redis under the bare currency code, for ever; forget what we added.
	currencies = generator.deal_currencies(generator.company_currency(company))
	rate_keys = [code for code in currencies if frappe.cache.get(code) is None]
	already = generator.existing_count()
	if args.reuse and not already:
		sys.exit("No generated opportunities to reuse: run without --reuse.")
	if not args.reuse and already:
		sys.exit(f"{already} generated opportunities already exist: pass --reuse, or remove them first.")
	try:
		if not args.reuse:
			result = generator.generate(args.count, company)
			print(
				f"generated {result['inserted']} opportunities with {result['item_lines']} item lines "
				f"in {result['seconds']:.2f} s"
			)
		ensure_viewer()
		generated = generator.existing_count()
		total = frappe.db.count("Opportunity", {"company": company})
		in_year, in_quarter = count_in(company, year), count_in(company, quarter)
		user = "Administrator" if args.as_admin else VIEWER
		frappe.set_user(user)
		match = match_condition()
		visible_year, visible_quarter = count_in(company, year, match), count_in(company, quarter, match)
		check_totals(company, year, visible_year)
		load = os.getloadavg()[0]
		results = {}
		for label, call in forecast_cases(company, year, quarter).items():
			results[label] = measure(call, args.runs, args.warmup)
		refused = {}
		for label, call in report_cases(company, year).items():
			try:
				results[label] = measure(call, args.report_runs, 1)
			except frappe.PermissionError:
				# Opportunity Summary by Sales Stage lists Sales Stages with get_list, which a Sales User
				# may not read: ERPNext's report refuses this user.
				refused[label] = user
				frappe.clear_messages()
		memory_year, memory_quarter = peak_memory_kib(company, year), peak_memory_kib(company, quarter)
		print_results(
			results,
			{
				"site": args.site,
				"company": company,
				"mariadb": frappe.db.sql("select version()")[0][0],
				"total": total,
				"generated": generated,
				"year": year,
				"quarter": quarter,
				"in_year": in_year,
				"in_quarter": in_quarter,
				"visible_year": visible_year,
				"visible_quarter": visible_quarter,
				"user": user + ("" if args.as_admin else f" (Sales User, Territory {VIEWER_TERRITORY})"),
				"runs": args.runs,
				"warmup": args.warmup,
				"report_runs": args.report_runs,
				"load": load,
				"memory_year": memory_year,
				"memory_quarter": memory_quarter,
			},
		)
		for label, refused_user in refused.items():
			print(f"{label}: refused for {refused_user} (PermissionError inside ERPNext's report)")
		if args.profile:
			profile_forecast(company, year, "stage")
	finally:
		frappe.set_user("Administrator")
		frappe.db.rollback()
		for code in rate_keys:
			frappe.cache.delete(code)
		if not args.keep:
			remove_viewer()
			result = generator.remove()
			removed = ", ".join(f"{doctype} {count}" for doctype, count in result["removed"].items())
			print(f"\nremoved: {removed}; generated opportunities left: {generator.existing_count()}")
		frappe.destroy()


if __name__ == "__main__":
	main()
