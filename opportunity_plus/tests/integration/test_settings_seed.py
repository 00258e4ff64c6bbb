"""Settings defaults on install and migrate, including the Time fields Frappe pre-fills with the clock."""

import frappe
from frappe.tests.utils import FrappeTestCase

from opportunity_plus.pipeline import SETTINGS
from opportunity_plus.setup.install import seed_settings_defaults


def stored(field: str):
	rows = frappe.db.sql("select value from tabSingles where doctype = %s and field = %s", (SETTINGS, field))
	return rows[0][0] if rows else None


class TestWorkingHoursDefaults(FrappeTestCase):
	def tearDown(self):
		frappe.clear_document_cache(SETTINGS, SETTINGS)

	def test_clock_time_frappe_filled_in_is_replaced_by_the_declared_default(self):
		frappe.db.sql(
			"""update tabSingles set value = '13:35:44.938923' where doctype = %s
			and field in ('working_hours_start', 'working_hours_end')""",
			SETTINGS,
		)
		seed_settings_defaults()
		self.assertEqual(stored("working_hours_start"), "09:00:00")
		self.assertEqual(stored("working_hours_end"), "17:00:00")

	def test_a_time_an_admin_chose_is_kept(self):
		settings = frappe.get_single(SETTINGS)
		settings.working_hours_start = "08:30:00"
		settings.working_hours_end = "16:30:00"
		settings.save()
		seed_settings_defaults()
		self.assertEqual(stored("working_hours_start"), "08:30:00")
		self.assertEqual(stored("working_hours_end"), "16:30:00")

	def test_a_working_day_that_ends_before_it_starts_is_refused(self):
		settings = frappe.get_single(SETTINGS)
		settings.working_hours_start = "17:00:00"
		settings.working_hours_end = "09:00:00"
		self.assertRaises(frappe.ValidationError, settings.save)
