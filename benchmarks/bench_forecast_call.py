"""The forecast call at scale: the weekly snapshot job and what a rep and a manager wait for.

Builds (or reuses) a Sales Person tree of `--persons` people (default 200) under the site's root: one
director, managers of about ten reps each, and reps; each is a user with an Employee. The opportunity
owners of the generated data (generate_opportunities.py) become the first reps, so their deals are the
team's; the other reps own none. Then times:
- the weekly job (forecast_call.take_snapshots: every sales person, this month, quarter and fiscal year
  of the company), twice: the second run must leave the same number of rows (one per person, period and
  week) and, as nothing changed, the same figures;
- as a rep with deals, a manager and the director: get_forecast_call (p50 of `--runs`), submit_call, and
  get_accuracy; checks that the director's computed Commit equals the sum, straight from the
  opportunities, of the Commit deals of the team's owners.

Run from the bench's sites folder on a site with generated opportunities:

    ../env/bin/python ../apps/opportunity_plus/benchmarks/bench_forecast_call.py [--site SITE]
        [--company C] [--persons 200] [--runs 10] [--remove]

`--remove` deletes the tree, its users and employees, and every forecast call and snapshot of them.
"""

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal

import frappe
from frappe.utils import getdate, nowdate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_options

PREFIX = "OPBENCH Call"
USER_DOMAIN = "@example.invalid"
USER_PREFIX = "opbench.call."
GENERATED_OWNERS = "opbench.%@example.invalid"
REPS_PER_MANAGER = 10


