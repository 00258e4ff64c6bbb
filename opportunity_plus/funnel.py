"""Keeping Opportunity Stage Entry: what each deal's stays in the stages of its pipeline add to Stage
Conversion (core.funnel.entry_rows), so that the report reads sums over an index instead of replaying
every deal's history.

A deal's rows are written again from its deal history when its stage, status or pipeline changed (a
save, ERPNext's `db_set` status updates: events.opportunity.on_change, after the history row), when its
territory, owner or company changed (the rows carry them, for the caller's read restriction), and on
insert; an untouched save writes nothing. Rows are keyed `<opportunity>-<n>`: written with one upsert,
and only rows of an earlier, longer way through the stages are deleted, by their names (no range lock).
A pipeline whose stages change gets its deals' rows rebuilt by a background job; install and migrate
build them, `bench --site SITE opportunity-plus-rebuild-stage-entries` rebuilds them at once.
"""

import frappe
from frappe.utils import get_datetime, getdate

from opportunity_plus import bulk
from opportunity_plus.core.funnel import (
	CLOSED_STATUSES,
	STAGE_FIELD,
	STATUS_FIELD,
	DealPath,
	Event,
	FunnelStage,
	entry_rows,
)
from opportunity_plus.pipeline import default_pipeline, get_pipeline

ENTRY = "Opportunity Stage Entry"
TABLE = f"`tab{ENTRY}`"
VERSION = "1"
VERSION_DEFAULT = "opportunity_plus_stage_entries_version"
KEYS = ("company", "territory", "opportunity_owner")
BATCH = 2000
COLUMNS = (
	"name",
	"creation",
	"modified",
	"owner",
	"modified_by",
	"docstatus",
	"idx",
	"opportunity",
	"sales_stage",
	"visit",
	"pipeline",
	"company",
	"created_on",
	"territory",
	"opportunity_owner",
	"first_visit",
	"went_on",
	"won",
	"lost",
	"still_here",
	"finished",
	"days",
)
_UPDATED = tuple(column for column in COLUMNS if column not in ("name", "creation", "owner", "opportunity"))
# A save changed what a deal's rows hold when one of these changed.
WATCHED = ("sales_stage", "status", "op_pipeline", "company", "territory", "opportunity_owner")


def stages_of(pipeline: str | None) -> list[FunnelStage]:
	found = get_pipeline(pipeline) or get_pipeline()
	if not found:
		return []
	return [FunnelStage(row.stage.name, row.stage.kind, row.stage.probability) for row in found.stages]


def _rows_of(deal, events: list[Event], now) -> list[tuple]:
	"""The stored rows of one deal (a row of `tabOpportunity` with the columns `_deals` reads)."""
	pipeline = deal.op_pipeline or default_pipeline()
	path = DealPath(
		created=get_datetime(deal.creation),
		stage=deal.sales_stage or None,
		status=deal.status,
		closed_on=getdate(deal.op_closed_on) if deal.op_closed_on else None,
		events=tuple(events),
	)
	rows = []
	for index, row in enumerate(entry_rows(stages_of(pipeline), path), start=1):
		rows.append(
			(
				f"{deal.name}-{index}",
				now,
				now,
				"Administrator",
				"Administrator",
				0,
				index,
				deal.name,
				row.stage,
				row.visit,
				pipeline,
				deal.company,
				getdate(deal.creation),
				deal.territory,
				deal.opportunity_owner,
				int(row.first),
				int(row.went_on),
				int(row.won),
				int(row.lost),
				int(row.still_here),
				int(row.days is not None),
				row.days or 0,
			)
		)
	return rows


DEAL_FIELDS = (
	"name",
	"creation",
	"sales_stage",
	"status",
	"op_closed_on",
	"op_pipeline",
	"company",
	"territory",
	"opportunity_owner",
)


def _deals(names: list[str]) -> list:
	return frappe.db.sql(
		"""select `name`, `creation`, `sales_stage`, `status`, `op_closed_on`, `op_pipeline`, `company`,
			`territory`, `opportunity_owner`
		from `tabOpportunity` where `name` in %(names)s""",
		{"names": names},
		as_dict=True,
	)


def _events(names: list[str]) -> dict[str, list[Event]]:
	found: dict[str, list[Event]] = {}
	for name, field, from_value, to_value, changed_on in frappe.db.sql(
		"""select `opportunity`, `changed_field`, `from_value`, `to_value`, `changed_on`
		from `tabOpportunity History`
		where `opportunity` in %(names)s and `changed_field` in %(fields)s
		order by `opportunity`, `changed_on`, `changed_field` = 'status', `creation`, `name`""",
		{"names": names, "fields": (STAGE_FIELD, STATUS_FIELD)},
	):
		found.setdefault(name, []).append(Event(field, from_value, to_value, changed_on))
	return found


