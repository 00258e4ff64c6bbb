"""Assignment through Frappe's Assignment Rules: round robin, load balancing, territory, the cap,
closed opportunities, disabled users and the shipped rules."""

from unittest.mock import patch

import frappe
from frappe.cache_manager import clear_doctype_map
from frappe.desk.form import assign_to
from frappe.tests.utils import FrappeTestCase
from frappe.utils import random_string
from frappe.utils.user import get_users_with_role

from opportunity_plus import assignment
from opportunity_plus.pipeline import SETTINGS, get_settings
from opportunity_plus.tests.integration import factories

LOST_REASON = "OP Test Reason"
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def clear_rule_caches() -> None:
	"""Rules are cached outside the transaction (doctype map, documents): drop them."""
	clear_doctype_map("Assignment Rule", "Opportunity")
	clear_doctype_map("Assignment Rule", "due_date_rules_for_Opportunity")
	for name in frappe.get_all("Assignment Rule", pluck="name"):
		frappe.clear_document_cache("Assignment Rule", name)


def uncached_doctype_map(doctype, name, filters=None, order_by=None):
	"""get_doctype_map without the shared Redis hash.

	The rules a test creates are uncommitted: cached in Redis, they would be read by other processes
	testing on the same site at the same time (who cannot load them), and those processes would cache
	a map without them under this test. Frappe's caching itself is not what these tests are about.
	"""
	return frappe.get_all(doctype, filters=filters, order_by=order_by)


def make_rule(rule: str, users=(), priority: int = 1, field: str | None = None, **values):
	doc = frappe.get_doc(
		{
			"doctype": "Assignment Rule",
			"__newname": f"OP Test {rule} {random_string(6)}",
			"document_type": "Opportunity",
			"priority": priority,
			"rule": rule,
			"field": field,
			"description": "Test assignment for {{ name }}",
			"assign_condition": assignment.ASSIGN_CONDITION,
			"assignment_days": [{"day": day} for day in DAYS],
			"users": [{"user": user} for user in users],
			**values,
		}
	).insert(ignore_permissions=True)
	clear_rule_caches()
	return doc


def set_settings(**values) -> None:
	doc = frappe.get_single(SETTINGS)
	doc.update(values)
	doc.save(ignore_permissions=True)


def assignees(opportunity: str) -> list[str]:
	"""Users with an open assignment on the opportunity (the follow-up ToDo aside)."""
	follow_up = frappe.db.get_value("Opportunity", opportunity, "op_follow_up_todo") or ""
	return frappe.get_all(
		"ToDo",
		filters={
			"reference_type": "Opportunity",
			"reference_name": opportunity,
			"status": "Open",
			"name": ("!=", follow_up),
		},
		pluck="allocated_to",
	)


def assign(opportunity: str, user: str) -> None:
	assign_to.add(
		{"assign_to": [user], "doctype": "Opportunity", "name": opportunity}, ignore_permissions=True
	)


def lose(opp) -> None:
	if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
		frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert(
			ignore_permissions=True
		)
	opp.reload()
	opp.status = "Lost"
	opp.append("lost_reasons", {"lost_reason": LOST_REASON})
	opp.save(ignore_permissions=True)


def users(count: int) -> list[str]:
	return [factories.sales_user() for _ in range(count)]


class AssignmentTestCase(FrappeTestCase):
	def setUp(self):
		frappe.set_user("Administrator")
		for target in (
			"frappe.automation.doctype.assignment_rule.assignment_rule.get_doctype_map",
			"opportunity_plus.assignment.get_doctype_map",
		):
			patcher = patch(target, uncached_doctype_map)
			patcher.start()
			self.addCleanup(patcher.stop)
		# Another rule enabled on the site would change who gets what.
		frappe.db.set_value("Assignment Rule", {"document_type": "Opportunity"}, "disabled", 1)
		settings = get_settings()
		if settings.assignment_cap or not settings.reassign_on_disable:
			set_settings(assignment_cap=0, reassign_on_disable=1)

	def tearDown(self):
		frappe.db.rollback()
		clear_rule_caches()
		frappe.clear_document_cache(SETTINGS, SETTINGS)


