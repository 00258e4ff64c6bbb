"""The win/loss API and the Win Loss Analysis report against a hand-computed fixture, and permissions."""

import frappe
from frappe.desk.query_report import run
from frappe.tests.utils import FrappeTestCase
from frappe.utils import getdate, nowdate

from opportunity_plus.api.winloss import get_win_loss
from opportunity_plus.tests.integration import factories
from opportunity_plus.tests.integration.test_closing import lost_reason

PRICE, TIMING = "OP WL Price", "OP WL Timing"
RIVAL_A, RIVAL_B = "OP WL Rival A", "OP WL Rival B"
WEB, FAIR = "OP WL Web", "OP WL Fair"
WINDOW = {"from_date": "2025-12-01", "to_date": "2026-02-28"}


def competitor(name: str) -> str:
	if not frappe.db.exists("Competitor", name):
		frappe.get_doc({"doctype": "Competitor", "competitor_name": name}).insert(ignore_permissions=True)
	return name


def lead_source(name: str) -> str:
	if not frappe.db.exists("Lead Source", name):
		frappe.get_doc({"doctype": "Lead Source", "source_name": name}).insert(ignore_permissions=True)
	return name


def win_loss(**kwargs):
	return get_win_loss(company=factories.company(), **{**WINDOW, **kwargs})


def status_history_on(opportunity: str, status: str, moment: str) -> None:
	"""Date the status change(s) to `status` just recorded (today) as happening at `moment`.

	Today is the site's (its time zone, as the app records history), not the database server's `curdate()`,
	which is another day for part of every day where the two zones differ."""
	frappe.db.sql(
		"""update `tabOpportunity History` set changed_on = %s
		where opportunity = %s and changed_field = 'status' and to_value = %s and changed_on >= %s""",
		(moment, opportunity, status, frappe.utils.nowdate()),
	)


class WinLossFixture(FrappeTestCase):
	"""Closed deals in a territory of their own, all in USD; window 2025-12-01 .. 2026-02-28.

	| deal | status    | amount | closing date (from)                     | reasons       | competitors | source |
	| L1   | Lost      | 100    | 2025-12-01 (op_lost_on; history: today) | Price         | Rival A     | Web    |
	| L2   | Lost      | 200    | 2026-01-10 (op_lost_on)                 | Price, Timing | Rival A, B  | Fair   |
	| L3   | Lost      | 400    | 2026-01-20 (op_lost_on)                 | Timing        | -           | Web    |
	| K1   | Closed    | 800    | 2026-02-05 (latest history; earlier closing 2025-10-01)  | - | -      | -      |
	| W1   | Converted | 1000   | 2026-01-12 (history; modified today)    |               |             | Web    |
	| W2   | Converted | 3000   | 2026-02-28 (no history: modified 23:30) |               |             | Fair   |
	| W3   | Converted | 5000   | 2026-03-01 (history): outside           |               |             | Web    |
	| L4   | Lost      | 7000   | 2025-11-30 (op_lost_on): outside        | Price         | Rival B     | Web    |
	| O1   | Open      | 9000   | - : never counted                       |               |             | Web    |
	In the window, lost reasons: 2025-12 Price 1/100; 2026-01 Price 1/200, Timing 2/600; 2026-02 none 1/800.
	Competitors: Rival A 2/300, Rival B 1/200, none 2/1200 (of 4 lost deals).
	Win rate by source: Fair 1 won 3000 / 1 lost 200 (50 %); Web 1/1000 vs 2/500 (1/3); none 0 vs 1/800 (0).
	Total: 2 won 4000, 4 lost 1500, win rate 1/3.
	"""

	def setUp(self):
		self.territory = factories.territory()
		self.owner_user = "Administrator"
		for name in (PRICE, TIMING):
			lost_reason(name)
		for name in (RIVAL_A, RIVAL_B):
			competitor(name)
		for name in (WEB, FAIR):
			lead_source(name)

		self.l1 = self.lost(
			100, "2025-12-01", [PRICE], [RIVAL_A], source=WEB, opportunity_owner=self.owner_user
		)
		self.l2 = self.lost(200, "2026-01-10", [PRICE, TIMING], [RIVAL_A, RIVAL_B], source=FAIR)
		self.l3 = self.lost(400, "2026-01-20", [TIMING], [], source=WEB)
		self.l4 = self.lost(7000, "2025-11-30", [PRICE], [RIVAL_B], source=WEB)

		self.k1 = self.deal(800)
		self.k1.db_set("status", "Closed")
		status_history_on(self.k1.name, "Closed", "2025-10-01 09:00:00")
		self.k1.db_set("status", "Open")
		status_history_on(self.k1.name, "Open", "2025-11-01 09:00:00")
		self.k1.db_set("status", "Closed")
		status_history_on(self.k1.name, "Closed", "2026-02-05 09:00:00")  # the earlier row is older already

		self.w1 = self.won(1000, "2026-01-12 10:00:00", source=WEB, opportunity_owner=self.owner_user)
		self.w2 = self.won(3000, None, source=FAIR)
		frappe.db.delete(
			"Opportunity History",
			{"opportunity": self.w2.name, "changed_field": "status", "to_value": "Converted"},
		)
		frappe.db.set_value(
			"Opportunity", self.w2.name, "modified", "2026-02-28 23:30:00", update_modified=False
		)
		self.w3 = self.won(5000, "2026-03-01 00:00:01", source=WEB)
		self.o1 = self.deal(9000, source=WEB)
		# The closing dates above are written as an older site has them (history, Lost On, modified):
		# Closed On is derived by the install/migrate backfill, by the rule the app read them with before.
		factories.legacy_closing_dates([self.territory])

	def deal(self, amount, **values):
		return factories.opportunity(territory=self.territory, opportunity_amount=amount, **values)

	def lost(self, amount, lost_on, reasons, competitors, **values):
		doc = self.deal(amount, **values)
		doc.declare_enquiry_lost(
			[{"lost_reason": r} for r in reasons], [{"competitor": c} for c in competitors], "Fixture"
		)
		frappe.db.set_value("Opportunity", doc.name, "op_lost_on", lost_on, update_modified=False)
		return doc

	def won(self, amount, converted_on, **values):
		doc = self.deal(amount, **values)
		doc.set_status(update=True, status="Converted")
		if converted_on:
			status_history_on(doc.name, "Converted", converted_on)
		return doc

	def as_territory_user(self):
		frappe.set_user(factories.sales_user(territory_name=self.territory))


