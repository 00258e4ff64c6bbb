"""Whether the browser layer can run here, and why not.

It needs what the integration layer needs (a bench and its site, see integration/site.py; frappe
importable), plus Playwright for Python in the same environment and a Chromium (Debian's `chromium`):
  OP_CHROMIUM       the browser executable (default /usr/bin/chromium)
  OP_SKIP_BROWSER   set to 1 to skip the layer even when it could run
Never imports frappe or playwright, so the core layer runs without them.
"""

import importlib.util
import os
import sys
from pathlib import Path

from opportunity_plus.tests.integration.site import SiteConfig, locate

CHROMIUM = Path(os.environ.get("OP_CHROMIUM") or "/usr/bin/chromium")
# In the artifacts folder: the known upstream errors the layer tolerated (see desk.py).
KNOWN_ISSUES_LOG = "known-issues.log"


def locate_browser_layer() -> tuple[SiteConfig | None, str]:
	"""The site to test and an empty reason, or None and the reason the layer cannot run."""
	if os.environ.get("OP_SKIP_BROWSER", "").strip() not in ("", "0"):
		return None, "OP_SKIP_BROWSER is set"
	site, reason = locate()
	if site is None:
		return None, reason.replace("the integration layer", "the integration and browser layers")
	if importlib.util.find_spec("playwright") is None:
		return None, (
			f"Playwright for Python is not importable from {sys.executable}; install it into that "
			"environment (`uv pip install --python PYTHON playwright`, as .ci/run does; no `playwright "
			"install`: the layer drives the system's Chromium)"
		)
	if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
		return None, f"no Chromium at {CHROMIUM}: `apt-get install chromium`, or set OP_CHROMIUM"
	return site, ""


SITE, SKIP_REASON = locate_browser_layer()
