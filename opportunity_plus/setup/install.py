"""Install, migrate and uninstall hooks.

Everything here is idempotent: `after_migrate` runs on every `bench migrate` and must change nothing
when the site is already in the state the app declares.
"""

import json

import frappe
from frappe.custom.doctype.custom_field.custom_field import create_custom_fields
from frappe.query_builder import Case
from frappe.query_builder.functions import IfNull

from opportunity_plus import assignment, categories, followups, funnel, pipelines, response, summary
from opportunity_plus.api import movement
from opportunity_plus.core.stages import CLOSED_STATUSES, stages_to_fill, stages_to_seed
from opportunity_plus.pipeline import clear_stage_cache
from opportunity_plus.setup.custom_fields import MODULE, get_custom_fields, get_property_setters
from opportunity_plus.setup.jobs import restore_stock_jobs, sync_stock_jobs

SETTINGS = "Opportunity Plus Settings"


def after_install() -> None:
	sync_custom_fields()
	# Stages only on install: a stage an admin deletes later must not come back on the next migrate.
	# Before the settings, whose defaults link to a stage.
	seed_sales_stages()
	sync()
	backfill_opportunities()
	response.backfill_first_responses()
	summary.ensure_built()
	funnel.ensure_built()
	movement.record_history_since()


def after_migrate() -> None:
	sync()
	# Sites that had the app before first-response tracking get their earlier replies counted; a no-op after.
	response.backfill_first_responses()
	# Built once (and again when a version of the app keeps it differently); a no-op after.
	summary.ensure_built()
	funnel.ensure_built()
	movement.record_history_since()


def sync() -> None:
	"""Bring the site to the state the app declares, without overwriting what admins changed."""
	sync_custom_fields()
	sync_property_setters()
	place_deal_name()
	seed_settings_defaults()
	sync_stock_jobs()
	ensure_indexes()
	backfill_closed_on()
	assignment.ensure_assignment_rules()
	# Stage categories where blank; the default pipeline (the stages as they are) and every deal in a
	# pipeline; then each opportunity's category in force where stale.
	categories.seed_stage_categories()
	pipelines.sync()
	categories.refresh_effective()


def sync_custom_fields() -> None:
	# Frappe's create_custom_fields inserts missing fields and saves existing ones only when a
	# declared property differs, so a second run writes nothing.
	create_custom_fields(get_custom_fields(), ignore_validate=True)


def sync_property_setters() -> None:
	"""Create the app's property setters that are missing; one an admin has changed since is kept."""
	for setter in get_property_setters():
		if frappe.db.exists(
			"Property Setter",
			{
				"doc_type": setter["doctype"],
				"field_name": setter["fieldname"],
				"property": setter["property"],
			},
		):
			continue
		frappe.get_doc(
			{
				"doctype": "Property Setter",
				"doctype_or_field": "DocField",
				"doc_type": setter["doctype"],
				"field_name": setter["fieldname"],
				"property": setter["property"],
				"value": setter["value"],
				"property_type": setter["property_type"],
				"module": MODULE,
				"is_system_generated": 1,
			}
		).insert(ignore_permissions=True)
		frappe.clear_cache(doctype=setter["doctype"])


def place_deal_name() -> None:
	"""Show Deal Name (`title`) under the party on the Opportunity form, not deep in More Information.

	Done the way Customize Form moves a field: a `field_order` property setter, ours (module-tagged, so
	uninstall restores ERPNext's order). A field order an admin set is left alone.
	"""
	filters = {"doc_type": "Opportunity", "property": "field_order", "doctype_or_field": "DocType"}
	existing = frappe.db.get_value("Property Setter", filters, ["name", "module", "value"], as_dict=True)
	if existing and existing.module != MODULE:
		return
	frappe.clear_cache(doctype="Opportunity")
	order = [
		df.fieldname for df in frappe.get_meta("Opportunity", cached=False).fields if df.fieldname != "title"
	]
	anchor = "customer_name" if "customer_name" in order else "party_name"
	order.insert(order.index(anchor) + 1 if anchor in order else 0, "title")
	value = json.dumps(order)
	if existing and existing.value == value:
		return
	if existing:
		frappe.db.set_value("Property Setter", existing.name, "value", value)
	else:
		frappe.get_doc(
			{
				"doctype": "Property Setter",
				**filters,
				"value": value,
				"property_type": "Data",
				"module": MODULE,
				"is_system_generated": 1,
			}
		).insert(ignore_permissions=True)
	frappe.clear_cache(doctype="Opportunity")