class TestRoundRobinAndLoadBalancing(AssignmentTestCase):
	def test_round_robin_distributes_in_turn_and_wraps(self):
		reps = users(3)
		make_rule("Round Robin", reps)
		got = [assignees(factories.opportunity().name) for _ in range(4)]
		self.assertEqual(got, [[reps[0]], [reps[1]], [reps[2]], [reps[0]]])

	def test_load_balancing_goes_to_the_least_loaded_counting_open_opportunities_only(self):
		reps = users(3)
		for user, count in zip(reps, (2, 1, 1), strict=True):
			for _ in range(count):
				assign(factories.opportunity().name, user)
		# A closed opportunity is no load: reps[1] has one open and one lost.
		lost = factories.opportunity()
		assign(lost.name, reps[1])
		lose(lost)
		self.assertEqual(assignment.open_opportunity_loads(reps), {reps[0]: 2, reps[1]: 1, reps[2]: 1})
		make_rule("Load Balancing", reps)
		first = factories.opportunity()
		self.assertEqual(assignees(first.name), [reps[1]])  # tie with reps[2]: list order
		self.assertEqual(assignees(factories.opportunity().name), [reps[2]])

	def test_round_robin_skips_a_rep_at_the_cap(self):
		reps = users(2)
		for _ in range(2):
			assign(factories.opportunity().name, reps[0])
		set_settings(assignment_cap=2)
		make_rule("Round Robin", reps)
		self.assertEqual(assignees(factories.opportunity().name), [reps[1]])
		self.assertEqual(assignees(factories.opportunity().name), [reps[1]])

	def test_load_balancing_honours_the_cap(self):
		reps = users(2)
		assign(factories.opportunity().name, reps[0])
		set_settings(assignment_cap=1)
		make_rule("Load Balancing", reps)
		self.assertEqual(assignees(factories.opportunity().name), [reps[1]])
		self.assertEqual(assignees(factories.opportunity().name), [])

	def test_everyone_at_the_cap_leaves_it_unassigned_and_tells_sales_managers_once(self):
		reps = users(2)
		manager = factories.sales_user(roles=("Sales Manager",))
		for user in reps:
			assign(factories.opportunity().name, user)
		set_settings(assignment_cap=1)
		make_rule("Round Robin", reps)
		opp = factories.opportunity()
		self.assertEqual(assignees(opp.name), [])

		def alerts():
			return frappe.get_all(
				"Notification Log",
				filters={"document_type": "Opportunity", "document_name": opp.name, "type": "Alert"},
				pluck="for_user",
			)

		self.assertIn(manager, alerts())
		self.assertEqual(sorted(alerts()), sorted(get_users_with_role("Sales Manager")))
		opp.reload()
		opp.title = "Still nobody free"
		opp.save(ignore_permissions=True)
		self.assertEqual(assignees(opp.name), [])
		self.assertEqual(sorted(alerts()), sorted(get_users_with_role("Sales Manager")))

	def test_disabled_users_in_the_rule_are_skipped(self):
		reps = users(2)
		frappe.db.set_value("User", reps[0], "enabled", 0)
		make_rule("Round Robin", reps)
		self.assertEqual(assignees(factories.opportunity().name), [reps[1]])
		self.assertEqual(assignees(factories.opportunity().name), [reps[1]])


