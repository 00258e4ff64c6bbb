"""The pipeline summary: opportunities summed by company, territory, owner, stage, status, forecast
category and close month, kept in the same transaction as every change of an opportunity.

- `mark(names)` has those opportunities counted when the transaction commits (Frappe's before_commit):
  the Opportunity hooks (on_change, after_delete) and bulk writers call it. Every deal of one owner,
  territory, stage and close month adds to one summary row, so that row's lock is what concurrent saves
  queue on; taken at commit, it is held for the commit alone instead of the rest of the request, and
  the summary still changes in the same transaction as the deals. Readers `flush()` first, so a
  transaction reads its own changes.
- `sync(names)` brings the summary up to date for those opportunities now: it reads what each adds
  (from the database, so every channel is seen the same way: a save, ERPNext's `db_set` status
  updates, the app's bulk auto-close, a deletion) and what the summary counted for it before
  (Opportunity Pipeline Entry), and applies the difference.
- `reconcile()` (daily job) compares entries with the opportunities and the summary with the entries,
  repairs every difference and logs how much drift it found; `rebuild()` (bench command
  `opportunity-plus-rebuild-summary`) recomputes both from scratch.
- Readers use the summary only where the caller's read restriction can be stated over its keys
  (`scope_condition`), else they read the opportunities themselves.

Writes that bypass Frappe's document API (raw SQL) are not seen until the next reconciliation.
"""

import re

import frappe
from frappe import _
from frappe.utils import get_last_day, now_datetime

from opportunity_plus.core import summary as core
from opportunity_plus.locks import job_lock
from opportunity_plus.permissions import ReadScope, read_scope

SUMMARY = "Opportunity Pipeline Summary"
ENTRY = "Opportunity Pipeline Entry"
SUMMARY_TABLE = f"`tab{SUMMARY}`"
ENTRY_TABLE = f"`tab{ENTRY}`"
# The Opportunity field holding the effective forecast category (set by the categories feature).
CATEGORY_FIELD = "op_effective_forecast_category"
KEY_FIELDS = (
	"company",
	"territory",
	"opportunity_owner",
	"sales_stage",
	"status",
	"forecast_category",
	"close_month",
	"closed_month",
	"pipeline",
)
DATE_KEYS = ("close_month", "closed_month")
# Opportunity columns a read restriction may name for the summary to serve it: the summary's keys.
SUMMARY_COLUMNS = frozenset(
	("company", "territory", "opportunity_owner", "sales_stage", "status", "op_pipeline")
)
# Opportunity columns kept under another name in the summary.
SUMMARY_KEY_OF = {"op_pipeline": "pipeline"}
BATCH_SIZE = 2000
# Raised when what the summary keeps changes: a site with an older summary rebuilds it on migrate.
SUMMARY_VERSION = "4"
VERSION_DEFAULT = "opportunity_plus_summary_version"


def _pipeline_column() -> str:
	"""The deal's pipeline as SQL over `tabOpportunity`: a deal without one is in the default pipeline."""
	from opportunity_plus.pipeline import default_pipeline

	if not frappe.db.has_column("Opportunity", "op_pipeline"):
		return "''"
	return f"ifnull(nullif(`op_pipeline`, ''), {frappe.db.escape(default_pipeline() or '')})"


def _category_column() -> str:
	# The categories feature adds the column; until a site has it, every deal's category is blank.
	if frappe.db.has_column("Opportunity", CATEGORY_FIELD):
		return f"`{CATEGORY_FIELD}`"
	return "''"


def _current(names: list[str]) -> dict[str, core.Contribution]:
	rows = frappe.db.sql(
		f"""
		select `name`, `company`, `territory`, `opportunity_owner`, `sales_stage`, `status`,
			{_category_column()} as forecast_category, `expected_closing`, `op_closed_on` as closed_on,
			`base_opportunity_amount`, `probability`, {_pipeline_column()} as pipeline
		from `tabOpportunity` where `name` in %(names)s
		for update
		""",
		{"names": names},
		as_dict=True,
	)
	return {row.name: core.contribution(row) for row in rows}


