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
from opportunity_plus.pipeline import PIPELINE_FIELD, clear_stage_cache, get_pipeline, get_stages, pipeline_of

OVERRIDE = "op_forecast_category"
EFFECTIVE = "op_effective_forecast_category"
# The stage's default category (a field of Sales Stage).
STAGE_CATEGORY = "op_forecast_category"


def effective_of(doc, stages=None) -> str:
	if stages is None:
		pipeline = pipeline_of(doc)
		stages = get_stages(pipeline.name) if pipeline else get_stages()
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


def refresh_effective(stage: str | None = None, pipeline: str | None = None) -> int:
	"""Store the category in force on every opportunity (of one stage, of one pipeline) where it is stale,
	in one UPDATE per run; returns how many combinations changed. The rule stays core's: it is evaluated for
	each combination of status, override, stage and pipeline the table holds (a deal without a pipeline is
	in the default one), and only the stale combinations are rewritten."""
	default = (get_pipeline() or frappe._dict(name="")).name
	conditions, values = [], {"default": default}
	if stage is not None:
		conditions.append("`sales_stage` = %(stage)s")
		values["stage"] = stage
	if pipeline is not None:
		conditions.append(f"ifnull(nullif(`{PIPELINE_FIELD}`, ''), %(default)s) = %(pipeline)s")
		values["pipeline"] = pipeline
	combinations = frappe.db.sql(
		f"""select `status`, ifnull(`{OVERRIDE}`, '') as override, ifnull(`sales_stage`, '') as stage,
			ifnull(`{PIPELINE_FIELD}`, '') as pipeline, ifnull(`{EFFECTIVE}`, '') as stored
		from `tabOpportunity` {"where " + " and ".join(conditions) if conditions else ""}
		group by `status`, override, stage, pipeline, stored""",
		values,
		as_dict=True,
	)
	stale = {}
	for row in combinations:
		stages = get_stages(row.pipeline or default) if (row.pipeline or default) else get_stages()
		stage_row = stages.get(row.stage) if row.stage else None
		effective = rules.effective_category(
			status=row.status,
			override=row.override,
			stage_category=stage_row.forecast_category if stage_row else None,
		)
		if effective != row.stored:
			stale[(row.status, row.override, row.stage, row.pipeline)] = effective
	if not stale:
		return 0
	cases, keys = [], []
	for index, ((status, override, stage_name, pipeline_name), effective) in enumerate(stale.items()):
		values.update(
			{
				f"status_{index}": status,
				f"override_{index}": override,
				f"stage_{index}": stage_name,
				f"pipeline_{index}": pipeline_name,
				f"effective_{index}": effective,
			}
		)
		match = (
			f"`status` = %(status_{index})s and ifnull(`{OVERRIDE}`, '') = %(override_{index})s"
			f" and ifnull(`sales_stage`, '') = %(stage_{index})s"
			f" and ifnull(`{PIPELINE_FIELD}`, '') = %(pipeline_{index})s"
		)
		cases.append(f"when {match} then %(effective_{index})s")
		keys.append(f"({match})")
	frappe.db.sql(
		f"""update `tabOpportunity` set `{EFFECTIVE}` = case {" ".join(cases)} else `{EFFECTIVE}` end
		where ({" or ".join(keys)})""",
		values,
	)
	# The bulk UPDATE runs no hooks: the pipeline summary, keyed by the category in force, follows here.
	summary.resync_stages(sorted({key[2] for key in stale}))
	return len(stale)


# --- Sales Stage ------------------------------------------------------------------------------------


def validate_sales_stage(doc, method=None) -> None:
	"""A stage saved without a category gets its default (by name for ERPNext's stock stages, else kind)."""
	if not doc.get(STAGE_CATEGORY):
		doc.set(STAGE_CATEGORY, rules.default_stage_category(doc.stage_name or doc.name, doc.op_stage_kind))


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
