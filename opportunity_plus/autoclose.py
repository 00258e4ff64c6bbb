"""Auto-close of stale opportunities: load candidates and their latest activity, let core.autoclose
decide, then warn owners and close in bulk with a full audit trail.

Inactivity counts from the latest real activity: the opportunity's creation; a Communication in either
direction (linked directly or through its timeline links); a Comment; a ToDo or an Event on it; and any
change a person made (Opportunity History rows not written by a background job). Opportunities that have
no history yet (created before the app was installed) also count their `modified`.

Closing is set-based per batch: one UPDATE for the statuses, and one INSERT each for the lost reason,
the timeline comment, the Version and the Opportunity History rows, so each closed opportunity carries
its reason and audit trail at a small fraction of a document save. A batch that fails is retried row by
row, so one bad opportunity is logged (Error Log) and skipped while the rest close.
"""

from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.utils import getdate, now_datetime, nowdate

from opportunity_plus import followups
from opportunity_plus import history as history_rows
from opportunity_plus.core import autoclose as rules
from opportunity_plus.locks import job_lock
from opportunity_plus.pipeline import get_settings

BATCH_SIZE = 500
NO_RESPONSE = "No response"
JOB_USER = "Administrator"


class PolicyError(frappe.ValidationError):
	pass


POLICY_MESSAGES = {
	rules.DEFAULT_DAYS_NOT_POSITIVE: "Days of Inactivity must be more than 0.",
	rules.TYPE_DAYS_NOT_POSITIVE: "Every Days per Opportunity Type row needs more than 0 days.",
	rules.BLANK_TYPE: "Every Days per Opportunity Type row needs an Opportunity Type.",
	rules.DUPLICATE_TYPE: "An Opportunity Type appears twice in Days per Opportunity Type.",
	rules.WARNING_NEGATIVE: "Warn the Owner Days Before cannot be negative.",
	rules.WARNING_NOT_BELOW_DAYS: "The warning must come before the close: warn fewer days before than any Days of Inactivity.",
	rules.NO_ELIGIBLE_STATUSES: "Choose at least one status to close (Open, Replied or Quotation).",
	rules.CLOSED_STATUS_ELIGIBLE: "Only open statuses can be auto-closed.",
	rules.UNKNOWN_STATUS: "Only open statuses can be auto-closed.",
}


def policy_from(settings) -> rules.Policy:
	statuses = {
		status
		for status, on in (
			("Open", settings.auto_close_open),
			("Replied", settings.auto_close_replied),
			("Quotation", settings.auto_close_quotation),
		)
		if on
	}
	return rules.Policy(
		default_days=settings.auto_close_after_days or 0,
		days_by_type=tuple(
			(row.opportunity_type, row.days) for row in settings.get("auto_close_rules") or []
		),
		eligible_statuses=frozenset(statuses),
		warning_days=settings.auto_close_warning_days or 0,
	)


def validate_policy(policy: rules.Policy) -> None:
	errors = rules.policy_errors(policy)
	if errors:
		frappe.throw(
			"<br>".join(dict.fromkeys(_(POLICY_MESSAGES[code]) for code in errors)),
			PolicyError,
			title=_("Auto-Close Settings"),
		)


# --- loading ---------------------------------------------------------------------------------------


def candidate_batches(policy: rules.Policy, batch_size: int = BATCH_SIZE, horizon_days: int = 0):
	"""Eligible opportunities in batches of `batch_size`, by name (keyset pagination: a batch closed in
	the meantime does not shift the next one). Only those created long enough ago to be due to a warning
	or a close within `horizon_days` (activity never predates creation)."""
	shortest = min([policy.default_days, *(days for _type, days in policy.days_by_type)])
	created_before = getdate(nowdate()) - timedelta(
		days=max(shortest - policy.warning_days - horizon_days, 0) - 1
	)
	opportunity = frappe.qb.DocType("Opportunity")
	last_name = ""
	while True:
		rows = (
			frappe.qb.from_(opportunity)
			.select(
				opportunity.name,
				opportunity.status,
				opportunity.opportunity_type,
				opportunity.creation,
				opportunity.modified,
				opportunity.op_autoclose_warned_on,
				opportunity.opportunity_owner,
				opportunity.owner,
				opportunity.title,
			)
			.where(
				opportunity.status.isin(list(policy.eligible_statuses))
				& (opportunity.creation < created_before)
				& (opportunity.name > last_name)
			)
			.orderby(opportunity.name)
			.limit(batch_size)
			.run(as_dict=True)
		)
		if not rows:
			return
		yield rows
		last_name = rows[-1].name


