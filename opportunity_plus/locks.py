"""A named database lock per scheduled job, so that two runs never overlap."""

from collections.abc import Iterator
from contextlib import contextmanager

import frappe


@contextmanager
def job_lock(job: str) -> Iterator[bool]:
	"""Yield whether this run got the lock for `job`; another run holding it means False at once.

	A MariaDB named lock belongs to the connection, not the transaction: it is held across the job's
	per-batch commits until the block ends, and every worker on every server of the site sees it.
	"""
	name = f"{frappe.local.site}:opportunity_plus:{job}"
	locked = bool(frappe.db.sql("select get_lock(%s, 0)", (name,))[0][0])
	try:
		yield locked
	finally:
		if locked:
			frappe.db.sql("select release_lock(%s)", (name,))
