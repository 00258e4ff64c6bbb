"""Sales pipelines for those who work opportunities: the pipelines and their stages for every picker (form,
board, lead conversion), and what a deal needs before it may enter a stage (the board asks for it).

Stock ERPNext v15 lets only Sales Manager read Sales Stage; pipelines and their stages are part of working a
deal, so these methods give them to anyone who may read opportunities.
"""

import frappe
from frappe import _

from opportunity_plus.api.utils import check_exists, echo, get_document, parse_flag, parse_name
from opportunity_plus.core.pipelines import ITEMS, SUBMITTED_QUOTATION, choose_pipeline
from opportunity_plus.events.opportunity import missing_fields, required_field_label
from opportunity_plus.pipeline import get_pipeline, pipeline_of
from opportunity_plus.pipeline import get_pipelines as all_pipelines

# Field types a dialog can ask for; a required table or a submitted quotation is made on the form.
ASKABLE_TYPES = frozenset(
	(
		"Data",
		"Link",
		"Dynamic Link",
		"Date",
		"Datetime",
		"Currency",
		"Float",
		"Int",
		"Percent",
		"Select",
		"Small Text",
		"Text",
		"Long Text",
		"Check",
		"Phone",
		"Text Editor",
	)
)


def check_may_read_opportunities() -> None:
	if not frappe.has_permission("Opportunity", "read"):
		frappe.throw(_("You are not permitted to read Opportunities."), frappe.PermissionError)


@frappe.whitelist()
@frappe.read_only()
def get_pipelines(include_disabled: bool = False) -> list[dict]:
	"""The pipelines (enabled ones, or all with `include_disabled`), the default first, each with its stages
	in order: name, kind, default probability, forecast category, required fields (name and label) and
	guidance."""
	check_may_read_opportunities()
	include_disabled = parse_flag(include_disabled, _("Include Disabled"))
	meta = frappe.get_meta("Opportunity")
	pipelines = sorted(
		all_pipelines().values(), key=lambda pipeline: (not pipeline.is_default, pipeline.name)
	)
	return [
		{
			"name": pipeline.name,
			"is_default": pipeline.is_default,
			"enabled": pipeline.enabled,
			"stages": [
				{
					"name": row.stage.name,
					"kind": row.stage.kind,
					"probability": row.stage.probability,
					"forecast_category": row.stage.forecast_category,
					"required_fields": [
						{"fieldname": name, "label": required_field_label(meta, name)}
						for name in row.required_fields
					],
					"guidance": row.guidance,
				}
				for row in pipeline.stages
			],
		}
		for pipeline in pipelines
		if pipeline.enabled or include_disabled
	]


@frappe.whitelist()
@frappe.read_only()
def get_stage_requirements(opportunity: str, stage: str) -> dict:
	"""What the deal lacks to enter `stage` of its pipeline: the missing fields, each with what a dialog
	needs to ask for it (label, type, options) or `askable: false` for what is made on the form (item lines,
	a submitted quotation), and the stage's guidance."""
	doc = get_document("Opportunity", opportunity, _("Opportunity"), "read")
	stage = parse_name(stage, _("Sales Stage"))
	pipeline = pipeline_of(doc)
	row = pipeline.stage(stage) if pipeline else None
	if not row:
		frappe.throw(
			_("Sales Stage {0} is not a stage of the pipeline {1}.").format(
				echo(stage), pipeline.name if pipeline else ""
			),
			frappe.DoesNotExistError,
		)
	meta = frappe.get_meta("Opportunity")
	missing = missing_fields(doc, row) if row.stage.kind == "Open" else []
	return {
		"opportunity": doc.name,
		"pipeline": pipeline.name,
		"stage": stage,
		"guidance": row.guidance,
		"missing": [_describe(meta, name) for name in missing],
	}


def _describe(meta, name: str) -> dict:
	label = required_field_label(meta, name)
	if name in (ITEMS, SUBMITTED_QUOTATION):
		return {"fieldname": name, "label": label, "askable": False}
	field = meta.get_field(name)
	if not field or field.fieldtype not in ASKABLE_TYPES or field.read_only:
		return {"fieldname": name, "label": label, "askable": False}
	return {
		"fieldname": name,
		"label": label,
		"askable": True,
		"fieldtype": field.fieldtype,
		"options": field.options,
	}


@frappe.whitelist()
@frappe.read_only()
def suggest_pipeline(opportunity_type: str | None = None, company: str | None = None) -> str | None:
	"""The pipeline the pipelines' rules give a new deal of this type and company (what a save would
	choose): the form shows it before the first save."""
	check_may_read_opportunities()
	opportunity_type = (
		check_exists("Opportunity Type", opportunity_type, _("Opportunity Type"))
		if opportunity_type
		else None
	)
	company = check_exists("Company", company, _("Company")) if company else None
	return choose_pipeline(all_pipelines().values(), opportunity_type, company)


def requirements_of(pipeline_name: str | None, stage: str) -> list[str]:
	"""The required fields of `stage` in the pipeline (the default one when blank)."""
	pipeline = get_pipeline(pipeline_name)
	row = pipeline.stage(stage) if pipeline else None
	return list(row.required_fields) if row else []
