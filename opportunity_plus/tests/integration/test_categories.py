"""Forecast categories: stage defaults, the owner's override and its history, the category in force after
every kind of change, and the forecast by category (api.categories, the Forecast by Category report)
against the hand-computed fixture of test_targets."""

import frappe
from frappe.desk.query_report import run
from frappe.tests.utils import FrappeTestCase

from opportunity_plus import categories
from opportunity_plus.api.categories import get_category_forecast
from opportunity_plus.pipeline import get_stages
from opportunity_plus.tests.integration import factories
from opportunity_plus.tests.integration.test_closing import lost_reason
from opportunity_plus.tests.integration.test_targets import TargetsFixture, sales_stage

EFFECTIVE = "op_effective_forecast_category"


def stored(name: str) -> tuple:
	"""(override, category in force, stage, status) as saved; a blank override as None."""
	values = frappe.db.get_value(
		"Opportunity", name, ["op_forecast_category", EFFECTIVE, "sales_stage", "status"]
	)
	return (values[0] or None, *values[1:])


class TestStageCategories(FrappeTestCase):
	def test_a_new_stage_gets_the_default_of_its_kind(self):
		doc = frappe.get_doc(
			{"doctype": "Sales Stage", "stage_name": "OP Signed Test", "op_stage_kind": "Won"}
		).insert(ignore_permissions=True)
		self.assertEqual(doc.op_forecast_category, "Closed")
		self.assertEqual(get_stages()[doc.name].forecast_category, "Closed")

	def test_migrate_fills_blank_categories_only(self):
		blank = sales_stage("OP Blank", "Commit")
		kept = sales_stage("OP Kept", "Commit")
		frappe.db.set_value("Sales Stage", blank, "op_forecast_category", "")
		categories.sync()
		self.assertEqual(frappe.db.get_value("Sales Stage", blank, "op_forecast_category"), "Pipeline")
		self.assertEqual(frappe.db.get_value("Sales Stage", kept, "op_forecast_category"), "Commit")

	def test_stock_stages_are_seeded(self):
		stock = {
			"Prospecting": "Pipeline",
			"Proposal/Price Quote": "Best Case",
			"Negotiation/Review": "Best Case",
		}
		present = {
			name: category for name, category in stock.items() if frappe.db.exists("Sales Stage", name)
		}
		for name in present:
			frappe.db.set_value("Sales Stage", name, "op_forecast_category", "")
		categories.sync()
		for name, category in present.items():
			self.assertEqual(frappe.db.get_value("Sales Stage", name, "op_forecast_category"), category)


class TestOverride(FrappeTestCase):
	def setUp(self):
		self.early = sales_stage("OP Early", "Pipeline")
		self.late = sales_stage("OP Late", "Best Case")
		self.doc = factories.opportunity(sales_stage=self.early, expected_closing="2091-05-01")

	def history(self):
		return [
			(row.from_value, row.to_value) for row in factories.history(self.doc.name, "op_forecast_category")
		]

	def test_stage_default_then_override_recorded_in_the_history(self):
		self.assertEqual(stored(self.doc.name)[:2], (None, "Pipeline"))
		self.doc.op_forecast_category = "Commit"
		self.doc.save()
		self.assertEqual(stored(self.doc.name)[:2], ("Commit", "Commit"))
		self.assertEqual(self.history(), [(None, "Commit")])

	def test_a_stage_change_clears_the_override_unless_set_in_the_same_save(self):
		self.doc.op_forecast_category = "Omitted"
		self.doc.save()
		self.doc.sales_stage = self.late
		self.doc.save()
		self.assertEqual(stored(self.doc.name)[:2], (None, "Best Case"))
		self.assertEqual(self.history(), [(None, "Omitted"), ("Omitted", None)])

		self.doc.sales_stage = self.early
		self.doc.op_forecast_category = "Commit"
		self.doc.save()
		self.assertEqual(stored(self.doc.name)[:2], ("Commit", "Commit"))

	def test_converting_behind_the_scenes_closes_the_category_and_clears_the_override(self):
		self.doc.op_forecast_category = "Commit"
		self.doc.save()
		self.doc.set_status(update=True, status="Converted")  # ERPNext's db_set, as a sales order does
		override, effective, stage, status = stored(self.doc.name)
		self.assertEqual((override, effective, status), (None, "Closed", "Converted"))
		self.assertEqual(get_stages()[stage].kind, "Won")
		self.assertEqual(self.history()[-1], ("Commit", None))

	def test_lost_is_omitted_and_reopening_follows_the_stage(self):
		self.doc.declare_enquiry_lost([{"lost_reason": lost_reason()}], [], "x")
		self.assertEqual(stored(self.doc.name)[1], "Omitted")
		self.doc.reload()
		self.doc.status = "Open"
		self.doc.save()  # back to the open stage it left
		self.assertEqual(stored(self.doc.name)[1:3], ("Pipeline", self.early))

	def test_a_stage_whose_category_changes_moves_its_deals(self):
		kept = factories.opportunity(
			sales_stage=self.early, expected_closing="2091-05-01", op_forecast_category="Omitted"
		)
		stage = frappe.get_doc("Sales Stage", self.early)
		stage.op_forecast_category = "Commit"
		stage.save()
		self.assertEqual(stored(self.doc.name)[1], "Commit")
		self.assertEqual(stored(kept.name)[:2], ("Omitted", "Omitted"))

	def test_backfill_repairs_stale_rows(self):
		frappe.db.set_value("Opportunity", self.doc.name, EFFECTIVE, None, update_modified=False)
		self.assertGreaterEqual(categories.refresh_effective(), 1)
		self.assertEqual(stored(self.doc.name)[1], "Pipeline")
		self.assertEqual(categories.refresh_effective(), 0)