def seed_sales_stages() -> None:
	"""Add the default pipeline's missing stages and fill the blank probability/kind/order of existing
	ones (ERPNext's setup wizard creates its stages with none); values a site has set are kept."""
	existing = frappe.get_all(
		"Sales Stage", fields=["name", "op_probability", "op_stage_kind", "op_stage_order"]
	)
	for stage in stages_to_seed(row.name for row in existing):
		frappe.get_doc(
			{
				"doctype": "Sales Stage",
				"stage_name": stage.name,
				"op_probability": stage.probability,
				"op_stage_kind": stage.kind,
				"op_stage_order": stage.order,
			}
		).insert(ignore_permissions=True)
	for name, values in stages_to_fill(
		(row.name, row.op_probability, row.op_stage_kind, row.op_stage_order) for row in existing
	):
		frappe.db.set_value("Sales Stage", name, values)
	clear_stage_cache()


# The forecast reads one company's opportunities in an expected-closing window and sums amounts by
# status and stage. Two covering indexes serve it from index entries alone (no table rows read):
# - by date first, for callers who see every territory: the window is one range;
# - by territory first, for callers whose user permissions restrict the territory: the forecast states
#   Frappe's condition in a form the optimizer can use (core.sqltext.index_friendly, applied in permissions.read_scope), and reads only the
#   permitted territories' part of the window.
# Territory is in the first one too: with Frappe's own `ifnull(territory, '') = ''` form, the date range
# is read and the territory is checked on the index entries instead of on table rows.
FORECAST_INDEXES = {
	"op_forecast_index": (
		"company",
		"expected_closing",
		"territory",
		"status",
		"sales_stage",
		"probability",
		"base_opportunity_amount",
	),
	"op_forecast_territory_index": (
		"territory",
		"company",
		"expected_closing",
		"status",
		"sales_stage",
		"probability",
		"base_opportunity_amount",
	),
	# Pipeline movement and the forecast as of a past date sum the deals created since a moment that are
	# in a period's open pipeline now (of one Sales Pipeline, or any): from index entries alone.
	"op_creation_index": (
		"creation",
		"company",
		"status",
		"expected_closing",
		"base_opportunity_amount",
		"territory",
		"opportunity_owner",
		"op_pipeline",
	),
	# Win/loss, targets (won in a period) and the Closed forecast category read the deals closed in a
	# window (of one Sales Pipeline, or any), summed by status and by territory and owner, by source or
	# type, or by pipeline: from index entries alone (two indexes: one would pass InnoDB's 3072-byte key
	# limit).
	"op_closed_index": (
		"company",
		"op_closed_on",
		"status",
		"territory",
		"opportunity_owner",
		"base_opportunity_amount",
		"op_pipeline",
	),
	"op_closed_source_index": (
		"company",
		"op_closed_on",
		"status",
		"source",
		"opportunity_type",
		"base_opportunity_amount",
		"op_pipeline",
	),
}


# The pipeline summary's reads of a window of close months (forecast, cards, charts), of every pipeline or
# one, for callers who see every territory or whose restriction is on territory: from index entries alone
# (a summary row is several times wider), in the order the forecast groups by, so that grouped by stage it
# sums in index order without a temporary table. Its table is the app's own: it goes with the app.
SUMMARY_INDEXES = {
	"op_summary_read_index": (
		"company",
		"close_month",
		"status",
		"sales_stage",
		"pipeline",
		"territory",
		"deal_count",
		"base_amount",
		"weighted_amount",
	),
}


# Stage Conversion sums a pipeline's rows of the deals created in a window, by stage: from index entries
# alone (also under a restriction by territory or owner).
STAGE_ENTRY_INDEXES = {
	"op_stage_entry_read_index": (
		"company",
		"pipeline",
		"created_on",
		"sales_stage",
		"territory",
		"opportunity_owner",
		"first_visit",
		"went_on",
		"won",
		"lost",
		"still_here",
		"finished",
		"days",
	),
}


def index_columns(index_name: str, doctype: str = "Opportunity") -> list[str]:
	rows = frappe.db.sql(
		"""select column_name from information_schema.statistics
		where table_schema = database() and table_name = %s and index_name = %s
		order by seq_in_index""",
		(f"tab{doctype}", index_name),
	)
	return [row[0] for row in rows]


def ensure_indexes() -> None:
	"""Create the app's indexes, or rebuild one an earlier version of the app declared with other columns."""
	for doctype, indexes in (
		("Opportunity", FORECAST_INDEXES),
		(summary.SUMMARY, SUMMARY_INDEXES),
		(funnel.ENTRY, STAGE_ENTRY_INDEXES),
	):
		for name, columns in indexes.items():
			existing = index_columns(name, doctype)
			if existing == list(columns):
				continue
			if existing:
				frappe.db.sql_ddl(f"alter table `tab{doctype}` drop index `{name}`")
			frappe.db.add_index(doctype, list(columns), name)


def drop_indexes() -> None:
	for name in FORECAST_INDEXES:
		if frappe.db.has_index("tabOpportunity", name):
			frappe.db.sql_ddl(f"alter table `tabOpportunity` drop index `{name}`")


