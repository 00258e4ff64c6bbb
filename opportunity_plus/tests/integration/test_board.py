"""The Pipeline Board API: columns and totals, moves through the stage rules, the lost flow, permissions.

Every test builds its own deals in a territory of its own and filters the board by it, so whatever else is
on the site (demo data included) never changes the counts.
"""

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, now_datetime, today
from frappe.utils.nestedset import get_root_of

from opportunity_plus.api.board import LostFlowRequired, declare_lost, get_board, move_to_stage
from opportunity_plus.pipeline import first_stage_of_kind, ordered_stages
from opportunity_plus.tests.integration import factories

HISTORY = "Opportunity History"


# --- factories -------------------------------------------------------------------------------------


def make_territory() -> str:
	return (
		frappe.get_doc(
			{
				"doctype": "Territory",
				"territory_name": f"Board Test {frappe.generate_hash(length=8)}",
				"parent_territory": get_root_of("Territory"),
			}
		)
		.insert()
		.name
	)


def make_customer(territory: str) -> str:
	return (
		frappe.get_doc(
			{
				"doctype": "Customer",
				"customer_name": f"Board Customer {frappe.generate_hash(length=8)}",
				"customer_type": "Company",
				"customer_group": factories.customer_group(),
				"territory": territory,
			}
		)
		.insert()
		.name
	)


def make_opportunity(territory: str, customer: str, stage: str | None, amount: float, **values):
	return frappe.get_doc(
		{
			"doctype": "Opportunity",
			"opportunity_from": "Customer",
			"party_name": customer,
			"company": factories.company(),
			"currency": factories.currency(),
			"conversion_rate": 1,
			"territory": territory,
			"sales_stage": stage,
			"opportunity_amount": amount,
			"expected_closing": add_days(today(), 30),
			**values,
		}
	).insert()


def make_lost_reason() -> str:
	return (
		frappe.get_doc(
			{
				"doctype": "Opportunity Lost Reason",
				"lost_reason": f"Board reason {frappe.generate_hash(length=6)}",
			}
		)
		.insert()
		.name
	)


def make_competitor() -> str:
	return (
		frappe.get_doc(
			{"doctype": "Competitor", "competitor_name": f"Board rival {frappe.generate_hash(length=6)}"}
		)
		.insert()
		.name
	)


def stage_history(opportunity: str) -> list:
	return frappe.get_all(
		HISTORY,
		filters={"opportunity": opportunity, "changed_field": "sales_stage"},
		fields=["from_value", "to_value"],
		order_by="changed_on asc, creation asc",
	)


def columns_by_stage(board: dict) -> dict:
	return {column["stage"]: column for column in board["columns"]}


def lost_stage() -> str:
	return first_stage_of_kind("Lost").name


def won_stage() -> str:
	return first_stage_of_kind("Won").name


def open_stages() -> list[str]:
	return [stage.name for stage in ordered_stages() if stage.kind == "Open"]


class BoardTestCase(FrappeTestCase):
	def setUp(self):
		self.territory = make_territory()
		self.customer = make_customer(self.territory)
		self.first, self.second, self.late = open_stages()[0], open_stages()[1], open_stages()[-1]

	def board(self, **kwargs) -> dict:
		return get_board(company=factories.company(), filters={"territory": self.territory}, **kwargs)

	def opportunity(self, stage: str | None, amount: float, **values):
		return make_opportunity(self.territory, self.customer, stage, amount, **values)


# --- the board -------------------------------------------------------------------------------------


