"""Sentinel of the browser layer: says why the layer is skipped, or checks that the desk will load the
app's built JavaScript bundle (app_include_js), which the pages under test need.

Imports neither frappe nor playwright, so it is collected everywhere.
"""

import json

import pytest

from opportunity_plus.tests.browser.layer import SITE, SKIP_REASON

BUNDLE = "opportunity_plus.bundle.js"


def test_desk_serves_the_apps_built_bundle():
	if SITE is None:
		pytest.skip(f"browser layer: {SKIP_REASON}")
	build = f"run `bench build --app opportunity_plus` in {SITE.sites_path.parent}"
	manifest = SITE.sites_path / "assets" / "assets.json"
	assert manifest.is_file(), f"{manifest} is missing: {build}"
	built = json.loads(manifest.read_text() or "{}").get(BUNDLE)
	assert built, f"{BUNDLE} is not built: {build}"
	assert (SITE.sites_path / built.lstrip("/")).is_file(), f"{built} is missing: {build}"