def _counted(names: list[str]) -> dict[str, core.Contribution]:
	if not names:
		return {}
	rows = frappe.db.sql(
		f"""
		select `name`, {", ".join(f"`{field}`" for field in KEY_FIELDS)}, `base_amount`, `weighted_amount`
		from {ENTRY_TABLE} where `name` in %(names)s
		for update
		""",
		{"names": names},
		as_dict=True,
	)
	return {
		row.name: core.Contribution(
			core.Key(
				**{field: row[field] if field in DATE_KEYS else row[field] or "" for field in KEY_FIELDS}
			),
			core._decimal(row.base_amount).quantize(core.SCALE),
			core._decimal(row.weighted_amount).quantize(core.SCALE),
		)
		for row in rows
	}


def sync(names) -> int:
	"""Bring the summary up to date for these opportunities (existing or deleted) now, after what this
	transaction marked; returns how many opportunities' contributions changed."""
	flush()
	return _sync(names)


def _sync(names, new=frozenset()) -> int:
	"""`new`: names inserted in this transaction and not counted yet, so without an entry. Their entries
	are not read: a locking read of a missing row takes a gap lock, and two transactions inserting deals
	would then wait on each other's gap (a deadlock)."""
	names = sorted({name for name in names if name})
	changed = 0
	for start in range(0, len(names), BATCH_SIZE):
		batch = names[start : start + BATCH_SIZE]
		current = _current(batch)
		counted = _counted([name for name in batch if name not in new])
		pairs = [(counted.get(name), current.get(name)) for name in batch]
		moved = [name for name, (old, now) in zip(batch, pairs, strict=True) if old != now]
		if not moved:
			continue
		changed += len(moved)
		# Entries first, the shared summary rows last (in key order, see core.deltas): a transaction that
		# holds a summary row then waits only for other summary rows, in the same order, so the rows every
		# save of one key shares can be in no deadlock.
		_write_entries({name: current.get(name) for name in moved})
		_apply(core.deltas(pairs))
	return changed


# The names a transaction has changed and not yet counted, kept on its database connection: {name: new}.
_PENDING = "_op_summary_pending"


def mark(names, *, new: bool = False) -> None:
	"""Count these opportunities' changes in the summary at commit (or when a reader flushes first).

	`new`: they were inserted in this transaction (see `sync`)."""
	db = frappe.db
	pending = getattr(db, _PENDING, None)
	if pending is None:
		pending = {}
		setattr(db, _PENDING, pending)
		# Frappe resets before_commit on rollback and after_rollback on commit: one of the two runs.
		db.before_commit.add(_flush_at_commit)
		db.after_rollback.add(_forget)
	for name in names:
		if name:
			# inserted in this transaction stays so through its later changes
			pending[name] = pending.get(name, False) or new


def flush() -> None:
	"""Count now what this transaction changed: readers of the summary call it first."""
	pending = getattr(frappe.db, _PENDING, None) if frappe.db else None
	if not pending:
		return
	names, new = list(pending), {name for name, is_new in pending.items() if is_new}
	# Emptied, not dropped: the commit callback stays registered for what comes next.
	pending.clear()
	_sync(names, new)


def _flush_at_commit() -> None:
	pending = getattr(frappe.db, _PENDING, None) or {}
	setattr(frappe.db, _PENDING, None)
	if pending:
		_sync(list(pending), {name for name, is_new in pending.items() if is_new})


def _forget() -> None:
	setattr(frappe.db, _PENDING, None)