class TestBoardColumns(BoardTestCase):
	def test_columns_in_pipeline_order_with_count_amount_and_weighted_amount(self):
		default_probability = {s.name: s.probability for s in ordered_stages()}
		small = self.opportunity(self.first, 1000)
		big = self.opportunity(self.first, 3000)
		self.opportunity(self.second, 2000)
		# set by hand on creation: kept, and weighted by its own probability
		self.opportunity(self.second, 4000, probability=50)
		self.opportunity(self.late, 10000)
		# not on the board: another territory, a lost deal
		make_opportunity(make_territory(), self.customer, self.first, 99999)
		lost = self.opportunity(self.second, 7777)
		declare_lost(lost.name, [make_lost_reason()])

		board = self.board()

		self.assertEqual([c["stage"] for c in board["columns"]], [s.name for s in ordered_stages()])
		self.assertEqual(board["currency"], factories.currency())
		columns = columns_by_stage(board)
		first = columns[self.first]
		self.assertEqual((first["count"], first["amount"]), (2, 4000))
		self.assertAlmostEqual(first["weighted_amount"], 4000 * default_probability[self.first] / 100)
		self.assertEqual([card["name"] for card in first["cards"]], [big.name, small.name])
		self.assertEqual(first["kind"], "Open")
		self.assertEqual(first["probability"], default_probability[self.first])

		second = columns[self.second]
		self.assertEqual((second["count"], second["amount"]), (2, 6000))
		self.assertAlmostEqual(
			second["weighted_amount"], 2000 * default_probability[self.second] / 100 + 4000 * 50 / 100
		)

		late = columns[self.late]
		self.assertEqual((late["count"], late["amount"]), (1, 10000))
		self.assertAlmostEqual(late["weighted_amount"], 10000 * default_probability[self.late] / 100)

		self.assertEqual(columns[lost_stage()]["count"], 0)
		self.assertEqual(columns[won_stage()]["kind"], "Won")
		self.assertEqual(board["totals"]["count"], 5)
		self.assertEqual(board["totals"]["amount"], 20000)

		card = first["cards"][0]
		for field in ("title", "customer_name", "probability", "expected_closing", "op_is_overdue", "status"):
			self.assertIn(field, card)
		self.assertEqual(
			card["customer_name"], frappe.db.get_value("Customer", self.customer, "customer_name")
		)

	def test_no_stage_column_and_card_limit(self):
		for amount in (100, 200, 300):
			self.opportunity(self.first, amount)
		stageless = self.opportunity(self.first, 50)
		frappe.db.set_value("Opportunity", stageless.name, "sales_stage", None)

		board = self.board(limit_per_stage=2)

		last = board["columns"][-1]
		self.assertIsNone(last["stage"])
		self.assertEqual(last["label"], "No Stage")
		self.assertEqual([card["name"] for card in last["cards"]], [stageless.name])
		first = columns_by_stage(board)[self.first]
		self.assertEqual((first["count"], first["amount"]), (3, 600))
		self.assertEqual([card["base_opportunity_amount"] for card in first["cards"]], [300, 200])
		self.assertTrue(first["has_more"])

	def test_recently_closed_deals_only_when_asked(self):
		recent = self.opportunity(self.first, 500)
		declare_lost(recent.name, [make_lost_reason()])
		old = self.opportunity(self.first, 800)
		declare_lost(old.name, [make_lost_reason()])
		frappe.db.set_value(
			"Opportunity", old.name, "modified", add_days(now_datetime(), -60), update_modified=False
		)

		self.assertEqual(columns_by_stage(self.board())[lost_stage()]["count"], 0)
		lost_column = columns_by_stage(self.board(include_closed=True))[lost_stage()]
		self.assertEqual([card["name"] for card in lost_column["cards"]], [recent.name])
		self.assertEqual(lost_column["cards"][0]["status"], "Lost")

	def test_invalid_arguments_are_refused(self):
		with self.assertRaises(frappe.ValidationError):
			get_board(company="No Such Company")
		with self.assertRaises(frappe.ValidationError):
			get_board(company=factories.company(), filters={"status": "Open"})
		with self.assertRaises(frappe.ValidationError):
			get_board(company=factories.company(), filters="{not json")
		with self.assertRaises(frappe.ValidationError):
			get_board(company=factories.company(), filters={"territory": "No Such Territory"})
		with self.assertRaises(frappe.ValidationError):
			get_board(company=factories.company(), limit_per_stage=10000)


# --- moves -----------------------------------------------------------------------------------------


class TestMoveToStage(BoardTestCase):
	def test_move_sets_stage_and_its_probability_and_writes_one_history_row(self):
		deal = self.opportunity(self.first, 1000)
		rows_before = len(stage_history(deal.name))
		target = self.second
		target_probability = {s.name: s.probability for s in ordered_stages()}[target]

		card = move_to_stage(deal.name, target)

		deal.reload()
		self.assertEqual(deal.sales_stage, target)
		self.assertEqual(deal.probability, target_probability)
		self.assertEqual((card["sales_stage"], card["probability"]), (target, target_probability))
		history = stage_history(deal.name)
		self.assertEqual(len(history), rows_before + 1)
		self.assertEqual((history[-1].from_value, history[-1].to_value), (self.first, target))
		# the board's totals follow
		self.assertEqual(columns_by_stage(self.board())[target]["count"], 1)

	def test_move_to_a_lost_stage_is_refused_and_changes_nothing(self):
		deal = self.opportunity(self.first, 1000)
		rows_before = stage_history(deal.name)

		with self.assertRaises(LostFlowRequired):
			move_to_stage(deal.name, lost_stage())

		deal.reload()
		self.assertEqual((deal.sales_stage, deal.status), (self.first, "Open"))
		self.assertEqual(stage_history(deal.name), rows_before)

	def test_move_to_a_won_stage_is_refused_unless_converted(self):
		deal = self.opportunity(self.first, 1000)
		with self.assertRaises(frappe.ValidationError):
			move_to_stage(deal.name, won_stage())
		self.assertEqual(frappe.db.get_value("Opportunity", deal.name, "sales_stage"), self.first)

	def test_unknown_stage_is_refused(self):
		deal = self.opportunity(self.first, 1000)
		with self.assertRaises(frappe.DoesNotExistError):
			move_to_stage(deal.name, "No Such Stage")

	def test_moving_a_lost_deal_to_an_open_stage_reopens_it(self):
		deal = self.opportunity(self.first, 1000)
		declare_lost(deal.name, [make_lost_reason()])

		move_to_stage(deal.name, self.second)

		deal.reload()
		self.assertEqual((deal.status, deal.sales_stage), ("Open", self.second))


