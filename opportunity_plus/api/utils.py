"""Input handling shared by the whitelisted endpoints and the reports.

Every bad value gets a translated message (ValidationError, 417; an unknown document, 404) before anything
is read or written, never a Python error deep in a query (500). Values a caller sent are echoed in
messages through `echo`: shortened, and HTML-escaped because the desk shows messages as HTML.
"""

import json
from datetime import date, datetime

import frappe
from frappe import _
from frappe.model import child_table_fields, default_fields, no_value_fields, table_fields
from frappe.utils import escape_html, get_system_timezone, get_user_date_format
from frappe.utils.data import convert_utc_to_timezone

from opportunity_plus.core import inputs

# Frappe's names (and Data fields) are at most 140 characters: a longer one cannot name anything.
MAX_NAME_LENGTH = 140
ECHO_LENGTH = 60


def echo(value, limit: int = ECHO_LENGTH) -> str:
	"""A caller's value as a message may show it: text, at most `limit` characters, HTML-escaped."""
	text = value if isinstance(value, str) else json.dumps(value, default=str)
	if len(text) > limit:
		text = text[: limit - 1] + "…"
	return escape_html(text)


# --- dates -----------------------------------------------------------------------------------------


def parse_date(value, label: str, *, required: bool = False) -> date | None:
	"""A date given as YYYY-MM-DD or in the user's date format (what the desk shows), or a date object.

	Empty is None (or "`label` is required"); anything else that is not such a date, or whose year is
	outside 1900-2999, is refused with a message naming `label`.
	"""
	if value is None or value == "":
		_require(required, label)
		return None
	if isinstance(value, datetime):
		value = value.date()
	if isinstance(value, date):
		_check_year(value, label)
		return value
	if not isinstance(value, str):
		_not_a_date(value, label)
	day, error = inputs.read_date(value, get_user_date_format())
	if error == inputs.YEAR_OUT_OF_RANGE:
		_year_out_of_range(value, label)
	if error:
		_not_a_date(value, label)
	return day


def parse_datetime(value, label: str, *, required: bool = False) -> datetime | None:
	"""A datetime given as ISO (`YYYY-MM-DD HH:MM[:SS]`, "T" accepted, a UTC offset converted to the
	system time zone), as a date alone (its midnight), or in the user's date format with a time."""
	if value is None or value == "":
		_require(required, label)
		return None
	if isinstance(value, date) and not isinstance(value, datetime):
		value = datetime.combine(value, datetime.min.time())
	if isinstance(value, datetime):
		moment = value
	elif isinstance(value, str):
		moment, error = inputs.read_datetime(value, get_user_date_format())
		if error == inputs.YEAR_OUT_OF_RANGE:
			_year_out_of_range(value, label)
		if error:
			_not_a_datetime(value, label)
	else:
		_not_a_datetime(value, label)
	if moment.tzinfo is not None:
		# Opportunity datetimes are stored in the system time zone, without an offset.
		moment = convert_utc_to_timezone(moment, get_system_timezone()).replace(tzinfo=None)
	_check_year(moment, label)
	return moment


def _require(required: bool, label: str) -> None:
	if required:
		frappe.throw(_("{0} is required.").format(label), title=_("Missing Value"))


def _check_year(value: date, label: str) -> None:
	if not inputs.year_in_range(value):
		_year_out_of_range(value, label)


def _not_a_date(value, label: str) -> None:
	frappe.throw(
		_("{0} must be a date written as YYYY-MM-DD or {1}, not {2}.").format(
			label, get_user_date_format(), echo(value)
		),
		title=_("Invalid Date"),
	)


def _not_a_datetime(value, label: str) -> None:
	frappe.throw(
		_("{0} must be a date and time written as YYYY-MM-DD HH:MM or {1} HH:MM, not {2}.").format(
			label, get_user_date_format(), echo(value)
		),
		title=_("Invalid Date"),
	)


def _year_out_of_range(value, label: str) -> None:
	frappe.throw(
		_("{0} must be a date between the years {1} and {2}, not {3}.").format(
			label, inputs.MIN_YEAR, inputs.MAX_YEAR, echo(str(value))
		),
		title=_("Invalid Date"),
	)


# --- names, numbers, flags -------------------------------------------------------------------------


def parse_name(value, label: str, *, required: bool = True) -> str | None:
	"""A document name: text of at most 140 characters (surrounding spaces removed)."""
	if value is None or (isinstance(value, str) and not value.strip()):
		_require(required, label)
		return None
	if not isinstance(value, str):
		frappe.throw(_("{0} must be a name, not {1}.").format(label, echo(value)))
	if len(value) > MAX_NAME_LENGTH:
		frappe.throw(
			_("{0} is too long to be a name: at most {1} characters.").format(label, MAX_NAME_LENGTH)
		)
	return value.strip()


