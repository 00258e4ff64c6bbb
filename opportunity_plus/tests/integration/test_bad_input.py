"""Bad input to any endpoint of the app gets a clear 4xx and writes nothing; never a 500.

The endpoints are discovered (every whitelisted function of the app, `endpoint.app_methods`), and their
parameters from their signatures, so a new endpoint is covered without editing this test. Each parameter
gets the bad values that suit its type hint and name (wrong types, empty, unknown names, malformed and
absurd dates, huge and negative numbers, 10 kB strings, SQL and HTML fragments) while the others stay
valid; each call goes through Frappe's request handler as Administrator and as a Sales User. The answer
must be a 4xx whose message is a sentence, not a Python error, that shows no HTML it was sent, and the call
must neither commit nor leave a row in the tables the app's methods write (counted before the handler
rolls the failed call back: a method checks its input before it writes).

A few parameters are free text, where an unknown name, SQL or HTML is a value like any other (a deal
name); ACCEPTED lists them, each with its reason. Anything else that answers 2xx to a bad value fails.
"""

import inspect
import json
import re
import types
import typing
from dataclasses import dataclass, field
from unittest.mock import patch

import frappe
from frappe.model.document import Document
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, nowdate, random_string

from opportunity_plus.pipeline import default_pipeline, ordered_stages
from opportunity_plus.tests.integration import endpoint, factories

# The tables the app's methods write (directly or through the documents they save).
TABLES = (
	"Opportunity",
	"Opportunity Item",
	"Opportunity History",
	"Opportunity Lost Reason",
	"Quotation",
	"Supplier Quotation",
	"Request for Quotation",
	"Customer",
	"Lead",
	"ToDo",
	"Event",
	"Comment",
	"Communication",
	"Notification Log",
	"Version",
	"Forecast Submission",
	"Forecast Snapshot",
)
# What a message must never read like: a Python or database error leaking through.
RAW_ERRORS = (
	"Traceback",
	"OperationalError",
	"ProgrammingError",
	"DataError",
	"IntegrityError",
	"InternalError",
	"TypeError",
	"ValueError",
	"KeyError",
	"AttributeError",
	"OverflowError",
	"not enough arguments",
	"object has no attribute",
	"unhashable",
	"Out of range",
	"You have an error in your SQL syntax",
)
HTML_SENT = "<img src=x onerror=alert(1)>"
UNKNOWN = "OP-NO-SUCH-NAME-7f3a"

# Bad values, by kind. Each parameter gets the kinds that suit it (bad_values).
TEXT_VALUES = {
	"list": ["a", "b"],
	"dict": {"a": "b"},
	"number": 12345,
	"huge_number": 1e30,
	"negative": -5,
	"unknown": UNKNOWN,
	"sql": "x' OR '1'='1",
	"sql_statement": "1); DROP TABLE `tabOpportunity`; --",
	"html": HTML_SENT,
	"ten_kb": "x" * 10_000,
}
DATE_VALUES = {
	"garbage_date": "garbage",
	"impossible_date": "2026-13-45",
	"february_30": "2026-02-30",
	"digits_as_date": "99999999999",
	"number_as_date": 99999999999,
	"zero_date": "0000-00-00",
	"five_digit_year": "12345-01-01",
	"year_9999": "9999-12-31",
	"year_1": "0001-01-01",
	"words_as_date": "next tuesday",
}
NUMBER_VALUES = {
	"text": "abc",
	"huge_number": 1e30,
	"huge_digits": "9" * 40,
	"negative": -5,
	"not_a_number": float("nan"),
	"list": [1, 2],
	"dict": {"a": 1},
}
FLAG_VALUES = {
	"text": "garbage",
	"two": 2,
	"negative": -5,
	"huge_number": 1e30,
	"list": [1],
	"dict": {"a": 1},
}
JSON_VALUES = {
	"list_value": {"territory": ["a", "b"]},
	"dict_value": {"territory": {"a": 1}},
	"unknown_field": {"no_such_field": "x"},
	"unknown_value": {"territory": UNKNOWN},
	"ten_kb_value": {"territory": "x" * 10_000},
	"sql_value": {"territory": "x' OR '1'='1"},
	"html_value": {"status": HTML_SENT},
	"not_json": "{not json",
	"json_text": '["a"]',
	"number": 12345,
	"html": HTML_SENT,
}

