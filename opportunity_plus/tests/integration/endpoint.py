"""Calling whitelisted methods the way `/api/method/<path>` does, inside the test's transaction.

`call` runs Frappe's own request handler (`frappe.handler.execute_cmd`: the override_whitelisted_methods
hook, the whitelist and HTTP-method checks, type validation of the arguments, the method) as a user, and
turns an exception into the HTTP status frappe.app would answer with. A real HTTP round trip would run in
another connection and commit; this keeps every write in the test's transaction, so it is rolled back.
"""

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import frappe
import frappe.handler
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import opportunity_plus


@dataclass
class Answer:
	status: int
	result: Any = None
	exception: BaseException | None = None
	message: str = ""
	# what `observe` returned once the method had run, before a failed call's writes were rolled back
	observed: Any = None


def call(
	method: str,
	args: dict | None = None,
	*,
	user: str = "Administrator",
	http: str = "GET",
	observe: Callable[[], Any] | None = None,
) -> Answer:
	"""`observe` (optional) runs right after the method, as the caller, before a failure is rolled back:
	e.g. to count what a refused call wrote before it was refused."""
	previous_user = frappe.session.user
	previous_request = getattr(frappe.local, "request", None)
	previous_form = frappe.local.form_dict
	frappe.set_user(user)
	frappe.local.request = Request(EnvironBuilder(method=http, path=f"/api/method/{method}").get_environ())
	frappe.local.form_dict = frappe._dict(args or {})
	frappe.local.message_log = []
	frappe.db.savepoint("op_endpoint_call")
	try:
		result = frappe.handler.execute_cmd(method)
		return Answer(200, result=result, observed=observe() if observe else None)
	except Exception as error:
		observed = observe() if observe else None
		# Like frappe.app.handle_exception: a write the failed call made is not kept.
		frappe.db.rollback(save_point="op_endpoint_call")
		status = getattr(error, "http_status_code", None) or 500
		return Answer(status, exception=error, message=_messages() or str(error), observed=observed)
	finally:
		frappe.local.form_dict = previous_form
		frappe.local.request = previous_request
		frappe.set_user(previous_user)


def _messages() -> str:
	texts = []
	for entry in frappe.local.message_log or []:
		entry = frappe.parse_json(entry) if isinstance(entry, str) else entry
		texts.append(str(entry.get("message") if isinstance(entry, dict) else entry))
	return " | ".join(texts)


def app_methods() -> list[str]:
	"""Dotted paths of every whitelisted function of this app (as Frappe registered them)."""
	_import_app_modules()
	return sorted(
		f"{fn.__module__}.{fn.__name__}"
		for fn in frappe.whitelisted
		if getattr(fn, "__module__", "").startswith("opportunity_plus.") and ".tests." not in fn.__module__
	)


def app_reports() -> list[str]:
	return sorted(frappe.get_all("Report", filters={"module": "Opportunity Plus"}, pluck="name"))


def _import_app_modules() -> None:
	"""Whitelisting happens at import: import every module of the app but its tests and patches."""
	for info in pkgutil.walk_packages(opportunity_plus.__path__, "opportunity_plus."):
		if ".tests" in info.name or ".patches" in info.name:
			continue
		importlib.import_module(info.name)
