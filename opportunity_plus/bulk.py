"""One multi-row upsert for rows the app keeps by name (snapshots, stage entries)."""

import frappe

CHUNK = 1000


def upsert(doctype: str, columns: tuple[str, ...], rows: list[tuple], updated: tuple[str, ...]) -> None:
	"""INSERT ... ON DUPLICATE KEY UPDATE of `rows` (values in `columns` order, the name first), in chunks:
	a row whose name exists gets the `updated` columns; running it twice leaves the same rows."""
	if not rows:
		return
	names = ", ".join(f"`{column}`" for column in columns)
	updates = ", ".join(f"`{column}` = values(`{column}`)" for column in updated)
	placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
	for offset in range(0, len(rows), CHUNK):
		chunk = rows[offset : offset + CHUNK]
		frappe.db.sql(
			f"insert into `tab{doctype}` ({names}) values {', '.join([placeholders] * len(chunk))} "
			f"on duplicate key update {updates}",
			[value for row in chunk for value in row],
		)
