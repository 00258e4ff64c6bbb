"""Rules for turning an opportunity into sales and buying documents.

The glue reuses ERPNext's own mappers (Quotation, Supplier Quotation, Request for Quotation) and asks
these rules what to fix afterwards: which rate a quotation line carries, which opportunities may be
mapped at all, where the deal's stage goes when its quotation is submitted, which date buying documents
ask for, and which supplier quotes which line.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from opportunity_plus.core.stages import CLOSED_STATUSES, OPEN_STATUSES, UNORDERED, Stage

# What a mapping produces.
QUOTATION = "quotation"
SUPPLIER_QUOTATION = "supplier_quotation"
REQUEST_FOR_QUOTATION = "request_for_quotation"
TARGETS = (QUOTATION, SUPPLIER_QUOTATION, REQUEST_FOR_QUOTATION)

# Why an opportunity cannot be mapped (mapping_blocked).
DEAL_CLOSED = "deal_closed"
DEAL_LOST = "deal_lost"
DEAL_CONVERTED = "deal_converted"
_BLOCKED_BY_STATUS = {"Closed": DEAL_CLOSED, "Lost": DEAL_LOST, "Converted": DEAL_CONVERTED}


def mapping_blocked(status: str | None, target: str) -> str | None:
	"""Why an opportunity in `status` cannot be turned into `target`, or None when it can.

	A quotation is an offer on a deal that is still being worked: none for a closed, lost or converted
	deal. Buying documents are refused for closed and lost deals only: a converted (won) deal is exactly
	the one whose goods still have to be bought.
	"""
	if target not in TARGETS:
		raise ValueError(f"unknown mapping target {target!r}, expected one of {TARGETS}")
	if status not in CLOSED_STATUSES:
		return None
	if target != QUOTATION and status == "Converted":
		return None
	return _BLOCKED_BY_STATUS[status]


def _amount(value: float | None) -> float:
	return float(value or 0)


def quotation_rate(
	opportunity_rate: float | None, mapped_rate: float | None, price_list_rate: float | None
) -> float:
	"""The rate of a quotation line mapped from an opportunity line.

	The rate agreed on the opportunity line wins when it is set (above 0). Otherwise the rate the mapper
	derived from the selling price list (pricing rules and discounts applied) is kept, and when it found
	none the bare price-list rate is used; 0 when there is no price at all (the user prices the line).
	"""
	if _amount(opportunity_rate) > 0:
		return _amount(opportunity_rate)
	if _amount(mapped_rate) > 0:
		return _amount(mapped_rate)
	return max(_amount(price_list_rate), 0.0)


def stage_after_quotation(status: str | None, current: Stage | None, target: Stage | None) -> str | None:
	"""The stage a deal moves to when one of its quotations is submitted, or None to leave it.

	`target` is the configured proposal stage. The deal moves there only while it is open (ERPNext has
	just set the status Quotation), only from an open-kind stage or none, and never backwards: a deal
	already in a later stage (e.g. negotiation) stays. A current stage without an order has no known
	position and moves. A target that is not an open-kind stage is ignored: won and lost stages are
	reached through conversion and the lost flow.
	"""
	if target is None or target.kind != "Open":
		return None
	if status not in OPEN_STATUSES:
		return None
	if current is None:
		return target.name
	if current.name == target.name or current.kind != "Open":
		return None
	if current.order and current.order > (target.order or UNORDERED):
		return None
	return target.name


def required_by(expected_closing: date | None, today: date) -> date | None:
	"""The date a buying document asks for: the deal's expected closing date, when it is still ahead.

	A closing date already past is no use to a supplier, and ERPNext refuses required-by dates before
	the document's own date: the field is left for the user then.
	"""
	if expected_closing is None or expected_closing < today:
		return None
	return expected_closing


@dataclass(frozen=True)
class SourceLine:
	"""One opportunity line and the suppliers that could quote it, best first.

	`candidates` are the item's default supplier for the company, then its Item Supplier rows, already
	limited by the glue to suppliers that may be used (enabled).
	"""

	line: str
	item_code: str
	candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class SupplierPlan:
	"""Which opportunity lines each supplier is asked to quote, in the order the lines appear."""

	groups: dict[str, list[str]] = field(default_factory=dict)
	unassigned: list[SourceLine] = field(default_factory=list)

	@property
	def complete(self) -> bool:
		return not self.unassigned


def choose_supplier(candidates: Sequence[str | None]) -> str | None:
	"""The first usable candidate (the item default before the item's supplier list)."""
	return next((name for name in candidates if name), None)


def plan_supplier_quotations(
	lines: Iterable[SourceLine], fallback_supplier: str | None = None
) -> SupplierPlan:
	"""Group opportunity lines into one supplier quotation per supplier.

	Each line goes to its first candidate supplier; lines without one go to `fallback_supplier` (the
	supplier the user picked), joining that supplier's group when it already has one. Without a fallback
	they stay `unassigned` and the plan is incomplete. Suppliers come in the order their first line
	appears, so the documents follow the opportunity.
	"""
	groups: dict[str, list[str]] = {}
	unassigned: list[SourceLine] = []
	for line in lines:
		supplier = choose_supplier(line.candidates) or fallback_supplier
		if supplier:
			groups.setdefault(supplier, []).append(line.line)
		else:
			unassigned.append(line)
	return SupplierPlan(groups=groups, unassigned=unassigned)


@dataclass(frozen=True)
class SellingLine:
	"""One opportunity line in the company currency: what it sells for."""

	item_code: str
	qty: float
	rate: float


@dataclass(frozen=True)
class LineMargin:
	"""`best_cost`, `margin` and `margin_percent` are None while no supplier has quoted the item."""

	item_code: str
	qty: float
	selling: float
	best_rate: float | None
	best_cost: float | None
	margin: float | None
	margin_percent: float | None


@dataclass(frozen=True)
class ExpectedMargin:
	"""Totals over the whole opportunity.

	`selling` counts every line; `cost`, `margin` and `margin_percent` count only the lines with a
	supplier rate (`priced_selling` is their selling value), so an unquoted line never reads as pure
	margin. `unpriced` names the items still without a supplier rate.
	"""

	lines: list[LineMargin]
	selling: float
	priced_selling: float
	cost: float
	margin: float
	margin_percent: float | None
	unpriced: list[str]


def best_buying_rates(quoted: Iterable[tuple[str, float | None]]) -> dict[str, float]:
	"""The lowest rate quoted per item; a rate of 0 or none is a line the supplier has not priced yet."""
	best: dict[str, float] = {}
	for item_code, rate in quoted:
		rate = _amount(rate)
		if item_code and rate > 0 and (item_code not in best or rate < best[item_code]):
			best[item_code] = rate
	return best


def _percent(margin: float, selling: float) -> float | None:
	return margin / selling * 100 if selling else None


def expected_margin(
	lines: Iterable[SellingLine], quoted: Iterable[tuple[str, float | None]]
) -> ExpectedMargin:
	"""The margin the deal would make if each item were bought at its best supplier rate.

	Per line: selling = qty * rate, cost = qty * the lowest rate quoted for the item, margin = selling -
	cost, margin % of selling. Rates are in the company currency (base rates) on both sides.
	"""
	best = best_buying_rates(quoted)
	results: list[LineMargin] = []
	unpriced: list[str] = []
	for line in lines:
		qty = _amount(line.qty)
		selling = qty * _amount(line.rate)
		rate = best.get(line.item_code)
		if rate is None:
			results.append(LineMargin(line.item_code, qty, selling, None, None, None, None))
			if line.item_code not in unpriced:
				unpriced.append(line.item_code)
			continue
		cost = qty * rate
		margin = selling - cost
		results.append(
			LineMargin(line.item_code, qty, selling, rate, cost, margin, _percent(margin, selling))
		)
	priced = [line for line in results if line.best_cost is not None]
	priced_selling = sum(line.selling for line in priced)
	cost = sum(line.best_cost for line in priced)
	margin = priced_selling - cost
	return ExpectedMargin(
		lines=results,
		selling=sum(line.selling for line in results),
		priced_selling=priced_selling,
		cost=cost,
		margin=margin,
		margin_percent=_percent(margin, priced_selling),
		unpriced=unpriced,
	)
