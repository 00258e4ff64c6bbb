"""Time the app's auto-close against ERPNext's stock auto_close_opportunity on the same stale opportunities.

	cd ~/frappe-bench/sites && ../env/bin/python ../apps/opportunity_plus/benchmarks/bench_autoclose.py
	... bench_autoclose.py --count 20000 --stale 2000 --keep     # then: --reuse to time the same data again
	... bench_autoclose.py --site mysite.localhost --company "My Company" --skip-erpnext

Generates the data (generate_opportunities.py, in `--company`; unless --reuse), then makes exactly `--stale`
of the generated open opportunities stale: status "Replied" (the only status ERPNext's job closes), created
and last modified more than `--days` days ago, with no activity since. Another `--active` of them look just
as stale (status Open, created, last modified and every history row as old) but a person did something
recently: half carry a note added in the last days (ERPNext's Notes, CRM Note rows, the deal's own
timestamp left old, so only the notes show it), half were edited recently (`modified` by their owner). They
must stay open. Every other generated opportunity is made recent (created and modified within the last
`--days` - 5 days), so neither job may touch it.

1. The app's `autoclose.run()`, with Opportunity Plus Settings set for the run to close Open and Replied
   opportunities after `--days` days, no warning and no per-type rule (restored afterwards).
2. The same opportunities reset to their stale state (status, timestamps; everything the first run wrote
   about them deleted), then ERPNext's `auto_close_opportunity()` plus the commit its scheduler would do,
   with CRM Settings' close_opportunity_after_days set to `--days` (restored afterwards).

Each job runs once, in-process, as Administrator (`--skip-erpnext` skips the second: it takes about ten
minutes for 10000). Prints both totals, ms per closed opportunity, the ratio, each closed opportunity's
audit trail (lost reason, Comment, Version, Opportunity History row) counted, how many of the recently
active ones stayed open, and whether the goals are met; it never asserts. Removes the generated data, and
every row that references a generated opportunity, at the end unless --keep.
"""

import argparse
import os
import platform
import random
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import frappe
from erpnext.crm.doctype.opportunity.opportunity import auto_close_opportunity
from frappe.utils import now_datetime

from opportunity_plus import autoclose
from opportunity_plus.pipeline import SETTINGS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_opportunities as generator
import site_options

# The issues' goals: the app's job at least this many times faster than ERPNext's per closed opportunity,
# and at most this many ms per closed opportunity at 1M.
GOAL_SPEEDUP = 10
GOAL_MS_PER_CLOSED = 2.5
LIKE = f"{generator.PREFIX}%"
CHUNK = 2000
# Recent opportunities lie at least this many days inside the threshold, so that neither job's way of
# counting days (calendar days in the site's time zone; MariaDB's NOW() in the server's) reaches them.
RECENT_MARGIN_DAYS = 5
# Stale ones spread over this many days beyond the threshold.
STALE_SPREAD_DAYS = 60
# The recently active ones' note or edit lies within this many days.
ACTIVE_WITHIN_DAYS = 3
AUTO_CLOSE_FIELDS = (
	"auto_close_enabled",
	"auto_close_after_days",
	"auto_close_warning_days",
	"auto_close_open",
	"auto_close_replied",
	"auto_close_quotation",
)
# What either job leaves behind about an opportunity, as (doctype, condition on the opportunity's name).
REFERENCES = {
	"Comment": "reference_doctype = 'Opportunity' and reference_name like %s",
	"Version": "ref_doctype = 'Opportunity' and docname like %s",
	"Opportunity History": "opportunity like %s",
	"Opportunity Lost Reason Detail": "parenttype = 'Opportunity' and parent like %s",
	"CRM Note": "parenttype = 'Opportunity' and parent like %s",
	"Notification Log": "document_type = 'Opportunity' and document_name like %s",
	"Error Log": "reference_doctype = 'Opportunity' and reference_name like %s",
}


# ---------------------------------------------------------------------------------------------------------
# Data


def pick(count: int, seed: int) -> list[str]:
	"""`count` generated opportunities that are still open (so in open stages), drawn reproducibly."""
	open_ones = frappe.db.sql_list(
		"select name from `tabOpportunity` where name like %s and status in %s order by name",
		(LIKE, generator.OPEN_STATUSES),
	)
	if len(open_ones) < count:
		sys.exit(
			f"only {len(open_ones)} generated opportunities are open; ask for --stale plus --active of "
			f"{len(open_ones)} or less"
		)
	return random.Random(seed).sample(open_ones, count)


