"""Sales pipelines on every channel: which pipeline a deal goes to, only its pipeline's stages, a move to
another pipeline, the entry rules of a stage, the default pipeline in step with the Sales Stages, and the
pipelines' own rules. Channels: code, REST (frappe.client), the desk form's save, data import, the board,
lead conversion; as a Sales User limited to a territory and as a Sales Manager."""

import json

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, nowdate, random_string

from opportunity_plus.api.board import declare_lost, move_to_stage
from opportunity_plus.api.lead import convert_lead
from opportunity_plus.api.pipelines import get_pipelines, get_stage_requirements, suggest_pipeline
from opportunity_plus.api.stages import get_stages, search_stages
from opportunity_plus.events.opportunity import MissingForStage
from opportunity_plus.pipeline import clear_stage_cache, default_pipeline, get_pipeline, ordered_stages
from opportunity_plus.tests.integration import endpoint, factories

PIPELINE = "Sales Pipeline"


def sales_stage(name: str) -> str:
	"""A new Sales Stage (a Sales Manager's record; it joins the default pipeline only while that is the
	site's only pipeline)."""
	if not frappe.db.exists("Sales Stage", name):
		frappe.get_doc({"doctype": "Sales Stage", "stage_name": name}).insert(ignore_permissions=True)
	return name


def make_pipeline(name: str, rows: list[dict], *, types=(), companies=(), enabled=1) -> str:
	doc = frappe.get_doc(
		{
			"doctype": PIPELINE,
			"pipeline_name": name,
			"enabled": enabled,
			"stages": rows,
			"opportunity_types": [{"opportunity_type": value} for value in types],
			"companies": [{"company": value} for value in companies],
		}
	).insert(ignore_permissions=True)
	return doc.name


def lost_reason() -> str:
	name = "OP Pipeline Reason"
	if not frappe.db.exists("Opportunity Lost Reason", name):
		frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": name}).insert(
			ignore_permissions=True
		)
	return name


def opportunity_type(name: str) -> str:
	if not frappe.db.exists("Opportunity Type", name):
		frappe.get_doc({"doctype": "Opportunity Type", "name": name}).insert(ignore_permissions=True)
	return name


class PipelineCase(FrappeTestCase):
	"""The site's default pipeline, and "Renewals": Renewal Due (open), Renewal Quote (open, needs a contact
	person, an amount and an item line), Renewed (won), Churned (lost); deals of type "OP Renewal" go there."""

	def setUp(self):
		clear_stage_cache()
		self.default = default_pipeline()
		self.default_open = [stage.name for stage in ordered_stages(self.default) if stage.kind == "Open"]
		self.territory = factories.territory()
		suffix = random_string(5)
		self.renewals = f"OP Renewals {suffix}"
		self.type = opportunity_type(f"OP Renewal {suffix}")
		# the pipeline first: while the default is the site's only pipeline, a new stage joins it
		make_pipeline(
			self.renewals, [{"sales_stage": self.default_open[0], "stage_kind": "Open"}], types=[self.type]
		)
		self.due = sales_stage(f"OP Renewal Due {suffix}")
		self.quote = sales_stage(f"OP Renewal Quote {suffix}")
		self.renewed = sales_stage(f"OP Renewed {suffix}")
		self.churned = sales_stage(f"OP Churned {suffix}")
		doc = frappe.get_doc(PIPELINE, self.renewals)
		doc.set(
			"stages",
			[
				{"sales_stage": self.due, "stage_kind": "Open", "probability": 25, "guidance": "Call them."},
				{
					"sales_stage": self.quote,
					"stage_kind": "Open",
					"probability": 70,
					"forecast_category": "Commit",
					"required_fields": "contact_person\nopportunity_amount\nitems",
					"guidance": "Send the renewal quote.",
				},
				{"sales_stage": self.renewed, "stage_kind": "Won", "probability": 100},
				{"sales_stage": self.churned, "stage_kind": "Lost", "probability": 0},
			],
		)
		doc.save(ignore_permissions=True)
		clear_stage_cache()
		self.rep = factories.sales_user(territory_name=self.territory)
		self.manager = factories.sales_user(roles=("Sales Manager", "Sales User"))

	def deal(self, **values):
		return factories.opportunity(territory=self.territory, **values)

	def renewal(self, **values):
		return self.deal(opportunity_type=self.type, **values)

	def contact(self) -> str:
		return (
			frappe.get_doc({"doctype": "Contact", "first_name": f"OP {random_string(5)}"})
			.insert(ignore_permissions=True)
			.name
		)


