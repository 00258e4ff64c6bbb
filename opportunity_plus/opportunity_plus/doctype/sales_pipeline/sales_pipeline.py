# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model import data_fieldtypes, table_fields
from frappe.model.document import Document

from opportunity_plus.core import pipelines as rules
from opportunity_plus.core.categories import default_stage_category
from opportunity_plus.core.stages import probability_error


class SalesPipeline(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from opportunity_plus.opportunity_plus.doctype.sales_pipeline_company.sales_pipeline_company import (
			SalesPipelineCompany,
		)
		from opportunity_plus.opportunity_plus.doctype.sales_pipeline_opportunity_type.sales_pipeline_opportunity_type import (
			SalesPipelineOpportunityType,
		)
		from opportunity_plus.opportunity_plus.doctype.sales_pipeline_stage.sales_pipeline_stage import (
			SalesPipelineStage,
		)

		companies: DF.TableMultiSelect[SalesPipelineCompany]
		description: DF.SmallText | None
		enabled: DF.Check
		is_default: DF.Check
		opportunity_types: DF.TableMultiSelect[SalesPipelineOpportunityType]
		pipeline_name: DF.Data
		stages: DF.Table[SalesPipelineStage]
	# end: auto-generated types

	def validate(self):
		self._validate_stages()
		self._validate_default()

	def _validate_stages(self):
		for row in self.stages:
			if probability_error(row.probability):
				frappe.throw(
					_("Row {0}: the probability must be between 0 and 100, not {1}.").format(
						row.idx, row.probability
					),
					title=_("Invalid Probability"),
				)
			if not row.forecast_category:
				row.forecast_category = default_stage_category(row.sales_stage, row.stage_kind)
			names = rules.parse_required_fields(row.required_fields)
			unknown = rules.unknown_required_fields(names, requirable_fields())
			if unknown:
				frappe.throw(
					_(
						"Row {0} ({1}): {2} is not a field of Opportunity that can be required. Use field names"
						" such as contact_person, opportunity_amount, expected_closing or items, one per line,"
						" or submitted_quotation."
					).format(row.idx, row.sales_stage, ", ".join(unknown)),
					title=_("Unknown Field"),
				)
			row.required_fields = "\n".join(names) or None
		for code, stage in rules.pipeline_errors([(row.sales_stage, row.stage_kind) for row in self.stages]):
			if code == rules.NO_STAGES:
				frappe.throw(_("Add the pipeline's stages."), title=_("No Stages"))
			if code == rules.DUPLICATE_STAGE:
				frappe.throw(
					_("Sales Stage {0} is in the pipeline twice.").format(stage), title=_("Duplicate Stage")
				)
			if code == rules.NO_OPEN_STAGE:
				frappe.throw(
					_("A pipeline needs at least one open stage (kind Open)."), title=_("No Open Stage")
				)

	def _validate_default(self):
		before = self.get_doc_before_save()
		was_default = bool(before and before.is_default)
		others = frappe.get_all(
			"Sales Pipeline", filters={"name": ("!=", self.name or ""), "is_default": 1}, pluck="name"
		)
		if not others:
			# the site's first pipeline, or the default itself: there is always exactly one
			if was_default and not self.is_default:
				frappe.throw(
					_("One pipeline is the default: tick Default Pipeline on another one instead."),
					title=_("Default Pipeline"),
				)
			self.is_default = 1
		if self.is_default and not self.enabled:
			frappe.throw(
				_("The default pipeline takes the deals no rule sends elsewhere: it cannot be disabled."),
				title=_("Default Pipeline"),
			)

	def on_update(self):
		from opportunity_plus import categories, pipelines
		from opportunity_plus.pipeline import clear_stage_cache

		if self.is_default:
			frappe.db.sql(
				"update `tabSales Pipeline` set is_default = 0 where name != %s and is_default = 1", self.name
			)
			pipelines.write_back_to_stages(self)
		clear_stage_cache()
		before = self.get_doc_before_save()
		if before is None:
			return  # a new pipeline holds no deal yet
		categories_before = {row.sales_stage: row.forecast_category for row in before.stages}
		for row in self.stages:
			if categories_before.get(row.sales_stage) != row.forecast_category:
				# its deals' category in force follows a new category of their stage
				categories.refresh_effective(row.sales_stage, self.name)

	def on_trash(self):
		if self.is_default:
			frappe.throw(
				_("The default pipeline cannot be deleted: make another pipeline the default first."),
				title=_("Default Pipeline"),
			)

	def after_rename(self, old, new, merge=False):
		from opportunity_plus.pipeline import clear_stage_cache

		clear_stage_cache()


def requirable_fields() -> list[str]:
	"""The Opportunity fields a stage can require: those that hold a value, and its tables (a line)."""
	meta = frappe.get_meta("Opportunity")
	return [
		df.fieldname for df in meta.fields if df.fieldtype in data_fieldtypes or df.fieldtype in table_fields
	]
