"""Every reader by Sales Pipeline: a second pipeline with its own stage (and one of the default pipeline's
stages at another probability and category), deals in both (one without a pipeline: the default's), and
each reader's figures with `pipeline=` each one and grouped by pipeline, checked against hand-computed
numbers and against what `frappe.get_list("Opportunity")` gives the caller, as a territory-limited Sales
User and as a Sales Manager; the pipeline summary and a scan of the opportunities give the same answer."""

import json
from decimal import ROUND_HALF_UP, Decimal
from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import (
	add_months,
	flt,
	get_first_day,
	get_last_day,
	getdate,
	now_datetime,
	nowdate,
	random_string,
)

from opportunity_plus import summary
from opportunity_plus.api import cards, charts, movement
from opportunity_plus.api.categories import build_category_forecast
from opportunity_plus.api.forecast import build_forecast, current_quarter
from opportunity_plus.api.targets import build_attainment
from opportunity_plus.api.winloss import build_win_loss
from opportunity_plus.core.stages import CLOSED_STATUSES, OPEN_STATUSES
from opportunity_plus.pipeline import default_pipeline, first_stage_of_kind, get_stages
from opportunity_plus.tests.integration import endpoint, factories

LOST_REASON = "OP Pipeline Readers Reason"
FIELDS = [
	"name",
	"status",
	"sales_stage",
	"base_opportunity_amount",
	"probability",
	"expected_closing",
	"op_closed_on",
	"op_pipeline",
	"op_effective_forecast_category",
]
CENT = Decimal("0.01")


def cents(value) -> Decimal:
	return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)


def by_stage_in_cents(rows, amount) -> Decimal:
	"""Rows summed per stage, each stage rounded to cents, then added: how a reader's total row adds up."""
	per_stage: dict = {}
	for row in rows:
		per_stage[row.sales_stage] = per_stage.get(row.sales_stage, Decimal(0)) + Decimal(str(amount(row)))
	return sum((value.quantize(CENT, ROUND_HALF_UP) for value in per_stage.values()), Decimal(0))


def weighted(row) -> Decimal:
	return (
		Decimal(str(row.base_opportunity_amount or 0)) * Decimal(str(row.probability or 0)) / 100
	).quantize(Decimal("0.000000001"), ROUND_HALF_UP)


def from_the_scan():
	"""Every summary reader falls back to reading the opportunities."""
	return patch.object(summary, "scope_condition", return_value=None)


