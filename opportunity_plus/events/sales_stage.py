"""doc_events for ERPNext's Sales Stage: validate the app's fields, keep the stage cache fresh."""

import frappe
from frappe import _

from opportunity_plus.core.stages import probability_error
from opportunity_plus.pipeline import clear_stage_cache


def validate(doc, method=None) -> None:
	if probability_error(doc.op_probability):
		frappe.throw(
			_("Default probability must be between 0 and 100, not {0}.").format(doc.op_probability),
			title=_("Invalid Probability"),
		)


def clear_cache(doc, method=None, *args) -> None:
	clear_stage_cache()