class TestClosedAndFollowUps(AssignmentTestCase):
	def test_closed_opportunities_are_never_assigned_or_unassigned(self):
		reps = users(2)
		held = factories.opportunity()
		assign(held.name, reps[0])
		lose(held)
		lost = factories.opportunity()
		lose(lost)
		make_rule("Round Robin", reps, unassign_condition='status != "Open"')
		lost.reload()
		lost.title = "Saved while lost"
		lost.save(ignore_permissions=True)
		self.assertEqual(assignees(lost.name), [])
		held.reload()
		held.title = "Saved while lost"
		held.save(ignore_permissions=True)
		self.assertEqual(assignees(held.name), [reps[0]])
		closed = factories.opportunity(status="Closed")
		self.assertEqual(assignees(closed.name), [])

	def test_follow_up_todo_is_not_load_and_survives_assignment(self):
		reps = users(2)
		assign(factories.opportunity().name, reps[0])
		reminded = factories.opportunity()
		assign(reminded.name, reps[1])
		follow_up = frappe.get_all(
			"ToDo", filters={"reference_name": reminded.name, "allocated_to": reps[1]}, pluck="name"
		)[0]
		frappe.db.set_value("Opportunity", reminded.name, "op_follow_up_todo", follow_up)
		self.assertEqual(assignment.open_opportunity_loads(reps), {reps[0]: 1})

		# Listed second, reps[1] still wins: the follow-up reminder is no load.
		make_rule("Load Balancing", [reps[0], reps[1]])
		self.assertEqual(assignees(factories.opportunity().name), [reps[1]])

		# The reminder alone is no assignment: saving assigns, and the reminder stays open.
		reminded.reload()
		reminded.title = "With a reminder"
		reminded.save(ignore_permissions=True)
		self.assertEqual(assignees(reminded.name), [reps[0]])
		self.assertEqual(frappe.db.get_value("ToDo", follow_up, "status"), "Open")


class TestDisabledUser(AssignmentTestCase):
	def test_disabling_a_user_reassigns_their_open_opportunities_only(self):
		reps = users(3)
		rule = make_rule("Round Robin", reps)
		opps = [factories.opportunity() for _ in range(4)]
		self.assertEqual([assignees(o.name) for o in opps], [[reps[0]], [reps[1]], [reps[2]], [reps[0]]])
		lose(opps[3])
		self.assertEqual(assignees(opps[3].name), [reps[0]])

		user = frappe.get_doc("User", reps[0])
		user.enabled = 0
		user.save(ignore_permissions=True)

		self.assertIn(assignees(opps[0].name)[0], reps[1:])
		self.assertEqual(len(assignees(opps[0].name)), 1)
		self.assertEqual(assignees(opps[3].name), [reps[0]])  # lost: left alone
		self.assertEqual(assignees(opps[1].name), [reps[1]])
		self.assertNotEqual(frappe.db.get_value("Assignment Rule", rule.name, "last_user"), reps[0])

	def test_not_reassigned_when_switched_off_or_without_an_enabled_rule(self):
		reps = users(2)
		make_rule("Round Robin", reps)
		opp = factories.opportunity()
		self.assertEqual(assignees(opp.name), [reps[0]])
		set_settings(reassign_on_disable=0)
		user = frappe.get_doc("User", reps[0])
		user.enabled = 0
		user.save(ignore_permissions=True)
		self.assertEqual(assignees(opp.name), [reps[0]])

	def test_everyone_capped_leaves_it_unassigned(self):
		reps = users(2)
		make_rule("Round Robin", reps)
		first, second = factories.opportunity(), factories.opportunity()
		self.assertEqual((assignees(first.name), assignees(second.name)), ([reps[0]], [reps[1]]))
		set_settings(assignment_cap=1)
		user = frappe.get_doc("User", reps[0])
		user.enabled = 0
		user.save(ignore_permissions=True)
		self.assertEqual(assignees(first.name), [])

	def test_many_opportunities_go_to_one_background_job(self):
		reps = users(2)
		make_rule("Round Robin", reps)
		opp = factories.opportunity()
		frappe.flags.in_test = False
		try:
			with (
				patch.object(assignment, "INLINE_REASSIGN_LIMIT", 0),
				patch("opportunity_plus.assignment.frappe.enqueue") as enqueue,
			):
				frappe.db.set_value("User", reps[0], "enabled", 0)
				assignment.reassign_open_opportunities(reps[0])
		finally:
			frappe.flags.in_test = True
		self.assertEqual(assignees(opp.name), [reps[0]])  # not yet: the job does it
		enqueue.assert_called_once()
		self.assertEqual(enqueue.call_args.kwargs["job_id"], f"opportunity_plus:reassign:{reps[0]}")
		self.assertTrue(enqueue.call_args.kwargs["deduplicate"])
		self.assertTrue(enqueue.call_args.kwargs["enqueue_after_commit"])

	def test_background_job_logs_a_failing_opportunity_and_goes_on(self):
		reps = users(2)
		make_rule("Round Robin", reps)
		first, second, third = (factories.opportunity() for _ in range(3))
		self.assertEqual(assignees(third.name), [reps[0]])
		frappe.db.set_value("User", reps[0], "enabled", 0)
		real = assignment.reassign_opportunity

		def failing_first(name, user):
			if name == first.name:
				raise frappe.ValidationError("boom")
			return real(name, user)

		errors = frappe.db.count("Error Log", {"method": ("like", f"%{first.name}%")})
		with (
			patch.object(assignment, "reassign_opportunity", side_effect=failing_first),
			patch.object(frappe.db, "commit") as commit,
		):
			assignment.reassign_in_background(reps[0])
			assignment.reassign_in_background(reps[0])  # again: nothing left but the failing one
		self.assertTrue(commit.called)
		self.assertEqual(assignees(first.name), [reps[0]])
		self.assertEqual(assignees(third.name), [reps[1]])
		self.assertEqual(assignees(second.name), [reps[1]])
		self.assertEqual(frappe.db.count("Error Log", {"method": ("like", f"%{first.name}%")}), errors + 2)


