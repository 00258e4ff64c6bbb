"""Reading dates and datetimes that callers type, one way for every endpoint and report.

A date is accepted as ISO (YYYY-MM-DD) or in the user's date format as Frappe names it ("dd-mm-yyyy",
"mm/dd/yyyy", ...); a datetime adds a time (HH:MM or HH:MM:SS, optionally fractions) after a space or
"T", and an ISO datetime may carry a UTC offset. Nothing is guessed: "03/04/2026" means what the user's
format says or is refused, and years outside MIN_YEAR..MAX_YEAR are refused, so a typo like year 20266
or a timestamp passed as a date gets an answer instead of an overflow deep in a query.

Functions return (value, None) or (None, error code); glue turns the code into a translated message.
"""

import re
from datetime import date, datetime

NOT_A_DATE = "not_a_date"
YEAR_OUT_OF_RANGE = "year_out_of_range"

MIN_YEAR = 1900
MAX_YEAR = 2999
# Longer than any date or datetime written in a supported form: refused without parsing.
MAX_LENGTH = 40

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?")
TIME_FORMATS = ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M")
# Frappe's date format tokens (System Settings > Date Format) and their strptime equivalents.
FORMAT_TOKENS = (("yyyy", "%Y"), ("dd", "%d"), ("mm", "%m"))


def strptime_format(frappe_format: str | None) -> str | None:
	"""The strptime pattern of a Frappe date format ("dd-mm-yyyy" -> "%d-%m-%Y"); None if it has no day,
	month and year."""
	if not frappe_format:
		return None
	pattern = frappe_format.lower()
	for token, directive in FORMAT_TOKENS:
		if token not in pattern:
			return None
		pattern = pattern.replace(token, directive)
	return pattern


def read_date(value: str, user_format: str | None = None) -> tuple[date | None, str | None]:
	"""A date from text: ISO first, then the user's date format."""
	text = value.strip()
	if not text or len(text) > MAX_LENGTH:
		return None, NOT_A_DATE
	day = _iso_date(text) or _formatted(text, strptime_format(user_format), ())
	if day is None:
		return None, NOT_A_DATE
	if isinstance(day, datetime):
		day = day.date()
	return (day, None) if year_in_range(day) else (None, YEAR_OUT_OF_RANGE)


def read_datetime(value: str, user_format: str | None = None) -> tuple[datetime | None, str | None]:
	"""A datetime from text: ISO (a date alone is its midnight; an offset is kept, aware), then the user's
	date format with a time."""
	text = value.strip()
	if not text or len(text) > MAX_LENGTH:
		return None, NOT_A_DATE
	moment = None
	if ISO_DATE.fullmatch(text) or ISO_DATETIME.fullmatch(text):
		try:
			moment = datetime.fromisoformat(text)
		except ValueError:
			moment = None
	if moment is None:
		date_format = strptime_format(user_format)
		moment = _formatted(text, date_format, TIME_FORMATS)
	if moment is None:
		return None, NOT_A_DATE
	return (moment, None) if year_in_range(moment) else (None, YEAR_OUT_OF_RANGE)


def year_in_range(value: date) -> bool:
	return MIN_YEAR <= value.year <= MAX_YEAR


def _iso_date(text: str) -> date | None:
	if not ISO_DATE.fullmatch(text):
		return None
	try:
		return date.fromisoformat(text)
	except ValueError:
		return None


def _formatted(text: str, date_format: str | None, time_formats: tuple[str, ...]) -> datetime | None:
	"""`text` in `date_format`, alone or (when time formats are given) followed by a time."""
	if not date_format:
		return None
	patterns = [date_format, *(f"{date_format} {time_format}" for time_format in time_formats)]
	for pattern in patterns:
		try:
			return datetime.strptime(text, pattern)
		except ValueError:
			continue
	return None
