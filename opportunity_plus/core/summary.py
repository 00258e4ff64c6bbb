"""The pipeline summary's arithmetic: what one opportunity adds to it, and what a change moves.

The summary holds, per key (company, territory, owner, stage, status, forecast category, close month, for a
closed deal the month it was closed in, and pipeline),
the number of opportunities and their base and weighted amounts. Each opportunity adds exactly one
Contribution; a change of an opportunity moves its contribution from one key to another (or changes its
amounts in place). Keeping the summary equal to a recomputation is then a matter of applying, for every
changed opportunity, -old and +new.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

# Amounts are kept as the database keeps Currency fields: 9 decimal places.
SCALE = Decimal("0.000000001")
KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Key:
	company: str
	territory: str
	opportunity_owner: str
	sales_stage: str
	status: str
	forecast_category: str
	close_month: date | None
	# the month a closed deal was closed in (Closed On); None while open
	closed_month: date | None = None
	# its Sales Pipeline (the glue gives a deal without one the default pipeline's name)
	pipeline: str = ""


@dataclass(frozen=True)
class Contribution:
	key: Key
	base_amount: Decimal
	weighted_amount: Decimal


@dataclass
class Delta:
	deal_count: int = 0
	base_amount: Decimal = Decimal(0)
	weighted_amount: Decimal = Decimal(0)

	def add(self, contribution: Contribution, sign: int) -> None:
		self.deal_count += sign
		self.base_amount += sign * contribution.base_amount
		self.weighted_amount += sign * contribution.weighted_amount

	@property
	def is_zero(self) -> bool:
		return not self.deal_count and not self.base_amount and not self.weighted_amount


def _text(value) -> str:
	return "" if value is None else str(value)


def _decimal(value) -> Decimal:
	if value is None or value == "":
		return Decimal(0)
	return value if isinstance(value, Decimal) else Decimal(str(value))


def month_start(value) -> date | None:
	if not value:
		return None
	if isinstance(value, datetime):
		value = value.date()
	if isinstance(value, str):
		value = date.fromisoformat(value[:10])
	return value.replace(day=1)


def contribution(row: Mapping) -> Contribution:
	"""What an opportunity (a mapping of its stored values) adds to the summary.

	Empty texts and NULL are one and the same key (""); the weighted amount is base x probability / 100
	rounded to the database's 9 places, half away from zero, as MariaDB rounds decimals.
	"""
	base = _decimal(row.get("base_opportunity_amount"))
	weighted = (base * _decimal(row.get("probability")) / 100).quantize(SCALE, rounding=ROUND_HALF_UP)
	key = Key(
		company=_text(row.get("company")),
		territory=_text(row.get("territory")),
		opportunity_owner=_text(row.get("opportunity_owner")),
		sales_stage=_text(row.get("sales_stage")),
		status=_text(row.get("status")),
		forecast_category=_text(row.get("forecast_category")),
		close_month=month_start(row.get("expected_closing")),
		closed_month=month_start(row.get("closed_on")),
		pipeline=_text(row.get("pipeline")),
	)
	return Contribution(key, base.quantize(SCALE, rounding=ROUND_HALF_UP), weighted)


def key_name(key: Key) -> str:
	"""The summary row's name: a digest of its key (the same text the rebuild computes in SQL)."""
	parts = [
		key.company,
		key.territory,
		key.opportunity_owner,
		key.sales_stage,
		key.status,
		key.forecast_category,
		key.close_month.isoformat() if key.close_month else "",
		key.closed_month.isoformat() if key.closed_month else "",
		key.pipeline,
	]
	return hashlib.md5(KEY_SEPARATOR.join(parts).encode("utf-8")).hexdigest()


def deltas(changes: Iterable[tuple[Contribution | None, Contribution | None]]) -> dict[Key, Delta]:
	"""The summary's changes for (counted before, counted now) pairs; None is "not counted"; keys whose
	changes cancel out are left out. Ordered by row name, so that concurrent writers lock summary rows
	in the same order."""
	result: dict[Key, Delta] = {}
	for old, new in changes:
		if old == new:
			continue
		if old is not None:
			result.setdefault(old.key, Delta()).add(old, -1)
		if new is not None:
			result.setdefault(new.key, Delta()).add(new, +1)
	ordered = sorted(result.items(), key=lambda item: key_name(item[0]))
	return {key: delta for key, delta in ordered if not delta.is_zero}