class TestTerritoryRep(AssignmentTestCase):
	def make_rep_territory(self):
		rep = factories.sales_user()
		employee = frappe.get_doc(
			{
				"doctype": "Employee",
				"first_name": "OP Rep",
				"company": factories.company(),
				"gender": "Female",
				"date_of_birth": "1990-01-01",
				"date_of_joining": "2020-01-01",
				"status": "Active",
				"user_id": rep,
			}
		).insert(ignore_permissions=True)
		sales_person = frappe.get_doc(
			{
				"doctype": "Sales Person",
				"sales_person_name": f"OP Rep {random_string(6)}",
				"employee": employee.name,
				"enabled": 1,
			}
		).insert(ignore_permissions=True)
		parent = frappe.get_doc("Territory", factories.territory())
		parent.is_group = 1
		parent.territory_manager = sales_person.name
		parent.save(ignore_permissions=True)
		child = frappe.get_doc(
			{
				"doctype": "Territory",
				"territory_name": f"OP Child {random_string(6)}",
				"parent_territory": parent.name,
			}
		).insert(ignore_permissions=True)
		return rep, parent.name, child.name

	def test_territory_rep_comes_from_the_manager_or_a_parent(self):
		rep, parent, child = self.make_rep_territory()
		self.assertEqual(factories.opportunity(territory=parent).op_territory_rep, rep)
		opp = factories.opportunity(territory=child)
		self.assertEqual(opp.op_territory_rep, rep)
		opp.territory = factories.territory()
		opp.save(ignore_permissions=True)
		self.assertIsNone(opp.op_territory_rep)

	def test_by_territory_rule_assigns_to_the_rep_and_falls_back_at_the_cap(self):
		rep, parent, child = self.make_rep_territory()
		other = factories.sales_user()
		make_rule("Based on Field", field="op_territory_rep", priority=20)
		make_rule("Round Robin", [other], priority=10)
		self.assertEqual(assignees(factories.opportunity(territory=child).name), [rep])
		set_settings(assignment_cap=1)
		capped = factories.opportunity(territory=parent)
		self.assertEqual(assignees(capped.name), [other])
		# The fallback took it: nobody is told it stays unassigned.
		self.assertFalse(
			frappe.db.exists(
				"Notification Log",
				{"document_type": "Opportunity", "document_name": capped.name, "type": "Alert"},
			)
		)

	def test_by_territory_falls_back_when_there_is_no_rep(self):
		other = factories.sales_user()
		make_rule("Based on Field", field="op_territory_rep", priority=20)
		make_rule("Round Robin", [other], priority=10)
		self.assertEqual(assignees(factories.opportunity(territory=factories.territory()).name), [other])

	def test_by_territory_alone_tells_sales_managers_when_the_rep_is_at_the_cap(self):
		rep, _parent, child = self.make_rep_territory()
		make_rule("Based on Field", field="op_territory_rep", priority=20)
		self.assertEqual(assignees(factories.opportunity(territory=child).name), [rep])
		set_settings(assignment_cap=1)
		capped = factories.opportunity(territory=child)
		self.assertEqual(assignees(capped.name), [])
		self.assertTrue(
			frappe.db.exists(
				"Notification Log",
				{"document_type": "Opportunity", "document_name": capped.name, "type": "Alert"},
			)
		)

	def test_rep_lookup_runs_no_query_once_cached(self):
		rep, _parent, child = self.make_rep_territory()
		assignment.territory_rep(child)  # warm the cache
		opp = frappe.new_doc("Opportunity")
		opp.territory = child
		before = frappe.db.sql("show session status like 'Questions'")[0][1]
		assignment.set_territory_rep(opp, None)
		after = frappe.db.sql("show session status like 'Questions'")[0][1]
		self.assertEqual(opp.op_territory_rep, rep)
		self.assertLessEqual(int(after) - int(before), 1)  # the status query itself


