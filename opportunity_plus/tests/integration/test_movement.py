"""Pipeline movement and the forecast as of a past moment, on a history written through every channel:
opening (rebuilt from the history) equals the pipeline read directly at A, closing equals the pipeline
read directly now, and opening + steps = closing; each deal lands in the step it belongs to."""

import json
from datetime import datetime

import frappe
from frappe.tests.utils import FrappeTestCase
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

from opportunity_plus.api import movement
from opportunity_plus.api.board import declare_lost, move_to_stage
from opportunity_plus.core import movement as core
from opportunity_plus.pipeline import ordered_stages
from opportunity_plus.tests.integration import endpoint, factories
from opportunity_plus.tests.integration.test_closing import AutoCloseCase

LOST_REASON = "OP Movement Reason"


def direct_pipeline(territory: str, period: core.Period, group: str | None = None):
	"""The open pipeline read straight from the opportunities (optionally by stage)."""
	rows = frappe.db.sql(
		f"""select {group or "null"} as grp, count(*) as deals, sum(base_opportunity_amount) as amount,
			sum(base_opportunity_amount * probability / 100) as weighted
		from `tabOpportunity` where territory = %(territory)s and status in ('Open', 'Replied', 'Quotation')
			and expected_closing between %(start)s and %(end)s
		group by grp""",
		{"territory": territory, "start": period.start, "end": period.end},
		as_dict=True,
	)
	return {row.grp: (row.deals, flt(row.amount, 2), flt(row.weighted, 2)) for row in rows}