class PipelineReadersCase(FrappeTestCase):
	"""The default pipeline and a second one ("Projects"): a shared open stage (probability 60 and another
	forecast category there), an open stage of its own (Survey, 30 %), the default's won and lost stages.

	Deals, all closing today (this month and quarter), amounts in the company currency:
	  Projects: A Survey 1000 (T1), B shared 2000 (T2), C won 500 (T1), D lost 700 (T1)
	  Default:  E 400 (T1), F 800 (T2), G won 300 (T1), H 250 (T1, no pipeline: the default's)
	The rep is limited to T1; the manager reads everything.
	"""

	def setUp(self):
		self.company = factories.company()
		self.default = default_pipeline()
		self.shared = first_stage_of_kind("Open", self.default)
		self.won_stage = first_stage_of_kind("Won", self.default)
		self.lost_stage = first_stage_of_kind("Lost", self.default)
		self.shared_category = "Best Case" if self.shared.forecast_category != "Best Case" else "Commit"
		rows = [
			{
				"sales_stage": self.shared.name,
				"stage_kind": "Open",
				"probability": 60,
				"forecast_category": self.shared_category,
			},
			{"sales_stage": self.won_stage.name, "stage_kind": "Won", "probability": 100},
			{"sales_stage": self.lost_stage.name, "stage_kind": "Lost", "probability": 0},
		]
		pipeline = frappe.get_doc(
			{
				"doctype": "Sales Pipeline",
				"pipeline_name": f"OP Test Projects {random_string(6)}",
				"enabled": 1,
				"stages": rows,
			}
		).insert()
		# a stage made once the site has two pipelines joins none of them by itself
		self.survey = (
			frappe.get_doc(
				{
					"doctype": "Sales Stage",
					"stage_name": f"OP Test Survey {random_string(6)}",
					"op_probability": 30,
					"op_stage_kind": "Open",
				}
			)
			.insert()
			.name
		)
		pipeline.set(
			"stages",
			[rows[0], {"sales_stage": self.survey, "stage_kind": "Open", "probability": 30}, *rows[1:]],
		)
		pipeline.save()
		self.projects = pipeline.name

		self.t1, self.t2 = factories.territory(), factories.territory()
		self.rep = factories.sales_user(territory_name=self.t1)
		self.manager = factories.sales_user(roles=("Sales Manager",))
		if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
			frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert()
		self.default_stage = self.shared.name
		self.names = {}
		self.deal("A", self.projects, self.survey, 1000, self.t1)
		self.deal("B", self.projects, self.shared.name, 2000, self.t2)
		self.deal("C", self.projects, self.survey, 500, self.t1, won=True)
		self.deal("D", self.projects, self.shared.name, 700, self.t1, lost=True)
		self.deal("E", self.default, self.default_stage, 400, self.t1)
		self.deal("F", self.default, self.default_stage, 800, self.t2)
		self.deal("G", self.default, self.default_stage, 300, self.t1, won=True)
		self.deal("H", self.default, self.default_stage, 250, self.t1)
		# a deal without a pipeline (written before pipelines, or by SQL) is in the default pipeline
		frappe.db.sql("update `tabOpportunity` set op_pipeline = null where name = %s", self.names["H"])
		summary.sync([self.names["H"]])

	def deal(self, key, pipeline, stage, amount, territory, won=False, lost=False):
		doc = factories.opportunity(
			op_pipeline=pipeline,
			sales_stage=stage,
			opportunity_amount=amount,
			territory=territory,
			expected_closing=nowdate(),
		)
		if won:
			doc.set_status(update=True, status="Converted")
		if lost:
			doc.reload()
			doc.declare_enquiry_lost([{"lost_reason": LOST_REASON}], [])
		self.names[key] = doc.name
		return doc

	# --- the truth: what get_list gives the caller -------------------------------------------------

	def readable(self, user, pipeline=None) -> list:
		frappe.set_user(user)
		try:
			rows = frappe.get_list(
				"Opportunity", filters={"company": self.company}, fields=FIELDS, limit_page_length=0
			)
		finally:
			frappe.set_user("Administrator")
		return [row for row in rows if not pipeline or (row.op_pipeline or self.default) == pipeline]

	def kind(self, row) -> str | None:
		stage = get_stages(row.op_pipeline or self.default).get(row.sales_stage) or get_stages().get(
			row.sales_stage
		)
		return stage.kind if stage else None

	def is_open(self, row) -> bool:
		return row.status in OPEN_STATUSES and self.kind(row) not in ("Won", "Lost")

	def is_won(self, row) -> bool:
		return row.status == "Converted" or (row.status in OPEN_STATUSES and self.kind(row) == "Won")

	def forecast_truth(self, rows) -> dict:
		open_rows = [row for row in rows if self.is_open(row)]
		won = [row for row in rows if self.is_won(row)]
		lost = [row for row in rows if not self.is_open(row) and not self.is_won(row)]
		return {
			"count": len(rows),
			"open_count": len(open_rows),
			"amount": by_stage_in_cents(open_rows, lambda row: row.base_opportunity_amount),
			"weighted_amount": by_stage_in_cents(open_rows, weighted),
			"won_count": len(won),
			"won_amount": by_stage_in_cents(won, lambda row: row.base_opportunity_amount),
			"lost_count": len(lost),
			"lost_amount": by_stage_in_cents(lost, lambda row: row.base_opportunity_amount),
		}

	def as_of_truth(self, total) -> dict:
		return {key: total[key] if key.endswith("count") else cents(total[key]) for key in total}

	def forecast_figures(self, total) -> dict:
		return {
			key: total[key] if key.endswith("count") else cents(total[key])
			for key in (
				"count",
				"open_count",
				"amount",
				"weighted_amount",
				"won_count",
				"won_amount",
				"lost_count",
				"lost_amount",
			)
		}

	def users(self):
		return (("rep", self.rep), ("manager", self.manager))

	def pipelines(self):
		return (self.projects, self.default)


