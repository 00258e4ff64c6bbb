"""Minutes to first response: every reply channel counts once, the backfill, and the report's figures
against a hand-computed fixture, with permissions."""

import json
from datetime import datetime
from unittest.mock import patch

import frappe
from frappe.core.doctype.communication.email import make
from frappe.desk.query_report import run
from frappe.tests.utils import FrappeTestCase
from frappe.utils import formatdate, get_datetime, random_string

from opportunity_plus import response
from opportunity_plus.opportunity_plus.report.minutes_to_first_response_for_opportunity import (
	minutes_to_first_response_for_opportunity as report,
)
from opportunity_plus.tests.integration import factories

REPORT = "Minutes to First Response for Opportunity"
CUSTOMER = "op-customer@example.com"
# 2026-11-20 is a Friday, 23 a Monday; the report fixture's week is 2024-06-03 (Monday) to 06-07.
FRIDAY_1630 = "2026-11-20 16:30:00"
BOB = "op-fr-bob@example.com"


def working_hours(start: str = "09:00:00", end: str = "17:00:00"):
	"""The settings' working hours for one test, without writing the settings (tests of other features run
	at the same time on the same site, and writing tabSingles from several of them deadlocks)."""
	settings = frappe._dict(working_hours_start=start, working_hours_end=end)
	return patch.object(response, "get_settings", return_value=settings)


def working_hours_9_to_5(case: FrappeTestCase) -> None:
	patcher = working_hours()
	patcher.start()
	case.addCleanup(patcher.stop)


def no_holiday_list() -> None:
	if frappe.db.get_value("Company", factories.company(), "default_holiday_list"):
		frappe.db.set_value("Company", factories.company(), "default_holiday_list", None)


def opportunity_created_at(moment: str, **values) -> str:
	name = factories.opportunity().name
	frappe.db.set_value("Opportunity", name, {"creation": moment, **values}, update_modified=False)
	return name


def communication(opportunity: str, ignore_permissions: bool = True, **values):
	"""A Communication on the opportunity as POST /api/resource/Communication or the mail pull inserts it."""
	doc = frappe.get_doc(
		{
			"doctype": "Communication",
			"communication_type": "Communication",
			"communication_medium": "Email",
			"sent_or_received": "Sent",
			"subject": "Your enquiry",
			"content": "Thank you for your enquiry.",
			"recipients": CUSTOMER,
			"reference_doctype": "Opportunity",
			"reference_name": opportunity,
			**values,
		}
	)
	return doc.insert(ignore_permissions=ignore_permissions)


def recorded(opportunity: str) -> frappe._dict:
	return frappe.db.get_value(
		"Opportunity",
		opportunity,
		["op_first_responded_on", "op_first_response_minutes", "first_response_time"],
		as_dict=True,
	)


def forget_email_accounts() -> None:
	for cache_name in ("outgoing_email_account", "incoming_email_account"):
		if hasattr(frappe.local, cache_name):
			delattr(frappe.local, cache_name)


def admin_email() -> str:
	return frappe.db.get_value("User", "Administrator", "email")


def rep(roles=("Sales User",), territory: str | None = None) -> str:
	"""An enabled System User with `roles` (and only `territory`'s opportunities when given).

	User.validate is skipped: it writes a site-wide default row that every test creating a user locks
	until its rollback, so tests running at the same time wait on one another (and deadlock).
	"""
	email = f"op-fr-{random_string(8).lower()}@example.com"
	user = frappe.get_doc(
		{
			"doctype": "User",
			"email": email,
			"first_name": "OP FR Rep",
			"user_type": "System User",
			"send_welcome_email": 0,
			"roles": [{"role": role} for role in roles],
		}
	)
	user.flags.ignore_validate = True
	user.insert(ignore_permissions=True)
	if territory:
		frappe.get_doc(
			{
				"doctype": "User Permission",
				"user": email,
				"allow": "Territory",
				"for_value": territory,
				"apply_to_all_doctypes": 1,
			}
		).insert(ignore_permissions=True)
	return email