class TestWinLoss(WinLossFixture):
	def test_lost_reasons_by_month(self):
		self.as_territory_user()
		trend = win_loss()["lost_reasons"]
		self.assertEqual(trend["months"], ["2025-12", "2026-01", "2026-02"])
		self.assertEqual(
			[(s["reason"], s["counts"], s["amounts"]) for s in trend["series"]],
			[
				(TIMING, [0, 2, 0], [0.0, 600.0, 0.0]),  # 2 deals like Price, but the larger amount
				(PRICE, [1, 1, 0], [100.0, 200.0, 0.0]),
				(None, [0, 0, 1], [0.0, 0.0, 800.0]),
			],
		)
		self.assertEqual(
			[(r["month"], r["reason"], r["count"], r["amount"]) for r in trend["rows"]],
			[
				("2025-12", PRICE, 1, 100.0),
				("2026-01", TIMING, 2, 600.0),
				("2026-01", PRICE, 1, 200.0),
				("2026-02", None, 1, 800.0),
			],
		)

	def test_lost_by_competitor(self):
		self.as_territory_user()
		self.assertEqual(
			[(r["competitor"], r["count"], r["amount"], r["share"]) for r in win_loss()["competitors"]],
			[(RIVAL_A, 2, 300.0, 0.5), (RIVAL_B, 1, 200.0, 0.25), (None, 2, 1200.0, 0.5)],
		)

	def test_win_rate_by_source(self):
		self.as_territory_user()
		result = win_loss(dimension="source")
		rows = [
			(r["key"], r["won_count"], r["won_amount"], r["lost_count"], r["lost_amount"], r["win_rate"])
			for r in result["win_rate"]["rows"]
		]
		self.assertEqual(
			rows,
			[
				(FAIR, 1, 3000.0, 1, 200.0, 0.5),
				(WEB, 1, 1000.0, 2, 500.0, 1 / 3),
				(None, 0, 0.0, 1, 800.0, 0.0),
			],
		)
		total = result["win_rate"]["total"]
		self.assertEqual(
			(total["won_count"], total["won_amount"], total["lost_count"], total["lost_amount"]),
			(2, 4000.0, 4, 1500.0),
		)
		self.assertAlmostEqual(total["win_rate"], 1 / 3)
		self.assertEqual((result["currency"], result["dimension"]), (factories.currency(), "source"))

	def test_win_rate_by_owner_and_territory(self):
		self.as_territory_user()
		owners = {r["key"]: r for r in win_loss(dimension="owner")["win_rate"]["rows"]}
		mine = owners[self.owner_user]
		self.assertEqual((mine["won_count"], mine["lost_count"], mine["win_rate"]), (1, 1, 0.5))
		territories = win_loss(dimension="territory")["win_rate"]["rows"]
		self.assertEqual(
			[(r["key"], r["won_count"], r["lost_count"]) for r in territories], [(self.territory, 2, 4)]
		)

	def test_closing_date_rules_choose_the_deals_in_the_window(self):
		self.as_territory_user()
		# Only the day W2 was last modified: the boundary is inclusive, datetimes count by their day.
		only = win_loss(from_date="2026-02-28", to_date="2026-02-28")["win_rate"]["total"]
		self.assertEqual((only["won_count"], only["won_amount"], only["lost_count"]), (1, 3000.0, 0))
		# Today: only the open deal and the history rows of the lost ones fall here, and neither counts.
		today = win_loss(from_date=frappe.utils.today(), to_date=frappe.utils.today())["win_rate"]["total"]
		self.assertEqual((today["won_count"], today["lost_count"]), (0, 0))
		# K1's earlier closing (2025-10-01) is not its closing date: the latest is.
		october = win_loss(from_date="2025-10-01", to_date="2025-10-31")["win_rate"]["total"]
		self.assertEqual(october["lost_count"], 0)

	def test_without_a_window_every_closed_deal_counts(self):
		self.as_territory_user()
		result = get_win_loss(company=factories.company())
		total = result["win_rate"]["total"]
		self.assertEqual(
			(total["won_count"], total["won_amount"], total["lost_count"], total["lost_amount"]),
			(3, 9000.0, 5, 8500.0),
		)
		self.assertEqual(result["lost_reasons"]["months"], ["2025-11", "2025-12", "2026-01", "2026-02"])
		self.assertEqual((result["from_date"], result["to_date"]), (None, None))

	def test_a_window_without_losses_still_lists_its_months(self):
		self.as_territory_user()
		trend = win_loss(from_date="2026-03-01", to_date="2026-04-30")["lost_reasons"]
		self.assertEqual((trend["months"], trend["series"], trend["rows"]), (["2026-03", "2026-04"], [], []))

	def test_report_views_show_the_same_figures_with_charts(self):
		self.as_territory_user()
		filters = {"company": factories.company(), **WINDOW}

		reasons = run("Win Loss Analysis", filters={**filters, "view": "lost_reasons"})
		self.assertEqual(
			[(r["month"], r["reason"], r["count"], r["amount"]) for r in reasons["result"]],
			[
				("2025-12", PRICE, 1, 100.0),
				("2026-01", TIMING, 2, 600.0),
				("2026-01", PRICE, 1, 200.0),
				("2026-02", "Not Set", 1, 800.0),
			],
		)
		chart = reasons["chart"]
		self.assertEqual(chart["data"]["labels"], ["2025-12", "2026-01", "2026-02"])
		self.assertEqual([d["name"] for d in chart["data"]["datasets"]], [TIMING, PRICE, "Not Set"])
		summary = {item["label"]: item["value"] for item in reasons["report_summary"]}
		self.assertEqual((summary["Won Deals"], summary["Lost Deals"], summary["Win Rate"]), (2, 4, "33.3 %"))

		competitors = run("Win Loss Analysis", filters={**filters, "view": "competitors"})
		self.assertEqual(
			[(r["competitor"], r["count"], r["share"]) for r in competitors["result"]],
			[(RIVAL_A, 2, 50.0), (RIVAL_B, 1, 25.0), ("No Competitor Recorded", 2, 50.0)],
		)
		self.assertEqual(competitors["chart"]["data"]["datasets"][0]["values"], [2, 1, 2])

		rates = run("Win Loss Analysis", filters={**filters, "view": "win_rate", "dimension": "source"})
		self.assertEqual(
			[(r["key"], r["won_count"], r["lost_count"], round(r["win_rate"], 6)) for r in rates["result"]],
			[(FAIR, 1, 1, 50.0), (WEB, 1, 2, 33.333333), ("Not Set", 0, 1, 0.0), ("Total", 2, 4, 33.333333)],
		)
		self.assertTrue(rates["result"][-1]["bold"])
		self.assertEqual(rates["chart"]["data"]["labels"], [FAIR, WEB, "Not Set"])
		self.assertEqual(
			[(d["name"], d["values"]) for d in rates["chart"]["data"]["datasets"]],
			[("Won", [1, 1, 0]), ("Lost", [1, 2, 1])],
		)

		owners = run("Win Loss Analysis", filters={**filters, "view": "win_rate", "dimension": "owner"})
		self.assertIn(frappe.utils.get_fullname(self.owner_user), [r["key"] for r in owners["result"]])


