"""`--site` and `--company` for every benchmark script, and connecting to them; `--stock-site` for the
scripts that compare with stock ERPNext.

`--site` defaults to the bench's default site: `sites/currentsite.txt` (written by `bench use SITE`), else
`default_site` in `sites/common_site_config.json`. `--company` defaults to the site's default company
(Global Defaults, as ERPNext's setup wizard leaves it), else its only company. The scripts run from the
bench's `sites` folder, so both files are read from the working directory.
"""

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import frappe


def add_arguments(parser: argparse.ArgumentParser) -> None:
	parser.add_argument(
		"--site",
		help="the site (default: the bench's default site, sites/currentsite.txt or common_site_config.json)",
	)
	parser.add_argument("--company", help="the company (default: the site's default company)")


def default_site(sites_path: Path = Path(".")) -> str | None:
	current = sites_path / "currentsite.txt"
	if current.is_file() and current.read_text().strip():
		return current.read_text().strip()
	common = sites_path / "common_site_config.json"
	if common.is_file():
		return json.loads(common.read_text() or "{}").get("default_site")
	return None


def connect(args: argparse.Namespace) -> None:
	"""Connect to the chosen site as Administrator; settle `args.site` and `args.company` (exits with the
	reason when either cannot be found)."""
	site = args.site or default_site()
	if not site:
		sys.exit("No site: pass --site, or set the bench's default site with `bench use SITE`.")
	if not (Path(site) / "site_config.json").is_file():
		sys.exit(f"Site {site!r} not found in {Path.cwd()}: run from the bench's sites folder.")
	frappe.init(site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	args.site = site
	company = getattr(args, "company", None)
	if company:
		if not frappe.db.exists("Company", company):
			frappe.destroy()
			sys.exit(f"No company {company!r} on {site}.")
	else:
		company = default_company(site)
	args.company = company


def default_company(site: str) -> str:
	default = frappe.db.get_single_value("Global Defaults", "default_company")
	if default and frappe.db.exists("Company", default):
		return default
	companies = frappe.get_all("Company", pluck="name", order_by="creation asc")
	if len(companies) == 1:
		return companies[0]
	frappe.destroy()
	if not companies:
		sys.exit(f"{site} has no company: complete ERPNext's setup wizard first.")
	sys.exit(f"{site} has no default company: pass --company (one of: {', '.join(companies)}).")


def add_stock_site_argument(parser: argparse.ArgumentParser) -> None:
	parser.add_argument(
		"--stock-site",
		help="a site of this bench with ERPNext and without opportunity_plus: stock ERPNext to compare with "
		"(default: the first such site)",
	)


@contextmanager
def connected(site: str):
	"""Connected to `site` as Administrator for the block; rolled back and disconnected after it."""
	frappe.init(site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	try:
		yield
	finally:
		frappe.db.rollback()
		frappe.destroy()


def find_stock_site(app_site: str) -> str | None:
	"""A site of this bench with ERPNext and without the app (the first by name)."""
	for path in sorted(Path(".").iterdir()):
		if path.name == app_site or not (path / "site_config.json").is_file():
			continue
		try:
			with connected(path.name):
				apps = frappe.get_installed_apps()
		except Exception:
			continue
		if "erpnext" in apps and "opportunity_plus" not in apps:
			return path.name
	return None


def stock_site(args: argparse.Namespace) -> str:
	"""`--stock-site`, else the first site of the bench with ERPNext and without the app; exits with the
	reason when there is none."""
	site = args.stock_site or find_stock_site(args.site)
	if not site or not (Path(site) / "site_config.json").is_file():
		sys.exit(
			"No stock site: create a site with ERPNext (setup wizard done) and without opportunity_plus on "
			"this bench, and pass it with --stock-site."
		)
	with connected(site):
		if "opportunity_plus" in frappe.get_installed_apps():
			sys.exit(f"{site} has opportunity_plus installed: the stock site must not.")
	return site