def purge_references() -> dict:
	"""Delete every row either job wrote about a generated opportunity, by primary key in batches."""
	removed = {}
	for doctype, condition in REFERENCES.items():
		removed[doctype] = 0
		select = f"select name from `tab{doctype}` where {condition} limit 5000"
		while names := frappe.db.sql_list(select, LIKE):
			generator.committed(f"delete from `tab{doctype}` where name in %s", [tuple(names)])
			removed[doctype] += len(names)
	return removed


def prepare(stale: list[str], active: list[str], days: int, now: datetime) -> None:
	"""Put the data in its starting state: `stale` and `active` look idle for more than `days` days, the
	rest is recent; `active` then get their recent note (half) or edit (the other half).

	Timestamps are spread by a hash of the name, so the same name always gets the same moment.
	"""
	purge_references()
	recent_seconds = max(days - RECENT_MARGIN_DAYS, 1) * 86400
	names = frappe.db.sql_list("select name from `tabOpportunity` where name like %s order by name", LIKE)
	for start in range(0, len(names), CHUNK):
		# MariaDB assigns left to right, so `modified = creation` takes the new creation.
		generator.committed(
			"""update `tabOpportunity` set creation = %s - interval (crc32(name) %% %s) second,
			modified = creation where name in %s""",
			(now, recent_seconds, tuple(names[start : start + CHUNK])),
		)
	oldest = now - timedelta(days=days + 1)
	# Replied: the only status ERPNext's job closes. The active ones are Open, so ERPNext's job (which
	# would not see a note) never reaches them and both jobs have the same stale ones to close.
	for group, status in ((stale, "Replied"), (active, "Open")):
		for start in range(0, len(group), CHUNK):
			generator.committed(
				"""update `tabOpportunity` set status = %s, op_autoclose_warned_on = null,
				creation = %s - interval (crc32(name) %% %s) second, modified = creation, modified_by = owner
				where name in %s""",
				(status, oldest, STALE_SPREAD_DAYS * 86400, tuple(group[start : start + CHUNK])),
			)
	notes, edits = split_active(active)
	within = ACTIVE_WITHIN_DAYS * 86400
	sequence = frappe.scrub("CRM Note") + "_id_seq"  # CRM Note is named by autoincrement
	for start in range(0, len(notes), CHUNK):
		# A note added recently by the deal's owner, the deal's own timestamp left old (as when a note is
		# edited in place or imported): only reading the notes shows it.
		generator.committed(
			f"""insert into `tabCRM Note` (name, creation, modified, modified_by, owner, docstatus, idx, note,
			added_by, added_on, parent, parentfield, parenttype)
			select nextval(`{sequence}`), moment, moment, owner, owner, 0, 1, 'Called: still interested',
			owner, moment, name, 'notes', 'Opportunity'
			from (select name, owner, %s - interval (crc32(name) %% %s) second as moment
				from `tabOpportunity` where name in %s) recent""",
			(now, within, tuple(notes[start : start + CHUNK])),
		)
	for start in range(0, len(edits), CHUNK):
		# Edited recently by its owner (a field, an item line: either ends in `modified`).
		generator.committed(
			"""update `tabOpportunity` set modified = %s - interval (crc32(name) %% %s) second,
			modified_by = owner where name in %s""",
			(now, within, tuple(edits[start : start + CHUNK])),
		)
	# No history survives purge_references; if some did, its activity would follow the new timestamps.
	generator.committed(
		"""update `tabOpportunity History` history join `tabOpportunity` opportunity
		on opportunity.name = history.opportunity set history.changed_on = opportunity.creation
		where history.opportunity like %s""",
		LIKE,
	)


def split_active(active: list[str]) -> tuple[list[str], list[str]]:
	"""The recently active ones: those with a recent note, those with a recent edit."""
	return active[::2], active[1::2]


def eligible(days: int, now: datetime) -> dict:
	"""How many opportunities look stale to each job, generated and not: the latter must be none."""
	cutoff = now - timedelta(days=days)
	# The app reads every open one created before the threshold, then looks for activity.
	ours = frappe.db.sql(
		"""select name like %s, count(*) from `tabOpportunity`
		where status in ('Open', 'Replied') and creation < %s group by 1""",
		(LIKE, cutoff),
	)
	# ERPNext's own condition, on MariaDB's clock.
	stock = frappe.db.sql(
		"""select name like %s, count(*) from `tabOpportunity`
		where status = 'Replied' and modified < now() - interval %s day group by 1""",
		(LIKE, days),
	)
	ours, stock = dict(ours), dict(stock)
	return {
		"ours": ours.get(1, 0),
		"stock": stock.get(1, 0),
		"other_stock": stock.get(0, 0),
		# Outside the generated set, one created before the threshold is read, and must stay open.
		"other_candidates": ours.get(0, 0),
	}