class TestWinLossWithoutFixture(FrappeTestCase):
	def test_bad_input_is_refused_clearly(self):
		self.assertRaisesRegex(
			frappe.ValidationError,
			"Cannot break the win rate down by colour",
			win_loss,
			dimension="colour",
		)
		self.assertRaisesRegex(
			frappe.ValidationError, "Company No Such Co does not exist", get_win_loss, company="No Such Co"
		)
		self.assertRaisesRegex(
			frappe.ValidationError, "From Date must be a date", win_loss, from_date="2026-13-01"
		)
		self.assertRaisesRegex(
			frappe.ValidationError, "To Date must be a date", win_loss, to_date="next week"
		)
		self.assertRaisesRegex(
			frappe.ValidationError,
			"is after To Date",
			win_loss,
			from_date="2026-02-01",
			to_date="2026-01-01",
		)

	def test_report_refuses_an_unknown_view(self):
		self.assertRaisesRegex(
			frappe.ValidationError,
			"Unknown view",
			run,
			"Win Loss Analysis",
			filters={"company": factories.company(), "view": "pie"},
		)

	def test_report_is_in_the_workspace(self):
		workspace = frappe.get_doc("Workspace", "Opportunity Plus")
		self.assertIn("Win Loss Analysis", [link.link_to for link in workspace.links if link.type == "Link"])

	def test_report_chart_sums_the_rarest_reasons_as_other(self):
		from opportunity_plus.opportunity_plus.report.win_loss_analysis import win_loss_analysis as report

		series = [{"reason": f"R{i}", "counts": [10 - i, 1]} for i in range(10)]
		rows = [{"month": "2026-01", "reason": "R0", "count": 10, "amount": 1.0}]
		_columns, _data, chart = report._lost_reasons(
			{"months": ["2026-01", "2026-02"], "series": series, "rows": rows}, "USD"
		)
		datasets = chart["data"]["datasets"]
		self.assertEqual(len(datasets), report.MAX_CHART_SERIES)
		self.assertEqual(datasets[-1], {"name": "Other", "values": [3 + 2 + 1, 3]})  # R7, R8, R9