def contribution_of(doc) -> core.Contribution:
	"""What an opportunity document in memory adds to the summary (as `_current` reads it stored)."""
	return core.contribution(
		{
			"company": doc.get("company"),
			"territory": doc.get("territory"),
			"opportunity_owner": doc.get("opportunity_owner"),
			"sales_stage": doc.get("sales_stage"),
			"status": doc.get("status"),
			"forecast_category": doc.get(CATEGORY_FIELD),
			"expected_closing": doc.get("expected_closing"),
			"closed_on": doc.get("op_closed_on"),
			"base_opportunity_amount": doc.get("base_opportunity_amount"),
			"probability": doc.get("probability"),
			"pipeline": doc.get("op_pipeline") or _default_pipeline(),
		}
	)


def _default_pipeline() -> str:
	from opportunity_plus.pipeline import default_pipeline

	return default_pipeline() or ""


def _apply(deltas: dict[core.Key, core.Delta]) -> None:
	if not deltas:
		return
	rows = [
		_row(core.key_name(key), key, delta.deal_count, delta.base_amount, delta.weighted_amount)
		for key, delta in deltas.items()
	]
	frappe.db.sql(
		f"""
		insert into {SUMMARY_TABLE} (`name`, `creation`, `modified`, `owner`, `modified_by`,
			{", ".join(f"`{field}`" for field in KEY_FIELDS)}, `deal_count`, `base_amount`, `weighted_amount`)
		values {_placeholders(rows)}
		on duplicate key update `deal_count` = `deal_count` + values(`deal_count`),
			`base_amount` = `base_amount` + values(`base_amount`),
			`weighted_amount` = `weighted_amount` + values(`weighted_amount`),
			`modified` = values(`modified`)
		""",
		[value for row in rows for value in row],
	)
	# Keys no opportunity holds any more go, so the summary stays as small as the pipeline's shape.
	frappe.db.sql(
		f"delete from {SUMMARY_TABLE} where `name` in %(names)s and `deal_count` = 0",
		{"names": [row[0] for row in rows]},
	)


def _write_entries(entries: dict[str, core.Contribution | None]) -> None:
	gone = [name for name, contribution in entries.items() if contribution is None]
	if gone:
		frappe.db.sql(f"delete from {ENTRY_TABLE} where `name` in %(names)s", {"names": gone})
	rows = [
		_row(name, c.key, c.base_amount, c.weighted_amount) for name, c in entries.items() if c is not None
	]
	if not rows:
		return
	# Not REPLACE: it takes a next-key lock (the gap before the row too), where this takes the row's.
	frappe.db.sql(
		f"""
		insert into {ENTRY_TABLE} (`name`, `creation`, `modified`, `owner`, `modified_by`,
			{", ".join(f"`{field}`" for field in KEY_FIELDS)}, `base_amount`, `weighted_amount`)
		values {_placeholders(rows)}
		on duplicate key update `modified` = values(`modified`),
			{", ".join(f"`{field}` = values(`{field}`)" for field in (*KEY_FIELDS, "base_amount", "weighted_amount"))}
		""",
		[value for row in rows for value in row],
	)


def _row(name: str, key: core.Key, *figures) -> tuple:
	"""A summary or entry row: its name, Frappe's standard columns, the key in KEY_FIELDS order, figures."""
	now = now_datetime()
	return (
		name,
		now,
		now,
		"Administrator",
		"Administrator",
		*(getattr(key, f) for f in KEY_FIELDS),
		*figures,
	)


def _placeholders(rows: list[tuple]) -> str:
	return ", ".join(["(" + ", ".join(["%s"] * len(rows[0])) + ")"] * len(rows))


# --- rebuild and reconciliation ---------------------------------------------------------------------


# What an opportunity adds, as SQL over `tabOpportunity` (the same rules as core.summary.contribution).
def _entry_select() -> str:
	return f"""
		select `name`, ifnull(`company`, '') as company, ifnull(`territory`, '') as territory,
			ifnull(`opportunity_owner`, '') as opportunity_owner, ifnull(`sales_stage`, '') as sales_stage,
			ifnull(`status`, '') as status, ifnull({_category_column()}, '') as forecast_category,
			date_format(`expected_closing`, '%%Y-%%m-01') as close_month,
			date_format(`op_closed_on`, '%%Y-%%m-01') as closed_month, {_pipeline_column()} as pipeline,
			round(ifnull(`base_opportunity_amount`, 0), 9) as base_amount,
			round(ifnull(`base_opportunity_amount`, 0) * ifnull(`probability`, 0) / 100, 9) as weighted_amount
		from `tabOpportunity`
	"""


