"""Stages, probability, deal history, status/stage sync, overdue flag and deal basics inside ERPNext."""

import json

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, flt, today

from opportunity_plus import tasks
from opportunity_plus.pipeline import SETTINGS, first_stage_of_kind, ordered_stages
from opportunity_plus.tests.integration import factories


def open_stages():
	stages = [stage for stage in ordered_stages() if stage.kind == "Open"]
	assert len(stages) >= 2, "the site needs at least two open stages"
	return stages


def set_setting(field, value):
	settings = frappe.get_single(SETTINGS)
	settings.set(field, value)
	settings.save()


class TestStages(FrappeTestCase):
	def test_install_seeded_a_complete_pipeline(self):
		kinds = {stage.kind for stage in ordered_stages()}
		self.assertEqual(kinds, {"Open", "Won", "Lost"})
		self.assertEqual(first_stage_of_kind("Won").probability, 100)
		self.assertEqual(first_stage_of_kind("Lost").probability, 0)

	def test_stage_probability_outside_0_100_is_refused(self):
		stage = frappe.get_doc("Sales Stage", open_stages()[0].name)
		stage.op_probability = 140
		self.assertRaises(frappe.ValidationError, stage.save)

	def test_sales_manager_may_edit_stages(self):
		self.assertTrue(frappe.has_permission("Sales Stage", "write", user=self._manager()))

	def _manager(self):
		return factories.sales_user(roles=("Sales Manager",))


class TestProbabilityFollowsStage(FrappeTestCase):
	def test_new_opportunity_gets_its_stage_probability(self):
		first = open_stages()[0]
		opp = factories.opportunity(sales_stage=first.name)
		self.assertEqual(flt(opp.probability), flt(first.probability))
		self.assertFalse(opp.op_probability_overridden)

	def test_stage_change_applies_the_new_stage_default(self):
		first, second = open_stages()[:2]
		opp = factories.opportunity(sales_stage=first.name)
		opp.sales_stage = second.name
		opp.save()
		self.assertEqual(flt(opp.probability), flt(second.probability))
		self.assertFalse(opp.op_probability_overridden)

	def test_probability_set_by_hand_is_kept_and_flagged(self):
		first, second = open_stages()[:2]
		opp = factories.opportunity(sales_stage=first.name)
		opp.probability = 33
		opp.save()
		self.assertEqual(flt(opp.probability), 33)
		self.assertTrue(opp.op_probability_overridden)
		# set by hand together with a stage change: kept for the new stage too
		opp.sales_stage, opp.probability = second.name, 44
		opp.save()
		self.assertEqual((opp.sales_stage, flt(opp.probability)), (second.name, 44))
		self.assertTrue(opp.op_probability_overridden)
		# a later stage change without a hand-set value: the stage's default applies again
		opp.sales_stage = first.name
		opp.save()
		self.assertEqual(flt(opp.probability), flt(first.probability))
		self.assertFalse(opp.op_probability_overridden)

	def test_probability_does_not_follow_stage_when_switched_off(self):
		set_setting("probability_follows_stage", 0)
		first, second = open_stages()[:2]
		opp = factories.opportunity(sales_stage=first.name, probability=42)
		opp.sales_stage = second.name
		opp.save()
		self.assertEqual(flt(opp.probability), 42)

	def test_probability_outside_0_100_is_refused_and_nothing_changes(self):
		opp = factories.opportunity(sales_stage=open_stages()[0].name)
		rows = len(factories.history(opp.name))
		for bad in (-1, 100.5, 250):
			opp.reload()
			opp.probability = bad
			self.assertRaisesRegex(frappe.ValidationError, "between 0 and 100", opp.save)
		self.assertEqual(len(factories.history(opp.name)), rows)
		self.assertEqual(
			flt(frappe.db.get_value("Opportunity", opp.name, "probability")),
			flt(open_stages()[0].probability),
		)


