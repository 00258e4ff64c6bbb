"""Deal history: which tracked values changed, time spent in each stage, close-date slips."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

# The Opportunity fields whose every change is recorded, and how their values compare.
TRACKED_FIELDS: dict[str, str] = {
	"sales_stage": "text",
	"status": "text",
	"opportunity_amount": "number",
	"probability": "number",
	"expected_closing": "date",
	"op_forecast_category": "text",
	"op_pipeline": "text",
}


@dataclass(frozen=True)
class Change:
	field: str
	from_value: str | None
	to_value: str | None


@dataclass(frozen=True)
class HistoryEntry:
	field: str
	from_value: str | None
	to_value: str | None
	changed_on: datetime


def normalise(value, kind: str) -> str | None:
	"""The canonical text of a value, so that 5, 5.0 and "5.000" (or a date and its ISO text) are equal.

	Empty values (None, "", and 0 for numbers is NOT empty) become None.
	"""
	if value is None or value == "":
		return None
	if kind == "number":
		try:
			number = Decimal(str(value))
		except InvalidOperation:
			return str(value)
		text = format(number.normalize(), "f")
		return "0" if text in ("-0", "0") else text
	if kind == "date":
		if isinstance(value, datetime):
			return value.date().isoformat()
		if isinstance(value, date):
			return value.isoformat()
		return str(value)[:10]
	return str(value)


def changes(before: Mapping, after: Mapping, fields: Mapping[str, str] = TRACKED_FIELDS) -> list[Change]:
	"""One Change per tracked field whose normalised value differs between `before` and `after`.

	`before` is empty for a new document: every value it is created with is a change from nothing.
	"""
	found = []
	for field, kind in fields.items():
		old, new = normalise(before.get(field), kind), normalise(after.get(field), kind)
		if old != new:
			found.append(Change(field, old, new))
	return found


def time_in_stages(entries: Iterable[HistoryEntry], until: datetime) -> dict[str, float]:
	"""Seconds spent in each stage, from the stage entries of one opportunity's history.

	A stage is entered at each `sales_stage` entry and left at the next one; the current stage counts up
	to `until` (now, or the moment the deal was closed). Re-entering a stage adds to its total. Stage
	order follows first entry.
	"""
	stage_entries = sorted((e for e in entries if e.field == "sales_stage"), key=lambda e: e.changed_on)
	totals: dict[str, float] = {}
	for index, current in enumerate(stage_entries):
		if not current.to_value:
			continue
		left = stage_entries[index + 1].changed_on if index + 1 < len(stage_entries) else until
		seconds = max((left - current.changed_on).total_seconds(), 0.0)
		totals[current.to_value] = totals.get(current.to_value, 0.0) + seconds
	return totals


def close_date_slips(entries: Iterable[HistoryEntry]) -> int:
	"""How often the expected close date was moved later (setting it the first time is no slip)."""
	return sum(
		1
		for e in entries
		if e.field == "expected_closing" and e.from_value and e.to_value and e.to_value > e.from_value
	)
