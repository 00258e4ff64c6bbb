# Copyright (c) 2026, opportunity_plus developers
# For license information, please see license.txt

from frappe.model.document import Document


class OpportunityStageEntry(Document):
	"""Written by the app only (opportunity_plus.funnel), in bulk."""
