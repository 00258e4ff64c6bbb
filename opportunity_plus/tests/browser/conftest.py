"""The browser layer: a real Chromium, driven by Playwright, opens the desk as a Sales User and as a
Sales Manager and fails on any failed API call, console error, uncaught page error or error dialog.

For the session it
- creates committed data (fixture.py, in a subprocess: the test server is another process and sees only
  committed rows), and removes it at the end, also when a test failed;
- serves the site on 127.0.0.1 with Frappe's WSGI app (serve.py) on a free port;
- saves a full-page screenshot of every page it opens, per role, plus the server's log, in
  $OP_BROWSER_ARTIFACTS or /tmp/opportunity_plus-browser/<timestamp>/ (printed at the end of the run).

It skips itself with one stated reason where it cannot run (see layer.py).
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from opportunity_plus.tests.browser.layer import CHROMIUM, KNOWN_ISSUES_LOG, SITE, SKIP_REASON

HERE = Path(__file__).parent
ROLES = ("Sales User", "Sales Manager")
CHROMIUM_ARGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	# Frappe plays a sound with its error dialogs; without a click first the browser refuses it with an
	# uncaught page error of its own, which would hide the real one.
	"--autoplay-policy=no-user-gesture-required",
]
SERVER_START_TIMEOUT = 120
FIXTURE_TIMEOUT = 600

if SITE is None:
	# Only the sentinel (test_00_browser.py) is collected: it reports the reason as one skip.
	collect_ignore_glob = ["test_[!0]*.py"]

_artifacts: list[Path] = []


def pytest_terminal_summary(terminalreporter):
	if _artifacts:
		terminalreporter.write_sep("-", "browser layer")
		terminalreporter.write_line(f"screenshots and server log: {_artifacts[0]}")
		known = _artifacts[0] / KNOWN_ISSUES_LOG
		if known.is_file():
			count = len(known.read_text().splitlines())
			terminalreporter.write_line(f"{count} known upstream error(s) tolerated, listed in {known}")


@pytest.fixture(scope="package")
def artifacts() -> Path:
	folder = Path(
		os.environ.get("OP_BROWSER_ARTIFACTS")
		or Path("/tmp/opportunity_plus-browser") / datetime.now().strftime("%Y%m%d-%H%M%S")
	)
	folder.mkdir(parents=True, exist_ok=True)
	_artifacts[:] = [folder]
	return folder


@pytest.fixture(scope="package")
def server_process(artifacts):
	"""The test server, started first: it boots while the fixture data is written."""
	port = _free_port()
	log = (artifacts / "server.log").open("w")
	process = subprocess.Popen(
		[sys.executable, str(HERE / "serve.py"), SITE.site, str(port)],
		cwd=SITE.sites_path,
		stdout=log,
		stderr=subprocess.STDOUT,
	)
	try:
		yield process, f"http://127.0.0.1:{port}", artifacts / "server.log"
	finally:
		process.terminate()
		try:
			process.wait(timeout=15)
		except subprocess.TimeoutExpired:
			process.kill()
			process.wait()
		log.close()


@pytest.fixture(scope="package")
def opb(server_process, artifacts) -> dict:
	"""The committed fixture data (names by purpose, see fixture.py) and the test users' password."""
	password = f"Opb-{secrets.token_urlsafe(12)}-9a"
	try:
		output = _run_fixture("setup", artifacts, password)
		data = next(
			json.loads(line.split(":", 1)[1])
			for line in output.splitlines()
			if line.startswith("OPB-FIXTURE-JSON:")
		)
		data["password"] = password
		yield data
	finally:
		_run_fixture("teardown", artifacts, password)


@pytest.fixture(scope="package")
def base_url(server_process, opb) -> str:
	process, url, log_path = server_process
	deadline = time.monotonic() + SERVER_START_TIMEOUT
	while True:
		if process.poll() is not None:
			pytest.fail(f"the test server exited ({process.returncode}):\n{_tail(log_path)}")
		try:
			with urllib.request.urlopen(f"{url}/api/method/ping", timeout=5) as response:
				if response.status == 200:
					return url
		except OSError:
			pass
		if time.monotonic() > deadline:
			pytest.fail(f"the test server did not answer in {SERVER_START_TIMEOUT} s:\n{_tail(log_path)}")
		time.sleep(0.5)


@pytest.fixture(scope="package")
def browser():
	from playwright.sync_api import sync_playwright

	with sync_playwright() as playwright:
		chromium = playwright.chromium.launch(
			executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
		)
		try:
			yield chromium
		finally:
			chromium.close()


@pytest.fixture(scope="package", params=ROLES, ids=lambda role: role.lower().replace(" ", "-"))
def desk(request, opb, base_url, browser, artifacts):
	"""The desk as one role, logged in through Frappe's login method; one browser context per role."""
	from opportunity_plus.tests.browser.desk import VIEWPORT, Desk

	role = request.param
	context = browser.new_context(viewport=VIEWPORT, locale="en-US")
	desk = Desk(context, base_url, role, artifacts)
	try:
		desk.login(opb["users"][role], opb["password"])
		yield desk
	finally:
		desk.close()


def _run_fixture(command: str, artifacts: Path, password: str) -> str:
	env = {**os.environ, "OP_BROWSER_PASSWORD": password}
	result = subprocess.run(
		[sys.executable, str(HERE / "fixture.py"), command, SITE.site],
		cwd=SITE.sites_path,
		env=env,
		capture_output=True,
		text=True,
		timeout=FIXTURE_TIMEOUT,
	)
	log = artifacts / f"fixture-{command}.log"
	log.write_text(result.stdout + result.stderr)
	if result.returncode:
		pytest.fail(
			f"browser fixture `{command}` failed ({result.returncode}); log {log}:\n"
			+ "\n".join((result.stderr or result.stdout).strip().splitlines()[-25:])
		)
	return result.stdout


def _free_port() -> int:
	with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
		probe.bind(("127.0.0.1", 0))
		return probe.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
	try:
		return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
	except OSError:
		return "(no log)"