class TestTheDefaultPipeline(PipelineCase):
	def test_install_made_it_from_the_stages_and_every_deal_is_in_a_pipeline(self):
		default = get_pipeline()
		self.assertTrue(default.is_default and default.enabled)
		stages = {
			row.name: row
			for row in frappe.get_all(
				"Sales Stage", fields=["name", "op_probability", "op_stage_kind", "op_forecast_category"]
			)
		}
		for row in default.stages:
			with self.subTest(stage=row.stage.name):
				stage = stages[row.stage.name]
				self.assertEqual(
					(row.stage.kind, row.stage.probability, row.stage.forecast_category),
					(stage.op_stage_kind, stage.op_probability, stage.op_forecast_category),
				)
		self.deal()
		self.assertEqual(frappe.db.count("Opportunity", {"op_pipeline": ("is", "not set")}), 0)

	def test_migrate_puts_deals_of_a_pipeline_gone_in_the_default(self):
		# after uninstall and reinstall the column still names the pipelines uninstall removed
		gone, blank = self.deal(), self.deal()
		frappe.db.set_value("Opportunity", gone.name, "op_pipeline", "OP Uninstalled Pipeline")
		frappe.db.set_value("Opportunity", blank.name, "op_pipeline", None)
		from opportunity_plus import pipelines

		pipelines.backfill_opportunities()
		for name in (gone.name, blank.name):
			self.assertEqual(frappe.db.get_value("Opportunity", name, "op_pipeline"), self.default)

	def test_a_deal_without_a_rule_goes_to_the_default(self):
		self.assertEqual(self.deal().op_pipeline, self.default)

	def test_the_sales_stage_and_the_default_pipeline_follow_each_other(self):
		stage = self.default_open[1]
		doc = frappe.get_doc("Sales Stage", stage)
		doc.op_probability = 33
		doc.op_forecast_category = "Commit"
		doc.save(ignore_permissions=True)
		row = get_pipeline().stage(stage)
		self.assertEqual((row.stage.probability, row.stage.forecast_category), (33, "Commit"))

		default = frappe.get_doc(PIPELINE, self.default)
		for row in default.stages:
			if row.sales_stage == stage:
				row.probability = 44
		default.save(ignore_permissions=True)
		self.assertEqual(frappe.db.get_value("Sales Stage", stage, "op_probability"), 44)

	def test_a_stage_created_with_two_pipelines_joins_neither(self):
		stage = sales_stage(f"OP Loose {random_string(5)}")
		clear_stage_cache()
		self.assertNotIn(stage, get_pipeline().stage_names())
		self.assertNotIn(stage, get_pipeline(self.renewals).stage_names())

	def test_a_stage_deleted_from_the_only_pipeline_leaves_no_row(self):
		frappe.delete_doc(PIPELINE, self.renewals, ignore_permissions=True)
		clear_stage_cache()
		stage = sales_stage(f"OP Passing {random_string(5)}")
		clear_stage_cache()
		self.assertIn(stage, get_pipeline().stage_names())  # joined the site's only pipeline
		frappe.delete_doc("Sales Stage", stage, ignore_permissions=True)
		clear_stage_cache()
		self.assertNotIn(stage, get_pipeline().stage_names())
		self.assertFalse(frappe.db.exists("Sales Pipeline Stage", {"sales_stage": stage}))

	def test_deleting_a_stage_another_pipeline_holds_is_refused(self):
		with self.assertRaisesRegex(frappe.LinkExistsError, "remove it from them first"):
			frappe.delete_doc("Sales Stage", self.due, ignore_permissions=True)