class TestDealHistory(FrappeTestCase):
	def setUp(self):
		self.first, self.second = open_stages()[:2]
		self.opp = factories.opportunity(sales_stage=self.first.name)

	def stage_rows(self):
		return factories.history(self.opp.name, "sales_stage")

	def test_creation_records_the_starting_values(self):
		fields = {row.changed_field for row in factories.history(self.opp.name)}
		self.assertTrue({"sales_stage", "status", "opportunity_amount", "probability"} <= fields)
		(row,) = self.stage_rows()
		self.assertEqual(
			(row.from_value, row.to_value, row.changed_by), (None, self.first.name, "Administrator")
		)

	def test_code_save_writes_exactly_one_stage_row(self):
		doc = frappe.get_doc("Opportunity", self.opp.name)
		doc.sales_stage = self.second.name
		doc.save()
		rows = self.stage_rows()
		self.assertEqual(len(rows), 2)
		self.assertEqual((rows[-1].from_value, rows[-1].to_value), (self.first.name, self.second.name))

	def test_form_save_writes_exactly_one_stage_row(self):
		from frappe.desk.form.save import savedocs

		doc = frappe.get_doc("Opportunity", self.opp.name).as_dict()
		doc["sales_stage"] = self.second.name
		savedocs(json.dumps(doc, default=str), "Save")
		self.assertEqual([r.to_value for r in self.stage_rows()], [self.first.name, self.second.name])

	def test_rest_put_writes_exactly_one_stage_row(self):
		from frappe.api.v1 import update_doc

		frappe.local.form_dict = frappe._dict(data=json.dumps({"sales_stage": self.second.name}))
		try:
			update_doc("Opportunity", self.opp.name)
		finally:
			frappe.local.form_dict = frappe._dict()
		self.assertEqual([r.to_value for r in self.stage_rows()], [self.first.name, self.second.name])

	def test_saving_without_changes_writes_nothing(self):
		before = len(factories.history(self.opp.name))
		frappe.get_doc("Opportunity", self.opp.name).save()
		self.assertEqual(len(factories.history(self.opp.name)), before)

	def test_amount_and_close_date_changes_are_recorded(self):
		doc = frappe.get_doc("Opportunity", self.opp.name)
		doc.opportunity_amount = 2500
		doc.expected_closing = add_days(today(), 30)
		doc.save()
		doc.expected_closing = add_days(today(), 60)
		doc.save()
		closing = factories.history(self.opp.name, "expected_closing")
		self.assertEqual([r.to_value for r in closing], [add_days(today(), 30), add_days(today(), 60)])
		self.assertEqual(factories.history(self.opp.name, "opportunity_amount")[-1].to_value, "2500")

	def test_form_shows_time_in_stage_and_close_date_slips(self):
		doc = frappe.get_doc("Opportunity", self.opp.name)
		for days in (10, 20, 15):
			doc.expected_closing = add_days(today(), days)
			doc.save()
		doc = frappe.get_doc("Opportunity", self.opp.name)
		doc.run_method("onload")
		summary = doc.get_onload().op_history
		self.assertEqual(summary["close_date_slips"], 1)  # 10 -> 20 slipped; 20 -> 15 pulled in
		self.assertEqual([row["stage"] for row in summary["time_in_stages"]], [self.first.name])

	def test_history_cannot_be_edited_or_deleted(self):
		name = frappe.get_all("Opportunity History", filters={"opportunity": self.opp.name}, pluck="name")[0]
		row = frappe.get_doc("Opportunity History", name)
		row.to_value = "tampered"
		self.assertRaises(frappe.PermissionError, row.save)
		self.assertRaises(frappe.PermissionError, frappe.delete_doc, "Opportunity History", name)

	def test_deleting_an_opportunity_takes_its_history(self):
		frappe.delete_doc("Opportunity", self.opp.name)
		self.assertEqual(factories.history(self.opp.name), [])


class TestStatusAndStageInStep(FrappeTestCase):
	def test_lost_stage_requires_the_lost_flow(self):
		opp = factories.opportunity(sales_stage=open_stages()[0].name)
		opp.sales_stage = first_stage_of_kind("Lost").name
		self.assertRaisesRegex(frappe.ValidationError, "lost", opp.save)
		self.assertEqual(frappe.db.get_value("Opportunity", opp.name, "sales_stage"), open_stages()[0].name)

	def test_won_stage_is_refused_until_converted(self):
		opp = factories.opportunity(sales_stage=open_stages()[0].name)
		opp.sales_stage = first_stage_of_kind("Won").name
		self.assertRaises(frappe.ValidationError, opp.save)

	def test_declaring_lost_moves_to_the_lost_stage_and_reopening_restores_the_stage(self):
		second = open_stages()[1]
		opp = factories.opportunity(sales_stage=second.name)
		if not frappe.db.exists("Opportunity Lost Reason", "OP Test Reason"):
			frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": "OP Test Reason"}).insert()
		opp.declare_enquiry_lost([{"lost_reason": "OP Test Reason"}], [])
		opp.reload()
		self.assertEqual((opp.status, opp.sales_stage), ("Lost", first_stage_of_kind("Lost").name))
		self.assertEqual(flt(opp.probability), 0)
		opp.status = "Open"
		opp.save()
		self.assertEqual((opp.status, opp.sales_stage), ("Open", second.name))
		self.assertEqual(flt(opp.probability), flt(second.probability))

	def test_conversion_set_by_erpnext_moves_to_the_won_stage(self):
		opp = factories.opportunity(sales_stage=open_stages()[0].name)
		# ERPNext marks an opportunity Converted with db_set (Quotation -> Sales Order): no save runs.
		opp.set_status(update=True, status="Converted")
		won = first_stage_of_kind("Won")
		self.assertEqual(
			frappe.db.get_value("Opportunity", opp.name, ["status", "sales_stage", "probability"]),
			("Converted", won.name, 100.0),
		)
		self.assertEqual(factories.history(opp.name, "sales_stage")[-1].to_value, won.name)
		self.assertEqual(factories.history(opp.name, "status")[-1].to_value, "Converted")
		self.assertEqual(len(factories.history(opp.name, "status")), 2)  # Open at creation, Converted


