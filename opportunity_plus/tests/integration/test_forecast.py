"""The forecast API and the Pipeline Forecast report against a hand-computed fixture, and permissions."""

import frappe
from frappe.tests.utils import FrappeTestCase

from opportunity_plus.api.forecast import get_forecast
from opportunity_plus.pipeline import first_stage_of_kind
from opportunity_plus.tests.integration import factories

LOST_REASON = "OP Test Reason"


class ForecastFixture(FrappeTestCase):
	"""Four deals in a territory of their own.

	| deal | status    | stage (prob.)       | amount        | base | weighted | close      |
	| A    | Open      | Proposal/Price Q.60 | 1000          | 1000 | 600      | 2026-01-15 |
	| B    | Open      | Negotiation 80      | 500 FX x 1.2  | 600  | 480      | 2026-02-10 |
	| C    | Converted | Won (via ERPNext)   | 2000          | 2000 | -        | 2027-01-20 |
	| D    | Lost      | Lost                | 300           | 300  | -        | 2026-02-28 |
	Amounts in the company currency, but B's in another (FX), at 1.2 (the rate also given as today's
	Currency Exchange: without network ERPNext could not fetch a missing one).
	By stage: Proposal 1/1000/600, Negotiation 1/600/480, Won won 2000, Lost lost 300.
	Total: 4 deals, open 1600, weighted 1080, won 2000, lost 300, win rate 1/2.
	"""

	def setUp(self):
		foreign = factories.foreign_currency(rate=1.2)
		self.territory = factories.territory()
		self.proposal = self.stage("Proposal/Price Quote", 60)
		self.negotiation = self.stage("Negotiation/Review", 80)

		def deal(**values):
			return factories.opportunity(territory=self.territory, **values)

		self.a = deal(sales_stage=self.proposal, opportunity_amount=1000, expected_closing="2026-01-15")
		self.b = deal(
			sales_stage=self.negotiation,
			currency=foreign,
			conversion_rate=1.2,
			opportunity_amount=500,
			expected_closing="2026-02-10",
		)
		self.c = deal(sales_stage=self.proposal, opportunity_amount=2000, expected_closing="2027-01-20")
		self.c.set_status(update=True, status="Converted")
		self.d = deal(sales_stage=self.negotiation, opportunity_amount=300, expected_closing="2026-02-28")
		if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
			frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert()
		self.d.declare_enquiry_lost([{"lost_reason": LOST_REASON}], [])

	def stage(self, name, probability):
		# Pin the probabilities the fixture is computed with, whatever the site configured.
		frappe.db.set_value("Sales Stage", name, "op_probability", probability)
		from opportunity_plus.pipeline import clear_stage_cache

		clear_stage_cache()
		return name

	def forecast(self, **kwargs):
		return get_forecast(filters={"territory": self.territory}, **kwargs)


class TestForecast(ForecastFixture):
	def test_by_stage_matches_the_hand_computed_figures(self):
		result = self.forecast(company=factories.company(), group_by="stage")
		rows = {
			row["key"]: (
				row["count"],
				row["amount"],
				row["weighted_amount"],
				row["won_amount"],
				row["lost_amount"],
			)
			for row in result["rows"]
		}
		self.assertEqual(
			rows,
			{
				self.proposal: (1, 1000.0, 600.0, 0.0, 0.0),
				self.negotiation: (1, 600.0, 480.0, 0.0, 0.0),
				first_stage_of_kind("Won").name: (1, 0.0, 0.0, 2000.0, 0.0),
				first_stage_of_kind("Lost").name: (1, 0.0, 0.0, 0.0, 300.0),
			},
		)
		self.assertEqual(list(rows)[:2], [self.proposal, self.negotiation])  # pipeline order
		total = result["total"]
		self.assertEqual(
			(
				total["count"],
				total["amount"],
				total["weighted_amount"],
				total["won_amount"],
				total["win_rate"],
			),
			(4, 1600.0, 1080.0, 2000.0, 0.5),
		)
		self.assertEqual(result["currency"], factories.currency())

	def test_quarters_are_year_aware(self):
		rows = self.forecast(group_by="close_quarter")["rows"]
		self.assertEqual(
			[(r["key"], r["count"], r["weighted_amount"], r["won_amount"]) for r in rows],
			[("2026-Q1", 3, 1080.0, 0.0), ("2027-Q1", 1, 0.0, 2000.0)],
		)

	def test_date_window_and_chart(self):
		result = self.forecast(group_by="close_month", from_date="2026-01-01", to_date="2026-12-31")
		self.assertEqual([r["key"] for r in result["rows"]], ["2026-01", "2026-02"])
		self.assertEqual(result["chart"]["periods"], ["2026-01", "2026-02"])
		self.assertEqual(result["chart"]["weighted"][self.proposal], [600.0, 0.0])
		self.assertEqual(result["chart"]["weighted"][self.negotiation], [0.0, 480.0])

	def test_bad_input_is_refused_clearly(self):
		self.assertRaisesRegex(frappe.ValidationError, "Cannot group", self.forecast, group_by="colour")
		self.assertRaisesRegex(frappe.ValidationError, "company", self.forecast, company="No Such Co")
		self.assertRaisesRegex(
			frappe.ValidationError, "after", self.forecast, from_date="2026-02-01", to_date="2026-01-01"
		)
		self.assertRaisesRegex(frappe.ValidationError, "Cannot filter", get_forecast, filters={"name": "x"})

	def test_report_shows_the_same_figures_with_a_total_and_chart(self):
		from frappe.desk.query_report import run

		result = run(
			"Pipeline Forecast",
			filters={"company": factories.company(), "group_by": "stage", "territory": self.territory},
		)
		total = result["result"][-1]
		self.assertEqual((total["count"], total["weighted_amount"], total["win_rate"]), (4, 1080.0, 50.0))
		self.assertEqual(result["chart"]["type"], "bar")


class TestForecastPermissions(ForecastFixture):
	def test_sales_user_restricted_to_a_territory_sees_only_it(self):
		other_territory = factories.territory()
		factories.opportunity(territory=other_territory, opportunity_amount=999_999)
		user = factories.sales_user(territory_name=self.territory)
		frappe.set_user(user)
		# No territory filter from the caller: the user permission alone restricts the figures.
		result = get_forecast(company=factories.company(), group_by="territory")
		self.assertEqual([row["key"] for row in result["rows"]], [self.territory])
		self.assertEqual(result["total"]["count"], 4)

		from frappe.desk.query_report import run

		report = run("Pipeline Forecast", filters={"company": factories.company(), "group_by": "territory"})
		self.assertEqual([row["key"] for row in report["result"][:-1]], [self.territory])

	def test_user_without_opportunity_access_is_refused(self):
		user = factories.sales_user(roles=("Accounts User",))
		frappe.set_user(user)
		self.assertRaises(frappe.PermissionError, get_forecast, company=factories.company())

	def test_history_rows_follow_opportunity_permissions(self):
		other = factories.opportunity(territory=factories.territory())
		user = factories.sales_user(territory_name=self.territory)
		frappe.set_user(user)
		visible = set(frappe.get_list("Opportunity History", pluck="opportunity"))
		self.assertIn(self.a.name, visible)
		self.assertNotIn(other.name, visible)
		row = frappe.get_all("Opportunity History", filters={"opportunity": other.name}, pluck="name")[0]
		self.assertFalse(frappe.has_permission("Opportunity History", "read", row, user=user))
