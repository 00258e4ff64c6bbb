"""Writing Opportunity History rows: one INSERT for any number of rows."""

from collections.abc import Iterable
from datetime import datetime

import frappe

HISTORY = "Opportunity History"
_COLUMNS = (
	"name",
	"creation",
	"modified",
	"owner",
	"modified_by",
	"opportunity",
	"changed_field",
	"field_label",
	"from_value",
	"to_value",
	"changed_on",
	"changed_by",
	"channel",
)


def insert_rows(
	rows: Iterable[tuple[str, str, str, str | None, str | None]],
	*,
	changed_on: datetime,
	user: str,
	channel: str,
) -> None:
	"""Append (opportunity, field, label, from, to) rows, all changed at `changed_on` by `user`."""
	values = [
		(frappe.generate_hash(length=12), changed_on, changed_on, user, user, *row, changed_on, user, channel)
		for row in rows
	]
	if values:
		frappe.db.bulk_insert(HISTORY, fields=list(_COLUMNS), values=values)