_SUMMARY_FROM_ENTRIES = f"""
	select md5(concat_ws(char(31), `company`, `territory`, `opportunity_owner`, `sales_stage`, `status`,
			`forecast_category`, ifnull(date_format(`close_month`, '%%Y-%%m-%%d'), ''),
			ifnull(date_format(`closed_month`, '%%Y-%%m-%%d'), ''), `pipeline`)) as name,
		`company`, `territory`, `opportunity_owner`, `sales_stage`, `status`, `forecast_category`,
		`close_month`, `closed_month`, `pipeline`, count(*) as deal_count, sum(`base_amount`) as base_amount,
		sum(`weighted_amount`) as weighted_amount
	from {ENTRY_TABLE}
	group by `company`, `territory`, `opportunity_owner`, `sales_stage`, `status`, `forecast_category`,
		`close_month`, `closed_month`, `pipeline`
"""


def rebuild() -> dict:
	"""Recompute entries and summary from the opportunities (a bench command; commits)."""
	with job_lock("pipeline_summary") as locked:
		if not locked:
			frappe.throw(_("Another rebuild or reconciliation of the pipeline summary is running."))
		frappe.db.sql(f"delete from {ENTRY_TABLE}")
		frappe.db.sql(f"delete from {SUMMARY_TABLE}")
		frappe.db.sql(
			f"""
			insert into {ENTRY_TABLE} (`name`, `creation`, `modified`, `owner`, `modified_by`,
				{", ".join(f"`{field}`" for field in KEY_FIELDS)}, `base_amount`, `weighted_amount`)
			select entry.`name`, now(6), now(6), 'Administrator', 'Administrator',
				{", ".join(f"entry.`{field}`" for field in KEY_FIELDS)}, entry.`base_amount`,
				entry.`weighted_amount`
			from ({_entry_select()}) entry
			""",
			{},
		)
		_insert_summary_rows()
		frappe.db.commit()
		return counts()


def _insert_summary_rows(where: str = "", values: dict | None = None) -> None:
	frappe.db.sql(
		f"""
		insert into {SUMMARY_TABLE} (`name`, `creation`, `modified`, `owner`, `modified_by`,
			{", ".join(f"`{field}`" for field in KEY_FIELDS)}, `deal_count`, `base_amount`, `weighted_amount`)
		select grouped.`name`, now(6), now(6), 'Administrator', 'Administrator',
			{", ".join(f"grouped.`{field}`" for field in KEY_FIELDS)}, grouped.`deal_count`,
			grouped.`base_amount`, grouped.`weighted_amount`
		from ({_SUMMARY_FROM_ENTRIES}) grouped {where}
		""",
		values or {},
	)


def is_current() -> bool:
	"""Whether the site's summary is built, and by this version of the app."""
	return frappe.db.get_default(VERSION_DEFAULT) == SUMMARY_VERSION


def forget_built() -> None:
	"""Uninstall: the summary's tables go with the app, so the next install builds it anew."""
	frappe.defaults.clear_default(VERSION_DEFAULT)


def ensure_built() -> None:
	"""On install and migrate: build the summary where it is missing, of an older version, or does not
	hold one entry per opportunity (a site reinstalled by an older version of the app) (commits)."""
	version = frappe.db.get_default(VERSION_DEFAULT)
	if version == SUMMARY_VERSION and frappe.db.count(ENTRY) == frappe.db.count("Opportunity"):
		return
	rebuild()
	frappe.db.set_default(VERSION_DEFAULT, SUMMARY_VERSION)
	frappe.db.commit()


