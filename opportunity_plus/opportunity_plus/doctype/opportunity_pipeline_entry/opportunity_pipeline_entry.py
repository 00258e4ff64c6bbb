# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

from frappe.model.document import Document


class OpportunityPipelineEntry(Document):
	# Written only by opportunity_plus.summary, with SQL, in the transaction of the change it counts.
	pass
