"""One role's desk in the test browser: opens pages, waits for the desk to settle, and turns whatever went
wrong on a page into one readable failure.

A test runs its pages as steps:

	with desk.step("Opportunity list"):
		desk.open("/app/opportunity")
		...checks (plain asserts)...
	desk.raise_failures()

Each step ends with a full-page screenshot and fails on: a response of /api/ with status >= 400, a
console message of type error, an uncaught page error, a Frappe message dialog that reports an error (red
indicator, an error title, or a traceback), or a failed check. A failed step does not stop the next ones;
`raise_failures` reports them all with role, page, what happened and the screenshot.
"""

import json
import re
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from playwright.sync_api import BrowserContext, Page, Response

from opportunity_plus.tests.browser.layer import KNOWN_ISSUES_LOG

PROBE_SCRIPT = Path(__file__).with_name("desk_probe.js")
# Errors of Frappe's own libraries, none of the app's doing, tolerated by their exact signature (message
# and the frame that threw) and listed in known-issues.log instead of failing the step:
# - frappe-charts (bundled in desk.bundle.js) redraws a chart from its ResizeObserver while the chart's
#   first draw is still under way and throws from removeChild; the chart is drawn all the same. It hits
#   about one workspace load in four; other apps report the same stack (frappe-charts boundDrawFn).
KNOWN_UPSTREAM_PAGE_ERRORS = (("Failed to execute 'removeChild' on 'Node'", "ResizeObserver.boundDrawFn"),)
ERROR_TITLES = ("error", "not permitted", "permission error", "server error", "exception")
# The desk is idle when no frappe.call is pending and nothing is frozen for this long.
QUIET_MS = 400
STEP_TIMEOUT_MS = 20_000
VIEWPORT = {"width": 1440, "height": 900}