def check_exists(doctype: str, name: str, label: str) -> str:
	"""`name` when a `doctype` of that name exists, else DoesNotExistError (404) naming `label`."""
	name = parse_name(name, label)
	if not frappe.db.exists(doctype, name):
		frappe.throw(
			_("{0} {1} does not exist.").format(label, echo(name)),
			frappe.DoesNotExistError,
			title=_("Not Found"),
		)
	return name


def parse_pipeline(value) -> str | None:
	"""A reader's `pipeline`: the name of one existing Sales Pipeline (enabled or not: a disabled pipeline
	still holds its deals), or None for every pipeline. Unknown: DoesNotExistError (404)."""
	name = parse_name(value, _("Pipeline"), required=False)
	return check_exists("Sales Pipeline", name, _("Sales Pipeline")) if name else None


def get_document(doctype: str, name, label: str, ptype: str = "read"):
	"""The document, once it exists and the caller has `ptype` permission on it (403 otherwise)."""
	doc = frappe.get_doc(doctype, check_exists(doctype, name, label))
	doc.check_permission(ptype)
	return doc


def parse_int(value, label: str, minimum: int, maximum: int) -> int:
	"""A whole number between `minimum` and `maximum` (Frappe has already refused text that is not one)."""
	if isinstance(value, bool) or not isinstance(value, int | float | str):
		frappe.throw(_("{0} must be a whole number, not {1}.").format(label, echo(value)))
	try:
		number = int(value) if not isinstance(value, float) or value.is_integer() else None
	except (ValueError, OverflowError):
		number = None
	if number is None:
		frappe.throw(_("{0} must be a whole number, not {1}.").format(label, echo(value)))
	if not minimum <= number <= maximum:
		frappe.throw(
			_("{0} must be between {1} and {2}, not {3}.").format(label, minimum, maximum, echo(value))
		)
	return number


def parse_flag(value, label: str) -> bool:
	"""A checkbox value: true/false, 1/0 (as numbers or text)."""
	if isinstance(value, bool):
		return value
	if isinstance(value, int | float) and value in (0, 1):
		return bool(value)
	if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
		return value.strip().lower() in ("1", "true")
	frappe.throw(_("{0} must be 1 or 0 (true or false), not {1}.").format(label, echo(value)))


def parse_json_value(value, label: str, expected: type | tuple[type, ...]):
	"""A value of the `expected` JSON shape (dict and/or list), also when given as JSON text."""
	if isinstance(value, str):
		try:
			value = json.loads(value)
		except ValueError:
			_wrong_shape(value, label, expected)
	if not isinstance(value, expected):
		_wrong_shape(value, label, expected)
	return value


def _wrong_shape(value, label: str, expected) -> None:
	if expected is dict:
		frappe.throw(_("{0} must be a JSON object, not {1}.").format(label, echo(value)))
	if expected is list:
		frappe.throw(_("{0} must be a JSON list, not {1}.").format(label, echo(value)))
	frappe.throw(_("{0} must be a JSON object or list, not {1}.").format(label, echo(value)))


# --- filters ---------------------------------------------------------------------------------------


def parse_filters(
	filters: dict | str | None, allowed: tuple[str, ...], subject: str, doctype: str = "Opportunity"
) -> dict:
	"""A caller's equality filters as a dict (JSON text accepted), refusing fields not in `allowed`.

	`subject` names what is filtered ("forecast", "board") in the error message. Empty values are dropped. Each value must be one name, and for a Link or Select field of
	`doctype` one that exists (an unknown territory is a typo, not an empty result).
	"""
	if filters is None or filters == "":
		return {}
	if isinstance(filters, str):
		try:
			filters = json.loads(filters)
		except ValueError:
			frappe.throw(_("Filters must be a JSON object."))
	if not isinstance(filters, dict):
		frappe.throw(_("Filters must be a JSON object."))
	unknown = set(filters) - set(allowed)
	if unknown:
		frappe.throw(
			_("Cannot filter the {0} by {1}. Allowed: {2}.").format(
				_subject(subject), echo(", ".join(sorted(map(str, unknown)))), ", ".join(allowed)
			)
		)
	meta = frappe.get_meta(doctype)
	parsed = {}
	for field, value in filters.items():
		if value is None or value == "":
			continue
		if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH:
			frappe.throw(_("Filter {0} must be a single value, not {1}.").format(field, echo(value)))
		df = meta.get_field(field)
		if df and df.fieldtype == "Link" and not frappe.db.exists(df.options, value):
			frappe.throw(
				_("Filter {0}: {1} does not exist.").format(field, echo(value)), frappe.DoesNotExistError
			)
		if df and df.fieldtype == "Select" and value not in (df.options or "").split("\n"):
			frappe.throw(
				_("Filter {0} must be one of {1}, not {2}.").format(
					field,
					", ".join(option for option in (df.options or "").split("\n") if option),
					echo(value),
				)
			)
		parsed[field] = value
	return parsed