class TestWhichPipeline(PipelineCase):
	def test_by_opportunity_type_through_every_channel(self):
		self.assertEqual(self.renewal().op_pipeline, self.renewals)
		# REST, as a territory-limited Sales User
		values = {
			"doctype": "Opportunity",
			"opportunity_from": "Lead",
			"party_name": factories.lead(),
			"company": factories.company(),
			"currency": factories.currency(),
			"territory": self.territory,
			"opportunity_type": self.type,
		}
		answer = endpoint.call(
			"frappe.client.insert", {"doc": json.dumps(values)}, user=self.rep, http="POST"
		)
		self.assertEqual(answer.status, 200, answer.message)
		self.assertEqual(answer.result["op_pipeline"], self.renewals)
		# data import (the importer's new document carries the doctype's defaults)
		values.update(party_name=factories.lead(), transaction_date=nowdate())
		frappe.flags.in_import = True
		try:
			imported = frappe.get_doc(values).insert(ignore_permissions=True)
		finally:
			frappe.flags.in_import = False
		self.assertEqual(imported.op_pipeline, self.renewals)
		self.assertEqual(suggest_pipeline(self.type, factories.company()), self.renewals)
		self.assertEqual(suggest_pipeline("Sales", factories.company()), self.default)

	def test_by_company_and_the_most_specific_rule(self):
		company = factories.company()
		by_company = make_pipeline(
			f"OP By Company {random_string(5)}",
			[{"sales_stage": self.due, "stage_kind": "Open"}],
			companies=[company],
		)
		clear_stage_cache()
		self.assertEqual(self.deal().op_pipeline, by_company)
		self.assertEqual(self.renewal().op_pipeline, self.renewals)  # type beats company

	def test_a_pipeline_chosen_by_hand_is_kept_and_a_disabled_one_refused(self):
		manual = make_pipeline(
			f"OP Manual {random_string(5)}", [{"sales_stage": self.due, "stage_kind": "Open"}]
		)
		clear_stage_cache()
		self.assertEqual(self.deal(op_pipeline=manual, sales_stage=self.due).op_pipeline, manual)
		frappe.db.set_value(PIPELINE, manual, "enabled", 0)
		clear_stage_cache()
		with self.assertRaisesRegex(frappe.ValidationError, "is disabled"):
			self.deal(op_pipeline=manual, sales_stage=self.due)

	def test_lead_conversion_puts_the_deal_in_a_pipeline(self):
		frappe.set_user(self.rep)
		lead = factories.lead()
		frappe.db.set_value("Lead", lead, "territory", self.territory)
		made = convert_lead(lead, deal_name="Renewal deal", pipeline=self.renewals, sales_stage=self.due)
		deal = frappe.get_doc("Opportunity", made["opportunity"])
		self.assertEqual((deal.op_pipeline, deal.sales_stage), (self.renewals, self.due))
		other = factories.lead()
		frappe.db.set_value("Lead", other, "territory", self.territory)
		with self.assertRaisesRegex(frappe.ValidationError, "is not a stage of the pipeline"):
			convert_lead(other, pipeline=self.renewals, sales_stage=self.default_open[-1])
		self.assertFalse(frappe.db.exists("Customer", {"lead_name": other}))