def latest_activities(rows) -> dict[str, datetime]:
	"""Latest real activity of each opportunity in `rows`, with one grouped query per kind of activity."""
	names = [row.name for row in rows]
	latest = {row.name: row.creation for row in rows}

	def take(pairs):
		for name, moment in pairs:
			latest[name] = rules.latest_activity(latest[name], moment)

	values = {"names": names}
	take(
		frappe.db.sql(
			"""select reference_name, max(communication_date) from `tabCommunication`
			where reference_doctype = 'Opportunity' and reference_name in %(names)s
			and communication_type = 'Communication' group by reference_name""",
			values,
		)
	)
	take(
		frappe.db.sql(
			"""select link.link_name, max(c.communication_date) from `tabCommunication Link` link
			join `tabCommunication` c on c.name = link.parent
			where link.link_doctype = 'Opportunity' and link.link_name in %(names)s
			and c.communication_type = 'Communication' group by link.link_name""",
			values,
		)
	)
	take(
		frappe.db.sql(
			"""select reference_name, max(creation) from `tabComment`
			where reference_doctype = 'Opportunity' and reference_name in %(names)s
			and comment_type = 'Comment' group by reference_name""",
			values,
		)
	)
	take(
		frappe.db.sql(
			"""select reference_name, max(modified) from `tabToDo`
			where reference_type = 'Opportunity' and reference_name in %(names)s group by reference_name""",
			values,
		)
	)
	take(
		frappe.db.sql(
			"""select participant.reference_docname, max(event.modified) from `tabEvent Participants` participant
			join `tabEvent` event on event.name = participant.parent
			where participant.reference_doctype = 'Opportunity' and participant.reference_docname in %(names)s
			group by participant.reference_docname""",
			values,
		)
	)
	history = dict(
		frappe.db.sql(
			"""select opportunity, max(case when not (channel = 'System' and changed_by = %(job_user)s)
				then changed_on end)
			from `tabOpportunity History` where opportunity in %(names)s group by opportunity""",
			{**values, "job_user": JOB_USER},
			as_list=True,
		)
	)
	take(history.items())
	# Rows from before the app was installed have no history: their last save is the best we know.
	take((row.name, row.modified) for row in rows if row.name not in history)
	return latest


def plan_batch(rows, policy: rules.Policy, today) -> list[rules.Decision]:
	activities = latest_activities(rows)
	candidates = [
		rules.Candidate(
			name=row.name,
			status=row.status,
			opportunity_type=row.opportunity_type,
			last_activity=activities[row.name],
			warned_on=getdate(row.op_autoclose_warned_on) if row.op_autoclose_warned_on else None,
		)
		for row in rows
	]
	return rules.plan(candidates, policy, today)


# --- acting ----------------------------------------------------------------------------------------


