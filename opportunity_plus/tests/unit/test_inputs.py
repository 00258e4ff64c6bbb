"""core.inputs: one reading of dates and datetimes for every endpoint and report; core.deal amounts."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from opportunity_plus.core import deal, inputs


@pytest.mark.parametrize(
	"frappe_format, pattern",
	[
		("dd-mm-yyyy", "%d-%m-%Y"),
		("mm/dd/yyyy", "%m/%d/%Y"),
		("dd.mm.yyyy", "%d.%m.%Y"),
		("yyyy-mm-dd", "%Y-%m-%d"),
		("", None),
		(None, None),
		("dd-mm", None),
	],
)
def test_frappe_date_formats_become_strptime_patterns(frappe_format, pattern):
	assert inputs.strptime_format(frappe_format) == pattern


@pytest.mark.parametrize(
	"text, user_format, expected",
	[
		("2026-03-04", "mm-dd-yyyy", date(2026, 3, 4)),
		(" 2026-03-04 ", None, date(2026, 3, 4)),
		("04-03-2026", "dd-mm-yyyy", date(2026, 3, 4)),
		("03-04-2026", "mm-dd-yyyy", date(2026, 3, 4)),
		("03/04/2026", "mm/dd/yyyy", date(2026, 3, 4)),
		("04.03.2026", "dd.mm.yyyy", date(2026, 3, 4)),
	],
)
def test_a_date_is_iso_or_in_the_users_format(text, user_format, expected):
	assert inputs.read_date(text, user_format) == (expected, None)


@pytest.mark.parametrize(
	"text, user_format",
	[
		("garbage", "dd-mm-yyyy"),
		("", "dd-mm-yyyy"),
		("2026-13-45", "dd-mm-yyyy"),
		("2026-02-30", None),
		("04-03-2026", None),  # not ISO, and no user format to read it by
		("03/04/2026", "dd-mm-yyyy"),  # another separator than the user's: not guessed
		("next week", "dd-mm-yyyy"),
		("20260304", "dd-mm-yyyy"),  # digits alone: ambiguous
		("99999999999", "dd-mm-yyyy"),
		("12345-01-01", None),
		("0000-00-00", None),
		("2026-03-04 10:00", "dd-mm-yyyy"),  # a datetime is not a date
		("1" * 10_000, "dd-mm-yyyy"),
		("2026-03-04'; drop table x; --", None),
	],
)
def test_anything_else_is_not_a_date(text, user_format):
	assert inputs.read_date(text, user_format) == (None, inputs.NOT_A_DATE)


@pytest.mark.parametrize("text", ["1899-12-31", "3000-01-01", "9999-12-31", "0001-01-01"])
def test_absurd_years_are_refused(text):
	assert inputs.read_date(text) == (None, inputs.YEAR_OUT_OF_RANGE)
	assert inputs.read_datetime(text) == (None, inputs.YEAR_OUT_OF_RANGE)


@pytest.mark.parametrize(
	"text, user_format, expected",
	[
		("2026-03-04 10:30:15", None, datetime(2026, 3, 4, 10, 30, 15)),
		("2026-03-04T10:30", None, datetime(2026, 3, 4, 10, 30)),
		("2026-03-04 10:30:15.250000", None, datetime(2026, 3, 4, 10, 30, 15, 250000)),
		("2026-03-04", None, datetime(2026, 3, 4)),
		("04-03-2026 10:30", "dd-mm-yyyy", datetime(2026, 3, 4, 10, 30)),
		("03-04-2026 10:30:15", "mm-dd-yyyy", datetime(2026, 3, 4, 10, 30, 15)),
		("03-04-2026", "mm-dd-yyyy", datetime(2026, 3, 4)),
	],
)
def test_a_datetime_is_iso_or_in_the_users_format_with_a_time(text, user_format, expected):
	assert inputs.read_datetime(text, user_format) == (expected, None)


def test_an_iso_datetime_keeps_its_offset():
	moment, error = inputs.read_datetime("2026-03-04T10:30:00+02:00")
	assert error is None
	assert moment == datetime(2026, 3, 4, 8, 30, tzinfo=timezone.utc)
	assert inputs.read_datetime("2026-03-04T10:30:00Z")[0].utcoffset() == timedelta(0)


@pytest.mark.parametrize(
	"text", ["garbage", "2026-03-04 25:00", "2026-03-04 10", "tomorrow 10:00", "1" * 10_000, "  "]
)
def test_anything_else_is_not_a_datetime(text):
	assert inputs.read_datetime(text, "dd-mm-yyyy") == (None, inputs.NOT_A_DATE)


@pytest.mark.parametrize(
	"value", [None, "", 0, 0.0, 5, 12.5, "12.5", Decimal("999999999999.999999999"), 10**12 - 1]
)
def test_amounts_from_zero_to_twelve_digits_are_fine(value):
	assert deal.amount_error(value) is None


@pytest.mark.parametrize(
	"value, error",
	[
		(-5, deal.NEGATIVE),
		(-0.01, deal.NEGATIVE),
		("-5", deal.NEGATIVE),
		(10**12, deal.TOO_LARGE),
		(1e30, deal.TOO_LARGE),
		("1e30", deal.TOO_LARGE),
		("abc", deal.NOT_A_NUMBER),
		(float("nan"), deal.NOT_A_NUMBER),
		(float("inf"), deal.NOT_A_NUMBER),
		("-Infinity", deal.NOT_A_NUMBER),
		(True, deal.NOT_A_NUMBER),
		([1], deal.NOT_A_NUMBER),
	],
)
def test_negative_absurd_and_non_numeric_amounts_are_named(value, error):
	assert deal.amount_error(value) == error