class TestOnlyThePipelinesStages(PipelineCase):
	def test_a_stage_of_another_pipeline_is_refused_on_every_channel(self):
		deal = self.renewal()
		foreign = self.default_open[-1]
		message = "is not a stage of the pipeline"
		# code
		doc = frappe.get_doc("Opportunity", deal.name)
		doc.sales_stage = foreign
		self.assertRaisesRegex(frappe.ValidationError, message, doc.save, ignore_permissions=True)
		# REST, as the rep and as a manager
		for user in (self.rep, self.manager):
			answer = endpoint.call(
				"frappe.client.set_value",
				{"doctype": "Opportunity", "name": deal.name, "fieldname": "sales_stage", "value": foreign},
				user=user,
				http="POST",
			)
			self.assertEqual(answer.status, 417, answer.message)
			self.assertIn(message, answer.message)
		# the desk form's save
		form = frappe.get_doc("Opportunity", deal.name).as_dict()
		form["sales_stage"] = foreign
		answer = endpoint.call(
			"frappe.desk.form.save.savedocs",
			{"doc": json.dumps(form, default=str), "action": "Save"},
			user=self.rep,
			http="POST",
		)
		self.assertEqual(answer.status, 417, answer.message)
		# data import of a new deal
		lead = factories.lead()
		frappe.flags.in_import = True
		try:
			new = frappe.get_doc(
				{
					"doctype": "Opportunity",
					"opportunity_from": "Lead",
					"party_name": lead,
					"company": factories.company(),
					"opportunity_type": self.type,
					"sales_stage": foreign,
				}
			)
			self.assertRaisesRegex(frappe.ValidationError, message, new.insert, ignore_permissions=True)
		finally:
			frappe.flags.in_import = False
		# the board
		answer = endpoint.call(
			"opportunity_plus.api.board.move_to_stage",
			{"opportunity": deal.name, "stage": foreign},
			user=self.rep,
			http="POST",
		)
		self.assertEqual(answer.status, 417, answer.message)
		self.assertIn(message, answer.message)
		self.assertEqual(frappe.db.get_value("Opportunity", deal.name, "sales_stage"), self.due)

	def test_pickers_offer_the_pipelines_stages_in_order(self):
		frappe.set_user(self.rep)
		wanted = [self.due, self.quote, self.renewed, self.churned]
		self.assertEqual([row["name"] for row in get_stages(self.renewals)], wanted)
		found = search_stages("Sales Stage", "", filters=json.dumps({"pipeline": self.renewals}))
		self.assertEqual([row[0] for row in found], wanted)
		self.assertEqual(
			[row[0] for row in search_stages("Sales Stage", "quote", filters={"pipeline": self.renewals})],
			[self.quote],
		)
		pipelines = {row["name"]: row for row in get_pipelines()}
		self.assertEqual(next(iter(pipelines)), self.default)
		quote = pipelines[self.renewals]["stages"][1]
		self.assertEqual(
			[field["fieldname"] for field in quote["required_fields"]],
			["contact_person", "opportunity_amount", "items"],
		)
		self.assertEqual(quote["guidance"], "Send the renewal quote.")
		answer = endpoint.call(
			"opportunity_plus.api.stages.search_stages",
			{"doctype": "Sales Stage", "txt": "", "filters": json.dumps({"pipeline": "OP no such pipeline"})},
			user=self.rep,
		)
		self.assertEqual(answer.status, 404, answer.message)

	def test_the_board_shows_one_pipeline(self):
		in_renewals, in_default = self.renewal(), self.deal()
		frappe.set_user(self.rep)
		from opportunity_plus.api.board import get_board

		board = get_board(company=factories.company(), pipeline=self.renewals)
		self.assertEqual(board["pipeline"], self.renewals)
		self.assertEqual(
			[column["stage"] for column in board["columns"]],
			[self.due, self.quote, self.renewed, self.churned],
		)
		shown = {card["name"] for column in board["columns"] for card in column["cards"]}
		self.assertIn(in_renewals.name, shown)
		self.assertNotIn(in_default.name, shown)
		default_board = get_board(company=factories.company())
		self.assertEqual(default_board["pipeline"], self.default)
		shown = {card["name"] for column in default_board["columns"] for card in column["cards"]}
		self.assertIn(in_default.name, shown)
		self.assertNotIn(in_renewals.name, shown)