class TestForecastByPipeline(PipelineReadersCase):
	def test_hand_computed_figures_of_the_second_pipeline(self):
		for user, expected in (
			(self.rep, (3, 1, 1000, 300, 1, 500, 1, 700)),
			(self.manager, (4, 2, 3000, 1500, 1, 500, 1, 700)),
		):
			frappe.set_user(user)
			total = build_forecast(self.company, "stage", None, None, "month", None, self.projects)["total"]
			self.assertEqual(
				tuple(total[key] for key in ("count", "open_count", "amount", "weighted_amount")),
				expected[:4],
			)
			self.assertEqual(
				tuple(total[key] for key in ("won_count", "won_amount", "lost_count", "lost_amount")),
				expected[4:],
			)
			self.assertEqual(total["win_rate"], 0.5)

	def test_the_default_pipeline_holds_the_deals_without_one(self):
		frappe.set_user(self.manager)
		with_h = build_forecast(self.company, "stage", None, None, "month", None, self.default)["total"]
		frappe.db.sql("delete from `tabOpportunity` where name = %s", self.names["H"])
		summary.sync([self.names["H"]])
		without_h = build_forecast(self.company, "stage", None, None, "month", None, self.default)["total"]
		self.assertEqual(
			(with_h["count"] - without_h["count"], flt(with_h["amount"] - without_h["amount"], 2)), (1, 250)
		)

	def test_each_pipeline_and_the_grouping_equal_get_list_and_the_scan(self):
		today = getdate(nowdate())
		windows = ((None, None), (get_first_day(today), get_last_day(today)), (today, today))
		for name, user in self.users():
			every = self.readable(user)
			for window in windows:
				frappe.set_user(user)
				grouped = build_forecast(self.company, "pipeline", *window, "month", None)
				with from_the_scan():
					self.assertEqual(
						build_forecast(self.company, "pipeline", *window, "month", None), grouped
					)
				rows = {row["key"]: row for row in grouped["rows"]}
				for pipeline in self.pipelines():
					with self.subTest(user=name, window=window, pipeline=pipeline):
						frappe.set_user(user)
						result = build_forecast(self.company, "stage", *window, "month", None, pipeline)
						with from_the_scan():
							self.assertEqual(
								build_forecast(self.company, "stage", *window, "month", None, pipeline),
								result,
							)
						self.assertEqual(result["pipeline"], pipeline)
						if window == (None, None):
							truth = self.forecast_truth(self.readable(user, pipeline))
							self.assertEqual(self.forecast_figures(result["total"]), truth)
							self.assertEqual(self.forecast_figures(rows[pipeline]), truth)
				# the pipelines add up to the unfiltered forecast
				if window == (None, None):
					self.assertEqual(grouped["total"]["count"], len(every))
				frappe.set_user("Administrator")

	def test_a_stage_of_another_kind_in_another_pipeline_counts_by_the_deals_pipeline(self):
		# the shared open stage is a won stage in a third pipeline; a deal of that pipeline left open in it
		# (written by SQL) counts as won, the default pipeline's deals in it stay open
		third = frappe.get_doc(
			{
				"doctype": "Sales Pipeline",
				"pipeline_name": f"OP Test Third {random_string(6)}",
				"enabled": 1,
				"stages": [
					{"sales_stage": self.survey, "stage_kind": "Open", "probability": 10},
					{"sales_stage": self.shared.name, "stage_kind": "Won", "probability": 100},
				],
			}
		).insert()
		name = self.deal("X", third.name, self.survey, 900, self.t1).name
		frappe.db.sql(
			"update `tabOpportunity` set sales_stage = %s where name = %s", (self.shared.name, name)
		)
		summary.sync([name])
		for user in (self.rep, self.manager):
			frappe.set_user(user)
			every = build_forecast(self.company, "stage", None, None, "month", None)
			with from_the_scan():
				self.assertEqual(build_forecast(self.company, "stage", None, None, "month", None), every)
			truth = self.forecast_truth(self.readable(user))
			self.assertEqual(self.forecast_figures(every["total"]), truth)
			frappe.set_user(user)
			only_third = build_forecast(self.company, "stage", None, None, "month", None, third.name)["total"]
			self.assertEqual(
				(only_third["won_count"], only_third["won_amount"], only_third["open_count"]), (1, 900, 0)
			)
			# the cards count it out of the open pipeline too
			self.assertEqual(Decimal(str(cards.open_pipeline()["value"])), truth["amount"])
			frappe.set_user("Administrator")

	def test_the_report_takes_the_pipeline_and_groups_by_it(self):
		for name, user in self.users():
			answer = endpoint.call(
				"frappe.desk.query_report.run",
				{
					"report_name": "Pipeline Forecast",
					"filters": json.dumps(
						{"company": self.company, "group_by": "pipeline", "pipeline": self.projects}
					),
					"ignore_prepared_report": 1,
				},
				user=user,
			)
			self.assertEqual(answer.status, 200, answer.message)
			data = [row for row in answer.result["result"] if not row.get("bold")]
			self.assertEqual([row["key"] for row in data], [self.projects])
			expected = self.forecast_truth(self.readable(user, self.projects))
			self.assertEqual(
				(data[0]["count"], cents(data[0]["amount"])), (expected["count"], expected["amount"]), name
			)


