"""Input handling shared by the whitelisted endpoints."""

import json

import frappe
from frappe import _


def parse_filters(filters: dict | str | None, allowed: tuple[str, ...], subject: str) -> dict:
	"""A caller's equality filters as a dict (JSON text accepted), refusing fields not in `allowed`.

	`subject` names what is filtered ("forecast", "board") in the error message. Empty values are dropped.
	"""
	if not filters:
		return {}
	if isinstance(filters, str):
		try:
			filters = json.loads(filters)
		except ValueError:
			frappe.throw(_("Filters must be a JSON object."))
	if not isinstance(filters, dict):
		frappe.throw(_("Filters must be a JSON object."))
	unknown = set(filters) - set(allowed)
	if unknown:
		frappe.throw(
			_("Cannot filter the {0} by {1}. Allowed: {2}.").format(
				_(subject), ", ".join(sorted(unknown)), ", ".join(allowed)
			)
		)
	return {key: value for key, value in filters.items() if value not in (None, "")}
