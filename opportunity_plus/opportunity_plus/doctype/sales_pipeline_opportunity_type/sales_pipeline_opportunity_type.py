# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

from frappe.model.document import Document


class SalesPipelineOpportunityType(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		opportunity_type: DF.Link
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
	# end: auto-generated types

	pass
