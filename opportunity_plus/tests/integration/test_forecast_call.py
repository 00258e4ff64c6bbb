"""The forecast call (api.forecast_call, Forecast Submission, Forecast Snapshot) over a three-level Sales
Person tree, computed by hand, as the people who use it: reps submit, a manager adjusts and rolls up, a
director sees the whole team, a Sales Manager everyone; nobody sees above or beside them, nobody edits a
call; snapshots are one per person, period and week however often they are taken."""

from datetime import timedelta

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, get_first_day, get_last_day, getdate, now_datetime, nowdate
from frappe.utils.nestedset import get_root_of

from opportunity_plus import forecast_call as glue
from opportunity_plus.core.forecast_call import week_start
from opportunity_plus.tests.integration import endpoint, factories
from opportunity_plus.tests.integration.test_targets import employee, sales_person

API = "opportunity_plus.api.forecast_call."


def quarter_key(day=None) -> str:
	day = getdate(day or nowdate())
	return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


class ForecastCallCase(FrappeTestCase):
	"""Tree (under the site's root): Director D (group) → Manager M (group) → reps R1, R2; D → rep R3.
	Deals of this quarter (company currency), by category in force:
	  R1: won 100, Commit 200, Best Case 300, Pipeline 400     R2: Commit 50, Pipeline 150
	  M (own): Commit 10                                        R3: Best Case 70
	Team figures (closed / commit / best case incl. commit / pipeline incl. both):
	  R1 100/200/500/900   R2 0/50/50/200   M 100/260/560/1110   R3 0/0/70/70   D 100/260/630/1180
	M has a yearly target of 4000 (no distribution: 1000 a quarter)."""

	def setUp(self):
		self.company = factories.company()
		self.period = quarter_key()
		root = get_root_of("Sales Person")
		self.users = {}
		self.persons = {}
		for key, roles in (("D", ()), ("M", ()), ("R1", ()), ("R2", ()), ("R3", ())):
			self.users[key] = factories.sales_user(roles=("Sales User", *roles))
		self.manager = factories.sales_user(roles=("Sales Manager",))
		fiscal_year = frappe.get_all(
			"Fiscal Year",
			filters={"year_start_date": ("<=", nowdate()), "year_end_date": (">=", nowdate())},
			fields=["name", "year_start_date", "year_end_date"],
			limit=1,
		)
		self.fiscal_year = fiscal_year[0] if fiscal_year else None
		targets = [{"fiscal_year": self.fiscal_year.name, "target_amount": 4000}] if self.fiscal_year else []

		def person(key, parent, is_group=0, targets=()):
			self.persons[key] = sales_person(
				f"OP Call {key}",
				parent,
				is_group=is_group,
				employee_name=employee(self.users[key], self.company),
				targets=targets,
			)
			return self.persons[key]

		person("D", root, is_group=1)
		person("M", self.persons["D"], is_group=1, targets=targets)
		person("R1", self.persons["M"])
		person("R2", self.persons["M"])
		person("R3", self.persons["D"])

		closing = get_last_day(nowdate())
		self.deal("R1", 100, won=True)
		self.deal("R1", 200, "Commit", closing)
		self.deal("R1", 300, "Best Case", closing)
		self.deal("R1", 400, "Pipeline", closing)
		self.deal("R2", 50, "Commit", closing)
		self.deal("R2", 150, "Pipeline", closing)
		self.deal("M", 10, "Commit", closing)
		self.deal("R3", 70, "Best Case", closing)
		# next quarter's deal counts in no figure of this one
		self.deal("R1", 5000, "Commit", add_days(get_last_day(nowdate()), 100))

	def deal(self, key, amount, category=None, closing=None, won=False):
		doc = factories.opportunity(
			opportunity_owner=self.users[key],
			opportunity_amount=amount,
			expected_closing=closing or nowdate(),
			op_forecast_category=category,
		)
		if won:
			doc.set_status(update=True, status="Converted")
		return doc

	def call(self, method, user, http="GET", **args):
		return endpoint.call(
			API + method, {"company": self.company, "period": self.period, **args}, user=user, http=http
		)

	def ok(self, method, user, http="GET", **args):
		answer = self.call(method, user, http, **args)
		self.assertEqual(answer.status, 200, f"{method} as {user}: {answer.message}")
		return answer.result

	def figures(self, result) -> tuple:
		c = result["computed"] if "computed" in result else result
		return (c["closed"], c["commit"], c["best_case"], c["pipeline"])

	# --- computed figures -----------------------------------------------------------------------------

	def test_each_level_sees_its_team_figures(self):
		rep = self.ok("get_forecast_call", self.users["R1"])
		self.assertEqual(rep["sales_person"], self.persons["R1"])
		self.assertEqual(self.figures(rep), (100, 200, 500, 900))
		self.assertEqual(rep["default_call"], {"commit": 300, "best_case": 600})
		self.assertTrue(rep["can_submit"])
		self.assertFalse(rep["can_adjust"])
		self.assertEqual(rep["reports"], [])

		manager = self.ok("get_forecast_call", self.users["M"])
		self.assertEqual(self.figures(manager), (100, 260, 560, 1110))
		self.assertEqual(manager["own_deals"]["commit"], 10)
		self.assertEqual(
			{line["sales_person"]: self.figures(line) for line in manager["reports"]},
			{self.persons["R1"]: (100, 200, 500, 900), self.persons["R2"]: (0, 50, 50, 200)},
		)
		if self.quarter_in_fiscal_year():
			self.assertEqual(manager["computed"]["target"], 1000)
			self.assertEqual(manager["computed"]["gap"], 900)
			self.assertEqual(manager["computed"]["coverage"], round(1110 / 900, 2))

		director = self.ok("get_forecast_call", self.users["D"])
		self.assertEqual(self.figures(director), (100, 260, 630, 1180))
		self.assertEqual(
			sorted(line["sales_person"] for line in director["reports"]),
			sorted([self.persons["M"], self.persons["R3"]]),
		)
		# the director looks at the manager's team
		self.assertEqual(
			self.figures(self.ok("get_forecast_call", self.users["D"], sales_person=self.persons["M"])),
			(100, 260, 560, 1110),
		)

	def quarter_in_fiscal_year(self) -> bool:
		if not self.fiscal_year:
			return False
		start = get_first_day(nowdate()).replace(month=(getdate(nowdate()).month - 1) // 3 * 3 + 1)
		end = get_last_day(add_days(start, 62))
		return (
			getdate(self.fiscal_year.year_start_date) <= start
			and getdate(self.fiscal_year.year_end_date) >= end
			and (getdate(self.fiscal_year.year_end_date) - getdate(self.fiscal_year.year_start_date)).days
			in (364, 365)
		)

	# --- calls, adjustments, the roll-up --------------------------------------------------------------

	def test_reps_call_the_manager_adjusts_and_rolls_up(self):
		r1 = self.ok("submit_call", self.users["R1"], "POST", commit=320, best_case=600, note="two big ones")
		self.assertEqual(
			(r1["sales_person"], r1["commit"], r1["computed"]["commit"]), (self.persons["R1"], 320, 200)
		)
		self.ok("submit_call", self.users["R2"], "POST", commit=60, best_case=80)
		self.ok(
			"adjust_call",
			self.users["M"],
			"POST",
			sales_person=self.persons["R2"],
			commit=40,
			best_case=70,
			note="slips",
		)
		manager = self.ok("get_forecast_call", self.users["M"])
		lines = {line["sales_person"]: line for line in manager["reports"]}
		r2 = lines[self.persons["R2"]]
		# the rep's own call stays visible beside the adjustment
		self.assertEqual(
			(r2["call"]["commit"], r2["adjustment"]["commit"], r2["effective"]["commit"]), (60, 40, 40)
		)
		self.assertEqual(r2["adjustment"]["note"], "slips")
		self.assertTrue(manager["can_adjust"])
		# own deals (won 0 + Commit 10) + R1's call + R2 as adjusted
		self.assertEqual(manager["default_call"], {"commit": 10 + 320 + 40, "best_case": 10 + 600 + 70})
		self.ok("submit_call", self.users["M"], "POST", commit=370, best_case=680)

		director = self.ok("get_forecast_call", self.users["D"])
		lines = {line["sales_person"]: line for line in director["reports"]}
		self.assertEqual(lines[self.persons["M"]]["call"]["commit"], 370)
		# R3 has not called: won + Commit (0) and won + Best Case (70)
		self.assertEqual(director["default_call"], {"commit": 370, "best_case": 680 + 70})
		# the director does not see the manager's adjustments of R2 as their own
		self.assertIsNone(lines[self.persons["M"]]["adjustment"])

		# a later call supersedes, the earlier one is kept
		self.ok("submit_call", self.users["R1"], "POST", commit=330, best_case=610)
		rep = self.ok("get_forecast_call", self.users["R1"])
		self.assertEqual([call["commit"] for call in rep["calls"]], [330, 320])
		self.assertEqual(rep["call"]["commit"], 330)

	def test_who_sees_which_submission(self):
		self.ok("submit_call", self.users["R1"], "POST", commit=320, best_case=600)
		self.ok("submit_call", self.users["R2"], "POST", commit=60, best_case=80)
		self.ok(
			"adjust_call", self.users["M"], "POST", sales_person=self.persons["R2"], commit=40, best_case=70
		)
		self.ok("submit_call", self.users["M"], "POST", commit=370, best_case=680)
		self.ok("submit_call", self.users["R3"], "POST", commit=0, best_case=70)

		def listed(user):
			frappe.set_user(user)
			try:
				rows = frappe.get_list(
					"Forecast Submission",
					filters={"period": self.period, "sales_person": ("in", list(self.persons.values()))},
					fields=["sales_person", "submission_type"],
					limit_page_length=0,
				)
			finally:
				frappe.set_user("Administrator")
			return sorted((row.sales_person, row.submission_type) for row in rows)

		p = self.persons
		calls = {key: (p[key], "Call") for key in ("R1", "R2", "M", "R3")}
		adjustment = (p["R2"], "Adjustment")
		self.assertEqual(listed(self.users["R1"]), [calls["R1"]])
		self.assertEqual(listed(self.users["R2"]), [calls["R2"]])  # not the manager's adjustment
		self.assertEqual(listed(self.users["M"]), sorted([calls["R1"], calls["R2"], calls["M"], adjustment]))
		everything = sorted([*calls.values(), adjustment])
		self.assertEqual(listed(self.users["D"]), everything)
		self.assertEqual(listed(self.manager), everything)
		# REST: a rep reads their own, not a peer's
		r2_call = frappe.get_all(
			"Forecast Submission", filters={"sales_person": p["R2"], "submission_type": "Call"}, pluck="name"
		)[0]
		frappe.set_user(self.users["R1"])
		try:
			self.assertFalse(frappe.has_permission("Forecast Submission", "read", r2_call))
		finally:
			frappe.set_user("Administrator")

	def test_nobody_sees_above_or_beside_nor_calls_for_another(self):
		p = self.persons
		refused = [
			("get_forecast_call", self.users["R1"], "GET", {"sales_person": p["R2"]}),
			("get_forecast_call", self.users["M"], "GET", {"sales_person": p["R3"]}),
			("get_forecast_call", self.users["M"], "GET", {"sales_person": p["D"]}),
			("get_accuracy", self.users["R1"], "GET", {"sales_person": p["M"]}),
			("adjust_call", self.users["R1"], "POST", {"sales_person": p["R2"], "commit": 1, "best_case": 1}),
			("adjust_call", self.users["M"], "POST", {"sales_person": p["R3"], "commit": 1, "best_case": 1}),
			# only direct reports
			("adjust_call", self.users["D"], "POST", {"sales_person": p["R1"], "commit": 1, "best_case": 1}),
			# a user who is no Sales Person has no call to make
			("submit_call", factories.sales_user(), "POST", {"commit": 1, "best_case": 1}),
		]
		before = frappe.db.count("Forecast Submission")
		for method, user, http, args in refused:
			with self.subTest(method=method, user=user, args=args):
				answer = self.call(method, user, http, **args)
				self.assertEqual(answer.status, 403, answer.message)
				self.assertTrue(answer.message)
		self.assertEqual(frappe.db.count("Forecast Submission"), before)
		# a user who is no Sales Person is told why, with no figures; a Sales Manager is asked to pick one
		told = self.ok("get_forecast_call", factories.sales_user())
		self.assertIsNone(told["sales_person"])
		self.assertIn("not a Sales Person", told["reason"])
		self.assertNotIn("computed", told)
		self.assertIn(get_root_of("Sales Person"), self.ok("get_forecast_call", self.manager)["pick_from"])
		self.assertEqual(self.ok("get_accuracy", factories.sales_user())["rows"], [])
		# a Sales Manager sees anyone and adjusts anyone; the director adjusts a direct report
		self.ok("get_forecast_call", self.manager, sales_person=p["R3"])
		self.ok("adjust_call", self.manager, "POST", sales_person=p["R1"], commit=1, best_case=2)
		self.ok("adjust_call", self.users["D"], "POST", sales_person=p["M"], commit=1, best_case=2)

	def test_a_call_is_never_edited_nor_deleted(self):
		name = self.ok("submit_call", self.users["R1"], "POST", commit=320, best_case=600)["name"]
		for user in (self.users["R1"], self.users["M"], self.manager):
			frappe.set_user(user)
			try:
				doc = frappe.get_doc("Forecast Submission", name)
				self.assertFalse(frappe.has_permission("Forecast Submission", "write", doc))
				doc.commit_amount = 1
				with self.assertRaises(frappe.PermissionError):
					doc.save()
				with self.assertRaises(frappe.PermissionError):
					frappe.delete_doc("Forecast Submission", name)
			finally:
				frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Forecast Submission", name, "commit_amount"), 320)
		# not even a System Manager's code path: the document refuses a change
		doc = frappe.get_doc("Forecast Submission", name)
		doc.commit_amount = 2
		with self.assertRaises(frappe.PermissionError):
			doc.save(ignore_permissions=True)

	def test_bad_input_is_refused_and_writes_nothing(self):
		before = frappe.db.count("Forecast Submission")
		cases = [
			{"commit": "abc", "best_case": 1},
			{"commit": -5, "best_case": 1},
			{"commit": 10, "best_case": 5},
			{"commit": 1e15, "best_case": 1e15},
			{"commit": None, "best_case": 1},
			{"commit": 1, "best_case": 2, "period": "next week"},
			{"commit": 1, "best_case": 2, "note": "x" * 5000},
			{"commit": "NaN", "best_case": "NaN"},
		]
		for args in cases:
			with self.subTest(args=args):
				answer = self.call("submit_call", self.users["R1"], "POST", **args)
				self.assertEqual(answer.status, 417, answer.message)
				self.assertTrue(answer.message)
		answer = self.call(
			"adjust_call", self.users["M"], "POST", sales_person="OP No Such Person", commit=1, best_case=1
		)
		self.assertEqual(answer.status, 404, answer.message)
		self.assertEqual(frappe.db.count("Forecast Submission"), before)

	# --- snapshots and weeks ----------------------------------------------------------------------------

	def test_snapshots_are_one_per_person_period_and_week(self):
		def rows():
			return frappe.get_all(
				"Forecast Snapshot",
				filters={"sales_person": ("in", list(self.persons.values())), "period": self.period},
				fields=["sales_person", "week_start", "commit_amount", "pipeline"],
				order_by="sales_person",
			)

		with factories.no_commit():
			glue.take_snapshots(self.company)
		first = rows()
		self.assertEqual(len(first), len(self.persons))
		with factories.no_commit():
			glue.take_snapshots(self.company)
		self.assertEqual(rows(), first)
		by_person = {row.sales_person: row for row in first}
		self.assertEqual(
			(by_person[self.persons["M"]].commit_amount, by_person[self.persons["M"]].pipeline), (260, 1110)
		)
		self.assertEqual(by_person[self.persons["R1"]].week_start, week_start(getdate(nowdate())))
		# a new deal, a new run in the same week: the week's row follows, no second row
		self.deal("R2", 25, "Commit", get_last_day(nowdate()))
		with factories.no_commit():
			glue.take_snapshots(self.company)
		after = {row.sales_person: row for row in rows()}
		self.assertEqual(len(after), len(self.persons))
		self.assertEqual(after[self.persons["M"]].commit_amount, 285)
		# the snapshots are the team's: a rep reads their own only
		frappe.set_user(self.users["R1"])
		try:
			mine = frappe.get_list("Forecast Snapshot", filters={"period": self.period}, pluck="sales_person")
		finally:
			frappe.set_user("Administrator")
		self.assertEqual(set(mine), {self.persons["R1"]})

	def test_this_week_against_last_week_and_the_trend(self):
		last_week = now_datetime() - timedelta(days=7)
		team, _own = glue.computed(self.company, *glue.resolve(self.company, self.period))
		earlier = {self.persons["R1"]: team[self.persons["R1"]]}
		glue.store_snapshots(self.company, self.period, earlier, last_week)
		self.deal("R1", 80, "Commit", get_last_day(nowdate()))
		self.ok("submit_call", self.users["R1"], "POST", commit=400, best_case=700)
		rep = self.ok("get_forecast_call", self.users["R1"])
		changes = {change["name"]: change for change in rep["week_over_week"]}
		self.assertEqual((changes["commit"]["before"], changes["commit"]["now"]), (200, 280))
		self.assertEqual((changes["commit"]["delta"], changes["commit"]["direction"]), (80, "up"))
		self.assertEqual(changes["pipeline"]["direction"], "up")
		self.assertEqual(changes["closed"]["direction"], "same")
		weeks = [point["week"] for point in rep["trend"]]
		self.assertEqual(weeks, sorted(weeks))
		self.assertEqual(rep["trend"][-1]["commit"], 280)
		self.assertEqual(rep["trend"][-1]["call_commit"], 400)

	def test_accuracy_of_each_weeks_call(self):
		self.ok("submit_call", self.users["R1"], "POST", commit=320, best_case=600)
		self.ok("submit_call", self.users["M"], "POST", commit=370, best_case=680)
		result = self.ok("get_accuracy", self.users["M"])
		rows = {row["sales_person"]: row for row in result["rows"]}
		self.assertEqual(set(rows), {self.persons["M"], self.persons["R1"], self.persons["R2"]})
		this_week = str(week_start(getdate(nowdate())))
		r1_week = next(week for week in rows[self.persons["R1"]]["weeks"] if week["week"] == this_week)
		# called 320, won 100 so far: 220 % too high
		self.assertEqual((r1_week["commit"], rows[self.persons["R1"]]["won"]), (320, 100))
		self.assertAlmostEqual(r1_week["error"], 2.2)
		self.assertIsNone(
			next(w for w in rows[self.persons["R2"]]["weeks"] if w["week"] == this_week)["commit"]
		)
		self.assertEqual(rows[self.persons["R1"]]["indent"], 1)
		self.assertFalse(result["ended"])
		# the report says the same
		answer = endpoint.call(
			"frappe.desk.query_report.run",
			{
				"report_name": "Forecast Call Accuracy",
				"filters": frappe.as_json({"company": self.company, "period": self.period}),
				"ignore_prepared_report": 1,
			},
			user=self.users["M"],
		)
		self.assertEqual(answer.status, 200, answer.message)
		report_rows = {row["sales_person"]: row for row in answer.result["result"]}
		self.assertEqual(report_rows[self.persons["R1"]]["last_error"], 220.0)

	def test_the_workspace_card(self):
		card = self.ok(
			"my_forecast_call", self.users["R1"], filters=frappe.as_json({"company": self.company})
		)
		self.assertEqual((card["value"], card["due"]), ("Due", True))
		self.ok("submit_call", self.users["R1"], "POST", commit=1234.5, best_case=2000, period=None)
		card = self.ok(
			"my_forecast_call", self.users["R1"], filters=frappe.as_json({"company": self.company})
		)
		self.assertFalse(card["due"])
		self.assertTrue(card["value"].endswith("1,234.50"), card["value"])
		self.assertEqual(card["route"], ["sales-forecast"])
		nobody = self.ok(
			"my_forecast_call", factories.sales_user(), filters=frappe.as_json({"company": self.company})
		)
		self.assertEqual(nobody["value"], "No Sales Person")

	def test_the_reminder_once_a_week(self):
		from opportunity_plus import tasks

		weekday = tasks.WEEKDAYS[getdate(nowdate()).weekday()]
		settings = frappe.get_single("Opportunity Plus Settings")
		settings.forecast_call_reminder_day = weekday
		settings.forecast_call_period = "Quarter"
		settings.save()
		self.ok("submit_call", self.users["R1"], "POST", commit=1, best_case=1)
		frappe.db.set_single_value("Global Defaults", "default_company", self.company)

		def reminded():
			return sorted(
				frappe.get_all(
					"Notification Log",
					filters={"for_user": ("in", list(self.users.values())), "document_type": "Sales Person"},
					pluck="for_user",
				)
			)

		with factories.no_commit():
			tasks.remind_forecast_calls()
			first = reminded()
			tasks.remind_forecast_calls()
			self.assertEqual(reminded(), first)
		self.assertEqual(first, sorted(self.users[key] for key in ("D", "M", "R2", "R3")))
