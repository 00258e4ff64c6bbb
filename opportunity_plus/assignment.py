"""Assigning opportunities with Frappe's own Assignment Rule engine, plus a per-rep cap.

Frappe decides when a rule runs (its `apply` on every save, its conditions, days and priorities) and
keeps the rule types, the UI and round robin's `last_user`. `OpportunityAssignmentRule` changes, for
rules on Opportunity only, whom it picks (core/assignment.py: disabled users and reps at the cap of
open opportunities are skipped) and makes sure a rule never assigns, unassigns or reassigns a closed
opportunity. A follow-up ToDo (`op_follow_up_todo`, followups.py) is a reminder, not an assignment:
it is neither counted in a rep's load nor cancelled when a rule reassigns.
"""

import frappe
from frappe import _
from frappe.automation.doctype.assignment_rule.assignment_rule import AssignmentRule
from frappe.cache_manager import get_doctype_map
from frappe.desk.doctype.notification_settings.notification_settings import is_notifications_enabled
from frappe.desk.form import assign_to
from frappe.query_builder import DocType
from frappe.query_builder.functions import Count, IfNull
from frappe.utils import today
from frappe.utils.user import get_users_with_role

from opportunity_plus.core import assignment as rules
from opportunity_plus.core.stages import OPEN_STATUSES
from opportunity_plus.pipeline import get_settings

OPPORTUNITY = "Opportunity"
TERRITORY_REP_FIELD = "op_territory_rep"
CAP_ALERT_ROLE = "Sales Manager"
ALL_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Shipped disabled: an admin lists the reps and enables one of round robin / load balancing, and the
# territory rule if territories have managers. Higher priority runs first, so the territory rule goes
# first and the other rules are its fallback when the territory has no rep or the rep is at the cap.
SHIPPED_RULES = (
	{
		"name": "Opportunity: by Territory",
		"rule": rules.BASED_ON_FIELD,
		"field": TERRITORY_REP_FIELD,
		"priority": 20,
		"description": "Opportunity {{ title or name }} for {{ party_name }} in your territory {{ territory }}",
	},
	{
		"name": "Opportunity: Round Robin",
		"rule": rules.ROUND_ROBIN,
		"priority": 10,
		"description": "New opportunity {{ title or name }} for {{ party_name }}",
	},
	{
		"name": "Opportunity: Load Balancing",
		"rule": rules.LOAD_BALANCING,
		"priority": 5,
		"description": "New opportunity {{ title or name }} for {{ party_name }}",
	},
)
ASSIGN_CONDITION = "status in ({})".format(", ".join(f'"{status}"' for status in sorted(OPEN_STATUSES)))

# Up to this many opportunities are reassigned while the user is saved; more go to a background job.
INLINE_REASSIGN_LIMIT = 20
REASSIGN_BATCH = 50


def is_open(doc) -> bool:
	return doc.get("status") in OPEN_STATUSES