class TestReplyChannels(FrappeTestCase):
	def setUp(self):
		working_hours_9_to_5(self)
		no_holiday_list()
		# An enabled System User's address.
		self.rep = admin_email()

	def test_reply_from_the_desk(self):
		name = opportunity_created_at(FRIDAY_1630)
		frappe.set_user(rep())
		result = make(
			doctype="Opportunity",
			name=name,
			content="Thanks, here is our offer.",
			subject="Offer",
			recipients=CUSTOMER,
			send_email=False,
		)
		frappe.set_user("Administrator")
		sent = frappe.db.get_value(
			"Communication", result["name"], ["creation", "communication_date"], as_dict=True
		)
		values = recorded(name)
		self.assertEqual(values.op_first_responded_on, min(sent.creation, sent.communication_date))
		expected = response.response_times(FRIDAY_1630, values.op_first_responded_on, factories.company())
		# Stored with the field's precision (1 decimal): at most half a tenth off, a half rounding either way
		# (3520.35 is stored as 3520.4), plus the float's own error.
		self.assertAlmostEqual(values.op_first_response_minutes, expected.working_minutes, delta=0.05 + 1e-9)
		# Frappe's own figure (a System User replied), kept as Frappe computed it.
		self.assertAlmostEqual(
			values.first_response_time,
			(sent.creation - get_datetime(FRIDAY_1630)).total_seconds(),
			delta=0.01,
		)

	def test_reply_sent_through_the_email_account(self):
		# Frappe remembers the accounts it found for the rest of the process; forget this rolled-back one.
		self.addCleanup(forget_email_accounts)
		frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": f"OP FR Outgoing {random_string(4)}",
				"email_id": f"op-fr-sales-{random_string(6).lower()}@example.com",
				"enable_outgoing": 1,
				"default_outgoing": 1,
				"smtp_server": "localhost",
				"no_smtp_authentication": 1,
			}
		).insert(ignore_permissions=True)
		name = opportunity_created_at(FRIDAY_1630)
		result = make(
			doctype="Opportunity",
			name=name,
			content="Thanks, here is our offer.",
			subject="Offer",
			recipients=CUSTOMER,
			send_email=True,
		)
		# Queued, not sent: the reply counts when it is made.
		self.assertTrue(frappe.db.exists("Email Queue", {"communication": result["name"]}))
		self.assertIsNotNone(recorded(name).op_first_responded_on)

	def test_reply_over_rest_counts_from_its_date(self):
		# POST /api/resource/Communication: Frappe lets Inbox Users and System Managers create them (Sales
		# Users reply over REST through /api/method/frappe.core.doctype.communication.email.make, as the desk).
		name = opportunity_created_at(FRIDAY_1630)
		user = rep(roles=("Sales User", "Inbox User"))
		frappe.set_user(user)
		communication(name, ignore_permissions=False, sender=user, communication_date="2026-11-23 09:30:00")
		frappe.set_user("Administrator")
		values = recorded(name)
		self.assertEqual(values.op_first_responded_on, datetime(2026, 11, 23, 9, 30))
		# Friday 16:30-17:00 and Monday 09:00-09:30.
		self.assertEqual(values.op_first_response_minutes, 60)
		# Frappe counted it too (a System User sent it), from when it was recorded.
		self.assertGreater(values.first_response_time, 0)

	def test_reply_made_by_a_session_frappe_does_not_count(self):
		# A job or integration running as Guest, sending from a shared address that is no user's.
		name = opportunity_created_at(FRIDAY_1630)
		frappe.set_user("Guest")
		communication(name, sender="op-fr-shared@example.com", communication_date="2026-11-23 09:30:00")
		frappe.set_user("Administrator")
		values = recorded(name)
		self.assertEqual(values.op_first_response_minutes, 60)
		# Filled in for Frappe: 2 days 17 hours.
		self.assertEqual(values.first_response_time, 65 * 3600)

	def test_rep_mail_pulled_by_the_email_account_counts_from_its_date(self):
		name = opportunity_created_at(FRIDAY_1630)
		# The email account pulls the rep's reply (sent from their own mail client, copied to the account):
		# Frappe marks every pulled mail Received and does not count it.
		communication(
			name,
			sent_or_received="Received",
			sender=self.rep,
			recipients=CUSTOMER,
			communication_date="2026-11-23 09:30:00",
		)
		values = recorded(name)
		self.assertEqual(values.op_first_responded_on, datetime(2026, 11, 23, 9, 30))
		self.assertEqual(values.op_first_response_minutes, 60)
		self.assertEqual(values.first_response_time, 65 * 3600)

	def test_customer_mails_comments_and_automated_messages_do_not_count(self):
		name = opportunity_created_at(FRIDAY_1630)
		communication(name, sent_or_received="Received", sender=CUSTOMER, recipients=self.rep)
		communication(name, communication_type="Automated Message", sender=self.rep)
		frappe.get_doc(
			{
				"doctype": "Comment",
				"comment_type": "Comment",
				"reference_doctype": "Opportunity",
				"reference_name": name,
				"content": "Called them, no answer.",
			}
		).insert(ignore_permissions=True)
		# A disabled user's address is no longer the company's.
		former = rep()
		frappe.db.set_value("User", former, "enabled", 0)
		communication(name, sent_or_received="Received", sender=former)
		values = recorded(name)
		self.assertIsNone(values.op_first_responded_on)
		self.assertFalse(values.first_response_time)

	def test_only_the_first_reply_counts(self):
		name = opportunity_created_at(FRIDAY_1630)
		communication(
			name, sent_or_received="Received", sender=self.rep, communication_date="2026-11-23 09:30:00"
		)
		first = recorded(name)
		communication(name, sender=self.rep, communication_date="2026-11-23 08:00:00")
		second = make(
			doctype="Opportunity", name=name, content="Follow-up", subject="Re", recipients=CUSTOMER
		)
		frappe.get_doc("Communication", second["name"]).save(ignore_permissions=True)
		self.assertEqual(recorded(name), first)

	def test_holiday_list_and_working_hours(self):
		holidays = frappe.get_doc(
			{
				"doctype": "Holiday List",
				"holiday_list_name": f"OP FR {random_string(6)}",
				"from_date": "2026-01-01",
				"to_date": "2026-12-31",
				"holidays": [
					{"holiday_date": "2026-11-21", "description": "Saturday", "weekly_off": 1},
					{"holiday_date": "2026-11-22", "description": "Sunday", "weekly_off": 1},
					{"holiday_date": "2026-11-23", "description": "OP FR holiday"},
				],
			}
		).insert(ignore_permissions=True)
		frappe.db.set_value("Company", factories.company(), "default_holiday_list", holidays.name)
		name = opportunity_created_at("2026-11-20 15:00:00")
		with working_hours("08:00:00", "16:00:00"):
			communication(name, sender=self.rep, communication_date="2026-11-24 08:45:00")
		# Friday 15:00-16:00, the weekend and Monday's holiday off, Tuesday 08:00-08:45.
		self.assertEqual(recorded(name).op_first_response_minutes, 105)

	def test_a_failure_is_logged_and_never_stops_the_reply(self):
		name = opportunity_created_at(FRIDAY_1630)
		with patch.object(response, "working_days", side_effect=frappe.DoesNotExistError("Holiday List")):
			sent = communication(name, sender=self.rep, communication_date="2026-11-23 09:30:00")
		self.assertTrue(frappe.db.exists("Communication", sent.name))
		self.assertIsNone(recorded(name).op_first_responded_on)
		self.assertTrue(
			frappe.db.exists("Error Log", {"reference_doctype": "Opportunity", "reference_name": name})
		)


