"""Selection rules for the daily job that auto-closes stale Opportunities.

The glue loads the settings into a `Policy` and each eligible Opportunity into a `Candidate` (with its
latest real activity already computed), passes the site's local `today`, and acts on the returned
decisions: close, warn the owner, or wait. Everything here counts whole calendar days, so the glue must
pass naive datetimes in the site's time zone and the site's local date as `today`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from opportunity_plus.core.stages import CLOSED_STATUSES, OPEN_STATUSES

# Decision actions.
CLOSE = "close"
WARN = "warn"
WAIT = "wait"
ACTIONS = (CLOSE, WARN, WAIT)

# Error codes returned by policy_errors, in the order they are checked.
DEFAULT_DAYS_NOT_POSITIVE = "default_days_not_positive"
TYPE_DAYS_NOT_POSITIVE = "type_days_not_positive"
BLANK_TYPE = "blank_type"
DUPLICATE_TYPE = "duplicate_type"
WARNING_NEGATIVE = "warning_negative"
WARNING_NOT_BELOW_DAYS = "warning_not_below_days"
NO_ELIGIBLE_STATUSES = "no_eligible_statuses"
CLOSED_STATUS_ELIGIBLE = "closed_status_eligible"
UNKNOWN_STATUS = "unknown_status"


@dataclass(frozen=True)
class Policy:
	"""The auto-close settings.

	`days_by_type` holds (Opportunity Type, days) pairs overriding `default_days`. It is a tuple rather
	than a dict so the policy stays hashable and comparable, and so duplicate rows from the settings'
	child table survive long enough for `policy_errors` to report them. A Mapping (or any iterable of
	pairs) is accepted and normalised to a tuple sorted by type; a set or list of statuses becomes a
	frozenset.

	Constructing a policy never raises, so the glue can build one from whatever an admin saved and show
	`policy_errors`; `decide` and `plan` refuse an invalid one.
	"""

	default_days: int
	days_by_type: tuple[tuple[str, int], ...] = ()
	eligible_statuses: frozenset[str] = OPEN_STATUSES
	warning_days: int = 0

	def __post_init__(self) -> None:
		pairs = self.days_by_type.items() if isinstance(self.days_by_type, Mapping) else self.days_by_type
		# Sorting makes two policies with the same rules equal whatever order the rows were entered in.
		normalised = tuple(sorted(((kind, days) for kind, days in pairs), key=lambda pair: str(pair[0])))
		object.__setattr__(self, "days_by_type", normalised)
		object.__setattr__(self, "eligible_statuses", frozenset(self.eligible_statuses))


@dataclass(frozen=True)
class Candidate:
	name: str
	status: str
	opportunity_type: str | None
	# The latest real activity (communication, comment, edit by a person); the glue computes it.
	last_activity: datetime
	# When the warning for the current inactivity period was sent; None if never.
	warned_on: date | None = None


@dataclass(frozen=True)
class Decision:
	name: str
	action: str
	idle_days: int
	# The day the Opportunity is (or would be, without new activity) closed: last activity's day + threshold.
	close_on: date
	threshold: int


def _is_positive_int(value: object) -> bool:
	# bool is an int subclass, but True is never a meant number of days.
	return isinstance(value, int) and not isinstance(value, bool) and value > 0


def policy_errors(policy: Policy) -> list[str]:
	"""Error codes for invalid settings, each at most once, in a fixed order; empty when valid.

	Days (default and per type) must be positive integers, per-type rows need a type and may not repeat
	it, `warning_days` must be 0 (no warning) or below every threshold (a warning on or after the close
	day could never be sent), and only open statuses may be eligible: closing a Lost, Converted or Closed
	Opportunity again would overwrite how it ended.
	"""
	errors: list[str] = []

	def add(code: str) -> None:
		if code not in errors:
			errors.append(code)

	if not _is_positive_int(policy.default_days):
		add(DEFAULT_DAYS_NOT_POSITIVE)
	seen_types: set[str] = set()
	for opportunity_type, days in policy.days_by_type:
		if not _is_positive_int(days):
			add(TYPE_DAYS_NOT_POSITIVE)
		if not opportunity_type:
			add(BLANK_TYPE)
		elif opportunity_type in seen_types:
			add(DUPLICATE_TYPE)
		seen_types.add(opportunity_type)

	warning = policy.warning_days
	if not isinstance(warning, int) or isinstance(warning, bool) or warning < 0:
		add(WARNING_NEGATIVE)
	elif warning > 0:
		# Thresholds that are themselves invalid are already reported; comparing them would only add noise.
		thresholds = [policy.default_days, *(days for _type, days in policy.days_by_type)]
		if any(_is_positive_int(days) and warning >= days for days in thresholds):
			add(WARNING_NOT_BELOW_DAYS)

	if not policy.eligible_statuses:
		add(NO_ELIGIBLE_STATUSES)
	for status in sorted(policy.eligible_statuses):
		if status in CLOSED_STATUSES:
			add(CLOSED_STATUS_ELIGIBLE)
		elif status not in OPEN_STATUSES:
			add(UNKNOWN_STATUS)
	return errors


def _require_valid(policy: Policy) -> None:
	# A job run on a zero-day or Lost-eligible policy would close or rewrite deals wholesale; refuse loudly.
	errors = policy_errors(policy)
	if errors:
		raise ValueError(f"invalid auto-close policy: {', '.join(errors)}")


def latest_activity(*moments: datetime | date | None) -> datetime | None:
	"""The latest of `moments` as a datetime, ignoring None; None when nothing is given.

	A bare date counts as midnight at its start, so a datetime later that day is later than it.
	"""
	latest: datetime | None = None
	for moment in moments:
		if moment is None:
			continue
		# datetime is a subclass of date, so it must be recognised first.
		as_datetime = moment if isinstance(moment, datetime) else datetime.combine(moment, time.min)
		if latest is None or as_datetime > latest:
			latest = as_datetime
	return latest


def written_by_job(
	modified: datetime | None, modified_by: str | None, job_user: str, job_writes: Iterable[datetime | None]
) -> bool:
	"""Whether the opportunity's last change (`modified`, `modified_by`) is the auto-close job's own write.

	The job writes an opportunity's timestamp only when it closes it, as `job_user`, and records that close
	in the deal history at the very same moment; `job_writes` are those recorded moments. A person working
	as the same user (an administrator at the desk) writes at other moments, so their change still counts.
	"""
	if modified is None or modified_by != job_user:
		return False
	return any(moment == modified for moment in job_writes if moment is not None)


def person_activity(
	created: datetime | date,
	modified: datetime | None,
	modified_by: str | None,
	*,
	job_user: str,
	job_writes: Iterable[datetime | None] = (),
	other: Iterable[datetime | date | None] = (),
) -> datetime:
	"""The latest thing a person did on an opportunity: its creation; any change to it or its child tables
	(its `modified`), unless the auto-close job made that change (see `written_by_job`); and the moments of
	everything else done on it that the glue gathered (`other`: notes, mails either way, comments, ToDos,
	Events, history rows written by a person)."""
	last_change = None if written_by_job(modified, modified_by, job_user, job_writes) else modified
	return latest_activity(created, last_change, *other)


def threshold_days(policy: Policy, opportunity_type: str | None) -> int:
	"""Days of inactivity after which an Opportunity of this type is closed.

	The per-type override when one exists for exactly this type, else the default (also for no type).
	"""
	if opportunity_type:
		for rule_type, days in policy.days_by_type:
			if rule_type == opportunity_type:
				return days
	return policy.default_days


def _as_day(moment: datetime | date) -> date:
	return moment.date() if isinstance(moment, datetime) else moment


def _decide(candidate: Candidate, policy: Policy, today: date) -> Decision | None:
	if candidate.status not in policy.eligible_statuses:
		return None
	threshold = threshold_days(policy, candidate.opportunity_type)
	last_day = _as_day(candidate.last_activity)
	idle_days = (today - last_day).days
	close_on = last_day + timedelta(days=threshold)

	if idle_days >= threshold:
		# Checked first: a warning already sent never blocks the close, and a candidate due for both
		# gets one decision, not a warning followed by a close the same day.
		action = CLOSE
	elif policy.warning_days > 0 and idle_days >= threshold - policy.warning_days:
		# A valid policy only warns at least one day after the last activity, so a warning dated on or
		# before that day belongs to an earlier inactivity period: activity later on the very day of a
		# warning must earn a new one, or the owner would be closed on without notice.
		already_warned = candidate.warned_on is not None and candidate.warned_on > last_day
		action = WAIT if already_warned else WARN
	else:
		action = WAIT
	return Decision(candidate.name, action, idle_days, close_on, threshold)


def decide(candidate: Candidate, policy: Policy, today: date) -> Decision | None:
	"""What the job does with one Opportunity today; None when its status is not eligible.

	"close" once the idle days reach the threshold (a deal idle exactly `threshold` days closes). "warn"
	inside the last `warning_days` before that, once per inactivity period. Otherwise "wait". Raises
	ValueError for an invalid policy.
	"""
	_require_valid(policy)
	return _decide(candidate, policy, today)


def _order(decision: Decision) -> tuple[date, str]:
	return decision.close_on, decision.name


def plan(candidates: Iterable[Candidate], policy: Policy, today: date) -> list[Decision]:
	"""Decisions for the eligible candidates, soonest close first, ties by name.

	Raises ValueError for an invalid policy, before looking at any candidate.
	"""
	_require_valid(policy)
	decisions = (_decide(candidate, policy, today) for candidate in candidates)
	return sorted((decision for decision in decisions if decision is not None), key=_order)


def to_close(decisions: Iterable[Decision]) -> list[Decision]:
	"""The decisions to close today, in their given order."""
	return [decision for decision in decisions if decision.action == CLOSE]


def to_warn(decisions: Iterable[Decision]) -> list[Decision]:
	"""The decisions whose owner is warned today, in their given order."""
	return [decision for decision in decisions if decision.action == WARN]


def due(decisions: Iterable[Decision]) -> list[Decision]:
	"""The decisions that need an action today (close or warn), in their given order."""
	return [decision for decision in decisions if decision.action != WAIT]


def upcoming(decisions: Iterable[Decision], today: date, horizon_days: int) -> list[Decision]:
	"""Decisions closing today or within `horizon_days` after it, for a dry-run preview, soonest first.

	Overdue ones (close_on before today, because the job was off or failed) are included: they close today.
	"""
	if horizon_days < 0:
		raise ValueError("horizon_days must not be negative")
	last_day = today + timedelta(days=horizon_days)
	return sorted((decision for decision in decisions if decision.close_on <= last_day), key=_order)