def remove_generated() -> dict:
	"""generator.remove(), retried: deleting its territories rebuilds the nested set, which can deadlock with
	tests creating territories on the same site meanwhile. Each of its steps can simply run again."""
	for attempt in range(1, generator.DEADLOCK_RETRIES + 1):
		try:
			result = generator.remove()
			result["attempts"] = attempt
			return result
		except frappe.QueryDeadlockError:
			frappe.db.rollback()
			if attempt == generator.DEADLOCK_RETRIES:
				raise
			print(f"removal deadlocked with another transaction; retrying ({attempt})")
			time.sleep(attempt)


# ---------------------------------------------------------------------------------------------------------
# Settings for the runs


@contextmanager
def app_auto_close(days: int):
	"""Opportunity Plus auto-close on for Open and Replied after `days` days, no warning; restored after."""
	doc = frappe.get_single(SETTINGS)
	saved = {field: doc.get(field) for field in AUTO_CLOSE_FIELDS}
	saved_rules = [
		{"opportunity_type": row.opportunity_type, "days": row.days} for row in doc.auto_close_rules
	]
	doc.update(
		{
			"auto_close_enabled": 1,
			"auto_close_after_days": days,
			"auto_close_warning_days": 0,
			"auto_close_open": 1,
			"auto_close_replied": 1,
			"auto_close_quotation": 0,
		}
	)
	doc.set("auto_close_rules", [])
	doc.save(ignore_permissions=True)
	frappe.db.commit()
	try:
		yield
	finally:
		frappe.db.rollback()
		doc = frappe.get_single(SETTINGS)
		doc.update(saved)
		doc.set("auto_close_rules", saved_rules)
		doc.save(ignore_permissions=True)
		frappe.db.commit()


@contextmanager
def stock_auto_close(days: int):
	"""CRM Settings' close_opportunity_after_days = `days`; the stored value (or its absence) restored after."""
	field = "close_opportunity_after_days"
	stored = frappe.db.sql(
		"select value from `tabSingles` where doctype = 'CRM Settings' and field = %s", field
	)
	frappe.db.set_single_value("CRM Settings", field, days)
	frappe.db.commit()
	try:
		yield
	finally:
		frappe.db.rollback()
		if stored:
			frappe.db.set_single_value("CRM Settings", field, stored[0][0])
		else:
			frappe.db.delete("Singles", {"doctype": "CRM Settings", "field": field})
			frappe.clear_document_cache("CRM Settings", "CRM Settings")
		frappe.db.commit()


# ---------------------------------------------------------------------------------------------------------
# Runs


def run_ours(days: int) -> dict:
	with app_auto_close(days):
		started_at = now_datetime()
		started = time.perf_counter()
		counts = autoclose.run()
		seconds = time.perf_counter() - started
	return {"seconds": seconds, "counts": counts, "started_at": started_at}


def run_stock(days: int) -> dict:
	with stock_auto_close(days):
		started_at = now_datetime()
		started = time.perf_counter()
		error = None
		try:
			auto_close_opportunity()
			# The scheduler commits after a job; the app's job commits per batch inside its time.
			frappe.db.commit()
		except Exception as exception:
			# Stock job: one failing save stops it, and the scheduler rolls the whole run back.
			frappe.db.rollback()
			error = repr(exception)
		seconds = time.perf_counter() - started
	return {"seconds": seconds, "counts": None, "started_at": started_at, "error": error}