class TestBackfill(FrappeTestCase):
	def setUp(self):
		working_hours_9_to_5(self)
		no_holiday_list()

	def test_backfill_from_frappe_figure_and_from_uncounted_replies(self):
		# Answered before the app: Frappe's figure says Tuesday 10:30.
		by_frappe = opportunity_created_at("2026-11-23 16:00:00", first_response_time=18.5 * 3600)
		# A rep's pulled mail Frappe never counted; the app's record wiped to look pre-install.
		by_mail = opportunity_created_at(FRIDAY_1630)
		communication(
			by_mail,
			sent_or_received="Received",
			sender=admin_email(),
			communication_date="2026-11-23 10:00:00",
		)
		unanswered = opportunity_created_at(FRIDAY_1630)
		communication(unanswered, sent_or_received="Received", sender=CUSTOMER)
		frappe.db.set_value(
			"Opportunity",
			by_mail,
			{"op_first_responded_on": None, "op_first_response_minutes": 0, "first_response_time": 0},
			update_modified=False,
		)

		self.assertGreaterEqual(response.backfill_first_responses(batch_size=1), 2)
		# Monday 16:00-17:00 and Tuesday 09:00-10:30.
		self.assertEqual(
			recorded(by_frappe),
			{
				"op_first_responded_on": datetime(2026, 11, 24, 10, 30),
				"op_first_response_minutes": 150,
				"first_response_time": 18.5 * 3600,
			},
		)
		# Friday 30 + Monday 60 working minutes; 65.5 hours elapsed.
		self.assertEqual(
			recorded(by_mail),
			{
				"op_first_responded_on": datetime(2026, 11, 23, 10, 0),
				"op_first_response_minutes": 90,
				"first_response_time": 65.5 * 3600,
			},
		)
		self.assertIsNone(recorded(unanswered).op_first_responded_on)
		# Idempotent: nothing left to do.
		self.assertEqual(response.backfill_first_responses(), 0)