class TestMovingToAnotherPipeline(PipelineCase):
	def test_the_stage_is_mapped_and_recorded_and_probability_and_category_follow(self):
		deal = self.deal(sales_stage=self.default_open[0])
		doc = frappe.get_doc("Opportunity", deal.name)
		doc.op_pipeline = self.renewals
		doc.save(ignore_permissions=True)
		# the first open stage of the default pipeline -> the first of Renewals
		self.assertEqual((doc.sales_stage, doc.probability), (self.due, 25))
		self.assertEqual(doc.op_effective_forecast_category, "Pipeline")
		changes = {
			row.changed_field: (row.from_value, row.to_value) for row in factories.history(deal.name)[-3:]
		}
		self.assertEqual(changes["op_pipeline"], (self.default, self.renewals))
		self.assertEqual(changes["sales_stage"], (self.default_open[0], self.due))

	def test_a_stage_picked_in_the_same_save_is_kept_when_the_deal_has_what_it_needs(self):
		deal = self.deal(
			sales_stage=self.default_open[0], contact_person=self.contact(), items=[factories.item_line()]
		)
		doc = frappe.get_doc("Opportunity", deal.name)
		doc.op_pipeline, doc.sales_stage = self.renewals, self.quote
		doc.save(ignore_permissions=True)
		self.assertEqual(
			(doc.sales_stage, doc.probability, doc.op_effective_forecast_category), (self.quote, 70, "Commit")
		)

	def test_a_probability_set_by_hand_stays_when_the_stage_does(self):
		shared = self.default_open[0]  # Renewals holds it too (see below)
		pipeline = frappe.get_doc(PIPELINE, self.renewals)
		pipeline.append("stages", {"sales_stage": shared, "stage_kind": "Open", "probability": 15})
		pipeline.save(ignore_permissions=True)
		clear_stage_cache()
		deal = self.deal(sales_stage=shared)
		deal.probability = 42
		deal.save(ignore_permissions=True)
		self.assertTrue(deal.op_probability_overridden)
		deal.op_pipeline = self.renewals
		deal.save(ignore_permissions=True)
		self.assertEqual((deal.sales_stage, deal.probability), (shared, 42))


class TestEntryRules(PipelineCase):
	MISSING = "To enter the stage"

	def test_one_message_names_every_missing_field_and_nothing_is_written(self):
		deal = self.renewal()
		before = frappe.db.count("Opportunity History", {"opportunity": deal.name})
		answer = endpoint.call(
			"frappe.client.set_value",
			{"doctype": "Opportunity", "name": deal.name, "fieldname": "sales_stage", "value": self.quote},
			user=self.rep,
			http="POST",
		)
		self.assertEqual(answer.status, 417, answer.message)
		# the factory's deal has an amount: the contact person and the item lines are missing
		self.assertIn("needs: Contact Person, Items.", answer.message)
		self.assertEqual(frappe.db.get_value("Opportunity", deal.name, "sales_stage"), self.due)
		self.assertEqual(frappe.db.count("Opportunity History", {"opportunity": deal.name}), before)

	def test_an_amount_of_zero_is_missing(self):
		deal = self.renewal(opportunity_amount=0, contact_person=self.contact(), items=[])
		deal.sales_stage = self.quote
		with self.assertRaises(MissingForStage) as refusal:
			deal.save(ignore_permissions=True)
		self.assertIn("Opportunity Amount", str(refusal.exception))

	def test_a_new_deal_entering_a_stage_and_the_form_and_import(self):
		values = {
			"doctype": "Opportunity",
			"opportunity_from": "Lead",
			"party_name": factories.lead(),
			"company": factories.company(),
			"opportunity_type": self.type,
			"territory": self.territory,
			"sales_stage": self.quote,
		}
		self.assertRaises(MissingForStage, frappe.get_doc(values).insert, ignore_permissions=True)
		values.update(contact_person=self.contact(), items=[factories.item_line()], opportunity_amount=500)
		self.assertEqual(frappe.get_doc(values).insert(ignore_permissions=True).sales_stage, self.quote)

	def test_the_board_asks_for_what_is_missing(self):
		deal = self.renewal(items=[factories.item_line()])
		frappe.set_user(self.rep)
		requirements = get_stage_requirements(deal.name, self.quote)
		self.assertEqual([field["fieldname"] for field in requirements["missing"]], ["contact_person"])
		self.assertEqual(requirements["missing"][0]["fieldtype"], "Link")
		self.assertTrue(requirements["missing"][0]["askable"])
		self.assertEqual(requirements["guidance"], "Send the renewal quote.")
		self.assertRaises(MissingForStage, move_to_stage, deal.name, self.quote)
		frappe.set_user("Administrator")
		contact = self.contact()
		frappe.set_user(self.rep)
		answer = endpoint.call(
			"opportunity_plus.api.board.move_to_stage",
			{"opportunity": deal.name, "stage": self.quote, "values": json.dumps({"territory": "x"})},
			user=self.rep,
			http="POST",
		)
		self.assertEqual(answer.status, 417, answer.message)
		self.assertIn("is not a field the stage", answer.message)
		card = move_to_stage(deal.name, self.quote, {"contact_person": contact})
		self.assertEqual(card["sales_stage"], self.quote)
		self.assertEqual(frappe.db.get_value("Opportunity", deal.name, "contact_person"), contact)

	def test_item_lines_are_not_asked_in_a_dialog(self):
		deal = self.renewal(contact_person=self.contact())
		missing = get_stage_requirements(deal.name, self.quote)["missing"]
		self.assertEqual([(field["fieldname"], field["askable"]) for field in missing], [("items", False)])

	def test_a_submitted_quotation_can_be_required(self):
		pipeline = frappe.get_doc(PIPELINE, self.renewals)
		pipeline.stages[1].required_fields = "submitted_quotation"
		pipeline.save(ignore_permissions=True)
		clear_stage_cache()
		deal = self.renewal()
		deal.sales_stage = self.quote
		with self.assertRaises(MissingForStage) as refusal:
			deal.save(ignore_permissions=True)
		self.assertIn("a submitted Quotation", str(refusal.exception))

	def test_erpnexts_status_flows_and_reopening_are_never_blocked(self):
		pipeline = frappe.get_doc(PIPELINE, self.renewals)
		pipeline.stages[3].required_fields = "contact_person"  # the lost stage's rule is not enforced
		pipeline.save(ignore_permissions=True)
		clear_stage_cache()
		deal = self.renewal()
		declare_lost(deal.name, [lost_reason()])
		deal.reload()
		self.assertEqual((deal.status, deal.sales_stage), ("Lost", self.churned))
		deal.status = "Open"
		deal.save(ignore_permissions=True)
		self.assertEqual(deal.sales_stage, self.due)

	def test_a_deal_already_in_a_stage_saves_without_the_fields(self):
		deal = self.renewal(
			contact_person=self.contact(), items=[factories.item_line()], sales_stage=self.quote
		)
		deal.contact_person = None
		deal.description = "still here"
		deal.save(ignore_permissions=True)
		self.assertEqual(deal.sales_stage, self.quote)