# (method name, or "*" for any; parameter) -> kinds a method may accept with 2xx, and why.
FREE_TEXT = {"unknown", "sql", "sql_statement", "html"}
ACCEPTED = {
	# a deal may be called anything; it is stored and shown as text (Frappe escapes it in the desk)
	("*", "deal_name"): FREE_TEXT,
	("*", "detailed_reason"): FREE_TEXT | {"ten_kb"},
	# search text: anything may be searched for, and finds nothing
	("search_stages", "txt"): FREE_TEXT,
	# a link field's filters: a Sales Stage has nothing to filter by, so any object or list is ignored
	("search_stages", "filters"): {
		"list_value",
		"dict_value",
		"unknown_field",
		"unknown_value",
		"ten_kb_value",
		"sql_value",
		"html_value",
		"json_text",
		"list",
		"dict",
	},
	# what the desk's calendar sends besides the window: checked for shape only, the method has its own
	("get_calendar_events", "field_map"): {
		"list_value",
		"dict_value",
		"unknown_field",
		"unknown_value",
		"ten_kb_value",
		"sql_value",
		"html_value",
		"dict",
	},
	("get_calendar_events", "fields"): {"json_text", "list"},
	# list-view filters, as in the list view: a value that matches nothing shows nothing
	("get_calendar_events", "filters"): {"unknown_value", "sql_value", "html_value"},
}

DATE_NAMES = ("date", "closing", "start", "end", "till", "from", "to")


@dataclass
class Context:
	company: str
	opportunity: str
	lead: str
	stage: str
	lost_reason: str
	supplier: str
	user: str
	values: dict = field(default_factory=dict)


def make_context() -> Context:
	user = factories.sales_user()
	deal = factories.opportunity(
		items=[{"item_code": factories.item(), "qty": 2, "rate": 50}],
		expected_closing=add_days(nowdate(), 30),
	)
	stage = next(
		stage.name for stage in ordered_stages() if stage.kind == "Open" and stage.name != deal.sales_stage
	)
	reason = frappe.get_doc(
		{"doctype": "Opportunity Lost Reason", "lost_reason": f"OP Bad Input {random_string(6)}"}
	).insert(ignore_permissions=True)
	supplier = frappe.get_doc(
		{
			"doctype": "Supplier",
			"supplier_name": f"OP Bad Input Supplier {random_string(6)}",
			"supplier_group": frappe.db.get_value("Supplier Group", {"is_group": 0}) or "All Supplier Groups",
		}
	).insert(ignore_permissions=True)
	ctx = Context(
		company=factories.company(),
		opportunity=deal.name,
		lead=factories.lead(),
		stage=stage,
		lost_reason=reason.name,
		supplier=supplier.name,
		user=user,
	)
	later = add_days(nowdate(), 3)
	ctx.values = {
		"opportunity": ctx.opportunity,
		"source_name": ctx.opportunity,
		"lead": ctx.lead,
		"company": ctx.company,
		"stage": ctx.stage,
		"sales_stage": ctx.stage,
		"lost_reasons": [ctx.lost_reason],
		"suppliers": [ctx.supplier],
		"supplier": ctx.supplier,
		"user": ctx.user,
		"next_contact_by": ctx.user,
		"next_contact_date": f"{later} 10:00:00",
		"start": f"{nowdate()} 00:00:00",
		"end": f"{add_days(nowdate(), 30)} 00:00:00",
		"from_date": nowdate(),
		"to_date": add_days(nowdate(), 30),
		"till_date": add_days(nowdate(), 30),
		"expected_closing": add_days(nowdate(), 30),
		# the readers' Sales Pipeline filter
		"pipeline": default_pipeline(),
	}
	return ctx


# --- discovery ---------------------------------------------------------------------------------------


def function_of(method: str):
	return frappe.get_attr(method)


def parameters(method: str) -> list[inspect.Parameter]:
	"""The parameters a caller can name (not *args/**kwargs), from the unwrapped function's signature."""
	signature = inspect.signature(inspect.unwrap(function_of(method)))
	return [
		parameter
		for parameter in signature.parameters.values()
		if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
	]


def base_types(annotation) -> set:
	if annotation is inspect.Parameter.empty:
		return {str}
	if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
		return {t for arg in typing.get_args(annotation) for t in base_types(arg)}
	origin = typing.get_origin(annotation)
	return {origin or annotation}


def is_date_parameter(parameter: inspect.Parameter) -> bool:
	return bool(set(parameter.name.split("_")) & set(DATE_NAMES))


