"""Sentinel of the integration layer: says why the layer is skipped, or proves the site is usable.

Imports frappe lazily so it is collected even where frappe is not installed.
"""

import pytest

from opportunity_plus.tests.integration.conftest import SITE, SKIP_REASON


def test_site_has_erpnext_and_opportunity_plus():
	if SITE is None:
		pytest.skip(f"integration layer: {SKIP_REASON}")
	import frappe

	installed = frappe.get_installed_apps()
	assert "erpnext" in installed
	assert (
		"opportunity_plus" in installed
	), f"install the app: bench --site {SITE.site} install-app opportunity_plus"
	assert frappe.db.get_single_value("System Settings", "setup_complete"), "complete the setup wizard"
	assert frappe.get_all("Company", limit=1), "the site needs a company"