def _subject(subject: str) -> str:
	# literal _() calls, so that translation extraction finds them
	return {"forecast": _("forecast"), "board": _("board")}.get(subject, subject)


def report_filters(filters) -> frappe._dict:
	"""A report's filters as a dict; each value one plain value (a report's filters are fields)."""
	if filters is None or filters == "":
		return frappe._dict()
	filters = parse_json_value(filters, _("Filters"), dict)
	for key, value in filters.items():
		if value is not None and not isinstance(value, str | int | float):
			frappe.throw(_("Filter {0} must be a single value, not {1}.").format(echo(key), echo(value)))
	return frappe._dict(filters)


def chart_company(filters) -> str | None:
	"""The company a workspace card or chart is filtered by, None for the default."""
	return chart_filters(filters)[0]


# The filters of the workspace's cards and charts.
CHART_FILTERS = ("company", "pipeline")


def chart_filters(filters) -> tuple[str | None, str | None]:
	"""The company (None for the user's default) and the Sales Pipeline (None for every pipeline) a
	workspace card or chart is filtered by."""
	if filters is None or filters == "":
		return None, None
	filters = parse_json_value(filters, _("Filters"), (dict, list))
	if isinstance(filters, list):
		if filters:
			frappe.throw(_("Filters must be a JSON object, not {0}.").format(echo(filters)))
		return None, None
	unknown = sorted(str(key) for key in filters if key not in CHART_FILTERS)
	if unknown:
		frappe.throw(
			_("Cannot filter by {0}: the filters are company and pipeline.").format(echo(", ".join(unknown)))
		)
	company = filters.get("company")
	company = check_exists("Company", company, _("Company")) if company else None
	return company, parse_pipeline(filters.get("pipeline"))


# Frappe's list-view filter operators (frappe.model.db_query).
LIST_OPERATORS = (
	"=",
	"!=",
	">",
	"<",
	">=",
	"<=",
	"like",
	"not like",
	"in",
	"not in",
	"is",
	"between",
	"timespan",
	"descendants of",
	"not descendants of",
	"ancestors of",
	"not ancestors of",
	"descendants of (inclusive)",
)


def parse_list_filters(filters, doctype: str) -> list[list]:
	"""A list view's filters ({field: value}, {field: [operator, value]}, or [[doctype,] field, operator,
	value] rows, as JSON text or as they are) as [doctype, field, operator, value] rows that
	frappe.get_list takes: known fields of `doctype` or its child tables, Frappe's operators, and plain
	values (a list of them for `in`, `between` and the like)."""
	if filters is None or filters == "" or filters == [] or filters == {}:
		return []
	filters = parse_json_value(filters, _("Filters"), (dict, list))
	if isinstance(filters, dict):
		rows = [
			[doctype, key, *value]
			if isinstance(value, list) and len(value) == 2
			else [doctype, key, "=", value]
			for key, value in filters.items()
		]
	else:
		rows = filters
	meta = frappe.get_meta(doctype)
	tables = {doctype} | {df.options for df in meta.get_table_fields()}
	parsed = []
	for row in rows:
		if not isinstance(row, list | tuple) or not 3 <= len(row) <= 5:
			frappe.throw(_("Each filter must be [field, operator, value], not {0}.").format(echo(row)))
		row = list(row)
		if len(row) == 3:
			row.insert(0, doctype)
		table, fieldname, operator, value = row[:4]
		if table not in tables:
			frappe.throw(_("Cannot filter by fields of {0}.").format(echo(table)))
		if not isinstance(fieldname, str) or not _is_column(table, fieldname):
			frappe.throw(_("Cannot filter by {0}: there is no such field.").format(echo(fieldname)))
		if not isinstance(operator, str) or operator.strip().lower() not in LIST_OPERATORS:
			frappe.throw(
				_("Unknown filter operator {0}. Use one of: {1}.").format(
					echo(operator), ", ".join(LIST_OPERATORS)
				)
			)
		values = value if isinstance(value, list | tuple) else [value]
		for item in values:
			if not (item is None or isinstance(item, str | int | float | bool)) or (
				isinstance(item, str) and len(item) > MAX_NAME_LENGTH
			):
				frappe.throw(
					_("Filter {0} has a value that is not a plain value: {1}.").format(fieldname, echo(item))
				)
		parsed.append([table, fieldname, operator.strip().lower(), value])
	return parsed


def _is_column(doctype: str, fieldname: str) -> bool:
	if fieldname in default_fields or fieldname in child_table_fields:
		return True
	df = frappe.get_meta(doctype).get_field(fieldname)
	return bool(df) and df.fieldtype not in no_value_fields and df.fieldtype not in table_fields
