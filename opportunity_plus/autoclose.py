"""Auto-close of stale opportunities: load candidates and their latest activity, let core.autoclose
decide, then warn owners and close in bulk with a full audit trail.

Inactivity counts from whatever a person did last (latest_activities): the opportunity's creation; any
change to it or its child tables (its `modified`, unless this job wrote it); a note's `added_on`; a
Communication in either direction (linked directly or through its timeline links); a Comment; a ToDo or
an Event on it; an Opportunity History row a person wrote. The job's own writes never count.

Closing is set-based per batch: one UPDATE for the statuses (and the Overdue flag), and one INSERT each
for the lost reason, the timeline comment, the Version and the Opportunity History rows, so each closed
opportunity carries its reason and audit trail at a small fraction of a document save. Just before, each
opportunity's activity is read again under its row lock, so one that became active after the batch was
planned stays open. A batch that fails is retried row by row, so one bad opportunity is logged (Error
Log) and skipped while the rest close.
"""

from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.utils import getdate, now_datetime, nowdate

from opportunity_plus import followups, summary
from opportunity_plus import history as history_rows
from opportunity_plus.core import autoclose as rules
from opportunity_plus.core import categories as category_rules
from opportunity_plus.locks import job_lock
from opportunity_plus.pipeline import get_settings

BATCH_SIZE = 500
NO_RESPONSE = "No response"
JOB_USER = "Administrator"


class PolicyError(frappe.ValidationError):
	pass