class TestWinLossPermissions(WinLossFixture):
	def setUp(self):
		super().setUp()
		self.other_territory = factories.territory()
		other = factories.opportunity(territory=self.other_territory, opportunity_amount=999_999, source=WEB)
		other.declare_enquiry_lost([{"lost_reason": PRICE}], [{"competitor": RIVAL_A}])
		frappe.db.set_value("Opportunity", other.name, "op_lost_on", "2026-01-15", update_modified=False)
		factories.legacy_closing_dates([self.other_territory])

	def test_sales_user_restricted_to_a_territory_sees_only_its_deals(self):
		everyone = {r["key"]: r for r in win_loss(dimension="territory")["win_rate"]["rows"]}
		self.assertEqual(
			(everyone[self.other_territory]["lost_count"], everyone[self.territory]["lost_count"]), (1, 4)
		)

		self.as_territory_user()
		# No territory filter from the caller: the user permission alone restricts the figures.
		result = win_loss(dimension="territory")
		self.assertEqual([r["key"] for r in result["win_rate"]["rows"]], [self.territory])
		self.assertEqual([r["amount"] for r in result["competitors"] if r["competitor"] == RIVAL_A], [300.0])
		price = next(s for s in result["lost_reasons"]["series"] if s["reason"] == PRICE)
		self.assertEqual(price["amounts"], [100.0, 200.0, 0.0])

		for view in ("lost_reasons", "competitors", "win_rate"):
			report = run(
				"Win Loss Analysis",
				filters={"company": factories.company(), **WINDOW, "view": view, "dimension": "territory"},
			)
			self.assertNotIn(
				999_999.0, [r.get("amount") or r.get("lost_amount") for r in report["result"]], view
			)
			self.assertEqual(report["report_summary"][3]["value"], 1500.0, view)

	def test_user_without_opportunity_access_is_refused(self):
		frappe.set_user(factories.sales_user(roles=("Accounts User",)))
		self.assertRaises(frappe.PermissionError, get_win_loss, company=factories.company())


class TestClosedOn(FrappeTestCase):
	"""Closed On is kept on every channel: a save, ERPNext's db_set status updates, reopening."""

	def test_set_when_closed_kept_while_closed_and_cleared_when_reopened(self):
		today = getdate(nowdate())
		doc = factories.opportunity(opportunity_amount=10)
		self.assertIsNone(doc.op_closed_on)
		doc.set_status(update=True, status="Converted")  # ERPNext's db_set, as a sales order does
		self.assertEqual(getdate(frappe.db.get_value("Opportunity", doc.name, "op_closed_on")), today)
		lost = factories.opportunity(opportunity_amount=10)
		lost.declare_enquiry_lost([{"lost_reason": lost_reason(PRICE)}], [])
		self.assertEqual(getdate(frappe.db.get_value("Opportunity", lost.name, "op_closed_on")), today)
		# an earlier closing date stays while the deal stays closed
		frappe.db.set_value("Opportunity", lost.name, "op_closed_on", "2026-01-02", update_modified=False)
		lost.reload()
		lost.description = "still lost"
		lost.save()
		self.assertEqual(str(frappe.db.get_value("Opportunity", lost.name, "op_closed_on")), "2026-01-02")
		lost.reload()
		lost.status = "Open"
		lost.save()
		self.assertIsNone(frappe.db.get_value("Opportunity", lost.name, "op_closed_on"))
