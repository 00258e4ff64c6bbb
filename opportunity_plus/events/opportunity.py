"""doc_events for ERPNext's Opportunity: pipeline rules on save, deal history on every change."""

import frappe
from frappe import _
from frappe.utils import flt, getdate, now_datetime, today

from opportunity_plus import assignment, categories, followups, funnel, summary
from opportunity_plus import history as history_rows
from opportunity_plus.api.utils import echo, parse_date, parse_datetime
from opportunity_plus.core import deal as deal_rules
from opportunity_plus.core import history
from opportunity_plus.core import stages as stage_rules
from opportunity_plus.core.deal import close_date_required, is_overdue
from opportunity_plus.core.pipelines import (
	ITEMS,
	SUBMITTED_QUOTATION,
	choose_pipeline,
	map_stage,
	missing_for_entry,
)
from opportunity_plus.pipeline import (
	PIPELINE_FIELD,
	default_pipeline,
	first_stage_of_kind,
	get_pipeline,
	get_pipelines,
	get_settings,
	get_stages,
	ordered_stages,
	pipeline_of,
)

HISTORY = history_rows.HISTORY


def before_validate(doc, method=None) -> None:
	_skip_unmappable_columns_in_map_fields(doc)


def validate(doc, method=None) -> None:
	doc.__dict__.pop("map_fields", None)  # in case the controller did not call it (before_validate)
	settings = get_settings()
	_read_dates(doc)
	_check_probability(doc)
	if settings.amount_from_items and doc.get("items"):
		# ERPNext has computed the items' total (calculate_totals) before doc_events run.
		doc.opportunity_amount = flt(doc.total)
	# ERPNext sets the base amount only in the desk form's script, so REST and code saves leave it stale.
	doc.base_opportunity_amount = flt(doc.opportunity_amount) * flt(doc.conversion_rate or 1)
	_check_amounts(doc)

	before = doc.get_doc_before_save()
	pipeline = _settle_pipeline(doc, before)
	stages = get_stages(pipeline.name) if pipeline else get_stages()
	_check_lost(doc, before, settings)
	_stamp_closed_on(doc, before)
	action = _keep_stage_and_status_in_step(doc, before, stages, pipeline)
	_check_stage_in_pipeline(doc, before, stages, pipeline)
	if action != stage_rules.REOPEN_STAGE:  # reopening puts the deal back where it was
		_check_entry_rules(doc, before, pipeline)
	_apply_stage_probability(doc, before, stages, settings)
	_check_close_date(doc, stages, settings)
	doc.op_is_overdue = int(
		is_overdue(doc.status, doc.expected_closing and getdate(doc.expected_closing), getdate())
	)
	followups.validate(doc, before)
	assignment.set_territory_rep(doc, before)
	# Last: the stage and status rules above may have moved the stage.
	categories.validate(doc, before, stages)


def onload(doc, method=None) -> None:
	"""Give the form its deal-history summary: time in each stage, close-date slips, latest changes."""
	if doc.is_new():
		return
	rows = frappe.get_all(
		HISTORY,
		filters={"opportunity": doc.name},
		fields=["changed_field", "field_label", "from_value", "to_value", "changed_on", "changed_by"],
		order_by="changed_on asc, creation asc",
	)
	entries = [history.HistoryEntry(r.changed_field, r.from_value, r.to_value, r.changed_on) for r in rows]
	until = now_datetime()
	if doc.status not in stage_rules.OPEN_STATUSES:
		closed_at = [e.changed_on for e in entries if e.field == "status" and e.to_value == doc.status]
		until = closed_at[-1] if closed_at else until
	pipeline = pipeline_of(doc)
	stage_order = {
		name: index for index, name in enumerate(s.name for s in ordered_stages(pipeline and pipeline.name))
	}
	durations = history.time_in_stages(entries, until)
	doc.set_onload(
		"op_history",
		{
			"time_in_stages": [
				{"stage": stage, "seconds": seconds}
				for stage, seconds in sorted(durations.items(), key=lambda i: stage_order.get(i[0], 10**6))
			],
			"close_date_slips": history.close_date_slips(entries),
			"changes": list(reversed(rows[-30:])),
			"total_changes": len(rows),
		},
	)