class TestWinLossByPipeline(PipelineReadersCase):
	def truth(self, rows) -> tuple:
		closed = [row for row in rows if row.status in CLOSED_STATUSES]
		won = [row for row in closed if row.status == "Converted"]
		lost = [row for row in closed if row.status != "Converted"]
		return (
			len(won),
			cents(sum(Decimal(str(r.base_opportunity_amount)) for r in won)),
			len(lost),
			cents(sum(Decimal(str(r.base_opportunity_amount)) for r in lost)),
		)

	def figures(self, row) -> tuple:
		return (row["won_count"], cents(row["won_amount"]), row["lost_count"], cents(row["lost_amount"]))

	def test_by_pipeline_and_filtered(self):
		for name, user in self.users():
			frappe.set_user(user)
			grouped = build_win_loss(self.company, None, None, "pipeline")
			with from_the_scan():
				self.assertEqual(build_win_loss(self.company, None, None, "pipeline"), grouped)
			rows = {row["key"]: row for row in grouped["win_rate"]["rows"]}
			self.assertEqual(self.figures(rows[self.projects]), (1, 500, 1, 700))
			for pipeline in self.pipelines():
				with self.subTest(user=name, pipeline=pipeline):
					truth = self.truth(self.readable(user, pipeline))
					self.assertEqual(self.figures(rows[pipeline]), truth)
					frappe.set_user(user)
					for parts in (("win_rate",), ("lost_reasons",), ("competitors",)):
						result = build_win_loss(
							self.company, None, None, "source", parts=parts, pipeline=pipeline
						)
						with from_the_scan():
							self.assertEqual(
								build_win_loss(
									self.company, None, None, "source", parts=parts, pipeline=pipeline
								),
								result,
							)
						self.assertEqual(self.figures(result["win_rate"]["total"]), truth)
					self.assertEqual(result["pipeline"], pipeline)
					# the Projects deal lost for the reason; in the default pipeline none of this test's
					if pipeline == self.projects:
						lost = build_win_loss(self.company, None, None, "source", pipeline=pipeline)
						self.assertEqual(
							[(row["reason"], row["count"]) for row in lost["lost_reasons"]["rows"]],
							[(LOST_REASON, 1)],
						)
			frappe.set_user("Administrator")

	def test_the_report_takes_the_pipeline_and_the_dimension(self):
		answer = endpoint.call(
			"frappe.desk.query_report.run",
			{
				"report_name": "Win Loss Analysis",
				"filters": json.dumps(
					{
						"company": self.company,
						"view": "win_rate",
						"dimension": "pipeline",
						"pipeline": self.projects,
					}
				),
				"ignore_prepared_report": 1,
			},
			user=self.rep,
		)
		self.assertEqual(answer.status, 200, answer.message)
		data = [row for row in answer.result["result"] if not row.get("bold")]
		self.assertEqual(
			[(row["key"], row["won_count"], row["lost_count"]) for row in data], [(self.projects, 1, 1)]
		)