class OpportunityAssignmentRule(AssignmentRule):
	"""Frappe's Assignment Rule; on Opportunity with the cap, and hands off closed opportunities."""

	def _for_opportunity(self) -> bool:
		return self.document_type == OPPORTUNITY

	def validate(self):
		super().validate()
		if self._for_opportunity() and not self.disabled:
			self._validate_who()

	def _validate_who(self) -> None:
		# The form asks for these (mandatory_depends_on), the server does not: a rule enabled over REST or
		# in code without them would never assign.
		if self.rule == rules.BASED_ON_FIELD and not self.field:
			frappe.throw(
				_("Select the field that holds the user before enabling assignment rule {0}.").format(
					self.name
				),
				frappe.MandatoryError,
				title=_("Field Missing"),
			)
		if self.rule != rules.BASED_ON_FIELD and not self.users:
			frappe.throw(
				_("List the users to assign to before enabling assignment rule {0}.").format(self.name),
				frappe.MandatoryError,
				title=_("Users Missing"),
			)

	def apply_unassign(self, doc, assignments):
		if not self._for_opportunity():
			return super().apply_unassign(doc, assignments)
		if not is_open(doc):
			return False
		follow_up = doc.get("op_follow_up_todo")
		real = [row for row in assignments if row.name != follow_up]
		if not real:
			# Only the follow-up reminder is open: nothing is assigned yet, so the rules may assign
			# (Frappe would otherwise wait for any ToDo on the document to go away).
			return True
		return super().apply_unassign(doc, real)

	def apply_assign(self, doc):
		if self._for_opportunity() and not is_open(doc):
			return False
		return super().apply_assign(doc)

	def clear_assignment(self, doc):
		if not self._for_opportunity():
			return super().clear_assignment(doc)
		if not is_open(doc) or not self.safe_eval("unassign_condition", doc):
			return False
		return cancel_assignments(doc)

	def do_assignment(self, doc):
		if not self._for_opportunity():
			return super().do_assignment(doc)
		if not is_open(doc):
			return False
		# As Frappe does: drop what is there, then assign afresh; but keep the follow-up reminder.
		cancel_assignments(doc)
		user = self.get_user(doc)
		if not user:
			return False
		assign_to.add(
			{
				"assign_to": [user],
				"doctype": OPPORTUNITY,
				"name": doc.get("name"),
				"description": frappe.render_template(self.description, doc),
				"assignment_rule": self.name,
				"notify": True,
				"date": doc.get(self.due_date_based_on) if self.due_date_based_on else None,
			},
			ignore_permissions=True,
		)
		# Round robin goes on from here next time (Frappe keeps it on the rule).
		self.db_set("last_user", user)
		return True

	def get_user(self, doc):
		if not self._for_opportunity():
			return super().get_user(doc)
		if self.rule == rules.BASED_ON_FIELD:
			users = [doc.get(self.field)] if self.field else []
		else:
			users = [row.user for row in self.users]
		users = [user for user in users if user]
		cap = max(get_settings().assignment_cap or 0, 0)
		enabled = set(
			frappe.get_all("User", filters={"name": ("in", users), "enabled": 1}, pluck="name")
			if users
			else []
		)
		needs_loads = cap > 0 or self.rule == rules.LOAD_BALANCING
		loads = open_opportunity_loads(sorted(enabled)) if needs_loads and enabled else {}
		choice = rules.choose_assignee(
			self.rule, users, self.last_user, loads, cap, unavailable=set(users) - enabled
		)
		if choice.capped and (self.rule != rules.BASED_ON_FIELD or self._is_last_rule()):
			notify_capped(doc, cap)
		return choice.user

	def _is_last_rule(self) -> bool:
		"""No enabled Opportunity rule runs after this one (a later rule is the fallback for a capped rep)."""
		enabled = get_doctype_map(
			"Assignment Rule",
			OPPORTUNITY,
			filters={"document_type": OPPORTUNITY, "disabled": 0},
			order_by="priority desc",
		)
		names = [row.get("name") for row in enabled]
		return self.name not in names or names.index(self.name) == len(names) - 1


# --- loads and the cap -----------------------------------------------------------------------------


def open_opportunity_loads(users: list[str]) -> dict[str, int]:
	"""How many open opportunities each user is assigned (an Open ToDo), follow-up reminders aside."""
	if not users:
		return {}
	todo = DocType("ToDo")
	opportunity = DocType(OPPORTUNITY)
	rows = (
		frappe.qb.from_(todo)
		.join(opportunity)
		.on(opportunity.name == todo.reference_name)
		.select(todo.allocated_to, Count(opportunity.name).distinct())
		.where(todo.reference_type == OPPORTUNITY)
		.where(todo.status == "Open")
		.where(todo.allocated_to.isin(users))
		.where(opportunity.status.isin(sorted(OPEN_STATUSES)))
		.where(todo.name != IfNull(opportunity.op_follow_up_todo, ""))
		.groupby(todo.allocated_to)
	).run()
	return {user: count for user, count in rows}