def on_change(doc, method=None) -> None:
	"""Runs after every save and after every `db_set` (ERPNext sets Quotation/Converted/Lost that way)."""
	if doc.flags.in_delete:
		return
	if (doc.doctype, doc.name) not in frappe.flags.currently_saving:
		_follow_status_set_outside_save(doc)
	categories.sync_effective(doc)
	_record_history(doc)
	# Stage Conversion's rows, from the history row just written (funnel.py)
	funnel.follow(doc)
	followups.sync(doc)
	# After the status-follows-stage db_set above, so the summary counts the final values.
	_count_in_summary(doc)


def after_delete(doc, method=None) -> None:
	summary.mark([doc.name])
	funnel.forget(doc.name)


def on_trash(doc, method=None) -> None:
	_guard_deletion(doc)
	followups.on_trash(doc)
	# The history belongs to the opportunity: it goes with it (its link is ignored on delete, see hooks).
	frappe.db.delete(HISTORY, {"opportunity": doc.name})


def _guard_deletion(doc) -> None:
	"""Closed, lost and converted deals are the win/loss record: close or reopen them, don't delete."""
	if doc.status not in stage_rules.CLOSED_STATUSES:
		return
	if get_settings().allow_deleting_closed and "System Manager" in frappe.get_roles():
		return
	# literal _() calls, so that translation extraction finds them
	status = {"Lost": _("Lost"), "Closed": _("Closed"), "Converted": _("Converted")}.get(
		doc.status, doc.status
	)
	frappe.throw(
		_(
			"Opportunity {0} is {1} and part of the win/loss record: it cannot be deleted. "
			"Keep it closed, or reopen it to change it."
		).format(doc.name, status),
		frappe.PermissionError,
		title=_("Not Deleted"),
	)


def _stamp_closed_on(doc, before) -> None:
	"""Closed On: the day the status became Converted, Lost or Closed (kept through a save that leaves a
	closed status as it was); none while open."""
	if doc.status not in stage_rules.CLOSED_STATUSES:
		doc.op_closed_on = None
	elif before is None or before.status != doc.status or not doc.op_closed_on:
		doc.op_closed_on = today()


def _check_lost(doc, before, settings) -> None:
	"""Lost needs a reason (ERPNext asks for one only in the desk dialog); stamp the day it was lost."""
	became_lost = doc.status == "Lost" and (before is None or before.status != "Lost")
	if became_lost:
		if settings.require_lost_reason and not doc.get("lost_reasons"):
			frappe.throw(
				_("Select at least one lost reason to mark opportunity {0} as Lost.").format(doc.name or ""),
				title=_("Lost Reason Required"),
			)
		doc.op_lost_on = today()
	elif doc.status != "Lost" and doc.op_lost_on:
		doc.op_lost_on = None  # reopened: the history keeps when it was lost


# --- ERPNext's party mapping ---------------------------------------------------------------------------

_UNSET = object()


def _skip_unmappable_columns_in_map_fields(doc) -> None:
	"""ERPNext's `Opportunity.map_fields` (in its validate) fills every empty column from the party (Lead,
	Customer, Prospect) where the party's doctype has a standard field of that name, asking the database
	once per empty column (`frappe.db.field_exists`): some 30 queries a save, a dozen more for the app's
	own columns. Here that question is asked once for all the empty columns, and map_fields runs with the
	columns whose answer is no looking filled, so it skips them; it still maps the others itself. The
	class's own method (ERPNext's, or another app's override) does all the mapping, and the values are put
	back before anything else runs."""
	if "map_fields" in doc.__dict__ or not callable(getattr(doc, "map_fields", None)):
		return
	mapper = doc.map_fields

	def map_fields(*args, **kwargs):
		doc.__dict__.pop("map_fields", None)
		empty = [field for field in doc.meta.get_valid_columns() if not doc.get(field)]
		if not empty:
			return mapper(*args, **kwargs)
		party_doctype = doc.get("opportunity_from")
		# ERPNext's question, for all the columns at once: a standard field of that name on the party's doctype
		on_party = (
			set(
				frappe.db.sql_list(
					"select fieldname from `tabDocField` where parent = %s and fieldname in %s",
					(party_doctype, empty),
				)
			)
			if party_doctype
			else set()
		)
		unmappable = [field for field in empty if field not in on_party]
		kept = {field: doc.__dict__.get(field, _UNSET) for field in unmappable}
		for field in unmappable:
			doc.__dict__[field] = True
		try:
			return mapper(*args, **kwargs)
		finally:
			for field, value in kept.items():
				if value is _UNSET:
					doc.__dict__.pop(field, None)
				else:
					doc.__dict__[field] = value

	doc.__dict__["map_fields"] = map_fields