def _upsert(rows: list[tuple]) -> None:
	bulk.upsert(ENTRY, COLUMNS, rows, _UPDATED)


def refresh(name: str, *, new: bool = False, doc=None) -> None:
	"""Write one deal's rows again (in the caller's transaction); `doc`: the saved document, whose values
	are those in the database (not read again)."""
	if not is_current():
		return  # not built yet (install, migrate): the build counts it
	if doc is not None:
		deal = frappe._dict({field: doc.get(field) for field in DEAL_FIELDS})
	else:
		found = _deals([name])
		if not found:
			return
		deal = found[0]
	# a new open deal has no history but its creation: it stays in the stage it was created with
	events = [] if new and deal.status not in CLOSED_STATUSES else _events([name]).get(name, [])
	rows = _rows_of(deal, events, frappe.utils.now_datetime())
	_upsert(rows)
	if new:
		return  # nothing earlier to remove: no read, no lock on a range of keys
	kept = {row[0] for row in rows}
	# a plain read (no lock): the deal's row is locked by its save, so nobody else writes its entries
	stale = [
		entry
		for entry in frappe.db.sql_list(f"select `name` from {TABLE} where `opportunity` = %s", name)
		if entry not in kept
	]
	if stale:
		frappe.db.sql(f"delete from {TABLE} where `name` in %(names)s", {"names": stale})


def follow(doc) -> None:
	"""After a change of an opportunity (on_change): its rows again when what they hold changed since
	they were last written for this document (a save whose hooks db_set runs on_change more than once)."""
	current = tuple(doc.get(field) for field in WATCHED)
	recorded = doc.flags.op_funnel_values
	if recorded is None:
		before = doc.get_doc_before_save()
		new = before is None
		recorded = None if new else tuple(before.get(field) for field in WATCHED)
	else:
		new = False
	if recorded == current:
		return
	refresh(doc.name, new=new and not doc.flags.op_funnel_written, doc=doc)
	doc.flags.op_funnel_values = current
	doc.flags.op_funnel_written = True


def forget(name: str) -> None:
	frappe.db.sql(f"delete from {TABLE} where `opportunity` = %s", name)


def rebuild(pipeline: str | None = None) -> dict:
	"""Every deal's rows (of one pipeline), in batches of deals, committed per batch."""
	default = default_pipeline()
	condition, values = "1 = 1", {}
	if pipeline:
		condition = "ifnull(nullif(`op_pipeline`, ''), %(default)s) = %(pipeline)s"
		values = {"default": default, "pipeline": pipeline}
		frappe.db.sql(f"delete from {TABLE} where `pipeline` = %(pipeline)s", values)
	else:
		frappe.db.sql(f"delete from {TABLE}")
	frappe.db.commit()
	after, deals, rows = "", 0, 0
	now = frappe.utils.now_datetime()
	while True:
		names = frappe.db.sql_list(
			f"select `name` from `tabOpportunity` where `name` > %(after)s and {condition} "
			f"order by `name` limit {BATCH}",
			{**values, "after": after},
		)
		if not names:
			break
		events = _events(names)
		batch = [row for deal in _deals(names) for row in _rows_of(deal, events.get(deal.name, []), now)]
		_upsert(batch)
		frappe.db.commit()
		deals += len(names)
		rows += len(batch)
		after = names[-1]
	return {"opportunities": deals, "entries": rows}


def is_current() -> bool:
	return frappe.db.get_default(VERSION_DEFAULT) == VERSION


def ensure_built() -> None:
	"""On install and migrate: build the rows where they are missing or of an older version (commits)."""
	if is_current():
		return
	rebuild()
	frappe.db.set_default(VERSION_DEFAULT, VERSION)
	frappe.db.commit()


def forget_built() -> None:
	"""Uninstall: the table goes with the app."""
	frappe.defaults.clear_default(VERSION_DEFAULT)


def pipeline_changed(doc, method=None) -> None:
	"""A Sales Pipeline saved with other stages (order, kinds): its deals' rows again, in the background."""
	before = doc.get_doc_before_save()
	shape = lambda pipeline: [(row.sales_stage, row.stage_kind) for row in pipeline.get("stages") or []]  # noqa: E731
	if before is not None and shape(before) == shape(doc):
		return
	if not is_current() or not frappe.db.exists("Opportunity", {}):
		return
	frappe.enqueue(
		"opportunity_plus.funnel.rebuild",
		queue="long",
		job_id=f"opportunity_plus_stage_entries_{doc.name}",
		deduplicate=True,
		enqueue_after_commit=True,
		pipeline=doc.name,
	)