def resync_stages(stages: list[str]) -> None:
	"""After a bulk write to the opportunities of these stages that left their stage as it was (their
	category in force, when a stage's default category changes): their entries and the summary rows of
	these stages recomputed in SQL, however many deals they hold."""
	if not stages:
		return
	flush()  # entries must hold what the summary counted before they are recomputed here
	values = {"stages": list(stages)}
	frappe.db.sql(
		f"""
		update {ENTRY_TABLE} entry
		join ({_entry_select()} where ifnull(`sales_stage`, '') in %(stages)s) current
			on current.`name` = entry.`name`
		set {", ".join(f"entry.`{field}` = current.`{field}`" for field in (*KEY_FIELDS, "base_amount", "weighted_amount"))}
		""",
		values,
	)
	frappe.db.sql(f"delete from {SUMMARY_TABLE} where `sales_stage` in %(stages)s", values)
	_insert_summary_rows("where grouped.`sales_stage` in %(stages)s", values)


def counts() -> dict:
	return {
		"opportunities": frappe.db.count("Opportunity"),
		"entries": frappe.db.count(ENTRY),
		"summary_rows": frappe.db.count(SUMMARY),
	}


def reconcile() -> dict | None:
	"""Repair every difference between the opportunities, their entries and the summary, and log it.

	Idempotent and safe to run twice or at once (a named lock; the second run returns None). Commits.
	"""
	with job_lock("pipeline_summary") as locked:
		if not locked:
			return None
		stale = _stale_entries()
		synced = 0
		for start in range(0, len(stale), BATCH_SIZE):
			synced += _sync(stale[start : start + BATCH_SIZE])
			# Commit per batch: a reconciliation stopped midway keeps what it repaired.
			frappe.db.commit()
		wrong_rows = _repair_summary_rows()
		frappe.db.commit()
		result = {"entries_repaired": synced, "summary_rows_repaired": wrong_rows}
		if synced or wrong_rows:
			frappe.log_error(
				title="Opportunity Plus: pipeline summary drift repaired",
				message=frappe.as_json(result),
			)
		return result


def _stale_entries(names: list[str] | None = None) -> list[str]:
	"""Opportunities whose entry is missing or differs, and entries of deleted opportunities (of `names`
	only, when given)."""
	differs = " or ".join(
		f"not (entry.`{field}` <=> current.`{field}`)"
		for field in (*KEY_FIELDS, "base_amount", "weighted_amount")
	)
	values = {"names": list(names) or [""]} if names is not None else {}
	flush()
	only = " where `name` in %(names)s" if names is not None else ""
	found = frappe.db.sql_list(
		f"""
		select current.`name`
		from ({_entry_select()}{only}) current
		left join {ENTRY_TABLE} entry on entry.`name` = current.`name`
		where entry.`name` is null or {differs}
		""",
		values,
	)
	found += frappe.db.sql_list(
		f"""
		select entry.`name` from {ENTRY_TABLE} entry
		left join `tabOpportunity` opportunity on opportunity.`name` = entry.`name`
		where opportunity.`name` is null {"and entry.`name` in %(names)s" if names is not None else ""}
		""",
		values,
	)
	return sorted(set(found))


def verify() -> dict:
	"""How far the summary is from the opportunities, changing nothing: opportunities whose entry is
	missing or differs (or entries of deleted ones), and summary rows that differ from their entries."""
	return {"stale_entries": len(_stale_entries()), "wrong_summary_rows": len(_wrong_summary_rows())}


def _repair_summary_rows() -> int:
	"""Make the summary equal the entries grouped by key; returns how many summary rows were wrong."""
	wrong = _wrong_summary_rows()
	if wrong:
		frappe.db.sql(f"delete from {SUMMARY_TABLE} where `name` in %(names)s", {"names": wrong})
		_insert_summary_rows("where grouped.`name` in %(names)s", {"names": wrong})
	return len(wrong)


