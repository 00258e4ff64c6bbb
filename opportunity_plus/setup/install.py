"""Install, migrate and uninstall hooks.

Everything here is idempotent: `after_migrate` runs on every `bench migrate` and must change nothing
when the site is already in the state the app declares.
"""

import frappe
from frappe.custom.doctype.custom_field.custom_field import create_custom_fields

from opportunity_plus.setup.custom_fields import get_custom_fields

SETTINGS = "Opportunity Plus Settings"


def after_install() -> None:
	sync()


def after_migrate() -> None:
	sync()


def sync() -> None:
	"""Bring the site to the state the app declares, without overwriting what admins changed."""
	sync_custom_fields()
	seed_settings_defaults()


def sync_custom_fields() -> None:
	# Frappe's create_custom_fields inserts missing fields and saves existing ones only when a
	# declared property differs, so a second run writes nothing.
	create_custom_fields(get_custom_fields(), ignore_validate=True)


def seed_settings_defaults() -> None:
	"""Give every settings field that has never been set its declared default.

	A value an admin saved (even 0 or empty) is a row in tabSingles and is never touched; a field added
	by a later version of the app gets its default on the migrate that brings it.
	"""
	meta = frappe.get_meta(SETTINGS)
	singles = frappe.qb.Table("tabSingles")
	stored = set(
		frappe.qb.from_(singles).select(singles.field).where(singles.doctype == SETTINGS).run(pluck=True)
	)
	missing = {
		df.fieldname: df.default
		for df in meta.fields
		if df.default is not None and df.fieldname not in stored and not df.is_virtual
	}
	if not missing:
		return
	settings = frappe.get_single(SETTINGS)
	for fieldname, default in missing.items():
		settings.set(fieldname, default)
	settings.flags.ignore_permissions = True
	settings.save()


def before_uninstall() -> None:
	"""Remove the fields the app added to other doctypes.

	Only the Custom Field definitions go: the columns and the values users typed into them stay in the
	tables (as with every Frappe app), so reinstalling brings them back; `bench trim-tables` drops them.
	ERPNext's own fields and every Opportunity row are never touched.
	"""
	for doctype, fields in get_custom_fields().items():
		for name in frappe.get_all(
			"Custom Field",
			filters={"dt": doctype, "fieldname": ("in", [f["fieldname"] for f in fields])},
			pluck="name",
		):
			frappe.delete_doc("Custom Field", name, ignore_permissions=True, force=True)
		frappe.clear_cache(doctype=doctype)
	# Anything else tagged with the module is removed by Frappe's own uninstall, which deletes every
	# record linked to the app's modules (and the app's doctypes with their data).