def totals(figures: dict) -> tuple:
	return (
		figures["closed_amount"],
		figures["commit_amount"],
		figures["best_case_amount"],
		figures["pipeline_amount"],
		figures["omitted_amount"],
		figures["open_amount"],
	)


class TestCategoryForecast(TargetsFixture):
	"""The fixture's deals by category, 2091-Q2 and 2091-Q3 (see TargetsFixture)."""

	def forecast(self, group_by, **kwargs):
		return get_category_forecast(
			period="2091-Q2", company=self.company, group_by=group_by, periods=2, **kwargs
		)

	def test_the_category_in_force_is_stored(self):
		expected = {
			self.a_won: "Closed",
			self.a_open: "Commit",
			self.a_lost: "Omitted",
			self.b_open: "Best Case",
			self.b_late: "Pipeline",
			self.c_open: "Omitted",
		}
		for doc, category in expected.items():
			self.assertEqual(stored(doc.name)[1], category, doc.name)

	def test_by_owner(self):
		result = self.forecast("owner")
		self.assertEqual([p["key"] for p in result["periods"]], ["2091-Q2", "2091-Q3"])
		rows = {row["key"]: row for row in result["rows"]}
		ann, bob, carl = rows[self.ann], rows[self.bob], rows[self.carl]
		# closed, commit, best case (incl. commit), pipeline, omitted, open
		self.assertEqual(totals(ann["periods"]["2091-Q2"]), (1000.0, 2000.0, 2000.0, 0.0, 500.0, 2000.0))
		self.assertEqual(totals(ann["periods"]["2091-Q3"]), (3000.0, 0.0, 0.0, 0.0, 0.0, 0.0))
		self.assertEqual(totals(bob["periods"]["2091-Q2"]), (1200.0, 0.0, 4000.0, 0.0, 0.0, 4000.0))
		self.assertEqual(totals(bob["periods"]["2091-Q3"]), (0.0, 0.0, 0.0, 800.0, 0.0, 800.0))
		self.assertEqual(totals(carl["total"]), (0.0, 0.0, 0.0, 0.0, 600.0, 0.0))
		self.assertEqual((ann["total"]["closed_count"], ann["total"]["omitted_count"]), (2, 1))

	def test_managers_view_rolls_reps_up(self):
		rows = {row["key"]: row for row in self.forecast("sales_person")["rows"]}
		mgr = rows[self.mgr]
		self.assertEqual(totals(mgr["periods"]["2091-Q2"]), (2200.0, 2000.0, 6000.0, 0.0, 500.0, 6000.0))
		self.assertEqual(totals(mgr["total"]), (5200.0, 2000.0, 6000.0, 800.0, 500.0, 6800.0))
		self.assertEqual((rows[self.ann_sp]["parent"], rows[self.bob_sp]["parent"]), (self.mgr, self.mgr))
		self.assertEqual(totals(rows[None]["total"]), (0.0, 0.0, 0.0, 0.0, 600.0, 0.0))  # Carl: no employee

	def test_by_territory_tree(self):
		result = self.forecast("territory")
		rows = {row["key"]: row for row in result["rows"]}
		self.assertEqual(
			totals(rows[self.region]["periods"]["2091-Q2"]), (2200.0, 2000.0, 6000.0, 0.0, 1100.0, 6000.0)
		)
		self.assertEqual(totals(rows[self.north]["total"]), (1000.0, 2000.0, 2000.0, 0.0, 500.0, 2000.0))
		self.assertEqual(
			totals(rows[self.south]["periods"]["2091-Q3"]), (3000.0, 0.0, 0.0, 800.0, 0.0, 800.0)
		)
		self.assertEqual(
			totals(result["total"]["periods"]["2091-Q2"]), (2200.0, 2000.0, 6000.0, 0.0, 1100.0, 6000.0)
		)

	def test_a_month_and_a_fiscal_year(self):
		month = get_category_forecast(period="2091-05", company=self.company, group_by="owner")
		self.assertEqual(totals(month["total"]["total"]), (1000.0, 0.0, 4000.0, 0.0, 500.0, 4000.0))
		year = get_category_forecast(period=self.fy, company=self.company, group_by="owner")
		self.assertEqual(totals(year["total"]["total"]), (5200.0, 2000.0, 6000.0, 800.0, 1100.0, 6800.0))

	def test_report(self):
		report = run(
			"Forecast by Category",
			{"company": self.company, "period": "2091-Q2", "periods": 2, "group_by": "sales_person"},
		)
		rows = {row["key"]: row for row in report["result"]}
		self.assertEqual(rows[self.mgr]["p0_best_case_amount"], 6000.0)
		self.assertEqual(rows[self.mgr]["p1_closed_amount"], 3000.0)
		self.assertEqual(rows[self.company]["omitted_amount"], 1100.0)
		labels = [column["label"] for column in report["columns"]]
		self.assertIn("Best Case (2091-Q2)", labels)

	def test_a_territory_limited_user_counts_only_what_they_may_read(self):
		frappe.set_user(factories.sales_user(territory_name=self.north))
		result = self.forecast("territory")
		self.assertEqual([row["key"] for row in result["rows"]], [self.north])
		self.assertEqual(totals(result["total"]["total"]), (1000.0, 2000.0, 2000.0, 0.0, 500.0, 2000.0))

	def test_bad_input(self):
		for kwargs in ({"group_by": "stage"}, {"periods": 13}, {"period": "someday"}):
			with self.subTest(**kwargs), self.assertRaises(frappe.ValidationError):
				get_category_forecast(
					**{"period": "2091-Q2", "company": self.company, "group_by": "owner", **kwargs}
				)
