"""Rules about one deal that need no stage history: overdue flag, mandatory close date."""

from datetime import date

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
