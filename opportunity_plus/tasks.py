"""Scheduler entry points: thin, idempotent, safe to run twice or at once."""

import frappe
from frappe.utils import today

from opportunity_plus.core.stages import OPEN_STATUSES


def flag_overdue_opportunities() -> None:
	"""Keep `op_is_overdue` true exactly for open opportunities whose expected close date has passed.

	Dates pass without anybody saving the opportunity, so a daily job recomputes the flag in two set-based
	updates (the same rule as core.deal.is_overdue). Running it twice or concurrently gives the same
	result; the flag is derived data, so no history row or modified timestamp changes.
	"""
	opportunity = frappe.qb.DocType("Opportunity")
	overdue = opportunity.status.isin(list(OPEN_STATUSES)) & (opportunity.expected_closing < today())
	frappe.qb.update(opportunity).set(opportunity.op_is_overdue, 1).where(
		overdue & (opportunity.op_is_overdue == 0)
	).run()
	frappe.qb.update(opportunity).set(opportunity.op_is_overdue, 0).where(
		(opportunity.op_is_overdue == 1)
		& (
			opportunity.status.notin(list(OPEN_STATUSES))
			| opportunity.expected_closing.isnull()
			| (opportunity.expected_closing >= today())
		)
	).run()