def _wrong_summary_rows() -> list[str]:
	return frappe.db.sql_list(
		f"""
		select coalesce(expected.`name`, summary.`name`)
		from ({_SUMMARY_FROM_ENTRIES}) expected
		left join {SUMMARY_TABLE} summary on summary.`name` = expected.`name`
		where summary.`name` is null or summary.`deal_count` != expected.`deal_count`
			or summary.`base_amount` != expected.`base_amount`
			or summary.`weighted_amount` != expected.`weighted_amount`
		union
		select summary.`name`
		from {SUMMARY_TABLE} summary
		left join ({_SUMMARY_FROM_ENTRIES}) expected on expected.`name` = summary.`name`
		where expected.`name` is null
		""",
		{},
	)


# --- readers ---------------------------------------------------------------------------------------

_QUALIFIED = re.compile(r"`([^`]*)`\s*\.\s*`([^`]*)`")
_PLACEHOLDER = re.compile(r"%\(\w+\)s")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d+)?|%%|[()=,<>!]+|\S")
# What may stand between column references and placeholders in a restriction the summary can serve.
_ALLOWED_WORDS = frozenset(("and", "or", "not", "in", "is", "null", "ifnull", "like"))


def scope_condition(scope: ReadScope) -> str | None:
	"""The caller's read restriction stated over the summary's keys (alias `summary`), or None when it
	cannot be. "" when the caller may read every opportunity.

	It can when the restriction names only `tabOpportunity` columns the summary keeps (user permissions on
	company, territory or owner, permission rules on those) joined by plain boolean operators; shares
	(`name in (...)`), `if_owner` (`owner`), other tables, sub-queries, functions and anything unquoted
	cannot, and then readers scan the opportunities.
	"""
	if scope.unrestricted:
		return ""
	condition = scope.condition
	qualified = _QUALIFIED.findall(condition)
	if not qualified or any(
		table != "tabOpportunity" or column not in SUMMARY_COLUMNS for table, column in qualified
	):
		return None
	rest = _PLACEHOLDER.sub(" ", _QUALIFIED.sub(" ", condition))
	for token in _TOKEN.findall(rest):
		if token.lower() in _ALLOWED_WORDS or token.isdigit():
			continue
		if all(char in "()=,<>!" for char in token):
			continue
		return None
	return _QUALIFIED.sub(
		lambda match: f"summary.`{SUMMARY_KEY_OF.get(match.group(2), match.group(2))}`", condition
	)


# Opportunity filters the summary can apply (its keys).
FILTER_KEYS = frozenset(("territory", "opportunity_owner", "sales_stage", "status", "pipeline"))


def month_aligned(from_date, to_date) -> bool:
	"""Whether a window of expected closing dates is whole months (or open-ended)."""
	if from_date and from_date.day != 1:
		return False
	return not to_date or get_last_day(to_date) == to_date


def forecast_rows(
	company, from_date, to_date, filters: dict, group_key: str | None, by_pipeline: bool = False
) -> list | None:
	"""The forecast's GROUP BY (group value, month end, status, stage, and pipeline when `by_pipeline`:
	count, base, weighted) from the summary, or None when the summary cannot answer it exactly: a window
	not of whole months, a grouping or filter on something it does not keep, a read restriction it cannot
	state."""
	if group_key is None or set(filters) - FILTER_KEYS or not month_aligned(from_date, to_date):
		return None
	flush()
	scope = read_scope()
	restriction = scope_condition(scope)
	if restriction is None:
		return None
	conditions = ["summary.`company` = %(company)s"]
	values = {"company": company, **scope.values}
	if from_date:
		conditions.append("summary.`close_month` >= %(from_month)s")
		values["from_month"] = from_date
	if to_date:
		conditions.append("summary.`close_month` <= %(to_month)s")
		values["to_month"] = to_date.replace(day=1)
	for field, value in filters.items():
		conditions.append(f"summary.`{field}` = %(filter_{field})s")
		values[f"filter_{field}"] = value
	if restriction:
		conditions.append(f"({restriction})")
	group_column = f"nullif(summary.`{group_key}`, '')" if group_key else "null"
	pipeline_column = "summary.`pipeline`" if by_pipeline else "null"
	# Grouped in the order of install.SUMMARY_INDEXES' read index (by stage, it sums in index order).
	return frappe.db.sql(
		f"""
		select {group_column} as group_value, last_day(summary.`close_month`) as month_end,
			summary.`status`, nullif(summary.`sales_stage`, '') as sales_stage, {pipeline_column} as pipeline_name,
			sum(summary.`deal_count`) as deal_count, sum(summary.`base_amount`) as base_amount,
			sum(summary.`weighted_amount`) as weighted_amount
		from {SUMMARY_TABLE} summary
		where {" and ".join(conditions)}
		group by summary.`close_month`, summary.`status`, summary.`sales_stage`, group_value, pipeline_name
		order by null
		""",
		values,
		as_dict=True,
	)