class TestThePipelinesOwnRules(PipelineCase):
	def test_bad_pipelines_are_refused(self):
		cases = {
			"Sales Stage .* is in the pipeline twice": [
				{"sales_stage": self.due, "stage_kind": "Open"},
				{"sales_stage": self.due, "stage_kind": "Open"},
			],
			"at least one open stage": [{"sales_stage": self.renewed, "stage_kind": "Won"}],
			"is not a field of Opportunity": [
				{"sales_stage": self.due, "stage_kind": "Open", "required_fields": "no_such_field"}
			],
			"between 0 and 100": [{"sales_stage": self.due, "stage_kind": "Open", "probability": 140}],
		}
		for message, rows in cases.items():
			with self.subTest(message):
				self.assertRaisesRegex(
					frappe.ValidationError, message, make_pipeline, f"OP Bad {random_string(5)}", rows
				)

	def test_there_is_always_one_default(self):
		default = frappe.get_doc(PIPELINE, self.default)
		default.is_default = 0
		self.assertRaisesRegex(frappe.ValidationError, "One pipeline is the default", default.save)
		default.reload()
		default.enabled = 0
		self.assertRaisesRegex(frappe.ValidationError, "cannot be disabled", default.save)
		self.assertRaisesRegex(
			frappe.ValidationError, "cannot be deleted", frappe.delete_doc, PIPELINE, self.default
		)
		renewals = frappe.get_doc(PIPELINE, self.renewals)
		renewals.is_default = 1
		renewals.save(ignore_permissions=True)
		self.assertEqual(frappe.get_all(PIPELINE, filters={"is_default": 1}, pluck="name"), [self.renewals])

	def test_sales_users_read_pipelines_and_only_managers_change_them(self):
		self.assertTrue(frappe.has_permission(PIPELINE, "read", user=self.rep))
		self.assertFalse(frappe.has_permission(PIPELINE, "write", user=self.rep))
		self.assertTrue(frappe.has_permission(PIPELINE, "write", user=self.manager))
		answer = endpoint.call(
			"frappe.client.set_value",
			{"doctype": PIPELINE, "name": self.renewals, "fieldname": "enabled", "value": 0},
			user=self.rep,
			http="POST",
		)
		self.assertEqual(answer.status, 403, answer.message)
