"""Forecast categories on the documents: the owner's override, the category in force, stage defaults.

`op_forecast_category` on an Opportunity is its owner's override (blank: the stage's category);
`op_effective_forecast_category` is the category in force (core.categories.effective_category), stored
so that SQL can group by it. It is set on every save, after every db_set that changes the status (ERPNext
converts and loses deals that way), for every opportunity of a stage whose category changes, and
backfilled on install and migrate.
"""

import frappe

from opportunity_plus import summary
from opportunity_plus.core import categories as rules
from opportunity_plus.pipeline import clear_stage_cache, get_stages

OVERRIDE = "op_forecast_category"
EFFECTIVE = "op_effective_forecast_category"
# The stage's default category (a field of Sales Stage).
STAGE_CATEGORY = "op_forecast_category"


def effective_of(doc, stages=None) -> str:
	stages = stages if stages is not None else get_stages()
	stage = stages.get(doc.sales_stage) if doc.sales_stage else None
	return rules.effective_category(
		status=doc.status,
		override=doc.get(OVERRIDE),
		stage_category=stage.forecast_category if stage else None,
	)


def validate(doc, before, stages) -> None:
	"""On save, after the stage rules: a stage change clears the override unless this save set it; then
	the category in force."""
	if before is not None:
		doc.set(
			OVERRIDE,
			rules.override_after_save(
				override=doc.get(OVERRIDE),
				stage_changed=doc.sales_stage != before.sales_stage,
				override_changed=(doc.get(OVERRIDE) or None) != (before.get(OVERRIDE) or None),
			),
		)
	doc.set(EFFECTIVE, effective_of(doc, stages))


def sync_effective(doc) -> None:
	"""After a db_set (status changes bypass validate): store the category in force where it changed."""
	effective = effective_of(doc)
	if doc.get(EFFECTIVE) != effective:
		# Not db_set: it would run on_change again for a field the history does not track.
		frappe.db.set_value("Opportunity", doc.name, EFFECTIVE, effective, update_modified=False)
		doc.set(EFFECTIVE, effective)


def refresh_effective(stage: str | None = None) -> int:
	"""Store the category in force on every opportunity (of one stage) where it is stale, in one UPDATE
	per run; returns how many rows changed. The rule stays core's: it is evaluated for each combination
	of status, override and stage the table holds, and only the stale combinations are rewritten."""
	stages = get_stages()
	conditions, values = "", {}
	if stage is not None:
		conditions, values = "where `sales_stage` = %(stage)s", {"stage": stage}
	combinations = frappe.db.sql(
		f"""select `status`, ifnull(`{OVERRIDE}`, '') as override, ifnull(`sales_stage`, '') as stage,
			ifnull(`{EFFECTIVE}`, '') as stored
		from `tabOpportunity` {conditions}
		group by `status`, override, stage, stored""",
		values,
		as_dict=True,
	)
	stale = {}
	for row in combinations:
		stage_row = stages.get(row.stage) if row.stage else None
		effective = rules.effective_category(
			status=row.status,
			override=row.override,
			stage_category=stage_row.forecast_category if stage_row else None,
		)
		if effective != row.stored:
			stale[(row.status, row.override, row.stage)] = effective
	if not stale:
		return 0
	cases, keys = [], []
	for index, ((status, override, stage_name), effective) in enumerate(stale.items()):
		values.update(
			{f"status_{index}": status, f"override_{index}": override, f"stage_{index}": stage_name}
		)
		values[f"effective_{index}"] = effective
		match = (
			f"`status` = %(status_{index})s and ifnull(`{OVERRIDE}`, '') = %(override_{index})s"
			f" and ifnull(`sales_stage`, '') = %(stage_{index})s"
		)
		cases.append(f"when {match} then %(effective_{index})s")
		keys.append(f"({match})")
	frappe.db.sql(
		f"""update `tabOpportunity` set `{EFFECTIVE}` = case {" ".join(cases)} else `{EFFECTIVE}` end
		where ({" or ".join(keys)})""",
		values,
	)
	# The bulk UPDATE runs no hooks: the pipeline summary, keyed by the category in force, follows here.
	summary.resync_stages(sorted({stage_name for _status, _override, stage_name in stale}))
	return len(stale)


# --- Sales Stage ------------------------------------------------------------------------------------


def validate_sales_stage(doc, method=None) -> None:
	"""A stage saved without a category gets its default (by name for ERPNext's stock stages, else kind)."""
	if not doc.get(STAGE_CATEGORY):
		doc.set(STAGE_CATEGORY, rules.default_stage_category(doc.stage_name or doc.name, doc.op_stage_kind))


def on_sales_stage_change(doc, method=None) -> None:
	"""A stage's default category changed: its opportunities' category in force follows."""
	before = doc.get_doc_before_save()
	if before is not None and before.get(STAGE_CATEGORY) == doc.get(STAGE_CATEGORY):
		return
	clear_stage_cache()
	refresh_effective(doc.name)


def seed_stage_categories() -> None:
	"""Give every stage without a category its default (ERPNext's stock stages by name, others by kind)."""
	existing = frappe.get_all("Sales Stage", fields=["name", "op_stage_kind", STAGE_CATEGORY])
	fills = rules.stage_categories_to_fill(
		(row.name, row.op_stage_kind, row.get(STAGE_CATEGORY)) for row in existing
	)
	for name, category in fills:
		frappe.db.set_value("Sales Stage", name, STAGE_CATEGORY, category, update_modified=False)
	if fills:
		clear_stage_cache()


def sync() -> None:
	"""Install and migrate: stage defaults where blank, then the category in force where stale."""
	seed_stage_categories()
	refresh_effective()