class TestShippedRules(AssignmentTestCase):
	def test_ensure_creates_three_disabled_rules_once_and_keeps_admin_edits(self):
		names = [spec["name"] for spec in assignment.SHIPPED_RULES]
		frappe.db.delete("Assignment Rule", {"name": ("in", names)})
		assignment.ensure_assignment_rules()
		assignment.ensure_assignment_rules()
		rules = frappe.get_all(
			"Assignment Rule",
			filters={"name": ("in", names)},
			fields=["name", "disabled", "rule", "field", "priority", "document_type"],
			order_by="priority desc",
		)
		self.assertEqual([r.name for r in rules], names)
		self.assertEqual({r.disabled for r in rules}, {1})
		self.assertEqual({r.document_type for r in rules}, {"Opportunity"})
		self.assertEqual(
			[(r.rule, r.field) for r in rules],
			[("Based on Field", "op_territory_rep"), ("Round Robin", None), ("Load Balancing", None)],
		)

		frappe.db.set_value("Assignment Rule", names[1], "description", "Mine")
		assignment.ensure_assignment_rules()
		self.assertEqual(frappe.db.get_value("Assignment Rule", names[1], "description"), "Mine")

	def test_round_robin_needs_users_before_it_is_enabled(self):
		assignment.ensure_assignment_rules()
		rule = frappe.get_doc("Assignment Rule", "Opportunity: Round Robin")
		rule.users = []
		rule.disabled = 0
		self.assertRaisesRegex(frappe.MandatoryError, "List the users", rule.save)
		territory = frappe.get_doc("Assignment Rule", "Opportunity: by Territory")
		territory.disabled = 0
		territory.save()  # needs no users: the field names the user
		territory.field = None
		self.assertRaisesRegex(frappe.MandatoryError, "Select the field", territory.save)

	def test_shipped_rule_assigns_once_users_are_listed(self):
		assignment.ensure_assignment_rules()
		rep = factories.sales_user()
		rule = frappe.get_doc("Assignment Rule", "Opportunity: Round Robin")
		rule.users = []
		rule.append("users", {"user": rep})
		rule.disabled = 0
		rule.save()
		clear_rule_caches()
		opp = factories.opportunity()
		self.assertEqual(assignees(opp.name), [rep])
		todo = frappe.get_all("ToDo", filters={"reference_name": opp.name}, fields=["description"])[0]
		self.assertIn(opp.party_name, todo.description)

	def test_uninstall_removes_unused_disabled_rules_and_disables_the_territory_rule(self):
		names = [spec["name"] for spec in assignment.SHIPPED_RULES]
		frappe.db.delete("Assignment Rule", {"name": ("in", names)})
		assignment.ensure_assignment_rules()
		frappe.db.set_value("Assignment Rule", "Opportunity: by Territory", "disabled", 0)
		frappe.db.set_value("Assignment Rule", "Opportunity: Load Balancing", "disabled", 0)
		assignment.remove_assignment_rules()
		self.assertFalse(frappe.db.exists("Assignment Rule", "Opportunity: Round Robin"))
		self.assertEqual(frappe.db.get_value("Assignment Rule", "Opportunity: by Territory", "disabled"), 1)
		self.assertEqual(frappe.db.get_value("Assignment Rule", "Opportunity: Load Balancing", "disabled"), 0)