def parse_args(argv=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	site_options.add_arguments(parser)
	parser.add_argument("--persons", type=int, default=200, help="sales persons in the tree (default 200)")
	parser.add_argument("--runs", type=int, default=10, help="runs per timed read (p50)")
	parser.add_argument("--remove", action="store_true", help="remove what this script made")
	return parser.parse_args(argv)


def timed(call) -> tuple[float, object]:
	started = time.perf_counter()
	result = call()
	return (time.perf_counter() - started) * 1000, result


def p50(call, runs: int) -> tuple[float, object]:
	times, result = [], None
	for _ in range(runs):
		ms, result = timed(call)
		times.append(ms)
	return statistics.median(times), result


def build_tree(company: str, persons: int) -> dict:
	"""Director → managers → reps; the generated owners are the first reps. Reused when it exists."""
	from frappe.utils.nestedset import get_root_of

	existing = frappe.get_all("Sales Person", filters={"name": ("like", f"{PREFIX}%")}, pluck="name")
	if len(existing) >= persons:
		return tree_roles()
	if existing:
		sys.exit(f"{len(existing)} sales persons of an earlier run exist: run with --remove first.")
	owners = frappe.db.sql_list(
		"select distinct opportunity_owner from `tabOpportunity` where opportunity_owner like %s "
		"and company = %s order by opportunity_owner",
		(GENERATED_OWNERS, company),
	)
	managers = max(1, (persons - 1) // (REPS_PER_MANAGER + 1))
	reps = persons - 1 - managers
	users = [f"{USER_PREFIX}{number:04d}{USER_DOMAIN}" for number in range(1, persons + 1)]
	users = users[: persons - len(owners[:reps])]
	rep_users = owners[:reps] + users[1 + managers :]
	gender = frappe.get_all("Gender", pluck="name", limit=1)[0]
	frappe.flags.in_import = True  # no welcome mails, no contact jobs

	def user(email: str) -> str:
		if not frappe.db.exists("User", email):
			frappe.get_doc(
				{
					"doctype": "User",
					"email": email,
					"first_name": email.split("@")[0],
					"send_welcome_email": 0,
					"roles": [{"role": "Sales User"}],
				}
			).insert(ignore_permissions=True)
		elif not frappe.db.exists("Has Role", {"parent": email, "role": "Sales User"}):
			# the generated owners are bare user rows (generate_opportunities.py): the role row alone
			frappe.get_doc(
				{
					"doctype": "Has Role",
					"parent": email,
					"parenttype": "User",
					"parentfield": "roles",
					"role": "Sales User",
				}
			).db_insert()
		return email

	def person(label: str, parent: str, email: str, is_group: int) -> str:
		employee = frappe.get_doc(
			{
				"doctype": "Employee",
				"first_name": f"{PREFIX} {label}",
				"gender": gender,
				"date_of_birth": "1990-01-01",
				"date_of_joining": "2020-01-01",
				"status": "Active",
				"company": company,
				"user_id": user(email),
			}
		).insert(ignore_permissions=True)
		return (
			frappe.get_doc(
				{
					"doctype": "Sales Person",
					"sales_person_name": f"{PREFIX} {label}",
					"parent_sales_person": parent,
					"is_group": is_group,
					"employee": employee.name,
				}
			)
			.insert(ignore_permissions=True)
			.name
		)

	director = person("Director", get_root_of("Sales Person"), users[0], 1)
	manager_names = [
		person(f"Manager {index:03d}", director, users[index], 1) for index in range(1, managers + 1)
	]
	for index, email in enumerate(rep_users[:reps]):
		person(f"Rep {index + 1:03d}", manager_names[index % managers], email, 0)
	frappe.db.commit()
	return tree_roles()


def tree_roles() -> dict:
	people = frappe.get_all(
		"Sales Person",
		filters={"name": ("like", f"{PREFIX}%")},
		fields=["name", "parent_sales_person", "employee", "is_group"],
	)
	user_of = dict(
		frappe.get_all(
			"Employee",
			filters={"name": ("in", [p.employee for p in people])},
			fields=["name", "user_id"],
			as_list=True,
		)
	)
	director = next(p for p in people if p.name.endswith("Director"))
	managers = [p for p in people if p.parent_sales_person == director.name]
	reps = [p for p in people if p.parent_sales_person != director.name and p.name != director.name]
	rep_with_deals = next(
		(p for p in reps if frappe.db.exists("Opportunity", {"opportunity_owner": user_of[p.employee]})),
		reps[0],
	)
	manager = next(p for p in managers if p.name == rep_with_deals.parent_sales_person)
	return {
		"persons": len(people),
		"director": (director.name, user_of[director.employee]),
		"manager": (manager.name, user_of[manager.employee]),
		"rep": (rep_with_deals.name, user_of[rep_with_deals.employee]),
		"owners": [user_of[p.employee] for p in people],
	}


def remove() -> None:
	people = frappe.get_all(
		"Sales Person", filters={"name": ("like", f"{PREFIX}%")}, fields=["name", "employee", "lft"]
	)
	names = [p.name for p in people]
	if names:
		frappe.db.delete("Forecast Submission", {"sales_person": ("in", names)})
		frappe.db.delete("Forecast Snapshot", {"sales_person": ("in", names)})
	# leaves first, so the nested set stays whole
	for p in sorted(people, key=lambda p: -p.lft):
		frappe.delete_doc("Sales Person", p.name, ignore_permissions=True, force=True)
	for employee in frappe.get_all("Employee", filters={"first_name": ("like", f"{PREFIX}%")}, pluck="name"):
		frappe.delete_doc("Employee", employee, ignore_permissions=True, force=True)
	for email in frappe.get_all("User", filters={"name": ("like", f"{USER_PREFIX}%")}, pluck="name"):
		frappe.delete_doc("User", email, ignore_permissions=True, force=True)
	frappe.db.commit()
	print(f"removed {len(people)} sales persons with their employees, users, calls and snapshots")


def commit_truth(company: str, owners: list[str], period) -> Decimal:
	"""The Commit of the period straight from the opportunities: open deals of the team's owners whose
	category in force is Commit and whose expected closing falls in the period."""
	return Decimal(
		str(
			frappe.db.sql(
				"""select ifnull(sum(base_opportunity_amount), 0) from `tabOpportunity`
				where company = %s and opportunity_owner in %s and status in ('Open', 'Replied', 'Quotation')
				and op_effective_forecast_category = 'Commit' and expected_closing between %s and %s""",
				(company, owners, period.start, period.end),
			)[0][0]
		)
	)


def main(argv=None) -> None:
	args = parse_args(argv)
	site_options.connect(args)
	from opportunity_plus import forecast_call
	from opportunity_plus.api import forecast_call as api

	try:
		if args.remove:
			remove()
			return
		company = args.company
		deals = frappe.db.count("Opportunity", {"company": company})
		started = time.perf_counter()
		roles = build_tree(company, args.persons)
		print(
			f"site {args.site}, company {company}: {deals} opportunities; {roles['persons']} sales persons "
			f"(tree ready in {time.perf_counter() - started:.1f} s)"
		)
		count_rows = lambda: frappe.db.count("Forecast Snapshot")  # noqa: E731
		before = count_rows()
		first_ms, first = timed(lambda: forecast_call.take_snapshots(company))
		after_first = count_rows()
		second_ms, _second = timed(lambda: forecast_call.take_snapshots(company))
		after_second = count_rows()
		print(
			f"weekly snapshot job: {first_ms / 1000:.1f} s (rows written {first['rows']}, new {after_first - before}); "
			f"again: {second_ms / 1000:.1f} s, new rows {after_second - after_first} "
			f"({'idempotent' if after_second == after_first else 'NOT IDEMPOTENT'})"
		)
		period, _years = forecast_call.resolve(company, None)
		print(f"period {period.key}; p50 of {args.runs} runs:")
		for label, (_person, user) in (
			("rep", roles["rep"]),
			("manager", roles["manager"]),
			("director", roles["director"]),
		):
			frappe.set_user(user)
			ms, result = p50(lambda: api.get_forecast_call(company=company), args.runs)
			submit_ms, _ = timed(
				lambda: api.submit_call(
					commit=result["default_call"]["commit"],
					best_case=result["default_call"]["best_case"],
					company=company,
					note="bench_forecast_call",
				)
			)
			accuracy_ms, _ = p50(lambda: api.get_accuracy(company=company), max(1, args.runs // 2))
			frappe.set_user("Administrator")
			check = ""
			if label == "director":
				truth = commit_truth(company, roles["owners"], period)
				got = Decimal(str(result["computed"]["commit"]))
				check = (
					"exact"
					if abs(got - truth.quantize(Decimal("0.01"))) < Decimal("0.011")
					else f"DIFF {got} vs {truth}"
				)
			print(
				f"  {label:<9} get_forecast_call {ms:7.1f} ms ({len(result['reports'])} reports)  "
				f"submit_call {submit_ms:7.1f} ms  get_accuracy {accuracy_ms:7.1f} ms  {check}"
			)
		frappe.db.commit()
	finally:
		frappe.destroy()


if __name__ == "__main__":
	main()