# --- rules -----------------------------------------------------------------------------------------


def _check_probability(doc) -> None:
	error = stage_rules.probability_error(doc.probability)
	if error == stage_rules.NOT_A_NUMBER:
		frappe.throw(_("Probability must be a number."), title=_("Invalid Probability"))
	if error:
		frappe.throw(
			_("Probability must be between 0 and 100, not {0}.").format(doc.probability),
			title=_("Invalid Probability"),
		)


def _read_dates(doc) -> None:
	"""Dates sent as text (REST, import, code) are read as every endpoint reads them (api.utils): ISO or
	the user's date format, years 1900-2999, else a clear message, not a database error or a 500."""
	for fieldname, parse in (
		("transaction_date", parse_date),
		("expected_closing", parse_date),
		("op_next_contact_date", parse_datetime),
	):
		value = doc.get(fieldname)
		if isinstance(value, str):
			doc.set(fieldname, parse(value, _date_label(fieldname)))


def _date_label(fieldname: str) -> str:
	# literal _() calls (translation extraction finds them), made only for a value that is read
	if fieldname == "transaction_date":
		return _("Opportunity Date")
	if fieldname == "expected_closing":
		return _("Expected Closing Date")
	return _("Next Contact Date")


def _check_amounts(doc) -> None:
	"""No negative, absurd or non-numeric amount, quantity or rate, from any channel (form, REST, import,
	code): a negative deal would shrink the pipeline, and a figure beyond the columns' twelve digits would
	fail in the database instead of here. Labels are made only for a refusal: this runs on every save."""
	for row in doc.get("items") or []:
		for field in ("qty", "rate", "amount"):
			_check_amount(row.get(field), lambda: _("Row {0}: {1}").format(row.idx, _item_label(field)))
	_check_amount(doc.opportunity_amount, lambda: _("Opportunity Amount"))
	_check_amount(doc.base_opportunity_amount, lambda: _("Opportunity Amount (Company Currency)"))


def _item_label(field: str) -> str:
	if field == "qty":
		return _("Quantity")
	if field == "rate":
		return _("Rate")
	return _("Amount")


def _check_amount(value, label) -> None:
	error = deal_rules.amount_error(value)
	if not error:
		return
	label = label()
	if error == deal_rules.NOT_A_NUMBER:
		frappe.throw(
			_("{0} must be a number, not {1}.").format(label, echo(value)), title=_("Invalid Amount")
		)
	elif error == deal_rules.NEGATIVE:
		frappe.throw(_("{0} cannot be negative ({1}).").format(label, echo(value)), title=_("Invalid Amount"))
	elif error == deal_rules.TOO_LARGE:
		frappe.throw(
			_("{0} is too large ({1}): it must be less than {2}.").format(
				label, echo(value), f"{deal_rules.MAX_AMOUNT:,}"
			),
			title=_("Invalid Amount"),
		)


def _kind(stages, name) -> str | None:
	stage = stages.get(name) if name else None
	return stage.kind if stage else None


# --- pipelines -------------------------------------------------------------------------------------------


class MissingForStage(frappe.ValidationError):
	"""Entering a stage whose required fields are empty (the board asks for them instead)."""