def warn(rows_by_name: dict, decisions: list[rules.Decision], today) -> None:
	"""One system notification per owner and opportunity (emailed by Frappe when the site sends email);
	the warning day is stored so it is sent once per inactivity period."""
	if not decisions:
		return
	# Re-check under a row lock that no other run has warned since this batch was planned.
	not_warned_today = set(
		frappe.db.sql(
			"""select name from `tabOpportunity` where name in %(names)s
			and (op_autoclose_warned_on is null or op_autoclose_warned_on < %(today)s) for update""",
			{"names": [decision.name for decision in decisions], "today": today},
			pluck=True,
		)
	)
	# One query for the owners' enabled flag instead of one per warned opportunity.
	candidates = {
		user
		for decision in decisions
		for user in (rows_by_name[decision.name].opportunity_owner, rows_by_name[decision.name].owner)
		if user and user not in ("Administrator", "Guest")
	}
	enabled = set(
		frappe.get_all("User", filters={"name": ("in", list(candidates)), "enabled": 1}, pluck="name")
		if candidates
		else []
	)
	for decision in decisions:
		if decision.name not in not_warned_today:
			continue
		row = rows_by_name[decision.name]
		user = _owner(row, enabled)
		if user:
			frappe.get_doc(
				{
					"doctype": "Notification Log",
					"for_user": user,
					"type": "Alert",
					"document_type": "Opportunity",
					"document_name": row.name,
					"from_user": JOB_USER,
					"subject": _("{0} will be closed on {1} for lack of activity").format(
						row.title or row.name, frappe.format(decision.close_on, {"fieldtype": "Date"})
					),
					"email_content": _(
						"Opportunity {0} has had no activity for {1} days. Unless something happens on it, it"
						" will be closed on {2}."
					).format(
						row.name, decision.idle_days, frappe.format(decision.close_on, {"fieldtype": "Date"})
					),
				}
			).insert(ignore_permissions=True)
		frappe.db.set_value("Opportunity", row.name, "op_autoclose_warned_on", today, update_modified=False)


def _owner(row, enabled_users: set[str]) -> str | None:
	"""Who is warned: the opportunity owner, else its creator, if that is an enabled person."""
	return next((user for user in (row.opportunity_owner, row.owner) if user in enabled_users), None)


def close(rows_by_name: dict, decisions: list[rules.Decision], eligible_statuses) -> list[str]:
	"""Close the decided opportunities that are still eligible (re-checked under a row lock), in bulk."""
	if not decisions:
		return []
	names = [decision.name for decision in decisions]
	still = dict(
		frappe.db.sql(
			"""select name, status from `tabOpportunity` where name in %(names)s and status in %(statuses)s
			for update""",
			{"names": names, "statuses": list(eligible_statuses)},
		)
	)
	decisions = [decision for decision in decisions if decision.name in still]
	if not decisions:
		return []
	names = [decision.name for decision in decisions]
	moment = now_datetime()
	reason = _no_response_reason()
	frappe.db.sql(
		"""update `tabOpportunity` set status = 'Closed', modified = %(now)s, modified_by = %(user)s,
		op_autoclose_warned_on = null where name in %(names)s""",
		{"now": moment, "user": JOB_USER, "names": names},
	)
	# The bulk update runs no hooks: the deals' open follow-ups (Event, ToDo) are closed here.
	followups.close_for(names)
	without_reason = set(names) - set(
		frappe.get_all(
			"Opportunity Lost Reason Detail",
			filters={"parenttype": "Opportunity", "parent": ("in", names)},
			pluck="parent",
		)
	)
	common = ["name", "creation", "modified", "owner", "modified_by"]

	def meta_values():
		return [frappe.generate_hash(length=12), moment, moment, JOB_USER, JOB_USER]

	frappe.db.bulk_insert(
		"Opportunity Lost Reason Detail",
		[*common, "parent", "parenttype", "parentfield", "idx", "lost_reason"],
		[
			[*meta_values(), name, "Opportunity", "lost_reasons", 1, reason]
			for name in names
			if name in without_reason
		],
	)
	frappe.db.bulk_insert(
		"Comment",
		[*common, "comment_type", "reference_doctype", "reference_name", "comment_email", "content"],
		[
			[
				*meta_values(),
				"Info",
				"Opportunity",
				decision.name,
				JOB_USER,
				_(
					'Closed automatically: no activity for {0} days (limit {1} days), lost reason "{2}".'
				).format(decision.idle_days, decision.threshold, reason),
			]
			for decision in decisions
		],
	)
	frappe.db.bulk_insert(
		"Version",
		[*common, "ref_doctype", "docname", "data"],
		[
			[
				*meta_values(),
				"Opportunity",
				name,
				frappe.as_json(
					{
						"changed": [["status", still[name], "Closed"]],
						"added": [],
						"removed": [],
						"row_changed": [],
					},
					indent=None,
				),
			]
			for name in names
		],
	)
	history_rows.insert_rows(
		((name, "status", _("Status"), still[name], "Closed") for name in names),
		changed_on=moment,
		user=JOB_USER,
		channel="System",
	)
	return names