class Desk:
	def __init__(self, context: BrowserContext, base_url: str, role: str, artifacts: Path):
		self.context = context
		self.base_url = base_url
		self.role = role
		self.artifacts = artifacts
		self.failures: list[str] = []
		self.screenshots: list[Path] = []
		self._slug = slug(role)
		self.user = None
		self._reset()
		context.add_init_script(path=str(PROBE_SCRIPT))
		self.page: Page = context.new_page()
		self.page.set_default_timeout(STEP_TIMEOUT_MS)
		self.page.on("response", self._on_response)
		self.page.on("requestfailed", self._on_request_failed)
		self.page.on("console", self._on_console)
		self.page.on("pageerror", self._on_page_error)

	# --- session -------------------------------------------------------------------------------------

	def login(self, user: str, password: str) -> None:
		"""Frappe's login method in this browser context: the session cookie serves every page after."""
		response = self.context.request.post(
			f"{self.base_url}/api/method/login", form={"usr": user, "pwd": password}
		)
		assert response.ok, f"[{self.role}] login as {user} failed: {response.status} {response.text()[:300]}"
		self.user = user

	def close(self) -> None:
		self.context.close()

	# --- navigation ----------------------------------------------------------------------------------

	def open(self, path: str) -> None:
		"""Load a desk route (a full page load, so each page starts from a fresh desk) and wait until the
		desk has booted, rendered the route and answered all its calls."""
		self._harvest_messages()
		self.page.goto(self.base_url + path, wait_until="domcontentloaded")
		self.wait_for(
			"() => window.frappe && frappe.boot && frappe.boot.user && frappe.request"
			" && frappe.container && frappe.container.page",
			f"the desk to boot and show {path}",
		)
		self.page.wait_for_load_state("networkidle")
		self.settle()
		user = self.page.evaluate("() => frappe.session.user")
		assert user == self.user, f"the desk runs as {user}, not {self.user}: the login did not hold"

	def settle(self, timeout: int = STEP_TIMEOUT_MS) -> None:
		"""Wait until no frappe.call is pending and the desk is not frozen (frappe.dom.freeze) for a moment."""
		self.page.evaluate("() => { window.__opb_busy_at = Date.now(); }")
		self.page.wait_for_function(
			"""(quiet_ms) => {
				const busy = !window.frappe || !frappe.request || frappe.request.ajax_count > 0
					|| (frappe.dom && frappe.dom.freeze_count > 0);
				if (busy) { window.__opb_busy_at = Date.now(); return false; }
				return Date.now() - window.__opb_busy_at >= quiet_ms;
			}""",
			arg=QUIET_MS,
			polling=100,
			timeout=timeout,
		)

	def wait_for(self, predicate: str, description: str, arg=None, timeout: int = STEP_TIMEOUT_MS):
		"""Wait for a JavaScript predicate; a timeout says what was awaited."""
		try:
			return self.page.wait_for_function(predicate, arg=arg, timeout=timeout)
		except Exception as error:
			raise AssertionError(
				f"timed out after {timeout / 1000:.0f} s waiting for {description}"
			) from error

	def js(self, expression: str, arg=None):
		return self.page.evaluate(expression, arg)

	def api_get(self, path: str) -> dict:
		"""GET the site's REST API as this role (the browser context's session)."""
		response = self.context.request.get(self.base_url + path)
		assert response.ok, f"GET {path} as {self.role}: {response.status} {response.text()[:300]}"
		return response.json()

	# --- steps ---------------------------------------------------------------------------------------

	@contextmanager
	def step(self, name: str):
		"""Run one page's actions and checks; record (not raise) what went wrong, with a screenshot."""
		self._reset()
		error = None
		try:
			yield
		except Exception as raised:
			error = raised
		try:
			self.settle(timeout=10_000)
		except Exception:
			pass  # a page that never settles has already failed, or fails below for what it showed
		problems = self._problems()
		screenshot = self.screenshot(name)
		if error is not None:
			problems.append(f"check failed: {describe_error(error)}")
		if problems:
			listing = "\n".join(f"  - {problem}" for problem in problems)
			self.failures.append(
				f"[{self.role}] {name}: {len(problems)} problem(s) on {self._where()}\n"
				f"{listing}\n  screenshot: {screenshot}"
			)

	def raise_failures(self) -> None:
		failures, self.failures = self.failures, []
		if failures:
			raise AssertionError("\n\n".join(failures))

	def screenshot(self, name: str) -> Path:
		path = self.artifacts / f"{self._slug}-{len(self.screenshots) + 1:02d}-{slug(name)}.png"
		try:
			# from the top: a full-page shot of a scrolled desk repeats its sticky header mid-page
			self.page.evaluate("() => window.scrollTo(0, 0)")
			self.page.screenshot(path=str(path), full_page=True)
		except Exception as error:
			return Path(f"{path} (not saved: {describe_error(error)})")
		self.screenshots.append(path)
		return path

	# --- what went wrong -----------------------------------------------------------------------------

	def _reset(self) -> None:
		self._responses: list[Response] = []
		self._request_failures: list[str] = []
		self._console_errors: list[tuple[str, str]] = []
		self._page_errors: list[str] = []
		self._messages: list[dict] = []

	def _on_response(self, response: Response) -> None:
		if response.status >= 400 and urlsplit(response.url).path.startswith("/api/"):
			self._responses.append(response)

	def _on_request_failed(self, request) -> None:
		# a call cut off by the next page load is not a failure of the page
		if urlsplit(request.url).path.startswith("/api/") and "ERR_ABORTED" not in (request.failure or ""):
			self._request_failures.append(f"{request.method} {short_url(request.url)}: {request.failure}")

	def _on_console(self, message) -> None:
		if message.type == "error":
			self._console_errors.append((message.text, (message.location or {}).get("url", "")))

	def _on_page_error(self, error) -> None:
		# the message, and where it was thrown (the first frames of its stack)
		message = str(getattr(error, "message", "") or error)
		frames = [line.strip() for line in (getattr(error, "stack", "") or "").splitlines() if "at " in line]
		where = f" ({' < '.join(frames[:3])})" if frames else ""
		if any(text in message and frame in where for text, frame in KNOWN_UPSTREAM_PAGE_ERRORS):
			with (self.artifacts / KNOWN_ISSUES_LOG).open("a") as log:
				log.write(f"[{self.role}] {self._where()}: page error (tolerated): {clip(message + where)}\n")
			return
		self._page_errors.append(describe_error(message) + where)

	def _harvest_messages(self) -> None:
		"""Take the message dialogs recorded by desk_probe.js before the page (and its record) goes."""
		try:
			self._messages.extend(self.page.evaluate("() => (window.__opb_messages || []).splice(0)"))
		except Exception:
			pass  # no desk on the page (yet)

	def _problems(self) -> list[str]:
		problems = []
		failed_urls = set()
		for response in self._responses:
			failed_urls.add(response.url)
			problems.append(
				f"API {response.request.method} {short_url(response.url)} -> {response.status}: "
				f"{response_summary(response)}"
			)
		problems.extend(f"API request failed: {failure}" for failure in self._request_failures)
		for text, url in self._console_errors:
			# the browser's own line for a failed call already listed above
			if text.startswith("Failed to load resource") and url in failed_urls:
				continue
			problems.append(f"console error: {clip(last_lines(text))}")
		problems.extend(f"page error (uncaught): {clip(error)}" for error in self._page_errors)
		self._harvest_messages()
		seen = set()
		for message in self._messages:
			key = (message.get("title"), message.get("indicator"), message.get("message"))
			if key in seen or not is_error_message(message):
				continue
			seen.add(key)
			problems.append(
				f'error dialog "{message.get("title") or "(no title)"}" ({message.get("indicator")}) on '
				f'{message.get("route")}: {clip(message.get("message", ""))}'
			)
		problems.extend(self._visible_error_dialogs(seen))
		return problems

	def _visible_error_dialogs(self, already_listed: set) -> list[str]:
		"""Modal dialogs still open that show an error (also ones not made by frappe.msgprint)."""
		try:
			dialogs = self.page.evaluate(
				"""() => [...document.querySelectorAll('.modal')]
					.filter((modal) => modal.offsetParent !== null || getComputedStyle(modal).display === 'block')
					.map((modal) => ({
						title: (modal.querySelector('.modal-title') || {}).innerText || '',
						indicator: ((modal.querySelector('.modal-header .indicator') || {}).className || '')
							.replace('indicator', '').trim(),
						message: ((modal.querySelector('.modal-body') || {}).innerText || '').slice(0, 2000),
					}))"""
			)
		except Exception:
			return []
		problems = []
		listed_texts = {key[2] for key in already_listed}
		for dialog in dialogs:
			if dialog["message"].strip() in listed_texts or not is_error_message(dialog):
				continue
			problems.append(
				f'error dialog still open "{dialog["title"] or "(no title)"}": {clip(dialog["message"])}'
			)
		return problems

	def _where(self) -> str:
		try:
			return unquote(urlsplit(self.page.url).path)
		except Exception:
			return "(no page)"


