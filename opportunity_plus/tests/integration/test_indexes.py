"""The forecast's indexes: declared by the app, created on install and migrate, dropped on uninstall.

The uninstall test runs the app's real `before_uninstall` and then puts the site back as `install-app`
would (its index DDL commits, so it cannot simply be rolled back).
"""

import frappe
from frappe.tests.utils import FrappeTestCase

from opportunity_plus import summary
from opportunity_plus.core.sqltext import index_friendly as sargable
from opportunity_plus.setup import install
from opportunity_plus.tests.integration import factories


def has_index(name: str) -> bool:
	return bool(frappe.db.has_index("tabOpportunity", name))


class TestForecastIndexes(FrappeTestCase):
	def test_installed_site_has_each_declared_index_with_its_columns(self):
		self.assertEqual(
			set(install.FORECAST_INDEXES),
			{
				"op_forecast_index",
				"op_forecast_territory_index",
				"op_creation_index",
				"op_closed_index",
				"op_closed_source_index",
			},
		)
		for name, columns in install.FORECAST_INDEXES.items():
			self.assertEqual(install.index_columns(name), list(columns), name)
		for name, columns in install.SUMMARY_INDEXES.items():
			self.assertEqual(install.index_columns(name, summary.SUMMARY), list(columns), name)

	def test_after_migrate_keeps_the_indexes_and_rebuilds_an_outdated_one(self):
		# An earlier version of the app declared the date-first index without territory.
		frappe.db.sql_ddl("alter table `tabOpportunity` drop index `op_forecast_index`")
		frappe.db.add_index(
			"Opportunity",
			[
				"company",
				"expected_closing",
				"status",
				"sales_stage",
				"probability",
				"base_opportunity_amount",
			],
			"op_forecast_index",
		)
		try:
			install.after_migrate()
			for name, columns in install.FORECAST_INDEXES.items():
				self.assertEqual(install.index_columns(name), list(columns), name)
			install.after_migrate()  # a second migrate changes nothing
			for name, columns in install.FORECAST_INDEXES.items():
				self.assertEqual(install.index_columns(name), list(columns), name)
		finally:
			install.ensure_indexes()

	def test_uninstall_drops_the_indexes_and_install_restores_them(self):
		try:
			install.before_uninstall()
			for name in install.FORECAST_INDEXES:
				self.assertFalse(has_index(name), f"{name} left after uninstall")
			# Only the app's indexes go: ERPNext's own stay.
			self.assertTrue(has_index("territory"))
			self.assertTrue(has_index("company"))
		finally:
			frappe.db.rollback()
			install.sync()
			frappe.db.commit()
		for name, columns in install.FORECAST_INDEXES.items():
			self.assertEqual(install.index_columns(name), list(columns), name)


class TestSargablePermissionCondition(FrappeTestCase):
	def test_rewritten_condition_selects_exactly_the_same_rows(self):
		territory = factories.territory()
		other = factories.territory()
		names = [
			factories.opportunity(territory=territory).name,
			factories.opportunity(territory=other).name,
			factories.opportunity().name,
		]
		frappe.db.set_value("Opportunity", names[2], "territory", None, update_modified=False)
		blank = factories.opportunity().name
		frappe.db.sql("update `tabOpportunity` set territory = '' where name = %s", blank)
		names.append(blank)

		original = (
			f"(ifnull(`tabOpportunity`.`territory`, '')='' or `tabOpportunity`.`territory` in "
			f"({frappe.db.escape(territory)}))"
		)
		rewritten = sargable(original)
		self.assertNotIn("ifnull", rewritten)

		def selected(condition):
			return set(
				frappe.db.sql_list(
					f"select name from `tabOpportunity` where name in %(names)s and {condition}",
					{"names": names},
				)
			)

		self.assertEqual(selected(original), {names[0], names[2], names[3]})
		self.assertEqual(selected(rewritten), selected(original))

	def test_conditions_without_the_pattern_are_left_alone(self):
		condition = "`tabOpportunity`.`owner` = 'a@example.com'"
		self.assertEqual(sargable(condition), condition)