class TestMovement(FrappeTestCase):
	def setUp(self):
		self.territory = factories.territory()
		self.other = factories.territory()
		today = getdate(nowdate())
		first = get_first_day(add_months(today, 1))
		self.period = core.Period(first, get_last_day(add_months(first, 2)))
		self.inside = add_days(first, 10)
		self.outside = add_days(self.period.end, 40)
		open_stages = [stage.name for stage in ordered_stages() if stage.kind == "Open"]
		self.stages = open_stages
		if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
			frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert()

	def deal(self, amount, close=None, territory=None, stage=None):
		return factories.opportunity(
			territory=territory or self.territory,
			opportunity_amount=amount,
			expected_closing=close or self.inside,
			sales_stage=stage or self.stages[0],
		)

	def context(self):
		return movement.context_of(
			factories.company(), str(self.period.start), str(self.period.end), self.territory, None
		)

	def test_identity_and_steps_through_every_channel(self):
		raised = self.deal(100)
		lowered = self.deal(200)
		pushed = self.deal(300)
		won = self.deal(400)
		lost = self.deal(500)
		pulled = self.deal(600, close=self.outside)
		unchanged = self.deal(700)
		moved_stage = self.deal(800)
		reopened = self.deal(900)
		reopened.declare_enquiry_lost([{"lost_reason": LOST_REASON}], [])
		elsewhere = self.deal(5000, territory=self.other)

		moment_a = now_datetime()
		opening_direct = direct_pipeline(self.territory, self.period)[None]
		stages_direct = direct_pipeline(self.territory, self.period, "sales_stage")

		# form
		doc = frappe.get_doc("Opportunity", raised.name)
		doc.opportunity_amount = 160
		doc.save()
		# data import
		doc = frappe.get_doc("Opportunity", lowered.name)
		doc.opportunity_amount = 150
		frappe.flags.in_import = True
		try:
			doc.save()
		finally:
			frappe.flags.in_import = False
		# REST: one pushed out of the period, one pulled in
		for name, close in ((pushed.name, self.outside), (pulled.name, self.inside)):
			answer = endpoint.call(
				"frappe.client.set_value",
				{
					"doctype": "Opportunity",
					"name": name,
					"fieldname": json.dumps({"expected_closing": str(close)}),
				},
				http="POST",
			)
			self.assertEqual(answer.status, 200, answer.message)
		# a deal created between A and the middle moment, changed after it
		late = self.deal(70)
		moment_mid = now_datetime()
		middle_direct = direct_pipeline(self.territory, self.period)[None]
		doc = frappe.get_doc("Opportunity", late.name)
		doc.opportunity_amount = 90
		doc.save()
		# ERPNext's own status update (db_set), the board's lost flow and stage move
		frappe.get_doc("Opportunity", won.name).set_status(update=True, status="Converted")
		declare_lost(lost.name, [LOST_REASON])
		move_to_stage(moved_stage.name, self.stages[-1])
		# reopened: a lost deal dragged back into an open stage
		doc = frappe.get_doc("Opportunity", reopened.name)
		doc.sales_stage = self.stages[1]
		doc.save()
		new = self.deal(1000)
		# another territory's change is not this territory's movement
		doc = frappe.get_doc("Opportunity", elsewhere.name)
		doc.opportunity_amount = 1
		doc.save()

		closing_direct = direct_pipeline(self.territory, self.period)[None]
		result = movement.compute_movement(self.context(), moment_a, None)

		self.assertEqual(flt(result.opening, 2), opening_direct[1])
		self.assertEqual(flt(result.closing, 2), closing_direct[1])
		self.assertTrue(result.balanced)

		def step(name):
			found = result.steps[name]
			return flt(found.amount, 2), sorted(deal["name"] for deal in found.deals)

		self.assertEqual(step(core.RAISED), (60, [raised.name]))
		self.assertEqual(step(core.LOWERED), (-50, [lowered.name]))
		self.assertEqual(step(core.PUSHED_OUT), (-300, [pushed.name]))
		self.assertEqual(step(core.PULLED_IN), (600, [pulled.name]))
		self.assertEqual(step(core.WON), (-400, [won.name]))
		self.assertEqual(step(core.LOST), (-500, [lost.name]))
		self.assertEqual(step(core.REOPENED), (900, [reopened.name]))
		self.assertEqual(step(core.NEW), (1090, sorted([new.name, late.name])))

		# to a moment in the past: the closing is the pipeline read directly then
		until_mid = movement.compute_movement(self.context(), moment_a, moment_mid)
		self.assertEqual(flt(until_mid.opening, 2), opening_direct[1])
		self.assertEqual(flt(until_mid.closing, 2), middle_direct[1])
		self.assertTrue(until_mid.balanced)
		self.assertEqual(flt(until_mid.steps[core.NEW].amount, 2), 70)
		self.assertNotIn(unchanged.name, [d["name"] for s in result.steps.values() for d in s.deals])
		self.assertNotIn(moved_stage.name, [d["name"] for s in result.steps.values() for d in s.deals])

		# the forecast as it stood at A, by stage, equals the direct read taken at A
		groups, unknown = movement.forecast_as_of(self.context(), moment_a, "stage")
		self.assertEqual(
			{stage: (t.count, flt(t.amount, 2), flt(t.weighted, 2)) for stage, t in groups.items()},
			stages_direct,
		)
		self.assertEqual(unknown.count, 0)

	def test_the_rest_api_answers_for_whole_days_and_a_territory_rep_sees_only_their_deals(self):
		self.deal(100)
		self.deal(999, territory=self.other)
		rep = factories.sales_user(territory_name=self.territory)
		today = getdate(nowdate())
		answer = endpoint.call(
			"opportunity_plus.api.movement.get_movement",
			{
				"from_date": str(add_days(today, -7)),
				"period_start": str(self.period.start),
				"period_end": str(self.period.end),
			},
			user=rep,
		)
		self.assertEqual(answer.status, 200, answer.message)
		self.assertTrue(answer.result["balanced"])
		names = [d["name"] for s in answer.result["steps"] for d in s["deals"]]
		self.assertTrue(names)
		self.assertTrue(
			all(frappe.db.get_value("Opportunity", name, "territory") == self.territory for name in names)
		)
		as_of = endpoint.call(
			"opportunity_plus.api.movement.get_forecast_as_of",
			{
				"group_by": "category",
				"period_start": str(self.period.start),
				"period_end": str(self.period.end),
			},
			user=rep,
		)
		self.assertEqual(as_of.status, 200, as_of.message)
		self.assertEqual(as_of.result["total"]["amount"], 100)
		for bad in (
			{"from_date": str(today), "to_date": str(add_days(today, -1))},
			{"to_date": str(add_days(today, 3))},
		):
			self.assertEqual(
				endpoint.call("opportunity_plus.api.movement.get_movement", bad, user=rep).status, 417
			)

	def test_deals_older_than_the_history_are_reported_not_guessed(self):
		old = self.deal(250)
		since = now_datetime()
		frappe.db.set_default(movement.HISTORY_SINCE_DEFAULT, str(since))
		# defaults are cached outside the transaction: roll back first, then drop the cached value
		self.addCleanup(frappe.defaults._clear_cache, "__default")
		self.addCleanup(frappe.db.rollback)
		# the deal existed before the history began: asked about a moment before that, it is not known
		frappe.db.set_value("Opportunity", old.name, "creation", add_days(since, -30), update_modified=False)
		result = movement.compute_movement(self.context(), add_days(since, -1), None)
		self.assertEqual(flt(result.opening, 2), 0)
		self.assertEqual([d["name"] for d in result.steps[core.NO_HISTORY].deals], [old.name])
		self.assertTrue(result.balanced)
		self.assertIsInstance(since, datetime)


class TestMovementThroughAutoClose(AutoCloseCase):
	"""The auto-close job's bulk close is a channel of the deal history too."""

	def test_a_deal_closed_by_the_job_leaves_the_pipeline_as_closed(self):
		today = getdate(nowdate())
		first = get_first_day(add_months(today, 1))
		period = core.Period(first, get_last_day(add_months(first, 2)))
		stale = self.stale(90, opportunity_amount=300, expected_closing=add_days(first, 5))
		kept = factories.opportunity(
			territory=self.territory, opportunity_amount=700, expected_closing=add_days(first, 6)
		)
		moment_a = now_datetime()
		opening_direct = direct_pipeline(self.territory, period)[None]
		self.run_job()
		self.assertEqual(frappe.db.get_value("Opportunity", stale, "status"), "Closed")
		closing_direct = direct_pipeline(self.territory, period)[None]
		context = movement.context_of(
			factories.company(), str(period.start), str(period.end), self.territory, None
		)
		result = movement.compute_movement(context, moment_a, None)
		self.assertEqual(flt(result.opening, 2), opening_direct[1])
		self.assertEqual(flt(result.closing, 2), closing_direct[1])
		self.assertTrue(result.balanced)
		self.assertEqual(
			(flt(result.steps[core.CLOSED].amount, 2), [d["name"] for d in result.steps[core.CLOSED].deals]),
			(-300, [stale]),
		)
		self.assertNotIn(kept.name, [d["name"] for step in result.steps.values() for d in step.deals])
