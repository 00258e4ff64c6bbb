"""Loading what the pipeline rules need: the app's settings and the sales stages (cached)."""

import frappe

from opportunity_plus.core.stages import Stage, sort_stages

SETTINGS = "Opportunity Plus Settings"
STAGES_CACHE_KEY = "opportunity_plus:sales_stages"


def get_settings():
	return frappe.get_cached_doc(SETTINGS)


def get_stages() -> dict[str, Stage]:
	"""Every Sales Stage with its probability, kind, order and forecast category, by name (cached until a
	stage changes). Do not change the dict: it is shared for the request."""
	rows = frappe.cache.get_value(STAGES_CACHE_KEY, generator=_load_stage_rows)
	# The rows stay the same object for the request (Frappe's request cache): build the stages once.
	built = getattr(frappe.local, "op_stages", None)
	if built is not None and built[0] is rows:
		return built[1]
	# A row cached by an earlier version of the app has no category: None until the cache is rebuilt.
	stages = {
		row[0]: Stage(row[0], row[1], row[2] or "Open", row[3] or 0, row[4] if len(row) > 4 else None)
		for row in rows
	}
	frappe.local.op_stages = (rows, stages)
	return stages


def _load_stage_rows() -> list[tuple]:
	return [
		(s.name, s.op_probability, s.op_stage_kind, s.op_stage_order, s.op_forecast_category or None)
		for s in frappe.get_all(
			"Sales Stage",
			fields=["name", "op_probability", "op_stage_kind", "op_stage_order", "op_forecast_category"],
		)
	]


def clear_stage_cache() -> None:
	frappe.cache.delete_value(STAGES_CACHE_KEY)
	frappe.local.op_stages = None


def ordered_stages() -> list[Stage]:
	return sort_stages(get_stages().values())


def first_stage_of_kind(kind: str) -> Stage | None:
	return next((stage for stage in ordered_stages() if stage.kind == kind), None)


def stage_order() -> dict[str, int]:
	"""Position of each stage in the pipeline, for sorting reports."""
	return {stage.name: index for index, stage in enumerate(ordered_stages())}