# Groupings of the open pipeline: the summary's column and the Opportunity expression each reads.
PIPELINE_GROUPS = {
	"stage": ("summary.`sales_stage`", "`tabOpportunity`.`sales_stage`"),
	"category": ("summary.`forecast_category`", None),
	"territory": ("summary.`territory`", "`tabOpportunity`.`territory`"),
	"owner": ("summary.`opportunity_owner`", "`tabOpportunity`.`opportunity_owner`"),
	"close_month": (
		"summary.`close_month`",
		"date_format(`tabOpportunity`.`expected_closing`, '%%Y-%%m-01')",
	),
	"pipeline": ("summary.`pipeline`", None),
}


def open_pipeline(
	company: str,
	period_start,
	period_end,
	*,
	territories: list[str] | None = None,
	owner: str | None = None,
	pipeline: str | None = None,
	group_by: str | tuple[str, ...] | None = None,
) -> list:
	"""The open pipeline (open statuses, expected closing in the period) the caller may read, by the
	groups asked for: rows with one field per group (None for an empty one), deal_count, base_amount and
	weighted_amount. From the summary where it answers exactly (whole-month period, a restriction it can
	state), else from the opportunities."""
	from opportunity_plus.core.stages import OPEN_STATUSES

	keys = (group_by,) if isinstance(group_by, str) else tuple(group_by or ())
	flush()
	scope = read_scope()
	restriction = scope_condition(scope) if month_aligned(period_start, period_end) else None
	values = {"company": company, "statuses": sorted(OPEN_STATUSES), **scope.values}
	from_summary = restriction is not None
	if from_summary:
		table, alias, date_column = f"{SUMMARY_TABLE} summary", "summary", "summary.`close_month`"
		count, base, weighted = (
			"sum(summary.`deal_count`)",
			"sum(summary.`base_amount`)",
			"sum(summary.`weighted_amount`)",
		)
		if period_end:
			values["period_end"] = period_end.replace(day=1)
	else:
		table, alias, date_column = (
			"`tabOpportunity`",
			"`tabOpportunity`",
			"`tabOpportunity`.`expected_closing`",
		)
		count, base = "count(*)", "sum(`tabOpportunity`.`base_opportunity_amount`)"
		weighted = (
			"sum(round(`tabOpportunity`.`base_opportunity_amount` * `tabOpportunity`.`probability` / 100, 9))"
		)
		restriction = scope.condition
		if period_end:
			values["period_end"] = period_end
	columns, expressions = [], []
	for key in keys:
		summary_column, scan_column = PIPELINE_GROUPS[key]
		column = summary_column if from_summary else (scan_column or _scan_expression(key))
		columns.append(f"nullif({column}, '') as `{key}`")
		expressions.append(f"nullif({column}, '')")
	conditions = [f"{alias}.`company` = %(company)s", f"{alias}.`status` in %(statuses)s"]
	if period_start:
		conditions.append(f"{date_column} >= %(period_start)s")
		values["period_start"] = period_start
	if period_end:
		conditions.append(f"{date_column} <= %(period_end)s")
	if territories:
		conditions.append(f"{alias}.`territory` in %(territories)s")
		values["territories"] = territories
	if owner:
		conditions.append(f"{alias}.`opportunity_owner` = %(owner)s")
		values["owner"] = owner
	if pipeline:
		column = "summary.`pipeline`" if from_summary else _scan_expression("pipeline")
		conditions.append(f"{column} = %(pipeline)s")
		values["pipeline"] = pipeline
	if restriction:
		conditions.append(f"({restriction})")
	# By the expressions, not their aliases: MariaDB reads a GROUP BY name as a column of the table first
	# (`owner` would group the scan by the deal's creator, not its opportunity owner).
	group = f"group by {', '.join(expressions)}" if keys else ""
	return frappe.db.sql(
		f"""
		select {"".join(column + ", " for column in columns)}{count} as deal_count,
			ifnull({base}, 0) as base_amount, ifnull({weighted}, 0) as weighted_amount
		from {table}
		where {" and ".join(conditions)}
		{group}
		order by null
		""",
		values,
		as_dict=True,
	)