def audit(stale: list[str], active: list[str], started_at: datetime) -> dict:
	"""Which opportunities the run closed, which of them carry each piece of the audit trail, and how many
	of the recently active ones it left open."""
	stale_set = set(stale)
	notes, edits = split_active(active)

	def still_open(names):
		return sum(
			frappe.db.sql(
				"select count(*) from `tabOpportunity` where name in %s and status = 'Open'",
				[tuple(names[start : start + CHUNK])],
			)[0][0]
			for start in range(0, len(names), CHUNK)
		)

	closed = set(
		frappe.db.sql_list(
			"select name from `tabOpportunity` where name like %s and status = 'Closed' and modified >= %s",
			(LIKE, started_at),
		)
	)
	# Everything the run closed outside the stale set, generated or not.
	others = frappe.db.sql_list(
		"select name from `tabOpportunity` where status = 'Closed' and modified >= %s and name not in %s",
		(started_at, tuple(stale) or ("",)),
	)

	def trail(query):
		rows = frappe.db.sql_list(query, LIKE)
		return {"rows": len(rows), "opportunities": closed & set(rows)}

	trails = {
		"lost reason": trail(
			f"""select parent from `tabOpportunity Lost Reason Detail` where parenttype = 'Opportunity'
			and parent like %s and lost_reason = {frappe.db.escape(autoclose.NO_RESPONSE)}"""
		),
		"Comment": trail(
			"""select reference_name from `tabComment` where reference_doctype = 'Opportunity'
			and reference_name like %s and comment_type = 'Info' and content like 'Closed automatically%%'"""
		),
		"Version": trail(
			"""select docname from `tabVersion` where ref_doctype = 'Opportunity' and docname like %s
			and data like '%%"Closed"%%'"""
		),
		"history row": trail(
			"""select opportunity from `tabOpportunity History` where opportunity like %s
			and changed_field = 'status' and to_value = 'Closed'"""
		),
	}
	complete = set(closed)
	for kind in trails.values():
		complete &= kind["opportunities"]
	return {
		"closed": len(closed),
		"closed_stale": len(closed & stale_set),
		"closed_others": len(others),
		"active": {"notes": (still_open(notes), len(notes)), "edits": (still_open(edits), len(edits))},
		"trails": trails,
		"complete": len(complete),
	}


# ---------------------------------------------------------------------------------------------------------
# Output


def print_run(label: str, result: dict, checked: dict) -> float | None:
	closed = checked["closed"]
	per_closed = result["seconds"] * 1000 / closed if closed else None
	per_text = f"{per_closed:.2f} ms per closed opportunity" if per_closed else "nothing closed"
	print(f"{label}: {result['seconds']:.2f} s total, {closed} closed, {per_text}")
	if result.get("counts") is not None:
		print(f"  run() returned {result['counts']}")
	if result.get("error"):
		print(f"  FAILED (rolled back): {result['error']}")
	print(
		f"  closed: {checked['closed_stale']} of the stale ones; {checked['closed_others']} others "
		"(must be 0)"
	)
	(notes_open, notes), (edits_open, edits) = checked["active"]["notes"], checked["active"]["edits"]
	print(
		f"  recently active, left open: {notes_open + edits_open} of {notes + edits} "
		f"(recent note {notes_open} of {notes}, recent edit {edits_open} of {edits})"
	)
	parts = []
	for kind, counts in checked["trails"].items():
		extra = f" ({counts['rows']} rows)" if counts["rows"] != len(counts["opportunities"]) else ""
		parts.append(f"{kind} {len(counts['opportunities'])}{extra}")
	print(f"  audit trail of the {closed} closed: {', '.join(parts)}")
	print(f"  all four (lost reason, Comment, Version, history row): {checked['complete']} of {closed}")
	return per_closed


def print_summary(ours: float | None, stock: float | None, count: int) -> None:
	print()
	if ours:
		met = "met" if ours <= GOAL_MS_PER_CLOSED else "NOT met"
		print(
			f"goal: <= {GOAL_MS_PER_CLOSED} ms per closed opportunity (at 1M; N here {count}): {met} "
			f"({ours:.2f} ms)"
		)
	if stock is None:
		print("ERPNext's job not run (--skip-erpnext): no ratio")
		return
	if not ours or not stock:
		print(f"goal: >= {GOAL_SPEEDUP}x faster per closed opportunity: not measured (a job closed nothing)")
		return
	ratio = stock / ours
	met = "met" if ratio >= GOAL_SPEEDUP else "NOT met"
	print(f"ratio, ERPNext ms per closed / opportunity_plus ms per closed: {ratio:.1f}x")
	print(f"goal: >= {GOAL_SPEEDUP}x faster per closed opportunity: {met} ({ratio:.1f}x)")


# ---------------------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	parser.add_argument(
		"--count", type=int, default=100_000, help="opportunities to generate (default 100000)"
	)
	parser.add_argument("--stale", type=int, default=10_000, help="of them stale (default 10000)")
	parser.add_argument(
		"--active",
		type=int,
		default=2_000,
		help="of them looking as stale but with a recent note (half) or edit (half) (default 2000)",
	)
	parser.add_argument(
		"--skip-erpnext", action="store_true", help="time only the app's job, not ERPNext's (~10 min)"
	)
	parser.add_argument("--days", type=int, default=30, help="days of inactivity before closing (default 30)")
	parser.add_argument("--reuse", action="store_true", help="use the data already generated; generate none")
	parser.add_argument("--keep", action="store_true", help="keep the generated data at the end")
	site_options.add_arguments(parser)
	parser.add_argument("--seed", type=int, default=42)
	return parser.parse_args(argv)


