"""Where the integration layer finds its site.

Defaults to the development bench at ~/frappe-bench and its default site; environment variables
override:
  OP_BENCH_PATH        the bench folder (default ~/frappe-bench)
  OP_SITES_PATH        its sites folder (default $OP_BENCH_PATH/sites)
  OP_SITE              the site (default: sites/currentsite.txt, else default_site in common_site_config.json)
  OP_SKIP_INTEGRATION  set to 1 to skip the layer even when a site is there
This module never imports frappe at import time, so the unit layer runs without it.
"""

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SiteConfig:
	sites_path: Path
	site: str


def locate() -> tuple[SiteConfig | None, str]:
	"""The configured site, or None and the reason the integration layer cannot run."""
	if os.environ.get("OP_SKIP_INTEGRATION", "").strip() not in ("", "0"):
		return None, "OP_SKIP_INTEGRATION is set"
	bench = Path(os.environ.get("OP_BENCH_PATH") or Path.home() / "frappe-bench").expanduser()
	sites_path = Path(os.environ.get("OP_SITES_PATH") or bench / "sites").expanduser()
	if not sites_path.is_dir():
		return None, (
			f"no Frappe bench: {sites_path} does not exist "
			"(set OP_BENCH_PATH, or OP_SITES_PATH and OP_SITE, to run the integration layer)"
		)
	site = os.environ.get("OP_SITE") or _default_site(sites_path)
	if not site:
		return None, f"no site chosen: set OP_SITE or run `bench use SITE` in {sites_path.parent}"
	if not (sites_path / site / "site_config.json").is_file():
		return None, f"site {site!r} not found in {sites_path}"
	if importlib.util.find_spec("frappe") is None:
		return None, (
			f"frappe is not importable from {sys.executable}; run the tests with the bench's Python: "
			f"{sites_path.parent / 'env' / 'bin' / 'python'} -m pytest"
		)
	return SiteConfig(sites_path=sites_path.resolve(), site=site), ""


def _default_site(sites_path: Path) -> str | None:
	current = sites_path / "currentsite.txt"
	if current.is_file() and current.read_text().strip():
		return current.read_text().strip()
	common = sites_path / "common_site_config.json"
	if common.is_file():
		return json.loads(common.read_text() or "{}").get("default_site")
	return None
