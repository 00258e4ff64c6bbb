# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

from frappe.model.document import Document


class OpportunityPlusSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		amount_from_items: DF.Check
		close_date_required_from_stage: DF.Link | None
		probability_follows_stage: DF.Check
	# end: auto-generated types

	pass
