# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

from frappe.model.document import Document


class SalesPipelineStage(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		forecast_category: DF.Literal["", "Pipeline", "Best Case", "Commit", "Closed", "Omitted"]
		guidance: DF.SmallText | None
		probability: DF.Percent
		required_fields: DF.SmallText | None
		sales_stage: DF.Link
		stage_kind: DF.Literal["Open", "Won", "Lost"]
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
	# end: auto-generated types

	pass
