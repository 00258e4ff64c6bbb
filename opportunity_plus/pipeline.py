"""Loading what the pipeline rules need: the app's settings, and the sales pipelines with their stages
(cached until a pipeline or a stage changes).

Every opportunity belongs to one Sales Pipeline (`op_pipeline`, the default pipeline when blank); its stage
is one of that pipeline's rows, each with its own probability, kind, order, forecast category, required
fields and guidance. Readers that span pipelines use `get_stages()` without a pipeline: every stage once,
as the default pipeline has it (else as the first other pipeline that has it, else from the Sales Stage's
own fields), in one order.
"""

import frappe

from opportunity_plus.core.categories import default_stage_category
from opportunity_plus.core.pipelines import Pipeline, PipelineStage, parse_required_fields
from opportunity_plus.core.stages import Stage, sort_stages

SETTINGS = "Opportunity Plus Settings"
PIPELINE = "Sales Pipeline"
PIPELINE_FIELD = "op_pipeline"
# Both keys go whenever a pipeline or a stage changes (clear_stage_cache).
STAGES_CACHE_KEY = "opportunity_plus:sales_stages"
PIPELINES_CACHE_KEY = "opportunity_plus:sales_pipelines"


def get_settings():
	return frappe.get_cached_doc(SETTINGS)


# --- pipelines ------------------------------------------------------------------------------------------


def get_pipelines() -> dict[str, Pipeline]:
	"""Every Sales Pipeline by name, in name order. Do not change it: it is shared for the request."""
	return _built("op_pipelines", PIPELINES_CACHE_KEY, _load_pipeline_rows, _build_pipelines)


def get_pipeline(name: str | None = None) -> Pipeline | None:
	"""The pipeline `name`, or the default one when `name` is blank; None when there is no such pipeline."""
	pipelines = get_pipelines()
	if name:
		return pipelines.get(name)
	return next((pipeline for pipeline in pipelines.values() if pipeline.is_default), None)


def default_pipeline() -> str | None:
	pipeline = get_pipeline()
	return pipeline.name if pipeline else None


def pipeline_of(doc) -> Pipeline | None:
	"""The pipeline an opportunity (document or row) is in: its own, else the default."""
	return get_pipeline(doc.get(PIPELINE_FIELD)) or get_pipeline()


def _load_pipeline_rows() -> dict:
	if not frappe.db.table_exists(PIPELINE):
		return {"pipelines": [], "stages": [], "types": [], "companies": []}

	def rows(doctype: str, fields: list[str]) -> list[tuple]:
		return [
			tuple(row)
			for row in frappe.get_all(
				doctype,
				filters={"parenttype": PIPELINE},
				fields=["parent", *fields],
				order_by="parent asc, idx asc",
				as_list=True,
			)
		]

	return {
		"pipelines": [
			tuple(row)
			for row in frappe.get_all(
				PIPELINE, fields=["name", "enabled", "is_default"], order_by="name asc", as_list=True
			)
		],
		"stages": rows(
			"Sales Pipeline Stage",
			["sales_stage", "probability", "stage_kind", "forecast_category", "required_fields", "guidance"],
		),
		"types": rows("Sales Pipeline Opportunity Type", ["opportunity_type"]),
		"companies": rows("Sales Pipeline Company", ["company"]),
	}


def _build_pipelines(rows: dict) -> dict[str, Pipeline]:
	stages: dict[str, list[PipelineStage]] = {}
	for parent, stage, probability, kind, category, required, guidance in rows["stages"]:
		kind = kind or "Open"
		position = len(stages.setdefault(parent, [])) + 1
		stages[parent].append(
			PipelineStage(
				Stage(
					stage,
					probability,
					kind,
					position * 10,
					category or default_stage_category(stage, kind),
				),
				tuple(parse_required_fields(required)),
				guidance or "",
			)
		)
	types: dict[str, set] = {}
	for parent, opportunity_type in rows["types"]:
		types.setdefault(parent, set()).add(opportunity_type)
	companies: dict[str, set] = {}
	for parent, company in rows["companies"]:
		companies.setdefault(parent, set()).add(company)
	return {
		name: Pipeline(
			name=name,
			stages=tuple(stages.get(name, ())),
			enabled=bool(enabled),
			is_default=bool(is_default),
			opportunity_types=frozenset(types.get(name, ())),
			companies=frozenset(companies.get(name, ())),
		)
		for name, enabled, is_default in rows["pipelines"]
	}


# --- stages ---------------------------------------------------------------------------------------------


def get_stages(pipeline: str | None = None) -> dict[str, Stage]:
	"""The stages of `pipeline` by name, in its order; without one, every stage once (see the module's
	docstring). Do not change the dict: it is shared for the request."""
	if pipeline:
		found = get_pipelines().get(pipeline)
		return {row.stage.name: row.stage for row in found.stages} if found else {}
	return _built("op_stages", STAGES_CACHE_KEY, _load_stage_rows, _build_all_stages)


def _load_stage_rows() -> list[tuple]:
	return [
		(s.name, s.op_probability, s.op_stage_kind, s.op_stage_order, s.op_forecast_category or None)
		for s in frappe.get_all(
			"Sales Stage",
			fields=["name", "op_probability", "op_stage_kind", "op_stage_order", "op_forecast_category"],
		)
	]


def _build_all_stages(rows: list[tuple]) -> dict[str, Stage]:
	ordered: list[Stage] = []
	seen = set()
	pipelines = sorted(get_pipelines().values(), key=lambda pipeline: not pipeline.is_default)
	for pipeline in pipelines:
		for row in pipeline.stages:
			if row.stage.name not in seen:
				seen.add(row.stage.name)
				ordered.append(row.stage)
	# Stages in no pipeline (or a site before its first pipeline): from the stage's own fields, after.
	# A row cached by an earlier version of the app has no category: None until the cache is rebuilt.
	loose = sort_stages(
		Stage(row[0], row[1], row[2] or "Open", row[3] or 0, row[4] if len(row) > 4 else None)
		for row in rows
		if row[0] not in seen
	)
	ordered.extend(loose)
	return {
		stage.name: Stage(
			stage.name, stage.probability, stage.kind, (index + 1) * 10, stage.forecast_category
		)
		for index, stage in enumerate(ordered)
	}


def _built(attribute: str, cache_key: str, load, build):
	"""`build(rows)` of the cached `load()` rows, built once per request: the rows stay the same object
	for the request (Frappe's request cache), and the built value is kept beside them."""
	rows = frappe.cache.get_value(cache_key, generator=load)
	built = getattr(frappe.local, attribute, None)
	if built is not None and built[0] is rows:
		return built[1]
	value = build(rows)
	setattr(frappe.local, attribute, (rows, value))
	return value


def clear_stage_cache() -> None:
	frappe.cache.delete_value(STAGES_CACHE_KEY)
	frappe.cache.delete_value(PIPELINES_CACHE_KEY)
	frappe.local.op_stages = None
	frappe.local.op_pipelines = None


def ordered_stages(pipeline: str | None = None) -> list[Stage]:
	return sort_stages(get_stages(pipeline).values())


def first_stage_of_kind(kind: str, pipeline: str | None = None) -> Stage | None:
	return next((stage for stage in ordered_stages(pipeline) if stage.kind == kind), None)


def stage_order(pipeline: str | None = None) -> dict[str, int]:
	"""Position of each stage in the pipeline (every pipeline's, without one), for sorting reports."""
	return {stage.name: index for index, stage in enumerate(ordered_stages(pipeline))}