def bad_values(parameter: inspect.Parameter) -> dict:
	kinds = base_types(parameter.annotation) - {type(None)}
	required = parameter.default is inspect.Parameter.empty
	if kinds & {dict, list, Document} and parameter.name not in ("lost_reasons", "competitors", "suppliers"):
		values = dict(JSON_VALUES)
		values.update({"list": ["a", "b"], "dict": {"a": "b"}} if kinds & {list} else {"dict": {"a": "b"}})
	elif kinds == {bool}:
		values = dict(FLAG_VALUES)
	elif kinds and kinds <= {int, float}:
		values = dict(NUMBER_VALUES)
	else:
		values = dict(TEXT_VALUES)
		if is_date_parameter(parameter):
			values.update(DATE_VALUES)
	if required:
		values["empty"] = ""
	return values


def valid_arguments(method: str, ctx: Context) -> dict:
	"""A valid value for each parameter this test knows (so that a bad one is not ignored), for the other
	required ones a guess; the rest keep their defaults."""
	args = {}
	for parameter in parameters(method):
		if parameter.name in ctx.values and fits(parameter, ctx.values[parameter.name]):
			args[parameter.name] = ctx.values[parameter.name]
		elif parameter.default is inspect.Parameter.empty:
			args[parameter.name] = _guess(parameter.name)
	return args


def fits(parameter: inspect.Parameter, value) -> bool:
	"""Whether a known value suits the parameter's type (`start` is a datetime here, an offset there)."""
	kinds = base_types(parameter.annotation)
	return str in kinds or type(value) in kinds


def _guess(name: str) -> str:
	"""A required parameter this test has no value for: the first record of the doctype it names."""
	doctype = name.replace("_", " ").title()
	if frappe.db.exists("DocType", doctype):
		return frappe.get_all(doctype, pluck="name", limit=1)[0] if frappe.db.count(doctype) else UNKNOWN
	return UNKNOWN


def http_method(method: str) -> str:
	allowed = frappe.allowed_http_methods_for_whitelisted_func.get(function_of(method)) or ["GET"]
	return "GET" if "GET" in allowed else allowed[0]


def accepted(method: str, parameter: str, kind: str) -> bool:
	name = method.rsplit(".", 1)[1]
	return kind in ACCEPTED.get((name, parameter), set()) | ACCEPTED.get(("*", parameter), set())


def row_counts() -> tuple:
	return frappe.db.sql("select " + ", ".join(f"(select count(*) from `tab{table}`)" for table in TABLES))[0]


# --- the test ----------------------------------------------------------------------------------------


class TestEveryEndpointRefusesBadInput(FrappeTestCase):
	def setUp(self):
		self.ctx = make_context()

	def test_the_app_methods_are_discovered(self):
		methods = endpoint.app_methods()
		for expected in (
			"opportunity_plus.api.forecast.get_forecast",
			"opportunity_plus.api.followups.set_follow_up",
			"opportunity_plus.api.lead.convert_lead",
			"opportunity_plus.api.charts.open_pipeline_by_stage",
		):
			self.assertIn(expected, methods)
		self.assertGreaterEqual(len(methods), 20)

	def test_as_administrator(self):
		self.check_every_method("Administrator")

	def test_as_a_sales_user(self):
		self.check_every_method(self.ctx.user)

	def check_every_method(self, user: str) -> None:
		failures = []
		commits = []
		with patch.object(frappe.db, "commit", lambda *args, **kwargs: commits.append(1)):
			for method in endpoint.app_methods():
				failures += self.check_method(method, user, commits)
		self.assertEqual(failures, [], "\n" + "\n".join(failures))

	def check_method(self, method: str, user: str, commits: list) -> list[str]:
		failures = []
		valid = valid_arguments(method, self.ctx)
		http = http_method(method)
		baseline = self.call(method, valid, user, http)
		if baseline.status >= 500:
			failures.append(
				f"{method} as {user}: the valid call answers {baseline.status}: {baseline.message}"
			)
		for parameter in parameters(method):
			for kind, value in bad_values(parameter).items():
				commits.clear()
				before = row_counts()
				answer = self.call(method, {**valid, parameter.name: value}, user, http, observe=row_counts)
				where = f"{method}({parameter.name}={kind}) as {user}"
				if 200 <= answer.status < 300 and accepted(method, parameter.name, kind):
					continue
				if not 400 <= answer.status < 500:
					failures.append(f"{where}: {answer.status} {answer.message[:300]}")
					continue
				failures += [f"{where}: {problem}" for problem in message_problems(answer.message)]
				if answer.observed != before:
					changed = [t for t, a, b in zip(TABLES, before, answer.observed, strict=True) if a != b]
					failures.append(f"{where}: refused but wrote rows in {', '.join(changed)}")
				if commits:
					failures.append(f"{where}: refused but committed")
		return failures

	def call(self, method, args, user, http, observe=None) -> endpoint.Answer:
		# Each call starts from the same data: an accepted call's writes are undone.
		frappe.db.savepoint("op_bad_input")
		try:
			return endpoint.call(method, args, user=user, http=http, observe=observe)
		finally:
			frappe.db.rollback(save_point="op_bad_input")
			frappe.local.message_log = []