def notify_capped(doc, cap: int) -> None:
	"""Tell the Sales Managers an opportunity stays unassigned, once a day per opportunity."""
	name = doc.get("name")
	# The same text each time (name, not the editable title): it is what the once-a-day check matches.
	subject = _("No rep is under the cap of {0} open opportunities: {1} stays unassigned").format(
		cap, frappe.bold(name)
	)
	managers = get_users_with_role(CAP_ALERT_ROLE)
	if not managers:
		return
	already = set(
		frappe.get_all(
			"Notification Log",
			filters={
				"document_type": OPPORTUNITY,
				"document_name": name,
				"type": "Alert",
				"subject": subject,
				"creation": (">=", today()),
			},
			pluck="for_user",
		)
	)
	for user in managers:
		if user in already or not is_notifications_enabled(user):
			continue
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"for_user": user,
				"from_user": frappe.session.user,
				"type": "Alert",
				"document_type": OPPORTUNITY,
				"document_name": name,
				"subject": subject,
			}
		).insert(ignore_permissions=True)


def cancel_assignments(doc) -> bool:
	"""Cancel the opportunity's assignments (every ToDo on it except the follow-up reminder)."""
	name = doc.get("name")
	todos = frappe.get_all(
		"ToDo",
		filters={
			"reference_type": OPPORTUNITY,
			"reference_name": name,
			"status": ("!=", "Cancelled"),
			"name": ("!=", doc.get("op_follow_up_todo") or ""),
		},
		fields=["name", "allocated_to"],
	)
	for todo in todos:
		assign_to.set_status(
			OPPORTUNITY,
			name,
			todo=todo.name,
			assign_to=todo.allocated_to,
			status="Cancelled",
			ignore_permissions=True,
		)
	return bool(todos)


# --- territory rep ---------------------------------------------------------------------------------


def set_territory_rep(doc, before) -> None:
	"""Fill `op_territory_rep` with the user of the territory's manager (Sales Person > Employee > User).

	A territory without a manager takes its nearest parent's. Recomputed only for a new opportunity, a
	changed territory or an empty field, from cached documents: no query once the cache is warm.
	"""
	territory_changed = before is None or before.get("territory") != doc.get("territory")
	if not territory_changed and doc.get(TERRITORY_REP_FIELD):
		return
	doc.set(TERRITORY_REP_FIELD, territory_rep(doc.get("territory")))


def territory_rep(territory: str | None) -> str | None:
	seen = set()
	while territory and territory not in seen:
		seen.add(territory)
		manager, parent = frappe.get_cached_value(
			"Territory", territory, ["territory_manager", "parent_territory"]
		) or (None, None)
		if manager:
			return _sales_person_user(manager)
		territory = parent
	return None


def _sales_person_user(sales_person: str) -> str | None:
	enabled, employee = frappe.get_cached_value("Sales Person", sales_person, ["enabled", "employee"]) or (
		0,
		None,
	)
	if not (enabled and employee):
		return None
	user, status = frappe.get_cached_value("Employee", employee, ["user_id", "status"]) or (None, None)
	return user if status == "Active" else None


# --- reassigning a disabled user's opportunities ---------------------------------------------------


def held_open_opportunities(user: str) -> list[str]:
	"""Open opportunities on which `user` holds an Open assignment (not a follow-up reminder)."""
	todo = DocType("ToDo")
	opportunity = DocType(OPPORTUNITY)
	return (
		frappe.qb.from_(todo)
		.join(opportunity)
		.on(opportunity.name == todo.reference_name)
		.select(opportunity.name)
		.distinct()
		.where(todo.reference_type == OPPORTUNITY)
		.where(todo.status == "Open")
		.where(todo.allocated_to == user)
		.where(opportunity.status.isin(sorted(OPEN_STATUSES)))
		.where(todo.name != IfNull(opportunity.op_follow_up_todo, ""))
		.orderby(opportunity.name)
	).run(pluck=True)


def enabled_rules() -> list:
	rows = get_doctype_map(
		"Assignment Rule",
		OPPORTUNITY,
		filters={"document_type": OPPORTUNITY, "disabled": 0},
		order_by="priority desc",
	)
	return [frappe.get_cached_doc("Assignment Rule", row.get("name")) for row in rows]


def reassign_open_opportunities(user: str) -> None:
	"""Hand `user`'s open opportunities back to the enabled assignment rules (the user is disabled).

	Without an enabled Opportunity rule nothing changes: the assignment stays where it is rather than
	leaving the deals with nobody. Many opportunities go to a background job after the user is saved.
	"""
	if not enabled_rules():
		return
	names = held_open_opportunities(user)
	if not names:
		return
	if len(names) > INLINE_REASSIGN_LIMIT and not frappe.flags.in_test:
		frappe.enqueue(
			"opportunity_plus.assignment.reassign_in_background",
			queue="long",
			job_id=f"opportunity_plus:reassign:{user}",
			deduplicate=True,
			enqueue_after_commit=True,
			user=user,
		)
		return
	_reassign(user, names, commit=False)


