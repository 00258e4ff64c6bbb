"""Rules about one deal that need no stage history: overdue flag, mandatory close date, amounts."""

from datetime import date
from decimal import Decimal, InvalidOperation

from opportunity_plus.core.stages import OPEN_STATUSES, UNORDERED, Stage


def is_overdue(status: str | None, expected_closing: date | None, today: date) -> bool:
	"""An open deal whose expected close date has passed (the close date itself is not overdue yet)."""
	return bool(status in OPEN_STATUSES and expected_closing and expected_closing < today)


def close_date_required(stage: Stage | None, from_stage: Stage | None) -> bool:
	"""Whether an open deal in `stage` must have an expected close date, given the configured stage from
	which it becomes mandatory. Stages compare by pipeline order; with no configured stage it never is.
	An unordered stage (order 0) is not past any stage, except the configured stage itself.
	"""
	if from_stage is None or stage is None:
		return False
	if stage.name == from_stage.name:
		return True
	if stage.kind != "Open":
		return False
	return bool(stage.order) and (stage.order or UNORDERED) >= (from_stage.order or UNORDERED)


NOT_A_NUMBER = "not_a_number"
NEGATIVE = "negative"
TOO_LARGE = "too_large"
# ERPNext's Currency and Float columns are decimal(21,9): twelve digits before the point.
MAX_AMOUNT = Decimal(10) ** 12


def amount_error(value) -> str | None:
	"""Why an amount, quantity or rate of a deal cannot be saved, or None. Empty counts as zero; a deal is
	worth nothing or something, never less than nothing (a negative amount would shrink the pipeline)."""
	if value is None or value == "":
		return None
	if isinstance(value, bool):
		return NOT_A_NUMBER
	try:
		number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
	except (InvalidOperation, TypeError, ValueError):
		return NOT_A_NUMBER
	if not number.is_finite():
		return NOT_A_NUMBER
	if number < 0:
		return NEGATIVE
	if number >= MAX_AMOUNT:
		return TOO_LARGE
	return None
