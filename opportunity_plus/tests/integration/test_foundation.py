"""The app is installed the way it declares: settings, custom fields, hooks, idempotent migrate."""

import os
import re

import frappe
from frappe.tests.utils import FrappeTestCase

from opportunity_plus.setup import install
from opportunity_plus.setup.custom_fields import MODULE, get_custom_fields

APP = "opportunity_plus"
DOTTED_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
# Hooks whose values are files inside the app, not dotted paths.
FILE_HOOKS = ("doctype_js", "doctype_list_js", "doctype_tree_js", "doctype_calendar_js")
ASSET_HOOKS = ("app_include_js", "app_include_css", "web_include_js", "web_include_css")


def _strings(value):
	if isinstance(value, str):
		yield value
	elif isinstance(value, dict):
		for item in value.values():
			yield from _strings(item)
	elif isinstance(value, list | tuple):
		for item in value:
			yield from _strings(item)


class TestFoundation(FrappeTestCase):
	def test_app_is_installed_with_its_module(self):
		self.assertIn(APP, frappe.get_installed_apps())
		self.assertEqual(frappe.db.get_value("Module Def", MODULE, "app_name"), APP)

	def test_settings_is_a_single_only_managers_may_change(self):
		meta = frappe.get_meta(install.SETTINGS)
		self.assertTrue(meta.issingle)
		writers = {p.role for p in meta.permissions if p.write}
		self.assertEqual(writers, {"System Manager", "Sales Manager"})

	def test_settings_load_with_their_defaults(self):
		meta = frappe.get_meta(install.SETTINGS)
		defaults = {df.fieldname: df.default for df in meta.fields if df.default is not None}
		self.assertTrue(defaults, "the settings declare defaults")
		# Forget every stored value, then seed as install does.
		frappe.db.delete("Singles", {"doctype": install.SETTINGS})
		install.seed_settings_defaults()
		settings = frappe.get_single(install.SETTINGS)
		for fieldname, default in defaults.items():
			self.assertEqual(str(settings.get(fieldname)), str(default), fieldname)

	def test_seeding_never_overwrites_an_admins_choice(self):
		frappe.db.set_single_value(install.SETTINGS, "probability_follows_stage", 0)
		install.seed_settings_defaults()
		self.assertEqual(frappe.db.get_single_value(install.SETTINGS, "probability_follows_stage"), 0)

	def test_every_custom_field_exists_on_its_doctype(self):
		for doctype, fields in get_custom_fields().items():
			meta = frappe.get_meta(doctype)
			for field in fields:
				df = meta.get_field(field["fieldname"])
				self.assertIsNotNone(df, f"{doctype}.{field['fieldname']} missing")
				self.assertEqual(df.fieldtype, field["fieldtype"])
				self.assertEqual(
					frappe.db.get_value(
						"Custom Field", {"dt": doctype, "fieldname": field["fieldname"]}, "module"
					),
					MODULE,
				)
				if df.fieldtype not in ("Section Break", "Column Break", "Tab Break", "HTML", "Button"):
					self.assertTrue(frappe.db.has_column(doctype, field["fieldname"]))

	def test_custom_fields_are_prefixed(self):
		for doctype, fields in get_custom_fields().items():
			for field in fields:
				self.assertTrue(field["fieldname"].startswith("op_"), f"{doctype}.{field['fieldname']}")

	def test_every_hook_path_resolves_to_a_real_callable(self):
		hooks = frappe.get_hooks(app_name=APP)
		app_dir = frappe.get_app_path(APP)
		checked = 0
		for name, value in hooks.items():
			for text in _strings(value):
				if name in FILE_HOOKS:
					self.assertTrue(os.path.isfile(os.path.join(app_dir, text)), f"{name}: {text}")
				elif name in ASSET_HOOKS and ".bundle." in text:
					# Frappe's build finds a bundle by its file name anywhere under public/
					found = [
						os.path.join(folder, text)
						for folder, _dirs, files in os.walk(os.path.join(app_dir, "public"))
						if text in files
					]
					self.assertEqual(len(found), 1, f"{name}: {text}")
				elif name in ASSET_HOOKS:
					relative = text.split(f"/assets/{APP}/", 1)[-1]
					self.assertTrue(
						os.path.isfile(os.path.join(app_dir, "public", relative)), f"{name}: {text}"
					)
				elif DOTTED_PATH.match(text) and text.split(".")[0] in (APP, "erpnext", "frappe"):
					self.assertTrue(callable(frappe.get_attr(text)), f"{name}: {text}")
				else:
					continue
				checked += 1
			if name == "override_whitelisted_methods":
				# the overridden ERPNext method must still exist, or the override is dead
				for original in value:
					self.assertTrue(callable(frappe.get_attr(original)), original)
		self.assertGreaterEqual(checked, 3, "after_install, after_migrate and before_uninstall at least")

	def test_migrate_twice_is_a_no_op(self):
		install.after_migrate()

		def snapshot():
			names = [f["fieldname"] for fields in get_custom_fields().values() for f in fields]
			custom_fields = frappe.get_all(
				"Custom Field",
				filters={"fieldname": ("in", names)},
				fields=["name", "modified"],
				order_by="name",
			)
			settings = sorted(
				frappe.db.get_values(
					"Singles", {"doctype": install.SETTINGS}, ["field", "value"], order_by="field"
				)
			)
			property_setters = frappe.get_all(
				"Property Setter",
				filters={"module": MODULE},
				fields=["name", "value", "modified"],
				order_by="name",
			)
			return custom_fields, settings, property_setters

		before = snapshot()
		install.after_migrate()
		install.after_migrate()
		self.assertEqual(snapshot(), before)

	def test_migrate_recreates_a_deleted_custom_field(self):
		name = frappe.db.get_value("Custom Field", {"dt": "Sales Stage", "fieldname": "op_stage_order"})
		frappe.db.delete("Custom Field", name)
		frappe.clear_cache(doctype="Sales Stage")
		self.assertIsNone(frappe.get_meta("Sales Stage").get_field("op_stage_order"))
		install.after_migrate()
		self.assertIsNotNone(frappe.get_meta("Sales Stage").get_field("op_stage_order"))