class TestPlanningByPipeline(PipelineReadersCase):
	"""Categories, targets, movement and as-of: this month's (and quarter's) figures."""

	def month(self) -> str:
		today = getdate(nowdate())
		return f"{today.year:04d}-{today.month:02d}"

	def category_truth(self, rows) -> dict:
		today = getdate(nowdate())
		first, last = get_first_day(today), get_last_day(today)
		sums: dict = {}

		def add(category, amount):
			count, total = sums.get(category, (0, Decimal(0)))
			sums[category] = (count + 1, total + Decimal(str(amount or 0)))

		for row in rows:
			if (
				row.status in OPEN_STATUSES
				and row.expected_closing
				and first <= getdate(row.expected_closing) <= last
			):
				add(row.op_effective_forecast_category, row.base_opportunity_amount)
			if (
				row.status in CLOSED_STATUSES
				and row.op_closed_on
				and first <= getdate(row.op_closed_on) <= last
			):
				add("Closed" if row.status == "Converted" else "Omitted", row.base_opportunity_amount)
		return {category: (count, cents(total)) for category, (count, total) in sums.items()}

	def category_figures(self, figures) -> dict:
		names = {"Closed": "closed", "Commit": "commit", "Pipeline": "pipeline", "Omitted": "omitted"}
		result = {
			category: (figures[f"{field}_count"], cents(figures[f"{field}_amount"]))
			for category, field in names.items()
			if figures[f"{field}_count"]
		}
		best_case_only = figures["best_case_count"] - figures["commit_count"]
		if best_case_only:
			result["Best Case"] = (
				best_case_only,
				cents(Decimal(str(figures["best_case_amount"])) - Decimal(str(figures["commit_amount"]))),
			)
		return result

	def test_categories_by_pipeline(self):
		for name, user in self.users():
			frappe.set_user(user)
			grouped = build_category_forecast(self.company, self.month(), "pipeline", 1)
			with from_the_scan():
				self.assertEqual(build_category_forecast(self.company, self.month(), "pipeline", 1), grouped)
			rows = {row["key"]: row["total"] for row in grouped["rows"]}
			for pipeline in self.pipelines():
				with self.subTest(user=name, pipeline=pipeline):
					truth = self.category_truth(self.readable(user, pipeline))
					self.assertEqual(self.category_figures(rows[pipeline]), truth)
					frappe.set_user(user)
					result = build_category_forecast(self.company, self.month(), "owner", 1, pipeline)
					with from_the_scan():
						self.assertEqual(
							build_category_forecast(self.company, self.month(), "owner", 1, pipeline), result
						)
					self.assertEqual(self.category_figures(result["total"]["total"]), truth)
			# hand-computed: Projects' A in Survey (Pipeline), B in the shared stage (its category there),
			# C won (Closed), D lost (Omitted)
			expected = {"Pipeline": (1, 1000), "Closed": (1, 500), "Omitted": (1, 700)}
			if name == "manager":
				expected[self.shared_category] = (1, 2000)
			self.assertEqual(self.category_figures(rows[self.projects]), expected)
			frappe.set_user("Administrator")

	def test_targets_count_the_pipelines_won_and_open_deals(self):
		today = getdate(nowdate())
		first, last = get_first_day(today), get_last_day(today)
		for name, user in self.users():
			for pipeline in self.pipelines():
				with self.subTest(user=name, pipeline=pipeline):
					rows = self.readable(user, pipeline)
					won = [
						r
						for r in rows
						if r.status == "Converted"
						and r.op_closed_on
						and first <= getdate(r.op_closed_on) <= last
					]
					open_rows = [
						r
						for r in rows
						if r.status in OPEN_STATUSES
						and r.expected_closing
						and first <= getdate(r.expected_closing) <= last
					]
					truth = (
						len(won),
						cents(sum(Decimal(str(r.base_opportunity_amount)) for r in won)),
						len(open_rows),
						cents(sum(Decimal(str(r.base_opportunity_amount)) for r in open_rows)),
						cents(sum(weighted(r) for r in open_rows)),
					)
					frappe.set_user(user)
					for group_by in ("territory", "sales_person"):
						result = build_attainment(self.company, self.month(), group_by, None, pipeline)
						with from_the_scan():
							self.assertEqual(
								build_attainment(self.company, self.month(), group_by, None, pipeline), result
							)
						total = result["total"]
						self.assertEqual(
							(
								total["won_count"],
								cents(total["won_amount"]),
								total["open_count"],
								cents(total["open_amount"]),
								cents(total["weighted_amount"]),
							),
							truth,
						)
					if pipeline == self.projects:
						self.assertEqual(
							truth, (1, 500, 1, 1000, 300) if name == "rep" else (1, 500, 2, 3000, 1500)
						)
					frappe.set_user("Administrator")

	def test_movement_and_as_of_take_the_pipeline_as_it_is_now(self):
		first, last = current_quarter()
		for name, user in self.users():
			for pipeline in self.pipelines():
				with self.subTest(user=name, pipeline=pipeline):
					rows = [
						r
						for r in self.readable(user, pipeline)
						if r.status in OPEN_STATUSES
						and r.expected_closing
						and first <= getdate(r.expected_closing) <= last
					]
					frappe.set_user(user)
					moved = movement.get_movement(company=self.company, pipeline=pipeline)
					with from_the_scan():
						self.assertEqual(
							movement.get_movement(company=self.company, pipeline=pipeline), moved
						)
					self.assertTrue(moved["balanced"])
					self.assertEqual(moved["pipeline"], pipeline)
					self.assertEqual(
						cents(moved["closing"]),
						cents(sum(Decimal(str(r.base_opportunity_amount)) for r in rows)),
					)
					for group_by in ("stage", "category"):
						now = movement.get_forecast_as_of(
							company=self.company, group_by=group_by, pipeline=pipeline
						)
						with from_the_scan():
							self.assertEqual(
								movement.get_forecast_as_of(
									company=self.company, group_by=group_by, pipeline=pipeline
								),
								now,
							)
						self.assertEqual(
							(
								now["total"]["count"],
								cents(now["total"]["amount"]),
								cents(now["total"]["weighted_amount"]),
							),
							(
								len(rows),
								cents(sum(Decimal(str(r.base_opportunity_amount)) for r in rows)),
								cents(sum(weighted(r) for r in rows)),
							),
						)
					frappe.set_user("Administrator")
		# hand-computed: the manager's Projects pipeline now, by stage, in the pipeline's order
		frappe.set_user(self.manager)
		now = movement.get_forecast_as_of(company=self.company, pipeline=self.projects)
		self.assertEqual(
			[(row["key"], row["count"], row["amount"], row["weighted_amount"]) for row in now["rows"]],
			[(self.shared.name, 1, 2000, 1200), (self.survey, 1, 1000, 300)],
		)

	def test_a_past_state_takes_its_category_from_the_deals_pipeline(self):
		# A changed after the moment is rebuilt from the history: its category then is derived from its
		# stage's category in its pipeline (the shared stage: another category in Projects than in Default)
		history_since = add_months(now_datetime(), -1)
		frappe.db.set_default(movement.HISTORY_SINCE_DEFAULT, str(history_since))
		doc = frappe.get_doc("Opportunity", self.names["A"])
		doc.sales_stage = self.shared.name
		doc.save()
		moment = now_datetime()
		doc.reload()
		doc.opportunity_amount = 1500
		doc.save()
		context = movement.context_of(self.company, None, None, self.t1, None, pipeline=self.projects)
		context_all = movement.context_of(self.company, None, None, self.t1, None)
		first, last = current_quarter()
		for ctx in (context, context_all):
			ctx["period"] = movement.core.Period(first, last)
			groups, _unknown = movement.forecast_as_of(ctx, moment, "category")
			self.assertEqual(groups[self.shared_category].amount, Decimal(1000))
			self.assertEqual(groups[self.shared_category].count, 1)