def _settle_pipeline(doc, before):
	"""The deal's pipeline: chosen by the pipelines' rules when blank; a newly chosen one must be enabled;
	a deal moved to another pipeline takes the matching stage there (core.pipelines.map_stage) unless this
	save also picked one of the new pipeline's stages."""
	if not doc.get(PIPELINE_FIELD):
		doc.set(
			PIPELINE_FIELD,
			choose_pipeline(get_pipelines().values(), doc.get("opportunity_type"), doc.get("company")),
		)
	pipeline = get_pipeline(doc.get(PIPELINE_FIELD))
	if not pipeline:
		return None
	if before is None and not pipeline.stage(doc.sales_stage):
		# ERPNext gives a new deal its field's default stage (Prospecting): in a pipeline without it, the
		# deal starts in the pipeline's first open stage instead. A stage picked by hand is checked below.
		if doc.sales_stage == doc.meta.get_field("sales_stage").default:
			first = pipeline.first_of_kind("Open")
			doc.sales_stage = first.name if first else None
	old_name = _pipeline_before(before)
	if before is not None and old_name == pipeline.name:
		return pipeline
	if not pipeline.enabled:
		frappe.throw(
			_("Sales Pipeline {0} is disabled: it takes no new deals.").format(pipeline.name),
			title=_("Disabled Pipeline"),
		)
	if before is not None:
		stage_picked = doc.sales_stage != before.sales_stage and pipeline.stage(doc.sales_stage)
		if not stage_picked:
			doc.sales_stage = map_stage(before.sales_stage, get_pipeline(old_name), pipeline)
	return pipeline


def _pipeline_before(before) -> str | None:
	if before is None:
		return None
	# a deal saved before it had one is in the default pipeline
	return before.get(PIPELINE_FIELD) or default_pipeline()


def _unchanged(doc, before, pipeline) -> bool:
	"""Neither the stage nor the pipeline changed in this save."""
	return (
		before is not None
		and before.sales_stage == doc.sales_stage
		and _pipeline_before(before) == pipeline.name
	)


def _check_stage_in_pipeline(doc, before, stages, pipeline) -> None:
	"""A stage outside the deal's pipeline is refused when it is set (a new deal, a new stage or pipeline);
	a deal left in a stage later removed from its pipeline can still be saved otherwise."""
	if not pipeline or not doc.sales_stage or doc.sales_stage in stages or _unchanged(doc, before, pipeline):
		return
	frappe.throw(
		_("Sales Stage {0} is not a stage of the pipeline {1}. Its stages: {2}.").format(
			doc.sales_stage, pipeline.name, ", ".join(pipeline.stage_names())
		),
		title=_("Stage Not in Pipeline"),
	)


def _check_entry_rules(doc, before, pipeline) -> None:
	"""Entering an open stage (a new deal, a stage change, a move to another pipeline) needs the stage's
	required fields, all named in one message. Won- and Lost-kind stages are reached through ERPNext's own
	flows (conversion, declare lost), which their rules never block."""
	if not pipeline or not doc.sales_stage or _unchanged(doc, before, pipeline):
		return
	row = pipeline.stage(doc.sales_stage)
	if not row or row.stage.kind != "Open" or not row.required_fields:
		return
	missing = missing_fields(doc, row)
	if missing:
		frappe.throw(
			_("To enter the stage {0}, the opportunity needs: {1}.").format(
				doc.sales_stage, ", ".join(required_field_label(doc.meta, name) for name in missing)
			),
			MissingForStage,
			title=_("Required for {0}").format(doc.sales_stage),
		)


def missing_fields(doc, row) -> list[str]:
	"""The row's required fields the deal does not have yet."""
	needs_quotation = SUBMITTED_QUOTATION in row.required_fields
	return missing_for_entry(
		row.required_fields,
		{name: doc.get(name) for name in row.required_fields if name not in (ITEMS, SUBMITTED_QUOTATION)},
		item_count=len(doc.get(ITEMS) or []),
		has_submitted_quotation=bool(
			needs_quotation
			and not doc.is_new()
			and frappe.db.exists("Quotation", {"opportunity": doc.name, "docstatus": 1})
		),
	)


def required_field_label(meta, name: str) -> str:
	if name == SUBMITTED_QUOTATION:
		return _("a submitted Quotation")
	# A label comes from the doctype, where Frappe's extractor finds it: translated from a variable.
	translate = _
	return translate(meta.get_label(name))