def _scan_expression(key: str) -> str:
	"""A grouping read from `tabOpportunity` that needs more than a column."""
	if key == "pipeline":
		return _pipeline_column().replace("`op_pipeline`", "`tabOpportunity`.`op_pipeline`")
	return f"ifnull({_category_column()}, '')"


# The summary key each renamed doctype's name is kept in.
RENAMED_KEYS = {
	"Sales Pipeline": "pipeline",
	"Company": "company",
	"Territory": "territory",
	"User": "opportunity_owner",
	"Sales Stage": "sales_stage",
}


def after_rename(
	doc, method=None, old: str | None = None, new: str | None = None, merge: bool = False
) -> None:
	"""A company, territory, user or stage renamed (or merged): Frappe rewrites the opportunities' links
	with SQL, so the summary's entries and rows of both names follow here, in the same transaction."""
	field = RENAMED_KEYS.get(doc.doctype)
	if not field or not old or not new or old == new:
		return
	flush()
	values = {"old": old, "new": new, "names": [old, new]}
	frappe.db.sql(f"update {ENTRY_TABLE} set `{field}` = %(new)s where `{field}` = %(old)s", values)
	frappe.db.sql(f"delete from {SUMMARY_TABLE} where `{field}` in %(names)s", values)
	_insert_summary_rows(f"where grouped.`{field}` in %(names)s", values)


def closed_totals(company: str, from_date, to_date, statuses, pipeline: str | None = None) -> list | None:
	"""Closed deals (of `statuses`) the caller may read, by status: deal_count and base_amount, by the
	month of their Closed On; None when the summary cannot answer exactly (a window not of whole months,
	a restriction it cannot state). A window ending today or later ends with this month: no deal is
	closed after today."""
	from frappe.utils import getdate, nowdate

	if to_date and to_date >= getdate(nowdate()):
		to_date = None
	if not month_aligned(from_date, to_date):
		return None
	scope = read_scope()
	restriction = scope_condition(scope)
	if restriction is None:
		return None
	conditions = ["summary.`company` = %(company)s", "summary.`status` in %(statuses)s"]
	flush()
	values = {"company": company, "statuses": list(statuses), **scope.values}
	if from_date:
		conditions.append("summary.`closed_month` >= %(from_month)s")
		values["from_month"] = from_date
	if to_date:
		conditions.append("summary.`closed_month` <= %(to_month)s")
		values["to_month"] = to_date.replace(day=1)
	if pipeline:
		conditions.append("summary.`pipeline` = %(pipeline)s")
		values["pipeline"] = pipeline
	if restriction:
		conditions.append(f"({restriction})")
	return frappe.db.sql(
		f"""
		select summary.`status`, sum(summary.`deal_count`) as deal_count, sum(summary.`base_amount`) as base_amount
		from {SUMMARY_TABLE} summary
		where {" and ".join(conditions)}
		group by summary.`status`
		""",
		values,
		as_dict=True,
	)