class TestWorkspaceByPipeline(PipelineReadersCase):
	def test_cards_and_charts_take_the_pipeline(self):
		first, last = current_quarter()
		year_end = get_last_day(nowdate())
		year_start = get_first_day(add_months(year_end, -11))
		for name, user in self.users():
			for pipeline in self.pipelines():
				with self.subTest(user=name, pipeline=pipeline):
					rows = self.readable(user, pipeline)
					truth = self.forecast_truth(rows)
					quarter = self.forecast_truth(
						[
							r
							for r in rows
							if r.expected_closing and first <= getdate(r.expected_closing) <= last
						]
					)
					year = self.forecast_truth(
						[
							r
							for r in rows
							if r.expected_closing and year_start <= getdate(r.expected_closing) <= year_end
						]
					)
					filters = json.dumps({"company": self.company, "pipeline": pipeline})
					frappe.set_user(user)
					answers = {
						"open": cards.open_pipeline(filters),
						"weighted": cards.weighted_pipeline(filters),
						"won": cards.won_this_quarter(filters),
						"rate": cards.win_rate(filters),
						"by_stage": charts.open_pipeline_by_stage(filters),
						"by_month": charts.weighted_pipeline_by_close_month(filters),
						"attainment": cards.target_attainment(filters),
						"coverage": cards.pipeline_coverage(filters),
					}
					with from_the_scan():
						self.assertEqual(cards.open_pipeline(filters), answers["open"])
						self.assertEqual(charts.open_pipeline_by_stage(filters), answers["by_stage"])
						self.assertEqual(cards.won_this_quarter(filters), answers["won"])
					self.assertEqual(Decimal(str(answers["open"]["value"])), truth["amount"])
					self.assertEqual(Decimal(str(answers["weighted"]["value"])), truth["weighted_amount"])
					self.assertEqual(answers["open"]["route_options"], {"pipeline": pipeline})
					self.assertEqual(Decimal(str(answers["won"]["value"])), quarter["won_amount"])
					closed = year["won_count"] + year["lost_count"]
					self.assertEqual(
						answers["rate"]["value"],
						round(year["won_count"] / closed * 100, 1) if closed else None,
					)
					self.assertEqual(
						cents(sum(answers["by_stage"]["datasets"][0]["values"])), truth["amount"]
					)
					self.assertEqual(
						cents(sum(sum(d["values"]) for d in answers["by_month"]["datasets"])),
						truth["weighted_amount"],
					)
					frappe.set_user("Administrator")
		# hand-computed: the manager's Projects chart, in the pipeline's stage order
		frappe.set_user(self.manager)
		chart = charts.open_pipeline_by_stage(json.dumps({"pipeline": self.projects}))
		self.assertEqual(chart["labels"], [self.shared.name, self.survey])
		self.assertEqual(chart["datasets"][0]["values"], [2000, 1000])


