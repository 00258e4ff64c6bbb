"""Sales-stage rules for ERPNext Opportunities.

A stage has a default win probability and a kind (Open, Won or Lost). ERPNext's own `status` field stays
the source of truth for whether a deal is closed, because ERPNext's flows (declare lost, make quotation,
convert to customer) set it; these rules keep the stage in step with it and return codes that the glue
acts on or turns into translated messages.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

STAGE_KINDS = ("Open", "Won", "Lost")

# ERPNext Opportunity.status values, split by whether the deal is still being worked.
OPEN_STATUSES = frozenset({"Open", "Quotation", "Replied"})
CLOSED_STATUSES = frozenset({"Lost", "Converted", "Closed"})

# Action codes returned by reconcile_stage.
OK = "ok"
MOVE_TO_WON = "move_to_won"
MOVE_TO_LOST = "move_to_lost"
REOPEN_STAGE = "reopen_stage"
LOST_REQUIRES_FLOW = "lost_requires_flow"
WON_REQUIRES_CONVERSION = "won_requires_conversion"
RECONCILE_ACTIONS = (
	OK,
	MOVE_TO_WON,
	MOVE_TO_LOST,
	REOPEN_STAGE,
	LOST_REQUIRES_FLOW,
	WON_REQUIRES_CONVERSION,
)

# Error codes returned by probability_error.
OUT_OF_RANGE = "out_of_range"
NOT_A_NUMBER = "not_a_number"

# Stages without an explicit order sort after every ordered one.
UNORDERED = 10**6


@dataclass(frozen=True)
class Stage:
	name: str
	probability: float | None
	kind: str = "Open"
	order: int = 0
	forecast_category: str | None = None
	"""The category its open deals forecast in unless their owner overrides it (core.categories)."""

	def __post_init__(self) -> None:
		# A typo in a kind would silently turn a Won stage into an open one in every forecast.
		if self.kind not in STAGE_KINDS:
			raise ValueError(f"unknown stage kind {self.kind!r}, expected one of {STAGE_KINDS}")


# ERPNext's setup wizard creates the eight open stages (without probability or order); the app gives
# them sensible defaults and adds the two closing stages, so a new site has a complete pipeline.
DEFAULT_PIPELINE: tuple[Stage, ...] = (
	Stage("Prospecting", 5, "Open", 10),
	Stage("Qualification", 10, "Open", 20),
	Stage("Needs Analysis", 20, "Open", 30),
	Stage("Value Proposition", 30, "Open", 40),
	Stage("Identifying Decision Makers", 40, "Open", 50),
	Stage("Perception Analysis", 50, "Open", 60),
	Stage("Proposal/Price Quote", 60, "Open", 70),
	Stage("Negotiation/Review", 80, "Open", 80),
	Stage("Won", 100, "Won", 90),
	Stage("Lost", 0, "Lost", 100),
)


def _name_key(name: str) -> str:
	return name.strip().casefold()


def stages_to_seed(existing_names: Iterable[str | None]) -> list[Stage]:
	"""Default stages missing from `existing_names`, in pipeline order.

	Existing stages are never changed: an admin who renamed "proposal" or set its probability to 40 keeps
	it, so seeding can run on every migrate.
	"""
	present = {_name_key(name) for name in existing_names if name}
	return [stage for stage in DEFAULT_PIPELINE if _name_key(stage.name) not in present]


def stages_to_fill(
	existing: Iterable[tuple[str, float | None, str | None, int | None]],
) -> list[tuple[str, dict]]:
	"""Defaults for existing default-pipeline stages that were never configured.

	`existing` rows are (name, probability, kind, order). A stage counts as never configured when both
	its probability and its order are empty or 0 (the database stores an unset number as 0): ERPNext's
	setup wizard creates its stages that way. A stage with either value set is the site's own and is
	left alone, as are stages that are not in the default pipeline.
	"""
	defaults = {_name_key(stage.name): stage for stage in DEFAULT_PIPELINE}
	fills = []
	for name, probability, _kind, order in existing:
		stage = defaults.get(_name_key(name or ""))
		if not stage or probability or order:
			continue
		fills.append(
			(
				name,
				{
					"op_probability": stage.probability,
					"op_stage_kind": stage.kind,
					"op_stage_order": stage.order,
				},
			)
		)
	return fills


def _as_decimal(value: object) -> Decimal | None:
	"""`value` as a Decimal, None when unset; raises ValueError when it is not a number (NaN included)."""
	if value is None:
		return None
	# bool is an int subclass, but True is never a meant probability.
	if isinstance(value, bool):
		raise ValueError(value)
	if isinstance(value, str):
		text = value.strip()
		if not text:
			return None
		try:
			number = Decimal(text)
		except InvalidOperation:
			raise ValueError(value)
	elif isinstance(value, Decimal):
		number = value
	elif isinstance(value, int):
		number = Decimal(value)
	elif isinstance(value, float):
		# repr gives the shortest decimal that round-trips, so 0.1 stays 0.1 rather than its binary expansion.
		number = Decimal(repr(value))
	else:
		raise ValueError(value)
	if number.is_nan():
		raise ValueError(value)
	return number


def probability_error(value: object) -> str | None:
	"""Error code for a probability entered by a user, or None when it is acceptable.

	None and "" mean "not set" and are accepted. Numbers (int, float, Decimal or a numeric string) must lie
	within 0..100 inclusive, else "out_of_range"; anything else is "not_a_number".
	"""
	try:
		number = _as_decimal(value)
	except ValueError:
		return NOT_A_NUMBER
	if number is None:
		return None
	if number < 0 or number > 100:
		return OUT_OF_RANGE
	return None


def _as_float(value: object) -> float | None:
	number = _as_decimal(value)
	return None if number is None else float(number)


def resolve_probability(
	*,
	stage_changed: bool,
	probability_changed: bool,
	new_probability: float | None,
	stage_default: float | None,
	follows_stage: bool,
) -> tuple[float | None, bool]:
	"""The probability to store on save and whether it overrides the stage default.

	Returns `(probability, overridden)`:

	- `follows_stage` False (the feature is off): the entered value is kept, never flagged as overridden.
	- The stage changed and the probability was not edited in the same save: the new stage's default
	  replaces it (or the value is kept when the stage has no default), not overridden. Moving a deal on
	  is what resets a hand-tuned figure.
	- Otherwise (the user edited the probability, with or without a stage change, or nothing relevant
	  changed): the value is kept, and it is overridden when the stage has a default that differs from it.
	  A cleared probability on a stage with a default counts as overridden.

	Values must already have passed `probability_error`; a non-numeric one raises ValueError.
	"""
	value = _as_float(new_probability)
	default = _as_float(stage_default)
	if not follows_stage:
		return value, False
	if stage_changed and not probability_changed:
		return (value if default is None else default), False
	return value, default is not None and value != default


def sort_stages(stages: Iterable[Stage]) -> list[Stage]:
	"""Stages in pipeline order: by `order`, unordered (0 or None) last, ties broken by name."""
	return sorted(stages, key=lambda stage: (stage.order or UNORDERED, stage.name.casefold(), stage.name))


def reconcile_stage(
	*,
	old_status: str | None,
	new_status: str | None,
	old_stage_kind: str | None,
	new_stage_kind: str | None,
	stage_changed: bool,
	status_changed: bool,
) -> str:
	"""What the glue must do to keep the stage consistent with ERPNext's status on this save.

	Stage kinds are those of the stage before and after the save (None when no stage is set). Precedence,
	first match wins:

	1. The status became Converted or Lost: status is authoritative because ERPNext's own flows set it, so
	   a stage of the wrong kind is moved ("move_to_won" / "move_to_lost"), even one the user picked in the
	   same save. A stage already of the right kind is "ok" (e.g. status→Lost and stage→Lost together).
	2. The user picked a Lost-kind stage while the status is not Lost: "lost_requires_flow", because the
	   lost flow records the reasons. A Won-kind stage while the status is not Converted:
	   "won_requires_conversion". This beats reopening, since an explicit stage choice in the same save
	   as a reopen means the user meant that stage, and it is not a valid one for an open deal.
	3. The status went from Lost/Converted/Closed back to Open/Quotation/Replied while the stage is still
	   Won/Lost kind: "reopen_stage" (the glue moves it back to the last open stage).
	4. Anything else is "ok". That includes saves that touched neither field (stale data is not repaired
	   on unrelated edits) and a closed deal moved to an open stage: status alone still says it is closed,
	   and the forecast counts it by status.

	`old_stage_kind` is accepted so the glue passes the full before/after picture; the current rules
	decide on the new kind only.
	"""
	if status_changed and new_status == "Converted":
		return OK if new_stage_kind == "Won" else MOVE_TO_WON
	if status_changed and new_status == "Lost":
		return OK if new_stage_kind == "Lost" else MOVE_TO_LOST
	if stage_changed:
		if new_stage_kind == "Lost" and new_status != "Lost":
			return LOST_REQUIRES_FLOW
		if new_stage_kind == "Won" and new_status != "Converted":
			return WON_REQUIRES_CONVERSION
	if (
		status_changed
		and old_status in CLOSED_STATUSES
		and new_status in OPEN_STATUSES
		and new_stage_kind in ("Won", "Lost")
	):
		return REOPEN_STAGE
	return OK
