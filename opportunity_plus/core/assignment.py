"""Who an assignment rule hands an opportunity to, with a cap on each rep's open opportunities.

Frappe's Assignment Rule engine decides when to assign; these rules decide to whom, the way Frappe's
rule types do (Round Robin, Load Balancing, Based on Field), except that a disabled user or a rep who
already holds `cap` open opportunities is passed over. The glue loads the users, their enabled flags
and loads, calls `choose_assignee` and turns a reason code into a translated message.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ROUND_ROBIN = "Round Robin"
LOAD_BALANCING = "Load Balancing"
BASED_ON_FIELD = "Based on Field"
RULES = (ROUND_ROBIN, LOAD_BALANCING, BASED_ON_FIELD)

# Reason codes when nobody is chosen.
NO_USERS = "no_users"  # the rule lists nobody (or the field is empty)
ALL_UNAVAILABLE = "all_unavailable"  # everyone listed is disabled
ALL_AT_CAP = "all_at_cap"  # every available rep holds `cap` open opportunities
AT_CAP = "at_cap"  # Based on Field: the field's user is at the cap
UNAVAILABLE = "unavailable"  # Based on Field: the field's user is disabled or missing
REASONS = (NO_USERS, ALL_UNAVAILABLE, ALL_AT_CAP, AT_CAP, UNAVAILABLE)
CAP_REASONS = frozenset({ALL_AT_CAP, AT_CAP})


@dataclass(frozen=True)
class Choice:
	user: str | None
	reason: str | None = None

	@property
	def capped(self) -> bool:
		"""Nobody was chosen only because of the cap."""
		return self.user is None and self.reason in CAP_REASONS


def under_cap(load: int, cap: int) -> bool:
	"""A cap of 0 (or less) means no cap."""
	return cap <= 0 or load < cap


def choose_assignee(
	rule: str,
	users: Iterable[str | None],
	last_user: str | None,
	loads: Mapping[str, int],
	cap: int,
	unavailable: Iterable[str] = (),
) -> Choice:
	"""The user `rule` assigns to next, or None with a reason code.

	- `users`: the rule's users in list order (for Based on Field, the field's value as the only one).
	- `last_user`: who Round Robin assigned to last (may no longer be listed).
	- `loads`: open opportunities each user holds (missing means 0).
	- `cap`: most open opportunities a rep may hold; 0 means no cap.
	- `unavailable`: users who may not be assigned (disabled, deleted).

	Round Robin goes on from the user after `last_user`, wrapping around, and skips unavailable and
	capped users; a `last_user` no longer listed starts from the top. Load Balancing picks the lowest
	load among available users under the cap, ties going to the earlier one in the list. Based on Field
	takes the field's user when available and under the cap.
	"""
	if rule not in RULES:
		raise ValueError(f"unknown assignment rule {rule!r}, expected one of {RULES}")
	ordered = list(dict.fromkeys(user for user in users if user))
	blocked = set(unavailable)
	if not ordered:
		return Choice(None, NO_USERS)

	if rule == BASED_ON_FIELD:
		user = ordered[0]
		if user in blocked:
			return Choice(None, UNAVAILABLE)
		if not under_cap(loads.get(user, 0), cap):
			return Choice(None, AT_CAP)
		return Choice(user)

	available = [user for user in ordered if user not in blocked]
	if not available:
		return Choice(None, ALL_UNAVAILABLE)
	eligible = [user for user in available if under_cap(loads.get(user, 0), cap)]
	if not eligible:
		return Choice(None, ALL_AT_CAP)

	if rule == LOAD_BALANCING:
		position = {user: index for index, user in enumerate(ordered)}
		return Choice(min(eligible, key=lambda user: (loads.get(user, 0), position[user])))

	# Round Robin: walk the whole list once, starting after the last user.
	start = ordered.index(last_user) + 1 if last_user in ordered else 0
	eligible_set = set(eligible)
	for offset in range(len(ordered)):
		user = ordered[(start + offset) % len(ordered)]
		if user in eligible_set:
			return Choice(user)
	return Choice(None, ALL_AT_CAP)  # unreachable: eligible is not empty