def is_error_message(message: dict) -> bool:
	title = (message.get("title") or "").strip().lower()
	text = message.get("message") or ""
	return (
		"red" in (message.get("indicator") or "").split()
		or any(word in title for word in ERROR_TITLES)
		or "Traceback (most recent call last)" in text
	)


def response_summary(response: Response) -> str:
	"""The server's error in one line: its exception, else its messages, else the start of the body."""
	try:
		body = response.text()
	except Exception as error:
		return f"(body not available: {describe_error(error)})"
	try:
		data = json.loads(body)
	except ValueError:
		return clip(body, 300)
	if not isinstance(data, dict):
		return clip(body, 300)
	parts = []
	if data.get("exception"):
		parts.append(str(data["exception"]))
	elif data.get("exc"):
		try:
			trace = json.loads(data["exc"])[0]
		except (ValueError, IndexError, TypeError):
			trace = str(data["exc"])
		parts.append(trace.strip().splitlines()[-1])
	if data.get("_server_messages"):
		try:
			for raw in json.loads(data["_server_messages"]):
				message = json.loads(raw).get("message", raw) if raw.startswith("{") else raw
				text = re.sub(r"<[^>]+>", "", str(message))
				if text not in " ".join(parts):
					parts.append(text)
		except (ValueError, TypeError, AttributeError):
			parts.append(str(data["_server_messages"]))
	return clip(" | ".join(parts) or body, 600)


def describe_error(error: BaseException | str) -> str:
	if isinstance(error, str):
		return error
	text = str(error).strip() or error.__class__.__name__
	# pytest's assertion rewriting appends its introspection ("assert ... where ..."): the message says it
	text = text.split("\nassert ")[0]
	# Playwright's call logs repeat the selector many times: keep the first lines
	return clip(f"{error.__class__.__name__}: {text}" if isinstance(error, AssertionError) else text, 800)


def short_url(url: str) -> str:
	parts = urlsplit(url)
	query = re.sub(r"(^|&)_=\d+", "", parts.query).strip("&")
	return clip(unquote(parts.path + (f"?{query}" if query else "")), 200)


def last_lines(text: str) -> str:
	"""A Python traceback (the desk logs the server's) by its innermost frame and its error."""
	if "Traceback (most recent call last)" not in text:
		return text
	lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
	frames = [line for line in lines if line.startswith("File ")]
	where = f"{frames[-1]} ... " if frames else ""
	return f"Traceback ... {where}{lines[-1]}"


def clip(text: str, limit: int = 600) -> str:
	text = " ".join(str(text).split())
	return text if len(text) <= limit else text[: limit - 3] + "..."


def slug(text: str) -> str:
	return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