def policy_messages() -> dict[str, str]:
	"""The message of each policy error code, in the caller's language (literal _() calls, so that
	translation extraction finds them)."""
	return {
		rules.DEFAULT_DAYS_NOT_POSITIVE: _("Days of Inactivity must be more than 0."),
		rules.TYPE_DAYS_NOT_POSITIVE: _("Every Days per Opportunity Type row needs more than 0 days."),
		rules.BLANK_TYPE: _("Every Days per Opportunity Type row needs an Opportunity Type."),
		rules.DUPLICATE_TYPE: _("An Opportunity Type appears twice in Days per Opportunity Type."),
		rules.WARNING_NEGATIVE: _("Warn the Owner Days Before cannot be negative."),
		rules.WARNING_NOT_BELOW_DAYS: _(
			"The warning must come before the close: warn fewer days before than any Days of Inactivity."
		),
		rules.NO_ELIGIBLE_STATUSES: _("Choose at least one status to close (Open, Replied or Quotation)."),
		rules.CLOSED_STATUS_ELIGIBLE: _("Only open statuses can be auto-closed."),
		rules.UNKNOWN_STATUS: _("Only open statuses can be auto-closed."),
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
			"<br>".join(dict.fromkeys(policy_messages()[code] for code in errors)),
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
				opportunity.modified_by,
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


# Comments a person makes; the job's own are Info.
PERSON_COMMENT_TYPES = ("Comment", "Like", "Attachment", "Attachment Removed")

# The latest moment of each kind of activity per opportunity (the rows' names in %(names)s), one grouped
# query each, on the indexes Frappe and ERPNext keep for these look-ups.
ACTIVITY_QUERIES = (
	# A Communication in either direction, linked directly ...
	"""select reference_name, max(communication_date) from `tabCommunication`
	where reference_doctype = 'Opportunity' and reference_name in %(names)s
	and communication_type = 'Communication' group by reference_name""",
	# ... or through its timeline links.
	"""select link.link_name, max(c.communication_date) from `tabCommunication Link` link
	join `tabCommunication` c on c.name = link.parent
	where link.link_doctype = 'Opportunity' and link.link_name in %(names)s
	and c.communication_type = 'Communication' group by link.link_name""",
	"""select reference_name, max(creation) from `tabComment`
	where reference_doctype = 'Opportunity' and reference_name in %(names)s
	and comment_type in %(comment_types)s group by reference_name""",
	"""select reference_name, max(modified) from `tabToDo`
	where reference_type = 'Opportunity' and reference_name in %(names)s group by reference_name""",
	"""select participant.reference_docname, max(event.modified) from `tabEvent Participants` participant
	join `tabEvent` event on event.name = participant.parent
	where participant.reference_doctype = 'Opportunity' and participant.reference_docname in %(names)s
	group by participant.reference_docname""",
	# ERPNext's Notes tab (CRM Note rows, `add_note`): a note edited in place keeps its parent's timestamp,
	# so its own `added_on` is read too.
	"""select parent, max(added_on) from `tabCRM Note`
	where parenttype = 'Opportunity' and parentfield = 'notes' and parent in %(names)s group by parent""",
)


def latest_activities(rows) -> dict[str, datetime]:
	"""Latest activity of a person on each opportunity in `rows` (with creation, modified, modified_by).

	Any change to the opportunity or its child tables counts through its `modified`, unless the last
	writer was this job (core.autoclose.written_by_job); then every other trace: notes, Communications
	either way, Comments, ToDos, Events, and history rows a person wrote (not the System channel as the
	job's user). The job's own writes (its close, its Info comment, its warnings) never count.
	"""
	names = [row.name for row in rows]
	other: dict[str, list] = {name: [] for name in names}
	values = {"names": names, "comment_types": PERSON_COMMENT_TYPES, "job_user": JOB_USER}
	for query in ACTIVITY_QUERIES:
		for name, moment in frappe.db.sql(query, values):
			other[name].append(moment)
	job_writes: dict[str, datetime] = {}
	for name, by_person, closed_by_job in frappe.db.sql(
		"""select opportunity,
			max(case when not (channel = 'System' and changed_by = %(job_user)s) then changed_on end),
			max(case when channel = 'System' and changed_by = %(job_user)s and changed_field = 'status'
				and to_value = 'Closed' then changed_on end)
		from `tabOpportunity History` where opportunity in %(names)s group by opportunity""",
		values,
	):
		other[name].append(by_person)
		job_writes[name] = closed_by_job
	return {
		row.name: rules.person_activity(
			row.creation,
			row.modified,
			row.modified_by,
			job_user=JOB_USER,
			job_writes=[job_writes.get(row.name)],
			other=other[row.name],
		)
		for row in rows
	}


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


def close(decisions: list[rules.Decision], policy: rules.Policy, today) -> list[str]:
	"""Close the decided opportunities that are still due, in bulk.

	Each is re-checked under its row lock first: still in an eligible status, and still without activity
	(read again, so a note, mail or edit committed since the batch was planned keeps the deal open). The
	caller starts a fresh transaction before this (see _run_locked), so those reads see every commit made
	before the locks were taken.
	"""
	if not decisions:
		return []
	locked = frappe.db.sql(
		"""select name, status, opportunity_type, creation, modified, modified_by, op_autoclose_warned_on,
		op_is_overdue from `tabOpportunity` where name in %(names)s and status in %(statuses)s for update""",
		{"names": [decision.name for decision in decisions], "statuses": list(policy.eligible_statuses)},
		as_dict=True,
	)
	decisions = rules.to_close(plan_batch(locked, policy, today)) if locked else []
	if not decisions:
		return []
	still = {row.name: row for row in locked}
	names = [decision.name for decision in decisions]
	moment = now_datetime()
	reason = _no_response_reason()
	frappe.db.sql(
		"""update `tabOpportunity` set status = 'Closed', modified = %(now)s, modified_by = %(user)s,
		op_autoclose_warned_on = null, op_is_overdue = 0, op_effective_forecast_category = %(category)s,
		op_closed_on = %(today)s
		where name in %(names)s""",
		{
			"now": moment,
			"user": JOB_USER,
			"names": names,
			"today": moment.date(),
			# a closed deal's category in force, whatever its override or stage (core.categories)
			"category": category_rules.effective_category(
				status="Closed", override=None, stage_category=None
			),
		},
	)
	# The bulk update runs no hooks: the deals' open follow-ups (Event, ToDo) and the pipeline summary
	# follow here, in the same transaction.
	followups.close_for(names)
	summary.mark(names)
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
						"changed": [
							["status", still[name].status, "Closed"],
							# The Overdue flag goes with the close (an Overdue badge on a closed deal misleads).
							*([["op_is_overdue", 1, 0]] if still[name].op_is_overdue else []),
						],
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
		((name, "status", _("Status"), still[name].status, "Closed") for name in names),
		changed_on=moment,
		user=JOB_USER,
		channel="System",
	)
	return names


def _no_response_reason() -> str:
	reason = _("No response")  # NO_RESPONSE, translated
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
		# Planning only read. End its transaction: MariaDB answers later plain reads of a transaction from
		# the snapshot of its first one, so close() would re-check activity as it was when planning began
		# and miss a note or mail committed since. In a fresh transaction the snapshot is taken by the
		# re-check's reads, after close() holds the row locks.
		frappe.db.commit()
		try:
			frappe.db.savepoint("op_autoclose_batch")
			counts["closed"] += len(close(closing, policy, today))
			warn(rows_by_name, warning, today)
			counts["warned"] += len(warning)
		except Exception:
			frappe.db.rollback(save_point="op_autoclose_batch")
			# Nothing of the batch is kept; a fresh transaction (and snapshot) for each row from here.
			frappe.db.commit()
			for decision in closing + warning:  # one at a time, so one bad row cannot stop the rest
				try:
					frappe.db.savepoint("op_autoclose_row")
					if decision.action == rules.CLOSE:
						counts["closed"] += len(close([decision], policy, today))
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
				frappe.db.commit()
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
