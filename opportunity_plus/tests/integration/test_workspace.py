"""The workspace, its number cards and charts are installed and answer for a sales user."""

import frappe
from frappe.tests.utils import FrappeTestCase

from opportunity_plus.api import cards, forecast_call
from opportunity_plus.tests.integration import factories
from opportunity_plus.tests.integration.test_forecast import ForecastFixture

CARD_METHODS = {
	"Open Pipeline": cards.open_pipeline,
	"Weighted Pipeline": cards.weighted_pipeline,
	"Won This Quarter": cards.won_this_quarter,
	"Win Rate": cards.win_rate,
	"Target Attainment": cards.target_attainment,
	"Pipeline Coverage": cards.pipeline_coverage,
	"My Forecast Call": forecast_call.my_forecast_call,
}
PIPELINE_CARDS = ("Open Pipeline", "Weighted Pipeline", "Won This Quarter", "Win Rate")


class TestWorkspace(FrappeTestCase):
	def test_workspace_links_cards_and_charts_that_exist(self):
		workspace = frappe.get_doc("Workspace", "Opportunity Plus")
		self.assertEqual(workspace.module, "Opportunity Plus")
		self.assertEqual({row.number_card_name for row in workspace.number_cards}, set(CARD_METHODS))
		for row in workspace.number_cards:
			card = frappe.get_doc("Number Card", row.number_card_name)
			self.assertEqual(card.type, "Custom")
			self.assertIs(frappe.get_attr(card.method), CARD_METHODS[card.name])
		for row in workspace.charts:
			self.assertTrue(frappe.db.exists("Dashboard Chart", row.chart_name))
		for link in workspace.links:
			if link.type == "Link":
				doctype = {"DocType": "DocType", "Report": "Report", "Page": "Page"}[link.link_type]
				self.assertTrue(frappe.db.exists(doctype, link.link_to), link.link_to)


class TestNumberCards(ForecastFixture):
	def test_cards_show_the_restricted_users_pipeline(self):
		user = factories.sales_user(territory_name=self.territory)
		frappe.set_user(user)
		self.assertEqual(cards.open_pipeline()["value"], 1600.0)
		self.assertEqual(cards.weighted_pipeline()["value"], 1080.0)
		for name in PIPELINE_CARDS:
			result = CARD_METHODS[name]()
			self.assertIn(result["fieldtype"], ("Currency", "Percent"))
			self.assertEqual(result["route"], ["query-report", "Pipeline Forecast"])
		# the planning cards show the quarter's company figures as the Sales Forecast computes them for this
		# user, or say why there is none
		from opportunity_plus.api.cards import _quarter_attainment

		total = _quarter_attainment(None)
		attainment, coverage = cards.target_attainment(), cards.pipeline_coverage()
		# a number, or None where no figure applies (Frappe's card shows N/A; a text would break it)
		self.assertEqual(
			attainment["value"], None if total["attainment"] is None else round(total["attainment"] * 100, 1)
		)
		self.assertEqual(
			coverage["value"], None if total["coverage"] is None else round(total["coverage"], 2)
		)
		self.assertEqual({attainment["route"][0], coverage["route"][0]}, {"sales-forecast"})