def _no_response_reason() -> str:
	reason = _(NO_RESPONSE)
	if not frappe.db.exists("Opportunity Lost Reason", reason):
		frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": reason}).insert(
			ignore_permissions=True
		)
	return reason


# --- the run ---------------------------------------------------------------------------------------


def run(batch_size: int = BATCH_SIZE) -> dict | None:
	"""One auto-close run; returns counts, or None when disabled or another run holds the lock."""
	settings = get_settings()
	if not settings.auto_close_enabled:
		return None
	policy = policy_from(settings)
	if rules.policy_errors(policy):
		frappe.log_error(
			title="Opportunity Plus auto-close not run", message=str(rules.policy_errors(policy))
		)
		return None
	with job_lock("auto_close") as locked:
		return _run_locked(policy, batch_size) if locked else None


def _run_locked(policy, batch_size) -> dict:
	today = getdate(nowdate())
	counts = {"closed": 0, "warned": 0, "failed": 0}
	for rows in candidate_batches(policy, batch_size):
		rows_by_name = {row.name: row for row in rows}
		decisions = plan_batch(rows, policy, today)
		closing, warning = rules.to_close(decisions), rules.to_warn(decisions)
		try:
			frappe.db.savepoint("op_autoclose_batch")
			counts["closed"] += len(close(rows_by_name, closing, policy.eligible_statuses))
			warn(rows_by_name, warning, today)
			counts["warned"] += len(warning)
		except Exception:
			frappe.db.rollback(save_point="op_autoclose_batch")
			for decision in closing + warning:  # one at a time, so one bad row cannot stop the rest
				try:
					frappe.db.savepoint("op_autoclose_row")
					if decision.action == rules.CLOSE:
						counts["closed"] += len(close(rows_by_name, [decision], policy.eligible_statuses))
					else:
						warn(rows_by_name, [decision], today)
						counts["warned"] += 1
				except Exception:
					frappe.db.rollback(save_point="op_autoclose_row")
					counts["failed"] += 1
					frappe.log_error(
						title=_("Opportunity Plus auto-close failed for {0}").format(decision.name),
						reference_doctype="Opportunity",
						reference_name=decision.name,
					)
		# Commit per batch: a run stopped midway keeps what it closed, and the next run (which selects by
		# state) completes the rest; row locks are held for one batch only.
		frappe.db.commit()
	return counts


def preview(horizon_days: int = 30) -> list[dict]:
	"""What the job would do today and in the next `horizon_days` days, without changing anything."""
	settings = get_settings()
	policy = policy_from(settings)
	validate_policy(policy)
	today = getdate(nowdate())
	result = []
	for rows in candidate_batches(policy, horizon_days=horizon_days):
		rows_by_name = {row.name: row for row in rows}
		for decision in rules.upcoming(plan_batch(rows, policy, today), today, horizon_days):
			row = rows_by_name[decision.name]
			result.append(
				{
					"opportunity": row.name,
					"title": row.title,
					"status": row.status,
					"owner": row.opportunity_owner or row.owner,
					"action": decision.action,
					"idle_days": decision.idle_days,
					"threshold": decision.threshold,
					"close_on": decision.close_on,
				}
			)
	return sorted(result, key=lambda r: (r["close_on"], r["opportunity"]))
