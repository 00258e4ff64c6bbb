"""The browser layer's web server: Frappe's WSGI app with its static files, on 127.0.0.1 only.

Run by the layer with the bench's Python from the bench's `sites` folder:

    python serve.py SITE PORT

It differs from `bench serve` in what only this process sees, never in the site's files:
- it listens on 127.0.0.1 (bench serve listens on every interface), without reloader or debugger;
- the site config gains `disable_async`: the bench runs no socket.io server, and the desk would log a
  failed connection on every page; Frappe's desk skips socket.io when the boot says `disable_async`;
- and `disable_session_cache`, so each page's boot is built by this process (a boot cached by another
  server of the site would not carry `disable_async`).
At start it drops the site's cached form meta: outside developer mode Frappe caches each doctype's form,
list and calendar scripts (doctype_js...) with it, and the desk would run the scripts of the last
migrate instead of the checkout's.
"""

import logging
import sys

import frappe
import frappe.app
from werkzeug.serving import run_simple

TEST_SERVER_CONFIG = {"disable_async": 1, "disable_session_cache": 1}


def main(argv: list[str]) -> int:
	if len(argv) != 3:
		print(__doc__, file=sys.stderr)
		return 2
	site, port = argv[1], int(argv[2])

	site_config = frappe.get_site_config

	def test_server_site_config(*args, **kwargs):
		return frappe._dict({**site_config(*args, **kwargs), **TEST_SERVER_CONFIG})

	# frappe.init() looks get_site_config up in its module on every request
	frappe.get_site_config = test_server_site_config

	forget_cached_form_scripts(site)
	frappe.app._site = site
	frappe.app._sites_path = "."
	# one line per request would drown the test output; errors still show
	logging.getLogger("werkzeug").setLevel(logging.ERROR)
	run_simple(
		"127.0.0.1",
		port,
		frappe.app.application_with_statics(),
		threaded=True,
		use_reloader=False,
		use_debugger=False,
	)
	return 0


def forget_cached_form_scripts(site: str) -> None:
	frappe.init(site=site, sites_path=".")
	try:
		frappe.cache.delete_key("doctype_form_meta")
	finally:
		frappe.destroy()


if __name__ == "__main__":
	sys.exit(main(sys.argv))
