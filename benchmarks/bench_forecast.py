"""Time the pipeline forecast against ERPNext's Sales Pipeline Analytics and a plain SQL aggregate.

	cd ~/frappe-bench/sites && ../env/bin/python ../apps/opportunity_plus/benchmarks/bench_forecast.py
	... bench_forecast.py --count 20000 --keep        # then: --reuse to time the same data again

Generates the data (generate_opportunities.py; unless --reuse), then calls each case `--warmup` times
untimed and `--runs` times under time.perf_counter, on a one-year window of expected closing dates (the
current calendar year unless --from-date): ERPNext's report only handles windows of at most 12 months.
Everything runs as Administrator, in-process (no HTTP). Prints p50 / p95 in ms per case, the ratios and
whether the issue's goal is met; it never asserts. Removes the generated data at the end unless --keep.
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
from datetime import date

import frappe
from erpnext.crm.report.sales_pipeline_analytics.sales_pipeline_analytics import execute as pipeline_analytics
from frappe.utils import add_days, add_months, getdate

from opportunity_plus.api.forecast import get_forecast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_opportunities as generator

# The goal: forecast p50 under this at 100k opportunities, and this many times faster than ERPNext.
GOAL_P50_MS = 250
GOAL_SPEEDUP = 5
# The Sales Pipeline Analytics variant that answers the forecast's question (amounts by stage).
COMPARABLE_REPORT = "Sales Pipeline Analytics (Sales Stage, Amount)"

REFERENCE_SQL = """
	select sales_stage, status, count(*), sum(base_opportunity_amount),
		sum(base_opportunity_amount * probability / 100)
	from `tabOpportunity`
	where company = %s and expected_closing between %s and %s
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


def cases(company: str, from_date: date, to_date: date) -> dict:
	def forecast(group_by):
		return lambda: get_forecast(
			company=company, group_by=group_by, from_date=str(from_date), to_date=str(to_date)
		)

	def report(pipeline_by, based_on):
		filters = {
			"pipeline_by": pipeline_by,
			"based_on": based_on,
			"range": "Monthly",
			"from_date": str(from_date),
			"to_date": str(to_date),
			"company": company,
		}
		return lambda: pipeline_analytics(filters)

	return {
		"forecast (group_by=stage)": forecast("stage"),
		"forecast (group_by=close_quarter)": forecast("close_quarter"),
		"Sales Pipeline Analytics (Sales Stage, Number)": report("Sales Stage", "Number"),
		COMPARABLE_REPORT: report("Sales Stage", "Amount"),
		"Sales Pipeline Analytics (Owner, Amount)": report("Owner", "Amount"),
		"SQL aggregate (reference)": lambda: frappe.db.sql(REFERENCE_SQL, (company, from_date, to_date)),
	}


def print_results(results: dict, context: dict) -> None:
	print()
	print(
		f"Opportunity forecast benchmark: site {context['site']}, company {context['company']}, "
		f"MariaDB {context['mariadb']}, Python {platform.python_version()}"
	)
	print(
		f"N = {context['total']} opportunities in the company ({context['generated']} generated); "
		f"{context['in_window']} close in {context['from_date']}..{context['to_date']}"
	)
	print(
		f"{context['runs']} timed runs after {context['warmup']} warm-up runs per case; the app's forecast "
		f"index {'present' if frappe.db.has_index('tabOpportunity', 'op_forecast_index') else 'ABSENT'}; "
		f"load average {context['load']:.2f} on {os.cpu_count()} CPUs before timing, "
		f"{os.getloadavg()[0]:.2f} after"
	)
	print()
	width = max(len(label) for label in results)
	print(f"{'case':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}")
	for label, timing in results.items():
		print(f"{label:<{width}}  {timing['p50']:>9.1f}  {timing['p95']:>9.1f}")

	forecasts = {label: timing for label, timing in results.items() if label.startswith("forecast")}
	reports = {label: timing for label, timing in results.items() if label.startswith("Sales Pipeline")}
	sql = results["SQL aggregate (reference)"]
	stage = results["forecast (group_by=stage)"]
	print()
	print("ratios (p50 / p50)")
	for label, timing in reports.items():
		print(f"  {label} / forecast (group_by=stage): {timing['p50'] / stage['p50']:.2f}x")
	for label, timing in forecasts.items():
		print(f"  {label} / SQL aggregate: {timing['p50'] / sql['p50']:.2f}x")

	print()
	slowest = max(timing["p50"] for timing in forecasts.values())
	met = "met" if slowest < GOAL_P50_MS else "NOT met"
	print(
		f"goal: forecast p50 < {GOAL_P50_MS} ms at N={context['total']}: {met} "
		f"(slowest grouping {slowest:.1f} ms)"
	)
	# Both answer "how much is in each stage", so they are the pair to compare.
	speedup = reports[COMPARABLE_REPORT]["p50"] / stage["p50"]
	met = "met" if speedup >= GOAL_SPEEDUP else "NOT met"
	print(
		f"goal: forecast >= {GOAL_SPEEDUP}x faster than ERPNext's report: {met} "
		f"({COMPARABLE_REPORT} / forecast (group_by=stage) = {speedup:.2f}x)"
	)
	fastest_report = min(reports, key=lambda label: reports[label]["p50"])
	speedup = reports[fastest_report]["p50"] / stage["p50"]
	met = "met" if speedup >= GOAL_SPEEDUP else "NOT met"
	print(f"      against the report's fastest variant, {fastest_report}: {met} ({speedup:.2f}x)")


