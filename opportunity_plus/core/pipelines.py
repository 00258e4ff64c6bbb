"""Sales pipelines: which pipeline a deal belongs to, where its stage goes when it changes pipeline, and
what a stage needs before a deal may enter it.

A pipeline is an ordered list of ERPNext Sales Stages, each row with its own probability, kind, forecast
category, required fields and guidance (core.stages.Stage carries the first four). These rules take plain
values and return names or codes; the glue (pipeline.py, events/opportunity.py) loads, writes and
translates.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from opportunity_plus.core.stages import STAGE_KINDS, Stage

# A required "field" that is no Opportunity field: a submitted Quotation made from the deal.
SUBMITTED_QUOTATION = "submitted_quotation"
# The Opportunity's table of item lines: required means at least one line.
ITEMS = "items"

# Error codes of pipeline_errors.
NO_STAGES = "no_stages"
NO_OPEN_STAGE = "no_open_stage"
DUPLICATE_STAGE = "duplicate_stage"


@dataclass(frozen=True)
class PipelineStage:
	stage: Stage
	required_fields: tuple[str, ...] = ()
	guidance: str = ""


@dataclass(frozen=True)
class Pipeline:
	name: str
	stages: tuple[PipelineStage, ...]
	enabled: bool = True
	is_default: bool = False
	opportunity_types: frozenset[str] = field(default_factory=frozenset)
	companies: frozenset[str] = field(default_factory=frozenset)

	def stage(self, name: str | None) -> PipelineStage | None:
		return next((row for row in self.stages if row.stage.name == name), None) if name else None

	def stage_names(self) -> list[str]:
		return [row.stage.name for row in self.stages]

	def first_of_kind(self, kind: str) -> Stage | None:
		return next((row.stage for row in self.stages if row.stage.kind == kind), None)


def choose_pipeline(
	pipelines: Iterable[Pipeline], opportunity_type: str | None, company: str | None
) -> str | None:
	"""The pipeline a new deal goes to: among the enabled pipelines with a rule (opportunity types and/or
	companies) that the deal matches, the most specific (both types and companies > types > companies),
	then the first by name; else the default pipeline. A pipeline without a rule is chosen only by hand."""
	candidates = []
	default = None
	for pipeline in pipelines:
		if pipeline.is_default:
			default = pipeline.name
		if not pipeline.enabled or pipeline.is_default:
			continue
		if not pipeline.opportunity_types and not pipeline.companies:
			continue
		if pipeline.opportunity_types and opportunity_type not in pipeline.opportunity_types:
			continue
		if pipeline.companies and company not in pipeline.companies:
			continue
		specificity = (2 if pipeline.opportunity_types else 0) + (1 if pipeline.companies else 0)
		candidates.append((-specificity, pipeline.name.casefold(), pipeline.name))
	if candidates:
		return min(candidates)[2]
	return default


def map_stage(stage: str | None, old: Pipeline | None, new: Pipeline) -> str | None:
	"""Where a deal in `stage` of pipeline `old` lands in pipeline `new`: the same stage where `new` has
	it; else the stage of the same kind at the nearest position among `new`'s stages of that kind (the
	second of four open stages goes to the second of four, to the first of two...); else the first open
	stage of `new`. None only when `new` has no stage at all."""
	if stage and new.stage(stage):
		return stage
	kind = "Open"
	position = 0.0
	if stage and old and old.stage(stage):
		kind = old.stage(stage).stage.kind
		same_kind = [row.stage.name for row in old.stages if row.stage.kind == kind]
		index = same_kind.index(stage)
		position = index / (len(same_kind) - 1) if len(same_kind) > 1 else 0.0
	targets = [row.stage.name for row in new.stages if row.stage.kind == kind]
	if not targets:
		first_open = new.first_of_kind("Open")
		if first_open:
			return first_open.name
		return new.stages[0].stage.name if new.stages else None
	return targets[round(position * (len(targets) - 1))]


def missing_for_entry(
	required: Sequence[str], values: Mapping[str, object], *, item_count: int, has_submitted_quotation: bool
) -> list[str]:
	"""The required fields (in the pipeline row's order) that are empty: a value that is None, "", 0 or
	only blanks; `items` without a line; `submitted_quotation` without a submitted Quotation."""
	missing = []
	for name in required:
		if name == ITEMS:
			empty = item_count <= 0
		elif name == SUBMITTED_QUOTATION:
			empty = not has_submitted_quotation
		else:
			value = values.get(name)
			empty = value is None or value == 0 or (isinstance(value, str) and not value.strip())
		if empty:
			missing.append(name)
	return missing


def parse_required_fields(text: str | None) -> list[str]:
	"""Field names from the row's text: one per line or separated by commas, blanks and repeats dropped."""
	names = []
	for part in (text or "").replace(",", "\n").splitlines():
		name = part.strip()
		if name and name not in names:
			names.append(name)
	return names


def unknown_required_fields(names: Iterable[str], known: Iterable[str]) -> list[str]:
	"""Names that are neither one of `known` (the Opportunity's fields that can be required) nor the
	submitted quotation."""
	allowed = set(known) | {SUBMITTED_QUOTATION}
	return [name for name in names if name not in allowed]


def pipeline_errors(stages: Sequence[tuple[str, str]]) -> list[tuple[str, str | None]]:
	"""What is wrong with a pipeline's (stage, kind) rows: (code, stage) pairs; empty when it is valid."""
	if not stages:
		return [(NO_STAGES, None)]
	errors = []
	seen = set()
	for name, kind in stages:
		if kind not in STAGE_KINDS:
			raise ValueError(f"unknown stage kind {kind!r}")
		if name in seen:
			errors.append((DUPLICATE_STAGE, name))
		seen.add(name)
	if not any(kind == "Open" for _name, kind in stages):
		errors.append((NO_OPEN_STAGE, None))
	return errors