class TestDealBasics(FrappeTestCase):
	def test_deal_name_is_the_visible_title(self):
		meta = frappe.get_meta("Opportunity")
		field = meta.get_field("title")
		self.assertEqual((field.hidden, field.label), (0, "Deal Name"))
		order = [df.fieldname for df in meta.fields]
		self.assertEqual(order.index("title"), order.index("customer_name") + 1)  # under the party
		opp = factories.opportunity(title="Q3 expansion")
		self.assertEqual(frappe.db.get_value("Opportunity", opp.name, "title"), "Q3 expansion")

	def test_base_amount_follows_amount_and_rate_outside_the_form(self):
		# A REST client sends the amount and rate; only the desk form's script computed the base amount.
		opp = factories.opportunity(
			currency=factories.foreign_currency(), conversion_rate=1.25, opportunity_amount=500
		)
		self.assertEqual(flt(opp.base_opportunity_amount), 625)
		opp.opportunity_amount = 800
		opp.save()
		self.assertEqual(flt(opp.base_opportunity_amount), 1000)

	def test_amount_is_the_items_total_when_configured(self):
		set_setting("amount_from_items", 1)
		opp = factories.opportunity(opportunity_amount=1, items=[factories.item_line(qty=3, rate=150)])
		self.assertEqual(flt(opp.opportunity_amount), 450)

	def test_amount_is_kept_apart_from_items_by_default(self):
		opp = factories.opportunity(opportunity_amount=99, items=[factories.item_line(qty=3, rate=150)])
		self.assertEqual(flt(opp.opportunity_amount), 99)

	def test_close_date_required_from_the_configured_stage(self):
		first, second = open_stages()[:2]
		set_setting("close_date_required_from_stage", second.name)
		factories.opportunity(sales_stage=first.name)  # earlier stage: fine without a date
		self.assertRaisesRegex(
			frappe.ValidationError, "Expected Closing Date", factories.opportunity, sales_stage=second.name
		)
		opp = factories.opportunity(sales_stage=second.name, expected_closing=add_days(today(), 5))
		self.assertTrue(opp.name)

	def test_overdue_flag_on_save(self):
		opp = factories.opportunity(expected_closing=add_days(today(), -1))
		self.assertEqual(opp.op_is_overdue, 1)
		opp.expected_closing = today()
		opp.save()
		self.assertEqual(opp.op_is_overdue, 0)

	def test_daily_job_flags_what_became_overdue_and_is_idempotent(self):
		late = factories.opportunity(expected_closing=add_days(today(), 3))
		done = factories.opportunity(expected_closing=add_days(today(), 3))
		frappe.db.set_value("Opportunity", late.name, "expected_closing", add_days(today(), -2))
		frappe.db.set_value(
			"Opportunity", done.name, {"expected_closing": add_days(today(), -2), "status": "Closed"}
		)
		for _run in range(2):
			tasks.flag_overdue_opportunities()
			self.assertEqual(frappe.db.get_value("Opportunity", late.name, "op_is_overdue"), 1)
			self.assertEqual(frappe.db.get_value("Opportunity", done.name, "op_is_overdue"), 0)
		self.assertIn(late.name, frappe.get_all("Opportunity", filters={"op_is_overdue": 1}, pluck="name"))


class TestInstallBackfill(FrappeTestCase):
	def test_install_repairs_stale_base_amounts_and_flags_overdue(self):
		from opportunity_plus.setup.install import backfill_opportunities

		opp = factories.opportunity(
			currency=factories.foreign_currency(), conversion_rate=1.5, opportunity_amount=200
		)
		# as ERPNext leaves rows written outside the desk form, before the app was installed
		frappe.db.set_value(
			"Opportunity",
			opp.name,
			{"base_opportunity_amount": 0, "expected_closing": add_days(today(), -3), "op_is_overdue": 0},
			update_modified=False,
		)
		modified = frappe.db.get_value("Opportunity", opp.name, "modified")
		backfill_opportunities()
		self.assertEqual(
			frappe.db.get_value(
				"Opportunity", opp.name, ["base_opportunity_amount", "op_is_overdue", "modified"]
			),
			(300.0, 1, modified),
		)