def message_problems(message: str) -> list[str]:
	problems = []
	if not message.strip():
		problems.append("refused without a message")
	problems += [
		f"message reads like a raw error ({raw}): {message[:300]}" for raw in RAW_ERRORS if raw in message
	]
	if HTML_SENT in message or "<script" in message:
		problems.append(f"message shows the HTML it was sent, unescaped: {message[:300]}")
	if len(message) > 2000:
		problems.append(f"message of {len(message)} characters (echoes a huge value?)")
	return problems


# --- the cases issue #13 reported, one by one ------------------------------------------------------


class TestReportedCases(FrappeTestCase):
	def setUp(self):
		self.ctx = make_context()

	def assert_refused(self, method, args, expected, http="GET", status=417):
		answer = endpoint.call(method, args, http=http)
		self.assertEqual(answer.status, status, answer.message)
		self.assertIn(expected, answer.message)
		self.assertEqual(message_problems(answer.message), [])

	def test_forecast_filter_values_must_be_single(self):
		forecast = "opportunity_plus.api.forecast.get_forecast"
		# was 500 OperationalError (a list bound as one SQL value) and 500 TypeError (a dict)
		self.assert_refused(forecast, {"filters": {"territory": ["a", "b"]}}, "must be a single value")
		self.assert_refused(forecast, {"filters": '{"territory": {"a": 1}}'}, "must be a single value")
		self.assert_refused(forecast, {"filters": {"territory": UNKNOWN}}, "does not exist", status=404)

	def test_garbage_dates_and_datetimes_are_refused(self):
		opportunity = self.ctx.opportunity
		self.assert_refused(
			"opportunity_plus.api.followups.set_follow_up",
			{"opportunity": opportunity, "next_contact_date": "garbage"},
			"Next Contact Date must be a date and time",
			http="POST",
		)
		self.assert_refused(
			"opportunity_plus.api.followups.get_calendar_events",
			{"start": "garbage", "end": "2026-12-31"},
			"Start must be a date and time",
		)
		for value in ("99999999999", "99999-01-01", "9999-12-31"):
			self.assert_refused(
				"opportunity_plus.api.forecast.get_forecast", {"from_date": value}, "From Date"
			)
		# as a JSON number, Frappe's own type check answers
		self.assert_refused(
			"opportunity_plus.api.forecast.get_forecast", {"from_date": 99999999999}, "from_date"
		)

	def test_a_huge_or_negative_amount_is_refused_before_anything_is_made(self):
		for amount, expected in ((1e30, "Amount must be a number from 0"), (-5, "Amount cannot be negative")):
			before = row_counts()
			self.assert_refused(
				"opportunity_plus.api.lead.convert_lead",
				{"lead": self.ctx.lead, "amount": amount},
				expected,
				"POST",
			)
			self.assertEqual(row_counts(), before)

	def test_forecast_and_win_loss_read_dates_the_same_way(self):
		user_format = frappe.utils.get_user_date_format()
		typed = frappe.utils.formatdate("2026-03-04", user_format)
		for method in (
			"opportunity_plus.api.forecast.get_forecast",
			"opportunity_plus.api.winloss.get_win_loss",
		):
			with self.subTest(method):
				for value in ("2026-03-04", typed):
					answer = endpoint.call(method, {"company": self.ctx.company, "from_date": value})
					self.assertEqual(answer.status, 200, answer.message)
					self.assertEqual(answer.result["from_date"], "2026-03-04")
				# nothing is guessed: text in neither ISO nor the user's format is refused by both
				for value in ("March 4, 2026", "2026/03/04", "20260304"):
					self.assert_refused(
						method, {"company": self.ctx.company, "from_date": value}, "From Date"
					)