def reassign_in_background(user: str) -> None:
	# The user may have been enabled again since the job was queued.
	if frappe.db.get_value("User", user, "enabled"):
		return
	_reassign(user, held_open_opportunities(user), commit=True)


def _reassign(user: str, names: list[str], commit: bool) -> None:
	for index, name in enumerate(names, start=1):
		frappe.db.savepoint("op_reassign")
		try:
			reassign_opportunity(name, user)
		except Exception:
			frappe.db.rollback(save_point="op_reassign")
			frappe.log_error(
				title=_("Reassigning opportunity {0} failed").format(name),
				reference_doctype=OPPORTUNITY,
				reference_name=name,
			)
		if commit and index % REASSIGN_BATCH == 0:
			# A long run keeps what it has done if the job is stopped; the next run picks up the rest.
			frappe.db.commit()  # nosemgrep
	if commit:
		frappe.db.commit()  # nosemgrep


def reassign_opportunity(name: str, user: str) -> bool:
	"""Take `name` from `user` and let the rules assign it again; True when someone else now has it."""
	doc = frappe.get_doc(OPPORTUNITY, name)
	if not is_open(doc):
		return False
	for todo in frappe.get_all(
		"ToDo",
		filters={
			"reference_type": OPPORTUNITY,
			"reference_name": name,
			"allocated_to": user,
			"status": "Open",
			"name": ("!=", doc.get("op_follow_up_todo") or ""),
		},
		pluck="name",
	):
		assign_to.set_status(
			OPPORTUNITY, name, todo=todo, assign_to=user, status="Cancelled", ignore_permissions=True
		)
	if frappe.db.exists(
		"ToDo",
		{
			"reference_type": OPPORTUNITY,
			"reference_name": name,
			"status": "Open",
			"name": ("!=", doc.get("op_follow_up_todo") or ""),
		},
	):
		return False  # someone else still works on it
	values = doc.as_dict()
	for rule in enabled_rules():
		if rule.is_rule_not_applicable_today():
			continue
		if rule.apply_assign(values):
			return True
	return False


# --- install / uninstall ---------------------------------------------------------------------------


def ensure_assignment_rules() -> None:
	"""Create the shipped rules that are missing, disabled; an existing one is never changed."""
	for spec in SHIPPED_RULES:
		if frappe.db.exists("Assignment Rule", spec["name"]):
			continue
		rule = frappe.get_doc(
			{
				"doctype": "Assignment Rule",
				"__newname": spec["name"],
				"document_type": OPPORTUNITY,
				"disabled": 1,
				"priority": spec["priority"],
				"rule": spec["rule"],
				"field": spec.get("field"),
				"description": spec["description"],
				"assign_condition": ASSIGN_CONDITION,
				"assignment_days": [{"day": day} for day in ALL_DAYS],
			}
		)
		# Round robin and load balancing need users: the admin lists them before enabling the rule.
		rule.flags.ignore_mandatory = True
		rule.insert(ignore_permissions=True)


def remove_assignment_rules() -> None:
	"""Before uninstall: delete the shipped rules still disabled and never used, disable the territory rule.

	An enabled round robin or load balancing rule keeps working in stock Frappe (without the cap), so it
	stays; the territory rule's field goes away with the app, so it is disabled. A rule that assigned
	ToDos is kept (disabled) so they keep their link.
	"""
	for spec in SHIPPED_RULES:
		name = spec["name"]
		values = frappe.db.get_value("Assignment Rule", name, ["disabled", "field"], as_dict=True)
		if not values:
			continue
		if values.disabled and not frappe.db.exists("ToDo", {"assignment_rule": name}):
			frappe.delete_doc("Assignment Rule", name, ignore_permissions=True)
		elif values.field == TERRITORY_REP_FIELD and not values.disabled:
			rule = frappe.get_doc("Assignment Rule", name)
			rule.db_set("disabled", 1)
			rule.clear_cache()