def _keep_stage_and_status_in_step(doc, before, stages, pipeline=None) -> str:
	old_status = before.status if before else None
	old_stage = before.sales_stage if before else None
	stage_changed = doc.sales_stage != old_stage
	new_kind = _kind(stages, doc.sales_stage)

	if stage_changed and new_kind == "Open" and old_status in ("Lost", "Closed") and doc.status == old_status:
		# Dragging a lost or closed deal back into an open stage reopens it.
		doc.status = "Open"
	if stage_changed and new_kind == "Open" and doc.status == "Converted":
		frappe.throw(
			_("Opportunity {0} is converted: it cannot move back to the open stage {1}.").format(
				doc.name, doc.sales_stage
			),
			title=_("Converted Opportunity"),
		)

	action = stage_rules.reconcile_stage(
		old_status=old_status,
		new_status=doc.status,
		old_stage_kind=_kind(stages, old_stage),
		new_stage_kind=new_kind,
		stage_changed=stage_changed,
		status_changed=doc.status != old_status,
	)
	_apply_reconcile_action(doc, action, pipeline.name if pipeline else None)
	return action


def _apply_reconcile_action(doc, action: str, pipeline: str | None = None) -> None:
	if action == stage_rules.LOST_REQUIRES_FLOW:
		frappe.throw(
			_(
				"{0} is a lost stage: declare the opportunity lost (Actions > Declare Lost) with a reason"
				" instead of picking the stage."
			).format(doc.sales_stage),
			title=_("Use the Lost Flow"),
		)
	elif action == stage_rules.WON_REQUIRES_CONVERSION:
		frappe.throw(
			_(
				"{0} is a won stage: an opportunity reaches it when it converts (its quotation is ordered)."
			).format(doc.sales_stage),
			title=_("Won Stage"),
		)
	elif action == stage_rules.MOVE_TO_WON:
		stage = first_stage_of_kind("Won", pipeline)
		if stage:
			doc.sales_stage = stage.name
	elif action == stage_rules.MOVE_TO_LOST:
		stage = first_stage_of_kind("Lost", pipeline)
		if stage:
			doc.sales_stage = stage.name
	elif action == stage_rules.REOPEN_STAGE:
		doc.sales_stage = _last_open_stage(doc, pipeline)


def _last_open_stage(doc, pipeline: str | None = None) -> str | None:
	"""The open stage (of its pipeline) the deal was in before it closed, else the first open stage."""
	stages = get_stages(pipeline)
	if doc.name and not doc.is_new():
		for row in frappe.get_all(
			HISTORY,
			filters={"opportunity": doc.name, "changed_field": "sales_stage"},
			fields=["from_value", "to_value"],
			order_by="changed_on desc, creation desc",
		):
			for candidate in (row.to_value, row.from_value):
				if _kind(stages, candidate) == "Open":
					return candidate
	stage = first_stage_of_kind("Open", pipeline)
	return stage.name if stage else None


def _apply_stage_probability(doc, before, stages, settings) -> None:
	stage = stages.get(doc.sales_stage) if doc.sales_stage else None
	if before:
		# a move to another pipeline counts as a stage change, unless the probability was set by hand
		moved = _pipeline_before(before) != (doc.get(PIPELINE_FIELD) or None)
		stage_changed = doc.sales_stage != before.sales_stage or (
			moved and not before.get("op_probability_overridden")
		)
		probability_changed = flt(doc.probability) != flt(before.probability)
	else:
		stage_changed = bool(doc.sales_stage)
		# a new opportunity carries a hand-set probability only if it differs from the field's default
		probability_changed = flt(doc.probability) != flt(doc.meta.get_field("probability").default)
	probability, overridden = stage_rules.resolve_probability(
		stage_changed=stage_changed,
		probability_changed=probability_changed,
		new_probability=flt(doc.probability),
		stage_default=flt(stage.probability) if stage else None,
		follows_stage=bool(settings.probability_follows_stage),
	)
	doc.probability = probability
	doc.op_probability_overridden = int(overridden)


