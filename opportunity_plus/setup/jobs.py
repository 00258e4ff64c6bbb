"""Which of ERPNext's scheduled CRM jobs run while the app is installed.

Two stock daily jobs would fight the app's rules, so they are stopped (their Scheduled Job Type's
`stopped` flag, visible in Scheduled Job Type and Opportunity Plus Settings; migrate keeps it):
- `open_leads_opportunities_based_on_todays_event` reopens closed, lost and converted opportunities;
  tasks.reopen_opportunities_with_an_event_today runs instead, always;
- `auto_close_opportunity` closes Replied opportunities by `modified`; stopped only while the app's
  auto-close is enabled, so exactly one auto-close rule is ever in force.
Uninstall starts both again.
"""

import frappe

STOCK_EVENT_JOB = "erpnext.crm.utils.open_leads_opportunities_based_on_todays_event"
STOCK_AUTO_CLOSE_JOB = "erpnext.crm.doctype.opportunity.opportunity.auto_close_opportunity"


def sync_stock_jobs(auto_close_enabled: bool | None = None) -> None:
	if auto_close_enabled is None:
		auto_close_enabled = bool(
			frappe.db.get_single_value("Opportunity Plus Settings", "auto_close_enabled")
		)
	_set_stopped(STOCK_EVENT_JOB, True)
	_set_stopped(STOCK_AUTO_CLOSE_JOB, auto_close_enabled)


def restore_stock_jobs() -> None:
	_set_stopped(STOCK_EVENT_JOB, False)
	_set_stopped(STOCK_AUTO_CLOSE_JOB, False)


def stock_auto_close_stopped() -> bool:
	return bool(frappe.db.get_value("Scheduled Job Type", {"method": STOCK_AUTO_CLOSE_JOB}, "stopped"))


def _set_stopped(method: str, stopped: bool) -> None:
	name = frappe.db.get_value("Scheduled Job Type", {"method": method}, ["name", "stopped"], as_dict=True)
	if name and bool(name.stopped) != stopped:
		frappe.db.set_value("Scheduled Job Type", name.name, "stopped", int(stopped))
