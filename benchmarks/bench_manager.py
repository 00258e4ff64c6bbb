"""A sales manager's figures at scale: every view of the weekly forecast call, timed and checked.

Times, as an unrestricted Sales Manager and as a Sales User limited to one territory by a User Permission:
the forecast (one year, one quarter), the Pipeline Forecast and Win Loss Analysis reports with their
default filters, the workspace's number cards and charts, targets and attainment, the forecast by
category, pipeline movement over the last week and the forecast as of a week ago; the forecast grouped by
Sales Pipeline; then every view again filtered by each pipeline of `--pipelines` (default: the generated
second pipeline and the default one, whose deals partly have no pipeline set). Each figure is checked
against the row-level SQL truth (the same sums straight from `tabOpportunity`) and the script prints
"exact" or the difference.

Run from the bench's sites folder on a site with generated opportunities (generate_opportunities.py):

    ../env/bin/python ../apps/opportunity_plus/benchmarks/bench_manager.py [--site SITE] [--company C]
        [--runs 20] [--changes 2000]

`--changes N` first saves N random open generated opportunities through the document API (amount,
stage or close date), so that movement and as-of have a week of history to rebuild; their deal history
is backdated by up to seven days. It also sets when the deal history began (the generated deals carry
none) to a year ago, as on a site that has had the app for a year; the previous value is put back at
the end. Generated data is removed with generate_opportunities.py --remove.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import frappe
from frappe.utils import (
	add_days,
	add_months,
	flt,
	get_first_day,
	get_last_day,
	getdate,
	now_datetime,
	nowdate,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_options

VIEWER = "opbench.territory.viewer@example.invalid"


def parse_args(argv=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	site_options.add_arguments(parser)
	parser.add_argument("--runs", type=int, default=20, help="timed runs per case (p50 is printed)")
	parser.add_argument("--changes", type=int, default=0, help="opportunities to change first (see above)")
	parser.add_argument(
		"--territory", help="the territory the Sales User is limited to (default: the largest)"
	)
	parser.add_argument(
		"--pipelines",
		nargs="*",
		help="Sales Pipelines to filter every view by (default: OPBENCH-Projects and the default pipeline)",
	)
	return parser.parse_args(argv)


def p50(call, runs: int) -> tuple[float, object]:
	result = call()  # warm up (and the figure to check)
	samples = []
	for _ in range(runs):
		frappe.local.cache = {}  # no request-level cache between calls, as between two requests
		start = time.perf_counter()
		call()
		samples.append((time.perf_counter() - start) * 1000)
	return statistics.median(samples), result


# A deal's pipeline: one without is in the default pipeline.
PIPELINE_OF = "ifnull(nullif(op_pipeline, ''), %(default_pipeline)s)"


def truth(
	company: str,
	where: str = "1=1",
	values: dict | None = None,
	territory: str | None = None,
	pipeline: str | None = None,
	group_by_pipeline: bool = False,
):
	"""Count, base and weighted amount straight from the opportunities (per pipeline: a dict of them)."""
	from opportunity_plus.pipeline import default_pipeline

	conditions = ["company = %(company)s", where]
	if territory:
		conditions.append("territory = %(territory)s")
	if pipeline:
		conditions.append(f"{PIPELINE_OF} = %(pipeline)s")
	rows = frappe.db.sql(
		f"""select {PIPELINE_OF if group_by_pipeline else "null"} as pipeline, count(*) n,
			ifnull(sum(base_opportunity_amount), 0) amount,
			ifnull(sum(round(base_opportunity_amount * probability / 100, 9)), 0) weighted
		from `tabOpportunity` where {" and ".join(conditions)} group by 1""",
		{
			"company": company,
			"territory": territory,
			"pipeline": pipeline,
			"default_pipeline": default_pipeline(),
			**(values or {}),
		},
		as_dict=True,
	)
	figures = {
		row.pipeline: {"count": row.n, "amount": flt(row.amount, 2), "weighted": flt(row.weighted, 2)}
		for row in rows
	}
	if group_by_pipeline:
		return figures
	return figures.get(None, {"count": 0, "amount": 0.0, "weighted": 0.0})


def open_by_stage_in_cents(company: str, territory: str | None, pipeline: str | None = None) -> dict:
	"""The open pipeline (open status, stage not of a won or lost kind in the deal's pipeline) rounded to
	cents per stage."""
	from opportunity_plus.pipeline import default_pipeline

	rows = frappe.db.sql(
		f"""select sum(o.base_opportunity_amount) amount, sum(round(o.base_opportunity_amount * o.probability / 100, 9)) weighted
		from `tabOpportunity` o left join `tabSales Stage` s on s.name = o.sales_stage
		left join `tabSales Pipeline Stage` r on r.parenttype = 'Sales Pipeline'
			and r.parent = ifnull(nullif(o.op_pipeline, ''), %(default_pipeline)s) and r.sales_stage = o.sales_stage
		where o.company = %(company)s and o.status in ('Open', 'Replied', 'Quotation')
			and coalesce(r.stage_kind, s.op_stage_kind, 'Open') not in ('Won', 'Lost')
			{"and o.territory = %(territory)s" if territory else ""}
			{"and ifnull(nullif(o.op_pipeline, ''), %(default_pipeline)s) = %(pipeline)s" if pipeline else ""}
		group by o.sales_stage""",
		{
			"company": company,
			"territory": territory,
			"pipeline": pipeline,
			"default_pipeline": default_pipeline(),
		},
		as_dict=True,
	)
	cents = Decimal("0.01")
	return {
		field: sum((Decimal(str(row[field] or 0)).quantize(cents, ROUND_HALF_UP) for row in rows), Decimal(0))
		for field in ("amount", "weighted")
	}


def verdict(got, expected) -> str:
	return "exact" if got == expected else f"DIFFERS: {got} != {expected}"


def ensure_viewer(territory: str) -> None:
	if not frappe.db.exists("User", VIEWER):
		frappe.get_doc(
			{
				"doctype": "User",
				"email": VIEWER,
				"first_name": "OPBench Viewer",
				"send_welcome_email": 0,
				"roles": [{"role": "Sales User"}],
			}
		).insert(ignore_permissions=True)
	frappe.db.delete("User Permission", {"user": VIEWER})
	frappe.get_doc(
		{
			"doctype": "User Permission",
			"user": VIEWER,
			"allow": "Territory",
			"for_value": territory,
			"apply_to_all_doctypes": 1,
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()


def make_changes(company: str, count: int) -> None:
	"""Change `count` random open generated opportunities through the document API, then backdate the
	history rows those changes wrote by up to a week."""
	rng = random.Random(2026)
	from opportunity_plus.pipeline import ordered_stages, pipeline_of

	names = frappe.get_all(
		"Opportunity",
		filters={"company": company, "status": "Open", "name": ("like", "OPBENCH-%")},
		pluck="name",
		limit=count * 3,
	)
	start = now_datetime()
	changed = 0
	began = time.perf_counter()
	for name in rng.sample(names, min(count, len(names))):
		doc = frappe.get_doc("Opportunity", name)
		choice = rng.randrange(3)
		if choice == 0:
			doc.opportunity_amount = flt(doc.opportunity_amount) * rng.choice([0.5, 0.8, 1.25, 2])
		elif choice == 1:
			# an open stage of the deal's pipeline
			doc.sales_stage = rng.choice(
				[stage.name for stage in ordered_stages(pipeline_of(doc).name) if stage.kind == "Open"]
			)
		else:
			doc.expected_closing = add_days(getdate(nowdate()), rng.randint(-30, 200))
		frappe.db.savepoint("op_bench_change")
		try:
			doc.save(ignore_permissions=True)
			changed += 1
		except frappe.ValidationError:
			# only this change is undone: the batch's earlier saves stay
			frappe.db.rollback(save_point="op_bench_change")
			frappe.local.message_log = []
			continue
		if changed % 200 == 0:
			frappe.db.commit()
	frappe.db.commit()
	seconds = time.perf_counter() - began
	# spread the changes over the last week, as a week of real work would
	frappe.db.sql(
		"""update `tabOpportunity History` set changed_on = changed_on - interval floor(rand(7) * 7 * 24 * 60) minute
		where changed_on >= %s""",
		start,
	)
	frappe.db.commit()
	print(
		f"changed {changed} opportunities through the document API in {seconds:.1f} s ({seconds / max(changed, 1) * 1000:.1f} ms per save)"
	)


def cases(company: str, pipeline: str | None = None) -> dict:
	"""The views, of every pipeline or filtered by `pipeline`."""
	from frappe.desk.query_report import run as run_report

	from opportunity_plus.api import cards, categories, charts, funnel, movement, targets
	from opportunity_plus.api.forecast import build_forecast

	on_card = {"company": company, **({"pipeline": pipeline} if pipeline else {})}
	in_report = {"pipeline": pipeline} if pipeline else {}

	today = getdate(nowdate())
	year = (today.replace(month=1, day=1), today.replace(month=12, day=31))
	quarter_start = get_first_day(today).replace(month=(today.month - 1) // 3 * 3 + 1)
	quarter = (quarter_start, get_last_day(add_months(quarter_start, 2)))
	quarter_key = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
	win_loss_from = get_first_day(add_months(today, -11))
	views = {
		"forecast, 1 year": lambda: build_forecast(company, "stage", *year, "month", None, pipeline)["total"],
		"forecast, 1 quarter": lambda: build_forecast(company, "stage", *quarter, "month", None, pipeline)[
			"total"
		],
		"Pipeline Forecast (default filters)": lambda: run_report(
			"Pipeline Forecast",
			filters={
				"company": company,
				"from_date": str(year[0]),
				"to_date": str(year[1]),
				"group_by": "stage",
				"period": "month",
				**in_report,
			},
			ignore_prepared_report=1,
		)["result"][-1],
		"Win Loss Analysis (default filters)": lambda: run_report(
			"Win Loss Analysis",
			filters={
				"company": company,
				"from_date": str(win_loss_from),
				"to_date": str(today),
				"view": "lost_reasons",
				"dimension": "source",
				**in_report,
			},
			ignore_prepared_report=1,
		)["report_summary"],
		"card: Open Pipeline": lambda: cards.open_pipeline(frappe.as_json(on_card))["value"],
		"card: Weighted Pipeline": lambda: cards.weighted_pipeline(frappe.as_json(on_card))["value"],
		"card: Won This Quarter": lambda: cards.won_this_quarter(frappe.as_json(on_card))["value"],
		"card: Win Rate": lambda: cards.win_rate(frappe.as_json(on_card))["value"],
		"chart: Open Pipeline by Stage": lambda: charts.open_pipeline_by_stage(frappe.as_json(on_card)),
		"chart: Weighted Pipeline by Close Month": lambda: charts.weighted_pipeline_by_close_month(
			frappe.as_json(on_card)
		),
		"targets and attainment (quarter)": lambda: targets.get_attainment(
			period=quarter_key, company=company, pipeline=pipeline
		)["total"],
		"forecast by category (quarter)": lambda: categories.get_category_forecast(
			period=quarter_key, company=company, pipeline=pipeline
		)["total"],
		"pipeline movement (last 7 days, quarter)": lambda: movement.get_movement(
			company=company, period=quarter_key, pipeline=pipeline
		),
		"forecast as of 7 days ago (quarter)": lambda: movement.get_forecast_as_of(
			company=company, period=quarter_key, as_of=str(add_days(today, -7)), pipeline=pipeline
		),
		"stage conversion (deals created in the last 3 months)": lambda: funnel.get_stage_conversion(
			company=company, pipeline=pipeline
		),
	}
	if not pipeline:
		views["forecast, 1 year, by pipeline"] = lambda: build_forecast(
			company, "pipeline", *year, "month", None
		)["rows"]
		views["Pipeline Forecast by pipeline"] = lambda: run_report(
			"Pipeline Forecast",
			filters={
				"company": company,
				"from_date": str(year[0]),
				"to_date": str(year[1]),
				"group_by": "pipeline",
				"period": "month",
			},
			ignore_prepared_report=1,
		)["result"]
	return {
		**views,
		"_pipeline": pipeline,
		"_quarter": quarter,
		"_year": year,
		"_win_loss_from": win_loss_from,
	}


def checks(company: str, name: str, result, context: dict, territory: str | None):
	"""The row-level truth of the figures a case returned, where one applies."""
	year, quarter, pipeline = context["_year"], context["_quarter"], context["_pipeline"]
	open_statuses = "status in ('Open', 'Replied', 'Quotation')"
	if name in ("forecast, 1 year, by pipeline", "Pipeline Forecast by pipeline"):
		per_pipeline = truth(
			company,
			"expected_closing between %(a)s and %(b)s",
			{"a": year[0], "b": year[1]},
			territory,
			group_by_pipeline=True,
		)
		rows = [row for row in result if isinstance(row, dict) and not row.get("bold")]
		return verdict(
			{row["key"]: row["count"] for row in rows},
			{key: figures["count"] for key, figures in per_pipeline.items()},
		)
	if name.startswith("forecast, 1"):
		window = year if "year" in name else quarter
		every = truth(
			company,
			"expected_closing between %(a)s and %(b)s",
			{"a": window[0], "b": window[1]},
			territory,
			pipeline,
		)
		return verdict(result["count"], every["count"])
	if name in ("card: Open Pipeline", "card: Weighted Pipeline"):
		# as the forecast's total row: each stage rounded to cents, then added
		field = "amount" if name == "card: Open Pipeline" else "weighted"
		# compared as decimals: at the generated data's size a float no longer holds the cents
		cents = Decimal("0.01")
		return verdict(
			Decimal(str(result)).quantize(cents),
			open_by_stage_in_cents(company, territory, pipeline)[field].quantize(cents),
		)
	if name == "Win Loss Analysis (default filters)":
		closed = truth(
			company,
			"status in ('Converted', 'Lost', 'Closed') and op_closed_on between %(a)s and %(b)s",
			{"a": context["_win_loss_from"], "b": getdate(nowdate())},
			territory,
			pipeline,
		)
		won_and_lost = sum(row["value"] for row in result if row["datatype"] == "Int")
		return verdict(won_and_lost, closed["count"])
	if name == "pipeline movement (last 7 days, quarter)":
		direct = truth(
			company,
			f"{open_statuses} and expected_closing between %(a)s and %(b)s",
			{"a": quarter[0], "b": quarter[1]},
			territory,
			pipeline,
		)
		return verdict(result["closing"], direct["amount"]) + (
			", balanced" if result["balanced"] else ", NOT BALANCED"
		)
	if name.startswith("stage conversion"):
		from opportunity_plus.pipeline import default_pipeline

		direct = truth(
			company,
			"creation between %(a)s and %(b)s",
			{"a": result["from_date"], "b": f"{result['to_date']} 23:59:59.999999"},
			territory,
			pipeline or default_pipeline(),
		)
		entered = sum(row["entered"] for row in result["stages"])
		return verdict(result["deals"], direct["count"]) + f", {entered} stage entries"
	if name == "forecast as of 7 days ago (quarter)":
		return f"{result['total']['count']} deals then"
	return ""


def run_as(
	user: str, company: str, runs: int, territory: str | None, pipeline: str | None = None
) -> list[tuple]:
	frappe.set_user(user)
	context = cases(company, pipeline)
	rows = []
	for name, call in context.items():
		if name.startswith("_"):
			continue
		try:
			ms, result = p50(call, runs)
			rows.append((name, ms, checks(company, name, result, context, territory)))
		except Exception as error:  # a failing case is reported, the others still run
			frappe.db.rollback()
			rows.append((name, float("nan"), f"FAILED: {error!r}"[:200]))
	frappe.set_user("Administrator")
	return rows


def main(argv=None) -> None:
	args = parse_args(argv)
	site_options.connect(args)
	from opportunity_plus import summary
	from opportunity_plus.api import movement
	from opportunity_plus.pipeline import default_pipeline

	company = args.company
	deals = frappe.db.count("Opportunity", {"company": company})
	territory = (
		args.territory
		or frappe.db.sql(
			"select territory from `tabOpportunity` where company = %s group by territory order by count(*) desc limit 1",
			company,
		)[0][0]
	)
	ensure_viewer(territory)
	pipelines = args.pipelines
	if pipelines is None:
		pipelines = [
			name
			for name in ("OPBENCH-Projects", default_pipeline())
			if frappe.db.exists("Sales Pipeline", name)
		]
	for pipeline in pipelines:
		if not frappe.db.exists("Sales Pipeline", pipeline):
			sys.exit(f"No Sales Pipeline {pipeline}.")
	previous_since = frappe.db.get_default(movement.HISTORY_SINCE_DEFAULT)
	frappe.db.set_default(movement.HISTORY_SINCE_DEFAULT, str(add_months(now_datetime(), -12)))
	frappe.db.commit()
	try:
		if args.changes:
			make_changes(company, args.changes)
		visible = frappe.db.count("Opportunity", {"company": company, "territory": territory})
		print(
			f"site {args.site}, company {company}: {deals} opportunities; summary {summary.counts()['summary_rows']} rows; "
			f"load {os.getloadavg()[0]:.2f}; innodb_buffer_pool_size "
			f"{int(frappe.db.sql('select @@innodb_buffer_pool_size')[0][0]) // 2**20} MiB"
		)
		in_pipelines = frappe.db.sql(
			f"""select {PIPELINE_OF} pipeline, count(*) from `tabOpportunity` where company = %(company)s
			group by 1 order by 1""",
			{"company": company, "default_pipeline": default_pipeline()},
		)
		print("deals per pipeline: " + ", ".join(f"{name} {count}" for name, count in in_pipelines))
		for pipeline in (None, *pipelines):
			for label, user, limit in (
				("unrestricted Sales Manager (Administrator)", "Administrator", None),
				(f"Sales User limited to {territory} ({visible} deals)", VIEWER, territory),
			):
				scope = f"pipeline {pipeline}" if pipeline else "every pipeline"
				print(f"\n{label}, {scope}: p50 of {args.runs} runs; load {os.getloadavg()[0]:.2f}")
				for name, ms, check in run_as(user, company, args.runs, limit, pipeline):
					print(f"  {name:<45} {ms:9.1f} ms  {check}")
	finally:
		frappe.db.set_default(movement.HISTORY_SINCE_DEFAULT, previous_since or "")
		frappe.db.commit()
		frappe.destroy()


if __name__ == "__main__":
	main()
