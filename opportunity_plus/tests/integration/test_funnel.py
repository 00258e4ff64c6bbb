"""Stage conversion per pipeline (api.funnel, report Stage Conversion): deals moved through a pipeline of
their own by the document API (the deal history the app writes), their moments set back by days, and the
funnel computed by hand, as a territory-limited Sales User and as a Sales Manager, over REST and in the
report; the window, a deal older than the deal history, other pipelines and bad input."""

import json
from datetime import timedelta

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, getdate, now_datetime, nowdate, random_string

from opportunity_plus import funnel
from opportunity_plus.pipeline import clear_stage_cache, default_pipeline, first_stage_of_kind
from opportunity_plus.tests.integration import endpoint, factories

METHOD = "opportunity_plus.api.funnel.get_stage_conversion"
LOST_REASON = "OP Funnel Reason"


class StageConversionCase(FrappeTestCase):
	"""Pipeline: F1 (Open) → F2 (Open) → F3 (Open) → the default's Won and Lost stages. Days before now:
	  A (T1): created 10, F1→F2 at 7, F2→F3 at 3, won at 1        F1 3 d, F2 4 d, F3 2 d
	  B (T1): created 10, F1→F3 at 9, declared lost at 4          F1 1 d, F3 5 d
	  C (T2): created 10, F1→F2 at 8, open                       F1 2 d
	  D (T1): created 2 in F2, open
	Not counted: a deal of the default pipeline, a deal created 200 days ago (outside the default window).
	The rep reads T1, the manager everything."""

	def setUp(self):
		self.company = factories.company()
		clear_stage_cache()
		self.won = first_stage_of_kind("Won", default_pipeline()).name
		self.lost = first_stage_of_kind("Lost", default_pipeline()).name
		suffix = random_string(6)
		self.stages = []
		for label, probability in (("F1", 10), ("F2", 50), ("F3", 80)):
			self.stages.append(
				frappe.get_doc(
					{
						"doctype": "Sales Stage",
						"stage_name": f"OP Funnel {label} {suffix}",
						"op_probability": probability,
						"op_stage_kind": "Open",
					}
				)
				.insert()
				.name
			)
		self.f1, self.f2, self.f3 = self.stages
		self.pipeline = (
			frappe.get_doc(
				{
					"doctype": "Sales Pipeline",
					"pipeline_name": f"OP Funnel {suffix}",
					"enabled": 1,
					"stages": [
						{"sales_stage": self.f1, "stage_kind": "Open", "probability": 10},
						{"sales_stage": self.f2, "stage_kind": "Open", "probability": 50},
						{"sales_stage": self.f3, "stage_kind": "Open", "probability": 80},
						{"sales_stage": self.won, "stage_kind": "Won", "probability": 100},
						{"sales_stage": self.lost, "stage_kind": "Lost", "probability": 0},
					],
				}
			)
			.insert()
			.name
		)
		clear_stage_cache()
		if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
			frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert()
		self.t1, self.t2 = factories.territory(), factories.territory()
		self.rep = factories.sales_user(territory_name=self.t1)
		self.manager = factories.sales_user(roles=("Sales Manager",))
		self.now = now_datetime()

		self.a = self.deal(self.t1, self.f1, created=10, moves=[(self.f2, 7), (self.f3, 3)], won=1)
		self.b = self.deal(self.t1, self.f1, created=10, moves=[(self.f3, 9)], lost=4)
		self.c = self.deal(self.t2, self.f1, created=10, moves=[(self.f2, 8)])
		self.d = self.deal(self.t1, self.f2, created=2)
		# not in the funnel: another pipeline, and created before the window
		factories.opportunity(
			op_pipeline=default_pipeline(),
			sales_stage=first_stage_of_kind("Open", default_pipeline()).name,
			territory=self.t1,
		)
		self.deal(self.t1, self.f1, created=200, moves=[(self.f2, 150)])

	def ago(self, days: float):
		return self.now - timedelta(days=days)

	def deal(self, territory, stage, *, created, moves=(), won=None, lost=None) -> str:
		"""A deal of the funnel's pipeline moved by the document API; then its creation and each history
		row set back to the day given (days before now)."""
		doc = factories.opportunity(op_pipeline=self.pipeline, sales_stage=stage, territory=territory)
		moments = {stage: created}
		for to_stage, days in moves:
			doc.reload()
			doc.sales_stage = to_stage
			doc.save()
			moments[to_stage] = days
		if won is not None:
			doc.reload()
			doc.set_status(update=True, status="Converted")
			moments[self.won] = moments["Converted"] = won
		if lost is not None:
			doc.reload()
			doc.declare_enquiry_lost([{"lost_reason": LOST_REASON}], [])
			moments[self.lost] = moments["Lost"] = lost
		rows = frappe.get_all(
			"Opportunity History",
			filters={"opportunity": doc.name, "changed_field": ("in", ("sales_stage", "status"))},
			fields=["name", "changed_field", "to_value"],
		)
		for row in rows:
			days = moments.get(row.to_value, created)
			frappe.db.set_value(
				"Opportunity History", row.name, "changed_on", self.ago(days), update_modified=False
			)
		frappe.db.set_value("Opportunity", doc.name, "creation", self.ago(created), update_modified=False)
		# written behind the document API's back: its Stage Conversion rows again, as a rebuild would
		funnel.refresh(doc.name)
		return doc.name

	def conversion(self, user, **args) -> dict:
		answer = endpoint.call(
			METHOD, {"company": self.company, "pipeline": self.pipeline, **args}, user=user
		)
		self.assertEqual(answer.status, 200, answer.message)
		return answer.result

	@staticmethod
	def figures(result) -> dict:
		return {
			row["stage"]: (
				row["entered"],
				row["went_on"],
				row["won"],
				row["lost"],
				row["still_open"],
				row["median_days"],
			)
			for row in result["stages"]
		}

	def test_the_manager_sees_every_deal(self):
		result = self.conversion(self.manager)
		self.assertEqual(
			(result["deals"], result["won"], result["lost"], result["still_open"], result["win_rate"]),
			(4, 1, 1, 2, 0.5),
		)
		self.assertEqual(
			self.figures(result),
			{
				self.f1: (3, 3, 0, 0, 0, 2.0),
				self.f2: (3, 1, 0, 0, 2, 4.0),
				self.f3: (2, 1, 1, 1, 0, 3.5),
				self.won: (1, None, 1, 0, 0, 0.0),
				self.lost: (1, None, 0, 1, 0, 0.0),
			},
		)
		rows = {row["stage"]: row for row in result["stages"]}
		self.assertEqual([row["stage"] for row in result["stages"]], [*self.stages, self.won, self.lost])
		self.assertEqual(rows[self.f2]["conversion"], 1 / 3)
		self.assertEqual(rows[self.f1]["reached"], 3 / 4)
		self.assertEqual(rows[self.f3]["probability"], 80)

	def test_the_rep_sees_their_territory_only(self):
		result = self.conversion(self.rep)
		self.assertEqual((result["deals"], result["won"], result["lost"], result["still_open"]), (3, 1, 1, 1))
		self.assertEqual(
			{stage: figures for stage, figures in self.figures(result).items() if stage in self.stages},
			{
				self.f1: (2, 2, 0, 0, 0, 2.0),
				self.f2: (2, 1, 0, 0, 1, 4.0),
				self.f3: (2, 1, 1, 1, 0, 3.5),
			},
		)
		# filtered by a territory it may not read: nothing of it
		self.assertEqual(self.conversion(self.rep, territory=self.t2)["deals"], 0)
		self.assertEqual(self.conversion(self.manager, territory=self.t2)["deals"], 1)

	def test_the_window_and_the_owner(self):
		longer = self.conversion(self.manager, from_date=str(getdate(add_days(nowdate(), -365))))
		self.assertEqual(longer["deals"], 5)
		self.assertEqual(self.figures(longer)[self.f1][:2], (4, 4))
		short = self.conversion(self.manager, from_date=str(getdate(add_days(nowdate(), -5))))
		self.assertEqual(short["deals"], 1)  # D only
		self.assertEqual(self.conversion(self.manager, opportunity_owner=self.rep)["deals"], 0)

	def test_a_deal_older_than_the_history_counts_in_its_stage(self):
		legacy = self.deal(self.t1, self.f2, created=20)
		frappe.db.delete("Opportunity History", {"opportunity": legacy})
		frappe.db.set_value(
			"Opportunity",
			legacy,
			{"status": "Lost", "op_closed_on": getdate(self.ago(15))},
			update_modified=False,
		)
		funnel.refresh(legacy)
		result = self.conversion(self.manager)
		entered, went_on, _won, lost, still_open, median_days = self.figures(result)[self.f2]
		self.assertEqual((entered, went_on, lost, still_open), (4, 1, 1, 2))
		# stays of 4 days (A) and about 5 (created 20 days ago, closed on the day 15 days ago)
		self.assertTrue(4.0 < median_days < 5.0, median_days)

	def test_the_report_says_the_same(self):
		answer = endpoint.call(
			"frappe.desk.query_report.run",
			{
				"report_name": "Stage Conversion",
				"filters": json.dumps({"company": self.company, "pipeline": self.pipeline}),
				"ignore_prepared_report": 1,
			},
			user=self.rep,
		)
		self.assertEqual(answer.status, 200, answer.message)
		rows = {row["stage"]: row for row in answer.result["result"]}
		self.assertEqual((rows[self.f1]["entered"], rows[self.f1]["went_on"]), (2, 2))
		self.assertEqual(rows[self.f2]["conversion"], 50.0)
		self.assertEqual(answer.result["chart"]["data"]["labels"], [*self.stages, self.won])
		self.assertEqual(answer.result["report_summary"][0]["value"], 3)

	def test_the_default_pipeline_when_none_is_named(self):
		answer = endpoint.call(METHOD, {"company": self.company}, user=self.manager)
		self.assertEqual(answer.status, 200, answer.message)
		self.assertEqual(answer.result["pipeline"], default_pipeline())

	def test_bad_input_is_refused_with_a_message(self):
		cases = [
			({"pipeline": "OP No Such Pipeline"}, 404),
			({"from_date": "2026-05-01", "to_date": "2026-04-01"}, 417),
			({"from_date": "2020-01-01", "to_date": "2026-01-01"}, 417),
			({"from_date": "yesterday"}, 417),
			({"territory": "OP No Such Territory"}, 404),
			({"company": "OP No Such Company"}, 417),
		]
		for args, status in cases:
			with self.subTest(args=args):
				answer = endpoint.call(METHOD, {"company": self.company, **args}, user=self.manager)
				self.assertEqual(answer.status, status, answer.message)
				self.assertTrue(answer.message)

	def test_a_user_who_may_not_read_opportunities_is_refused(self):
		nobody = factories.sales_user(roles=())
		answer = endpoint.call(METHOD, {"company": self.company}, user=nobody)
		self.assertEqual(answer.status, 403)

	def test_the_stored_rows_equal_the_deal_history_replayed(self):
		from unittest.mock import patch

		for user in (self.rep, self.manager):
			stored = self.conversion(user)
			with patch.object(funnel, "is_current", return_value=False):
				replayed = self.conversion(user)
			self.assertEqual(stored, replayed)

	def test_the_rows_follow_every_change_through_the_document_api(self):
		doc = factories.opportunity(op_pipeline=self.pipeline, sales_stage=self.f1, territory=self.t1)
		rows = lambda: frappe.get_all(  # noqa: E731
			"Opportunity Stage Entry",
			filters={"opportunity": doc.name},
			fields=["sales_stage", "first_visit", "went_on", "still_here", "finished", "territory"],
			order_by="idx",
		)
		self.assertEqual([(r.sales_stage, r.still_here, r.finished) for r in rows()], [(self.f1, 1, 0)])
		doc.reload()
		doc.sales_stage = self.f2
		doc.save()
		self.assertEqual(
			[(r.sales_stage, r.went_on, r.still_here, r.finished) for r in rows()],
			[(self.f1, 1, 0, 1), (self.f2, 0, 1, 0)],
		)
		# a save that changes nothing they hold writes none
		before = frappe.get_all(
			"Opportunity Stage Entry", filters={"opportunity": doc.name}, pluck="modified"
		)
		doc.reload()
		doc.customer_name = "OP Funnel Untracked"
		doc.save()
		self.assertEqual(
			frappe.get_all("Opportunity Stage Entry", filters={"opportunity": doc.name}, pluck="modified"),
			before,
		)
		# back to F1: the way gets shorter only in flags, never loses a stay; a move of territory follows
		doc.reload()
		doc.territory = self.t2
		doc.save()
		self.assertEqual({r.territory for r in rows()}, {self.t2})
		doc.reload()
		doc.delete()
		self.assertEqual(rows(), [])

	def test_a_pipeline_whose_stages_change_gets_its_deals_rows_again(self):
		from unittest.mock import patch

		pipeline = frappe.get_doc("Sales Pipeline", self.pipeline)
		with patch.object(frappe, "enqueue") as enqueue:
			pipeline.stages[0].guidance = "Only the guidance changes"
			pipeline.save()
			enqueue.assert_not_called()
			# F3 before F2: what "further along" means changes for every deal of the pipeline
			rows = pipeline.stages
			rows[1], rows[2] = rows[2], rows[1]
			for index, row in enumerate(rows, start=1):
				row.idx = index
			pipeline.save()
			enqueue.assert_called_once()
			self.assertEqual(enqueue.call_args.kwargs["pipeline"], self.pipeline)
		clear_stage_cache()
		with factories.no_commit():
			funnel.rebuild(self.pipeline)
		stored = self.conversion(self.manager)
		with patch.object(funnel, "is_current", return_value=False):
			replayed = self.conversion(self.manager)
		self.assertEqual(stored, replayed)
		self.assertEqual([row["stage"] for row in stored["stages"]][:3], [self.f1, self.f3, self.f2])
		# C went from F1 to F2, now the last open stage: still on; A's stay in F2 went on to Won only
		self.assertEqual(self.figures(stored)[self.f2][:2], (3, 1))