def _check_close_date(doc, stages, settings) -> None:
	if doc.expected_closing or doc.status not in stage_rules.OPEN_STATUSES:
		return
	from_stage = stages.get(settings.close_date_required_from_stage or "")
	stage = stages.get(doc.sales_stage or "")
	if close_date_required(stage, from_stage):
		frappe.throw(
			_("Set the Expected Closing Date: it is required from the stage {0} on.").format(from_stage.name),
			title=_("Missing Close Date"),
		)


def _follow_status_set_outside_save(doc) -> None:
	"""ERPNext moves an opportunity to Converted or Lost with db_set: move the stage with it."""
	baseline = doc.flags.op_history_baseline or _before_values(doc)
	old_status = baseline.get("status")
	if doc.status == old_status:
		return
	closed_on = today() if doc.status in stage_rules.CLOSED_STATUSES else None
	if str(doc.get("op_closed_on") or "") != str(closed_on or ""):
		doc.db_set("op_closed_on", closed_on, update_modified=False)
	pipeline = pipeline_of(doc)
	stages = get_stages(pipeline.name) if pipeline else get_stages()
	action = stage_rules.reconcile_stage(
		old_status=old_status,
		new_status=doc.status,
		old_stage_kind=_kind(stages, doc.sales_stage),
		new_stage_kind=_kind(stages, doc.sales_stage),
		stage_changed=False,
		status_changed=True,
	)
	kind = {stage_rules.MOVE_TO_WON: "Won", stage_rules.MOVE_TO_LOST: "Lost"}.get(action)
	stage = first_stage_of_kind(kind, pipeline.name if pipeline else None) if kind else None
	if not stage:
		return
	# The stage moved: hand-set values that depended on the old one go (the history records it).
	values = {"sales_stage": stage.name, "op_probability_overridden": 0, "op_forecast_category": None}
	if kind == "Lost":
		values["op_lost_on"] = today()
	if get_settings().probability_follows_stage:
		values["probability"] = flt(stage.probability)
	doc.db_set(values, update_modified=False)


def _count_in_summary(doc) -> None:
	"""Have the summary count this change at commit, unless nothing it counts changed (an untracked field,
	a close date moved within its month): compared with what was last counted for this instance."""
	current = summary.contribution_of(doc)
	before = doc.get_doc_before_save()
	if doc.flags.op_summary_before is before and doc.flags.op_summary_counted is not None:
		counted = doc.flags.op_summary_counted
	else:
		counted = summary.contribution_of(before) if before is not None else None
	if doc.flags.in_insert or counted != current:
		summary.mark([doc.name], new=bool(doc.flags.in_insert))
	doc.flags.op_summary_before = before
	doc.flags.op_summary_counted = current


# --- history ---------------------------------------------------------------------------------------


def _before_values(doc) -> dict:
	before = doc.get_doc_before_save()
	return {field: before.get(field) for field in history.TRACKED_FIELDS} if before else {}


def _record_history(doc) -> None:
	# Several on_change calls can follow one change (a save whose hooks db_set, or set_status calling
	# db_set twice): compare with what was last recorded for this instance, so each change is written once.
	before = doc.get_doc_before_save()
	if doc.flags.op_history_before is not before or doc.flags.op_history_baseline is None:
		doc.flags.op_history_baseline = _before_values(doc)
		doc.flags.op_history_before = before
	current = {field: doc.get(field) for field in history.TRACKED_FIELDS}
	changes = history.changes(doc.flags.op_history_baseline, current)
	if not changes:
		return
	meta = doc.meta
	history_rows.insert_rows(
		(
			(doc.name, change.field, meta.get_label(change.field), change.from_value, change.to_value)
			for change in changes
		),
		changed_on=now_datetime(),
		user=frappe.session.user,
		channel=_channel(),
	)
	doc.flags.op_history_baseline = current


def _channel() -> str:
	if frappe.flags.in_import:
		return "Data Import"
	request = getattr(frappe.local, "request", None)
	if not request:
		return "System"
	# The desk always sends its CSRF token; API clients authenticate with a token or without it.
	if request.headers.get("Authorization") or not request.headers.get("X-Frappe-CSRF-Token"):
		return "REST"
	return "Desk"