class TestDeclareLost(BoardTestCase):
	def test_lost_reason_is_required(self):
		deal = self.opportunity(self.first, 1000)
		for empty in ([], "", "[]", [{"lost_reason": " "}]):
			with self.assertRaises(frappe.ValidationError):
				declare_lost(deal.name, empty)
		deal.reload()
		self.assertEqual((deal.status, deal.sales_stage), ("Open", self.first))

	def test_unknown_reason_is_refused(self):
		deal = self.opportunity(self.first, 1000)
		with self.assertRaises(frappe.DoesNotExistError):
			declare_lost(deal.name, ["No such reason at all"])

	def test_declare_lost_sets_status_stage_reasons_and_competitors(self):
		deal = self.opportunity(self.first, 1000)
		reason, competitor = make_lost_reason(), make_competitor()

		# the desk's Table MultiSelect sends rows as JSON text
		card = declare_lost(
			deal.name,
			frappe.as_json([{"lost_reason": reason}]),
			competitors=[competitor],
			detailed_reason="Chose a cheaper offer",
		)

		deal.reload()
		self.assertEqual((deal.status, deal.sales_stage), ("Lost", lost_stage()))
		self.assertEqual((card["status"], card["sales_stage"]), ("Lost", lost_stage()))
		self.assertEqual([row.lost_reason for row in deal.lost_reasons], [reason])
		self.assertEqual([row.competitor for row in deal.competitors], [competitor])
		self.assertEqual(deal.order_lost_reason, "Chose a cheaper offer")
		self.assertEqual(stage_history(deal.name)[-1].to_value, lost_stage())


# --- permissions -----------------------------------------------------------------------------------


class TestBoardPermissions(BoardTestCase):
	def setUp(self):
		super().setUp()
		self.other_territory = make_territory()
		self.user = frappe.get_doc(
			{
				"doctype": "User",
				"email": f"board-{frappe.generate_hash(length=8)}@example.com",
				"first_name": "Board Tester",
				"send_welcome_email": 0,
				"roles": [{"role": "Sales User"}],
			}
		).insert()
		frappe.get_doc(
			{
				"doctype": "User Permission",
				"user": self.user.name,
				"allow": "Territory",
				"for_value": self.territory,
				"apply_to_all_doctypes": 1,
			}
		).insert()
		self.mine = [self.opportunity(self.first, 1000), self.opportunity(self.second, 2000)]
		self.theirs = make_opportunity(
			self.other_territory, make_customer(self.other_territory), self.first, 5000
		)

	def test_board_shows_only_the_users_territory(self):
		frappe.set_user(self.user.name)
		board = get_board(company=factories.company())

		shown = {card["name"] for column in board["columns"] for card in column["cards"]}
		self.assertLessEqual({deal.name for deal in self.mine}, shown)
		self.assertNotIn(self.theirs.name, shown)
		# The site's other deals: only those get_list lets the user read (their territory, or none: a
		# territory user permission is not strict), whatever the site holds.
		readable = frappe.get_list(
			"Opportunity",
			filters={"company": factories.company(), "status": ("in", ["Open", "Quotation", "Replied"])},
			fields=["name", "base_opportunity_amount"],
			limit_page_length=0,
		)
		self.assertLessEqual(shown, {row.name for row in readable})
		self.assertEqual(board["totals"]["count"], len(readable))
		self.assertAlmostEqual(
			board["totals"]["amount"], sum(row.base_opportunity_amount or 0 for row in readable), places=2
		)

	def test_moving_another_territorys_deal_is_forbidden(self):
		frappe.set_user(self.user.name)
		with self.assertRaises(frappe.PermissionError):
			move_to_stage(self.theirs.name, self.second)

		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Opportunity", self.theirs.name, "sales_stage"), self.first)

	def test_moving_an_own_territorys_deal_works(self):
		frappe.set_user(self.user.name)
		card = move_to_stage(self.mine[0].name, self.second)
		self.assertEqual(card["sales_stage"], self.second)