# --- reports -----------------------------------------------------------------------------------------


def report_filter_fields(report: str) -> list[tuple[str, str]]:
	"""(fieldname, fieldtype) of each filter the report's script declares."""
	folder = frappe.scrub(report)
	path = frappe.get_app_path("opportunity_plus", "opportunity_plus", "report", folder, f"{folder}.js")
	with open(path, encoding="utf-8") as script:
		source = script.read()
	return re.findall(r'fieldname:\s*"(\w+)"[^}]*?fieldtype:\s*"([\w ]+)"', source, flags=re.S)


def report_bad_values(fieldtype: str) -> dict:
	if fieldtype in ("Int", "Float", "Currency", "Check"):
		return dict(NUMBER_VALUES)
	values = {**TEXT_VALUES, "empty_list": []}
	if fieldtype in ("Date", "Datetime"):
		values.update(DATE_VALUES)
	return values


class TestEveryReportRefusesBadFilters(FrappeTestCase):
	"""The app's reports (discovered), run as the desk runs them (frappe.desk.query_report.run), one bad
	filter value at a time."""

	def test_as_administrator_and_as_a_sales_user(self):
		ctx = make_context()
		known = {key: ctx.values[key] for key in ("company", "from_date", "to_date", "till_date")}
		failures, commits = [], []
		with patch.object(frappe.db, "commit", lambda *args, **kwargs: commits.append(1)):
			for report in endpoint.app_reports():
				fields = report_filter_fields(report)
				self.assertTrue(fields, f"no filters found in the script of {report}")
				valid = {name: known[name] for name, _fieldtype in fields if name in known}
				if any(name == "user" for name, _fieldtype in fields):
					valid["user"] = ctx.user
				for user in ("Administrator", ctx.user):
					for name, fieldtype in fields:
						for kind, value in report_bad_values(fieldtype).items():
							commits.clear()
							before = row_counts()
							answer = run_report(report, {**valid, name: value}, user, observe=row_counts)
							where = f"report {report}({name}={kind}) as {user}"
							if not 400 <= answer.status < 500:
								failures.append(f"{where}: {answer.status} {answer.message[:300]}")
								continue
							failures += [
								f"{where}: {problem}" for problem in message_problems(answer.message)
							]
							if answer.observed != before or commits:
								failures.append(f"{where}: refused but wrote rows or committed")
		self.assertEqual(failures, [], "\n" + "\n".join(failures))


def run_report(report: str, filters: dict, user: str, observe=None) -> endpoint.Answer:
	frappe.db.savepoint("op_bad_report")
	try:
		return endpoint.call(
			"frappe.desk.query_report.run",
			{"report_name": report, "filters": json.dumps(filters), "ignore_prepared_report": 1},
			user=user,
			observe=observe,
		)
	finally:
		frappe.db.rollback(save_point="op_bad_report")
		frappe.local.message_log = []


class TestOpportunityDatesOverRest(FrappeTestCase):
	def test_a_date_sent_to_the_opportunity_is_read_like_every_endpoints(self):
		deal = factories.opportunity()
		for fieldname, value, expected in (
			("transaction_date", "garbage", "Opportunity Date must be a date"),
			("expected_closing", "99999999999", "Expected Closing Date must be a date"),
			("op_next_contact_date", "garbage", "Next Contact Date must be a date and time"),
			("op_next_contact_date", "99999-01-01 10:00", "Next Contact Date must be a date and time"),
		):
			with self.subTest(fieldname=fieldname, value=value):
				answer = endpoint.call(
					"frappe.client.set_value",
					{"doctype": "Opportunity", "name": deal.name, "fieldname": fieldname, "value": value},
					http="POST",
				)
				self.assertEqual(answer.status, 417, answer.message)
				self.assertIn(expected, answer.message)
		# the user's date format is read too
		typed = frappe.utils.formatdate(add_days(nowdate(), 40), frappe.utils.get_user_date_format())
		answer = endpoint.call(
			"frappe.client.set_value",
			{"doctype": "Opportunity", "name": deal.name, "fieldname": "expected_closing", "value": typed},
			http="POST",
		)
		self.assertEqual(answer.status, 200, answer.message)
		self.assertEqual(
			str(frappe.db.get_value("Opportunity", deal.name, "expected_closing")), add_days(nowdate(), 40)
		)
