"""Sales Pipelines on a site: the default pipeline made on install from the sales stages as they are, every
opportunity in a pipeline, and the default pipeline kept in step with the Sales Stages' own fields.

A site that never adds a second pipeline keeps working as before: its Sales Managers edit a stage's
probability, kind, order and forecast category on the Sales Stage, and the default pipeline follows (a new
stage joins it while it is the site's only pipeline); editing the default pipeline writes the same values
back on its stages. Both directions write the other side straight to the database, so neither runs the
other's hooks again.
"""

import frappe
from frappe import _

from opportunity_plus import categories, summary
from opportunity_plus.core.categories import default_stage_category
from opportunity_plus.core.stages import sort_stages
from opportunity_plus.pipeline import (
	PIPELINE,
	PIPELINE_FIELD,
	_build_all_stages,
	_load_stage_rows,
	clear_stage_cache,
	default_pipeline,
)

DEFAULT_NAME = "Default"
ROW = "Sales Pipeline Stage"
# Sales Stage field -> Sales Pipeline Stage field
STAGE_FIELDS = {
	"op_probability": "probability",
	"op_stage_kind": "stage_kind",
	"op_forecast_category": "forecast_category",
}


def sync() -> None:
	"""Install and migrate: the default pipeline where a site has none, then every opportunity without a
	pipeline in the default one."""
	ensure_default_pipeline()
	backfill_opportunities()


def ensure_default_pipeline() -> str | None:
	"""A site without a pipeline gets one, with every sales stage in its order and with its probability,
	kind and forecast category: what the site had before pipelines."""
	if frappe.db.count(PIPELINE):
		return default_pipeline()
	stages = list(_build_all_stages(_load_stage_rows()).values())
	if not stages:
		return None
	doc = frappe.get_doc(
		{
			"doctype": PIPELINE,
			"pipeline_name": DEFAULT_NAME,
			"enabled": 1,
			"is_default": 1,
			"stages": [
				{
					"sales_stage": stage.name,
					"stage_kind": stage.kind,
					"probability": stage.probability,
					"forecast_category": stage.forecast_category
					or default_stage_category(stage.name, stage.kind),
				}
				for stage in sort_stages(stages)
			],
		}
	)
	doc.flags.ignore_permissions = True
	doc.insert()
	return doc.name


def backfill_opportunities() -> None:
	"""Deals without a pipeline, or in one that no longer exists (the app reinstalled: its column kept the
	names of the pipelines uninstall removed), go to the default pipeline."""
	default = default_pipeline()
	if not default:
		return
	without = f"""ifnull(`{PIPELINE_FIELD}`, '') = ''
		or `{PIPELINE_FIELD}` not in (select `name` from `tab{PIPELINE}`)"""
	names = frappe.db.sql_list(f"select `name` from `tabOpportunity` where {without}")
	if not names:
		return
	frappe.db.sql(
		f"update `tabOpportunity` set `{PIPELINE_FIELD}` = %(pipeline)s where `name` in %(names)s",
		{"pipeline": default, "names": names},
	)
	# A raw update runs no hook: the pipeline summary, keyed by pipeline, follows (when it is built).
	if summary.is_current():
		summary.sync(names)


# --- the default pipeline and the Sales Stages ---------------------------------------------------------


def stage_changed(doc, method=None) -> None:
	"""A Sales Stage saved: its row in the default pipeline follows its probability, kind, category and
	order; a new stage joins the default pipeline while that is the site's only pipeline."""
	default = default_pipeline()
	if not default or doc.flags.in_delete:  # Frappe runs on_change after on_trash too
		return
	rows = frappe.get_all(
		ROW,
		filters={"parenttype": PIPELINE, "parent": default},
		fields=["name", "sales_stage", "idx", *STAGE_FIELDS.values()],
		order_by="idx asc",
	)
	row = next((row for row in rows if row.sales_stage == doc.name), None)
	values = {
		row_field: doc.get(stage_field) or (0 if row_field == "probability" else None)
		for stage_field, row_field in STAGE_FIELDS.items()
	}
	values["stage_kind"] = values["stage_kind"] or "Open"
	if row is None:
		if frappe.db.count(PIPELINE) != 1:
			return
		frappe.get_doc(
			{
				"doctype": ROW,
				"parenttype": PIPELINE,
				"parentfield": "stages",
				"parent": default,
				"idx": len(rows) + 1,
				"sales_stage": doc.name,
				**values,
			}
		).db_insert()
		rows = [*rows, frappe._dict(name=None, sales_stage=doc.name)]
	else:
		changed = {
			field: value for field, value in values.items() if (row.get(field) or None) != (value or None)
		}
		if changed:
			frappe.db.set_value(ROW, row.name, changed, update_modified=False)
	_order_default_rows(default)
	clear_stage_cache()
	before = doc.get_doc_before_save()
	if before is None or before.get("op_forecast_category") != doc.get("op_forecast_category"):
		# a new default category reaches the default pipeline's deals in this stage
		categories.refresh_effective(doc.name, default)


def _order_default_rows(default: str) -> None:
	"""The default pipeline's rows in the stages' order (Sales Stage's Order, then name)."""
	rows = frappe.get_all(
		ROW, filters={"parenttype": PIPELINE, "parent": default}, fields=["name", "sales_stage", "idx"]
	)
	orders = dict(frappe.get_all("Sales Stage", fields=["name", "op_stage_order"], as_list=True))
	wanted = sorted(
		rows,
		key=lambda row: (orders.get(row.sales_stage) or 10**6, row.sales_stage.casefold(), row.idx),
	)
	for index, row in enumerate(wanted, start=1):
		if row.idx != index:
			frappe.db.set_value(ROW, row.name, "idx", index, update_modified=False)


def write_back_to_stages(pipeline) -> None:
	"""The default pipeline saved: its rows' values on their Sales Stages (order: the row's position)."""
	existing = {
		row.name: row
		for row in frappe.get_all(
			"Sales Stage", fields=["name", "op_stage_order", *STAGE_FIELDS], limit_page_length=0
		)
	}
	for index, row in enumerate(pipeline.stages, start=1):
		stage = existing.get(row.sales_stage)
		if not stage:
			continue
		values = {stage_field: row.get(row_field) for stage_field, row_field in STAGE_FIELDS.items()}
		values["op_stage_order"] = index * 10
		changed = {
			field: value for field, value in values.items() if (stage.get(field) or None) != (value or None)
		}
		if changed:
			frappe.db.set_value("Sales Stage", stage.name, changed, update_modified=False)


def stage_trashed(doc, method=None) -> None:
	"""A Sales Stage deleted: refused while a pipeline other than the only one holds it (remove it there
	first); out of the site's only pipeline it goes with the stage, as before pipelines."""
	holders = frappe.get_all(ROW, filters={"parenttype": PIPELINE, "sales_stage": doc.name}, pluck="parent")
	if not holders:
		return
	if frappe.db.count(PIPELINE) == 1:
		frappe.db.delete(ROW, {"parenttype": PIPELINE, "sales_stage": doc.name})
		clear_stage_cache()
		return
	frappe.throw(
		_("Sales Stage {0} is a stage of the pipelines {1}: remove it from them first.").format(
			doc.name, ", ".join(sorted(set(holders)))
		),
		frappe.LinkExistsError,
		title=_("Stage in Use"),
	)