def main(argv=None) -> None:
	args = parse_args(argv)
	site_options.connect(args)
	already = generator.existing_count()
	if args.reuse and not already:
		sys.exit("No generated opportunities to reuse: run without --reuse.")
	if not args.reuse and already:
		sys.exit(f"{already} generated opportunities already exist: pass --reuse, or remove them first.")
	reason_existed = bool(frappe.db.exists("Opportunity Lost Reason", autoclose.NO_RESPONSE))
	try:
		if not args.reuse:
			result = generator.generate(args.count, args.company, seed=args.seed)
			print(f"generated {result['inserted']} opportunities in {result['seconds']:.2f} s")
		chosen = pick(args.stale + args.active, args.seed)
		stale, active = sorted(chosen[: args.stale]), sorted(chosen[args.stale :])
		now = now_datetime().replace(microsecond=0)
		started = time.perf_counter()
		prepare(stale, active, args.days, now)
		check = eligible(args.days, now)
		notes, edits = split_active(active)
		print(
			f"prepared in {time.perf_counter() - started:.2f} s: {args.stale} stale (Replied, idle > "
			f"{args.days} days), {len(active)} as old but recently active (Open; a note in the last "
			f"{ACTIVE_WITHIN_DAYS} days {len(notes)}, an edit {len(edits)}), the rest recent; looking stale: "
			f"to opportunity_plus {check['ours']}, to ERPNext {check['stock']}"
		)
		if check["other_candidates"] or check["other_stock"]:
			# Both jobs act on the whole site: never let the benchmark close anybody's real deals.
			sys.exit(
				f"The site has opportunities of its own that a job could close ({check['other_candidates']} "
				f"old enough for opportunity_plus to read, {check['other_stock']} for ERPNext): not running."
			)
		print()
		print(
			f"Auto-close benchmark: site {args.site}, company {args.company}, MariaDB {frappe.db.sql('select version()')[0][0]} "
			f"(InnoDB buffer pool {int(frappe.db.sql('select @@innodb_buffer_pool_size')[0][0]) // 2**20} MiB), "
			f"Python {platform.python_version()}"
		)
		print(
			f"N = {frappe.db.count('Opportunity')} opportunities ({generator.existing_count()} generated), "
			f"{args.stale} stale, {len(active)} recently active, threshold {args.days} days; load average {os.getloadavg()[0]:.2f} on "
			f"{os.cpu_count()} CPUs before timing"
		)
		print()

		result = run_ours(args.days)
		ours = print_run(
			"opportunity_plus autoclose.run()", result, audit(stale, active, result["started_at"])
		)
		stock = None
		if not args.skip_erpnext:
			# The same opportunities back to their state, without what the first run wrote about them.
			prepare(stale, active, args.days, now)
			check = eligible(args.days, now)
			print(f"reset: eligible again for ERPNext {check['stock']} (same {args.stale} opportunities)")
			result = run_stock(args.days)
			stock = print_run(
				"ERPNext auto_close_opportunity()", result, audit(stale, active, result["started_at"])
			)
		print(f"load average {os.getloadavg()[0]:.2f} after timing")
		print_summary(ours, stock, frappe.db.count("Opportunity"))
	finally:
		frappe.db.rollback()
		if not args.keep:
			purged = purge_references()
			result = remove_generated()
			removed = ", ".join(f"{doctype} {count}" for doctype, count in result["removed"].items())
			purged = ", ".join(f"{doctype} {count}" for doctype, count in purged.items())
			if not reason_existed and not frappe.db.exists(
				"Opportunity Lost Reason Detail", {"lost_reason": autoclose.NO_RESPONSE}
			):
				frappe.delete_doc(
					"Opportunity Lost Reason", autoclose.NO_RESPONSE, ignore_missing=True, force=True
				)
				frappe.db.commit()
			left = {
				doctype: frappe.db.sql(f"select count(*) from `tab{doctype}` where {condition}", LIKE)[0][0]
				for doctype, condition in {"Opportunity": "name like %s", **REFERENCES}.items()
			}
			# A retried removal counts only what was left for its last attempt.
			attempts = f" (last of {result['attempts']} attempts)" if result["attempts"] > 1 else ""
			print(f"\nremoved{attempts}: {removed}; rows referencing them: {purged}")
			print(
				"left referencing generated opportunities: " + ", ".join(f"{d} {n}" for d, n in left.items())
			)
		frappe.destroy()


if __name__ == "__main__":
	main()
