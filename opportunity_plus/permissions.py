"""What a user may read of Opportunity, as SQL: the one place the app derives it.

Every raw-SQL reader (forecast, win/loss, number cards, charts, reports, the history permission query)
takes its row restriction from `read_scope`, built with Frappe's own query machinery
(`frappe.model.db_query.DatabaseQuery`), so that it applies exactly what `frappe.get_list("Opportunity")`
applies for the same user:
- role permissions (no read or select permission and nothing shared: PermissionError, as get_list);
- `if_owner` permissions (only the user's own deals);
- user permissions, for all doctypes or for Opportunity only, with Frappe's "empty link allowed" rule
  and the system setting *Apply Strict User Permissions*;
- every installed app's `permission_query_conditions` for Opportunity and permission-query server scripts;
- shares: OR-ed in when the user is restricted, and alone when the user has no role permission at all
  but deals were shared with them (Frappe adds these outside `build_match_conditions`).

Readers that list rows through `frappe.get_list` (board, party's deals, follow-ups, calendar, response
report) get the same restriction from Frappe directly.
"""

from dataclasses import dataclass, field

import frappe
from frappe.model.db_query import DatabaseQuery

from opportunity_plus.core.sqltext import index_friendly, parameterize

OPPORTUNITY = "Opportunity"
# Placeholder names of the scope's values; a caller's own parameters must not start with it.
PARAMETER_PREFIX = "op_read_scope_"


@dataclass(frozen=True)
class ReadScope:
	"""The rows of `tabOpportunity` a user may read.

	`sql` is the restriction with its values inline, as Frappe writes it (for a query that is not
	%-formatted, such as another doctype's permission query condition); `condition` and `values` are the
	same restriction for a parameterised query (`frappe.db.sql(query, {**own_values, **scope.values})`).
	Both are "" when the user may read every opportunity. Both name the table `tabOpportunity` (no alias).
	"""

	user: str
	sql: str = ""
	condition: str = ""
	values: dict = field(default_factory=dict)

	@property
	def unrestricted(self) -> bool:
		return not self.sql

	def and_condition(self) -> str:
		"""` and (<condition>)`, or "" when unrestricted: to append to a WHERE clause."""
		return f" and ({self.condition})" if self.condition else ""


def read_scope(user: str | None = None) -> ReadScope:
	"""The user's read restriction on Opportunity (default: the session user).

	Raises frappe.PermissionError where `frappe.get_list("Opportunity")` would: a user without read
	permission and with no opportunity shared with them (Guest included).
	"""
	user = user or frappe.session.user
	if frappe.flags.op_read_every_opportunity:
		# set by forecast_call.every_deal() only: a forecast call's figures are the team's whole numbers
		return ReadScope(user=user)
	query = DatabaseQuery(OPPORTUNITY, user=user)
	query.check_read_permission(OPPORTUNITY)
	match = query.build_match_conditions()
	# A user with no role permission but shared deals: Frappe puts the share condition in `conditions`
	# and returns only the permission query conditions.
	parts = [part for part in (*query.conditions, match) if part]
	if not parts:
		return ReadScope(user=user)
	sql = " and ".join(f"({part})" for part in parts) if len(parts) > 1 else parts[0]
	sql = index_friendly(sql)
	condition, values = parameterize(sql, PARAMETER_PREFIX)
	return ReadScope(user=user, sql=sql, condition=condition, values=values)


# --- Opportunity History ---------------------------------------------------------------------------


def opportunity_history_query(user: str | None = None, doctype: str | None = None) -> str:
	"""History rows are readable exactly where their opportunity is (hook: permission_query_conditions)."""
	user = user or frappe.session.user
	if user == "Administrator":
		return ""
	try:
		scope = read_scope(user)
	except frappe.PermissionError:
		return "1 = 0"
	if scope.unrestricted:
		return ""
	return (
		"`tabOpportunity History`.`opportunity` in "
		f"(select `tabOpportunity`.`name` from `tabOpportunity` where {scope.sql})"
	)


def opportunity_history_has_permission(doc, ptype: str = "read", user: str | None = None) -> bool:
	if ptype not in ("read", "report", "export", "print", "email", "share"):
		return False  # rows are written by the app only
	return bool(frappe.has_permission("Opportunity", "read", doc.opportunity, user=user))