def check_totals(company: str, from_date: date, to_date: date, in_window: int) -> None:
	"""Timings of a wrong answer mean nothing: the forecast must see every deal in the window."""
	result = get_forecast(company=company, group_by="stage", from_date=str(from_date), to_date=str(to_date))
	if result["total"]["count"] != in_window:
		print(f"WARNING: forecast counts {result['total']['count']} deals, SQL counts {in_window}")


def profile_forecast(company: str, from_date: date, to_date: date, group_by: str) -> None:
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
		get_forecast(company=company, group_by=group_by, from_date=str(from_date), to_date=str(to_date))
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
	parser.add_argument("--site", default=generator.SITE)
	parser.add_argument("--runs", type=int, default=20)
	parser.add_argument("--warmup", type=int, default=2)
	parser.add_argument("--from-date", help="first day of the 12-month window (default: 1 January this year)")
	parser.add_argument("--profile", action="store_true", help="also print a cProfile of one forecast call")
	return parser.parse_args(argv)


def main(argv=None) -> None:
	args = parse_args(argv)
	generator.connect(args.site)
	company = generator.COMPANY
	today = getdate()
	from_date = getdate(args.from_date) if args.from_date else date(today.year, 1, 1)
	to_date = getdate(add_days(add_months(from_date, 12), -1))
	# The report caches exchange rates in Redis under the bare currency code, for ever; forget what we added.
	rate_keys = [code for code in generator.CURRENCIES if frappe.cache.get(code) is None]
	already = generator.existing_count()
	if args.reuse and not already:
		sys.exit("No generated opportunities to reuse: run without --reuse.")
	if not args.reuse and already:
		sys.exit(f"{already} generated opportunities already exist: pass --reuse, or remove them first.")
	try:
		if not args.reuse:
			result = generator.generate(args.count)
			print(f"generated {result['inserted']} opportunities in {result['seconds']:.2f} s")
		generated = generator.existing_count()
		total = frappe.db.count("Opportunity", {"company": company})
		in_window = frappe.db.sql(
			"select count(*) from `tabOpportunity` where company = %s and expected_closing between %s and %s",
			(company, from_date, to_date),
		)[0][0]
		check_totals(company, from_date, to_date, in_window)
		load = os.getloadavg()[0]
		results = {}
		for label, call in cases(company, from_date, to_date).items():
			results[label] = measure(call, args.runs, args.warmup)
		print_results(
			results,
			{
				"site": args.site,
				"company": company,
				"mariadb": frappe.db.sql("select version()")[0][0],
				"total": total,
				"generated": generated,
				"in_window": in_window,
				"from_date": from_date,
				"to_date": to_date,
				"runs": args.runs,
				"warmup": args.warmup,
				"load": load,
			},
		)
		if args.profile:
			profile_forecast(company, from_date, to_date, "stage")
	finally:
		frappe.db.rollback()
		for code in rate_keys:
			frappe.cache.delete(code)
		if not args.keep:
			result = generator.remove()
			removed = ", ".join(f"{doctype} {count}" for doctype, count in result["removed"].items())
			print(f"\nremoved: {removed}; generated opportunities left: {generator.existing_count()}")
		frappe.destroy()


if __name__ == "__main__":
	main()