def backfill_closed_on() -> None:
	"""Closed On for closed opportunities that have none (closed before the app kept it: the day they
	were declared lost, else the last time the deal history recorded their status, else their last
	modification), and none for open ones. Set-based; on later migrates only rows that need it change, and
	the pipeline summary (keyed by the month of Closed On) follows them."""
	closed = {"closed": sorted(CLOSED_STATUSES)}
	stale = frappe.db.sql_list(
		"""select `name` from `tabOpportunity` where (`status` in %(closed)s and `op_closed_on` is null)
		or (`status` not in %(closed)s and `op_closed_on` is not null)""",
		closed,
	)
	if not stale:
		return
	frappe.db.sql(
		"""
		update `tabOpportunity` set `op_closed_on` = date(coalesce(
			if(`status` = 'Lost', `op_lost_on`, null),
			(
				select max(history.`changed_on`) from `tabOpportunity History` history
				where history.`opportunity` = `tabOpportunity`.`name` and history.`changed_field` = 'status'
					and history.`to_value` = `tabOpportunity`.`status`
			),
			`modified`
		))
		where `status` in %(closed)s and `op_closed_on` is null
		""",
		closed,
	)
	frappe.db.sql(
		"update `tabOpportunity` set `op_closed_on` = null where `status` not in %(closed)s and `op_closed_on` is not null",
		closed,
	)
	if summary.is_current():
		summary.sync(stale)


def backfill_opportunities() -> None:
	"""Bring existing opportunities up to the rules the app keeps from now on.

	- base amount = amount x conversion rate: ERPNext computes it only in the desk form's script, so
	  opportunities created over REST, by import or by code carry a stale one, and the forecast sums it;
	- the overdue flag, as the daily job computes it.
	Set-based updates without saves: no history row, no modified timestamp changes.
	"""
	from opportunity_plus.tasks import flag_overdue_opportunities

	opportunity = frappe.qb.DocType("Opportunity")
	rate = Case().when(IfNull(opportunity.conversion_rate, 0) == 0, 1).else_(opportunity.conversion_rate)
	base = opportunity.opportunity_amount * rate
	frappe.qb.update(opportunity).set(opportunity.base_opportunity_amount, base).where(
		opportunity.base_opportunity_amount != base
	).run()
	flag_overdue_opportunities()


def seed_settings_defaults() -> None:
	"""Give every settings field that has never been set its declared default.

	A value an admin saved (even 0 or empty) is a row in tabSingles and is never touched; a field added
	by a later version of the app gets its default on the migrate that brings it.
	"""
	meta = frappe.get_meta(SETTINGS)
	singles = frappe.qb.Table("tabSingles")
	time_fields = {df.fieldname for df in meta.fields if df.fieldtype == "Time"}
	stored = {
		field
		for field, value in frappe.qb.from_(singles)
		.select(singles.field, singles.value)
		.where(singles.doctype == SETTINGS)
		.run()
		# Frappe fills every Time field of a new document with the current time, whatever its default
		# (create_new.set_dynamic_default_values): such a value, with its microseconds, was never chosen.
		if not (field in time_fields and value and "." in str(value))
	}
	missing = {
		df.fieldname: df.default
		for df in meta.fields
		if df.default is not None
		and df.fieldname not in stored
		and not df.is_virtual
		# a default linking to a record the site does not have stays unset rather than failing install
		and (df.fieldtype != "Link" or frappe.db.exists(df.options, df.default))
	}
	if not missing:
		return
	settings = frappe.get_single(SETTINGS)
	for fieldname, default in missing.items():
		settings.set(fieldname, settings.cast(default, meta.get_field(fieldname)))
	settings.flags.ignore_permissions = True
	settings.save()


def before_uninstall() -> None:
	"""Remove the fields the app added to other doctypes.

	Only the Custom Field definitions go: the columns and the values users typed into them stay in the
	tables (as with every Frappe app), so reinstalling brings them back; `bench trim-tables` drops them.
	ERPNext's own fields and every Opportunity row are never touched.
	"""
	restore_stock_jobs()
	drop_indexes()
	assignment.remove_assignment_rules()
	# The summary's tables go with the app's doctypes: a reinstall must build it again.
	summary.forget_built()
	funnel.forget_built()
	for doctype, fields in get_custom_fields().items():
		for name in frappe.get_all(
			"Custom Field",
			filters={"dt": doctype, "fieldname": ("in", [f["fieldname"] for f in fields])},
			pluck="name",
		):
			frappe.delete_doc("Custom Field", name, ignore_permissions=True, force=True)
		frappe.clear_cache(doctype=doctype)
	for setter in get_property_setters():
		frappe.db.delete(
			"Property Setter",
			{
				"doc_type": setter["doctype"],
				"field_name": setter["fieldname"],
				"property": setter["property"],
			},
		)
		frappe.clear_cache(doctype=setter["doctype"])
	# Anything else tagged with the module is removed by Frappe's own uninstall, which deletes every
	# record linked to the app's modules (and the app's doctypes with their data).
