"""Connects the integration layer to a real Frappe site, or skips the whole layer with one reason.

See site.py for how the site is found. Each test runs as Administrator unless it switches user, and
whatever it wrote is rolled back after it.
"""

import os

import pytest

from opportunity_plus.tests.integration.site import locate

SITE, SKIP_REASON = locate()

if SITE is None:
	# Only the sentinel (test_00_site.py) is collected: it reports the reason as one skip.
	collect_ignore_glob = ["test_[!0]*.py"]


@pytest.fixture(scope="session", autouse=True)
def frappe_site():
	if SITE is None:
		yield None
		return
	import frappe

	# Frappe writes its logs relative to the working directory: work from the sites folder.
	previous_cwd = os.getcwd()
	os.chdir(SITE.sites_path)
	frappe.init(site=SITE.site, sites_path=str(SITE.sites_path))
	frappe.connect()
	frappe.flags.in_test = True
	frappe.set_user("Administrator")
	try:
		yield SITE
	finally:
		frappe.db.rollback()
		frappe.destroy()
		os.chdir(previous_cwd)


@pytest.fixture(autouse=True)
def rollback_after_each_test(frappe_site):
	yield
	if frappe_site is None:
		return
	import frappe

	from opportunity_plus.pipeline import SETTINGS, clear_stage_cache

	frappe.db.rollback()
	frappe.set_user("Administrator")
	# Caches live outside the transaction: drop what a rolled-back test may have cached.
	clear_stage_cache()
	frappe.clear_document_cache(SETTINGS, SETTINGS)