class TestAnUnknownPipelineIsRefused(PipelineReadersCase):
	def test_every_reader_answers_404(self):
		unknown = f"OP No Such Pipeline {random_string(6)}"
		month = f"{getdate(nowdate()):%Y-%m}"
		for method, args in (
			("opportunity_plus.api.forecast.get_forecast", {"company": self.company}),
			("opportunity_plus.api.winloss.get_win_loss", {"company": self.company}),
			(
				"opportunity_plus.api.categories.get_category_forecast",
				{"company": self.company, "period": month},
			),
			("opportunity_plus.api.targets.get_attainment", {"company": self.company, "period": month}),
			("opportunity_plus.api.movement.get_movement", {"company": self.company}),
			("opportunity_plus.api.movement.get_forecast_as_of", {"company": self.company}),
			("opportunity_plus.api.cards.open_pipeline", {"filters": json.dumps({"pipeline": unknown})}),
			(
				"opportunity_plus.api.charts.open_pipeline_by_stage",
				{"filters": json.dumps({"pipeline": unknown})},
			),
		):
			with self.subTest(method=method):
				if "filters" not in args:
					args = {**args, "pipeline": unknown}
				answer = endpoint.call(method, args, user=self.rep)
				self.assertEqual(answer.status, 404, answer.message)
				self.assertIn("does not exist", answer.message)
		for report, filters in (
			("Pipeline Forecast", {"company": self.company}),
			("Win Loss Analysis", {"company": self.company}),
			("Forecast by Category", {"company": self.company, "period": month}),
			("Sales Target Attainment", {"company": self.company, "period": month}),
		):
			with self.subTest(report=report):
				answer = endpoint.call(
					"frappe.desk.query_report.run",
					{
						"report_name": report,
						"filters": json.dumps({**filters, "pipeline": unknown}),
						"ignore_prepared_report": 1,
					},
					user=self.rep,
				)
				self.assertEqual(answer.status, 404, answer.message)


class TestTheScanGroupsByTheOpportunityOwner(PipelineReadersCase):
	def test_not_by_who_created_the_deal(self):
		# every deal here was created by Administrator; two have another opportunity owner
		for key in ("A", "E"):
			frappe.db.set_value("Opportunity", self.names[key], "opportunity_owner", self.rep)
		summary.sync([self.names["A"], self.names["E"]])
		month = f"{getdate(nowdate()):%Y-%m}"
		frappe.set_user(self.manager)
		from_summary = build_category_forecast(self.company, month, "owner", 1)
		with from_the_scan():
			scanned = build_category_forecast(self.company, month, "owner", 1)
		self.assertEqual(scanned, from_summary)
		rep_row = next(row for row in scanned["rows"] if row["key"] == self.rep)
		self.assertEqual((rep_row["total"]["open_count"], rep_row["total"]["open_amount"]), (2, 1400))