class ReportFixture(FrappeTestCase):
	"""Opportunities created in the week of 2024-06-03 (no other data that early), working hours 09-17,
	Monday to Friday; each through a different path. Alice is Administrator, Bob an owner id. Figures
	worked out by hand:

	| opp | created         | owner | source | territory | first reply                                | working | wall |
	| O1  | Mon 06-03 10:00 | Alice | Web    | T0        | a rep's pulled mail, dated 06-03 10:45      | 45      | 45   |
	| O2  | Fri 06-07 16:30 | Alice | Fair   | T0        | sent as Guest, dated Mon 06-10 09:30        | 60      | 3900 |
	| O3  | Mon 06-03 18:00 | Bob   | Web    | T0        | Frappe's 14.5 h (Tue 08:30), backfilled     | 0       | 870  |
	| O4  | Tue 06-04 09:00 | -     | -      | T0        | a rep's pulled mail, dated 06-04 11:00      | 120     | 120  |
	| O5  | Wed 06-05 12:00 | Bob   | Fair   | T0        | only the customer wrote: not responded      | -       | -    |
	| O6  | Thu 06-06 10:00 | Alice | Web    | T1        | stored directly: 10 minutes                 | 10      | 10   |
	"""

	def setUp(self):
		working_hours_9_to_5(self)
		no_holiday_list()
		self.company = factories.company()
		# Alice is a real user (her pulled mail must come from a user); Bob only owns deals (a Link the
		# fixture sets directly), so no slow user creation.
		self.alice, self.bob = "Administrator", BOB
		self.t0, self.t1 = two_territories()
		self.web, self.fair = lead_source("OP FR Web"), lead_source("OP FR Fair")

		def opp(created, owner, source, territory=self.t0):
			return opportunity_created_at(
				created, opportunity_owner=owner, source=source, territory=territory
			)

		o1 = opp("2024-06-03 10:00:00", self.alice, self.web)
		communication(
			o1, sent_or_received="Received", sender=admin_email(), communication_date="2024-06-03 10:45:00"
		)
		o2 = opp("2024-06-07 16:30:00", self.alice, self.fair)
		frappe.set_user("Guest")
		communication(o2, sender="op-fr-shared@example.com", communication_date="2024-06-10 09:30:00")
		frappe.set_user("Administrator")
		opp("2024-06-03 18:00:00", self.bob, self.web)
		frappe.db.set_value(
			"Opportunity",
			{"creation": "2024-06-03 18:00:00", "opportunity_owner": self.bob},
			"first_response_time",
			14.5 * 3600,
			update_modified=False,
		)
		response.backfill_first_responses()
		o4 = opp("2024-06-04 09:00:00", None, None)
		communication(
			o4, sent_or_received="Received", sender=admin_email(), communication_date="2024-06-04 11:00:00"
		)
		o5 = opp("2024-06-05 12:00:00", self.bob, self.fair)
		communication(o5, sent_or_received="Received", sender=CUSTOMER)
		o6 = opp("2024-06-06 10:00:00", self.alice, self.web, self.t1)
		frappe.db.set_value(
			"Opportunity",
			o6,
			{
				"op_first_responded_on": "2024-06-06 10:10:00",
				"op_first_response_minutes": 10,
				"first_response_time": 600,
			},
			update_modified=False,
		)

	def execute(self, group_by="day", basis="working", **filters):
		filters = {
			"company": self.company,
			"from_date": "2024-06-03",
			"to_date": "2024-06-07",
			"group_by": group_by,
			"basis": basis,
			**filters,
		}
		_columns, data, _message, chart, summary = report.execute(filters)
		rows = [
			[
				row["key"],
				row["responded"],
				row["not_responded"],
				row["average_working"],
				row["median_working"],
				row["average_wall"],
				row["median_wall"],
			]
			for row in data
		]
		return rows, chart, summary

	def test_by_day(self):
		rows, chart, _summary = self.execute("day")
		self.assertEqual(
			rows,
			[
				[formatdate("2024-06-03"), 2, 0, 22.5, 22.5, 457.5, 457.5],
				[formatdate("2024-06-04"), 1, 0, 120, 120, 120, 120],
				[formatdate("2024-06-05"), 0, 1, None, None, None, None],
				[formatdate("2024-06-06"), 1, 0, 10, 10, 10, 10],
				[formatdate("2024-06-07"), 1, 0, 60, 60, 3900, 3900],
				# working 0, 10, 45, 60, 120; wall 10, 45, 120, 870, 3900
				["Total", 5, 1, 47, 45, 989, 120],
			],
		)
		# The chart leaves out the day nobody answered.
		self.assertEqual(
			chart["data"]["labels"],
			[formatdate(day) for day in ("2024-06-03", "2024-06-04", "2024-06-06", "2024-06-07")],
		)
		self.assertEqual(
			[dataset["values"] for dataset in chart["data"]["datasets"]],
			[[22.5, 120, 10, 60], [22.5, 120, 10, 60]],
		)

	def test_by_owner(self):
		rows, _chart, _summary = self.execute("owner")
		self.assertEqual(
			rows,
			[
				# working 45, 60, 10; wall 45, 3900, 10
				["Administrator", 3, 0, 38.33, 45, 1318.33, 45],
				# not a user: labelled with the owner's id
				[BOB, 1, 1, 0, 0, 870, 870],
				["Not Set", 1, 0, 120, 120, 120, 120],
				["Total", 5, 1, 47, 45, 989, 120],
			],
		)

	def test_by_source_with_the_wall_clock_chart(self):
		rows, chart, summary = self.execute("source", basis="wall")
		self.assertEqual(
			rows,
			[
				["OP FR Fair", 1, 1, 60, 60, 3900, 3900],
				# working 45, 0, 10; wall 45, 870, 10
				["OP FR Web", 3, 0, 18.33, 10, 308.33, 45],
				["Not Set", 1, 0, 120, 120, 120, 120],
				["Total", 5, 1, 47, 45, 989, 120],
			],
		)
		self.assertEqual(chart["data"]["labels"], ["OP FR Fair", "OP FR Web", "Not Set"])
		self.assertEqual(
			[dataset["values"] for dataset in chart["data"]["datasets"]],
			[[3900, 308.33, 120], [3900, 45, 120]],
		)
		self.assertEqual([item["value"] for item in summary], [5, 1, "47.0", "45.0", "989.0", "120.0"])

	def test_a_period_without_opportunities(self):
		rows, chart, _summary = self.execute("day", from_date="2024-06-08", to_date="2024-06-09")
		self.assertEqual(rows, [])
		self.assertIsNone(chart)

	def test_over_rest_as_a_territory_restricted_sales_user(self):
		user = rep(territory=self.t1)
		frappe.set_user(user)
		result = run(
			REPORT,
			filters=json.dumps(
				{
					"company": self.company,
					"from_date": "2024-06-03",
					"to_date": "2024-06-07",
					"group_by": "day",
					"basis": "working",
				}
			),
		)
		keys = [(row["key"], row["responded"], row["average_working"]) for row in result["result"]]
		self.assertEqual(keys, [(formatdate("2024-06-06"), 1, 10), ("Total", 1, 10)])

	def test_a_user_who_may_not_read_opportunities_is_refused(self):
		user = rep(roles=("Stock User",))
		frappe.set_user(user)
		filters = {"from_date": "2024-06-03", "to_date": "2024-06-07"}
		with self.assertRaises(frappe.PermissionError):
			run(REPORT, filters=json.dumps(filters))
		with self.assertRaises(frappe.PermissionError):
			report.execute(filters)

	def test_invalid_filters(self):
		for filters in (
			{"to_date": "2024-06-07"},
			{"from_date": "2024-06-08", "to_date": "2024-06-07"},
			{"from_date": "2024-06-03", "to_date": "2024-06-07", "group_by": "territory"},
			{"from_date": "2024-06-03", "to_date": "2024-06-07", "basis": "hours"},
			{"from_date": "06/03/2024", "to_date": "2024-06-07"},
		):
			with self.assertRaises(frappe.ValidationError):
				report.execute(filters)


def two_territories() -> list[str]:
	"""Two leaf territories, the site's own where it has them: creating territories rewrites the nested set,
	which other tests running at the same time do too."""
	existing = frappe.get_all(
		"Territory",
		filters={"is_group": 0, "name": ("not like", "OPBENCH%")},
		pluck="name",
		order_by="name",
		limit=2,
	)
	return [*existing, *(factories.territory() for _ in range(2 - len(existing)))]


def lead_source(name: str) -> str:
	if not frappe.db.exists("Lead Source", name):
		frappe.get_doc({"doctype": "Lead Source", "source_name": name}).insert(ignore_permissions=True)
	return name
