"""Every reader of the app x every kind of caller: the figures a caller gets equal what
`frappe.get_list("Opportunity")` returns to that caller, or the call is refused with 403.

The readers are discovered (every whitelisted method and every report of the app): a new one without a
row here fails `test_every_method_and_report_has_a_row`. Calls go through Frappe's request handler
(endpoint.call), reports through `frappe.desk.query_report.run`, as the desk and REST reach them.

Callers: Guest; a user with no role and nothing shared; a user with no sales role and one opportunity
shared with them; a Sales User limited by a Territory user permission whose name holds `%`, `'` and
non-ASCII letters; a user whose only role reads Opportunity `if_owner`; a Sales Manager; a System Manager
(no Opportunity permission in ERPNext) with one opportunity shared.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import frappe
from frappe.permissions import add_permission, update_permission_property
from frappe.tests.utils import FrappeTestCase
from frappe.utils import (
	add_days,
	add_months,
	flt,
	get_first_day,
	get_last_day,
	getdate,
	nowdate,
	random_string,
)
from frappe.utils.nestedset import get_root_of

from opportunity_plus.api.forecast import current_quarter
from opportunity_plus.core.forecast import LOST, OPEN, WON, Deal, outcome
from opportunity_plus.core.stages import CLOSED_STATUSES, OPEN_STATUSES
from opportunity_plus.pipeline import (
	clear_stage_cache,
	default_pipeline,
	first_stage_of_kind,
	get_settings,
	get_stages,
)
from opportunity_plus.tests.integration import endpoint, factories

REFUSED = "refused"
LOST_REASON = "OP Matrix Reason"
ROW_FIELDS = [
	"name",
	"status",
	"sales_stage",
	"base_opportunity_amount",
	"probability",
	"expected_closing",
	"creation",
	"company",
	"opportunity_from",
	"party_name",
	"op_next_contact_by",
	"op_next_contact_date",
]


@dataclass
class Context:
	company: str
	lead: str
	other_lead: str = ""
	users: dict[str, str] = field(default_factory=dict)
	deals: dict[str, str] = field(default_factory=dict)
	# per user, an opportunity they may read (for readers of one opportunity)
	readable: dict[str, str | None] = field(default_factory=dict)
	follow_up_person: str = ""


def rows_for(user: str, filters: dict | list | None = None):
	"""What get_list gives `user` (None when it refuses): the row-level truth of this test."""
	frappe.set_user(user)
	try:
		return frappe.get_list("Opportunity", filters=filters, fields=ROW_FIELDS, limit_page_length=0)
	except frappe.PermissionError:
		frappe.clear_last_message()
		return None
	finally:
		frappe.set_user("Administrator")


def kind_of(row) -> str:
	stage = get_stages().get(row.sales_stage) if row.sales_stage else None
	deal = Deal(
		name=row.name,
		company=row.company,
		status=row.status,
		amount=row.base_opportunity_amount,
		stage_kind=stage.kind if stage else None,
	)
	return outcome(deal)


def money(values) -> float:
	return flt(sum(flt(value) for value in values), 2)


def figure(rows) -> tuple:
	return (len(rows), money(row.base_opportunity_amount for row in rows))


def report(name: str, filters: dict, user: str):
	return endpoint.call(
		"frappe.desk.query_report.run",
		{"report_name": name, "filters": json.dumps(filters), "ignore_prepared_report": 1},
		user=user,
	)


def data_rows(result: dict) -> list[dict]:
	return [row for row in result["result"] if isinstance(row, dict) and not row.get("bold")]


def total_row(result: dict) -> dict:
	return next(row for row in result["result"] if isinstance(row, dict) and row.get("bold"))


# --- the readers: (how to call, what get_list says the answer must be) ---------------------------
# Each reader returns a comparable figure from the reader's answer; `expect` returns the same figure
# from the caller's get_list rows, or REFUSED when the caller must get 403.


def may_run_reports(user: str) -> bool:
	return bool(frappe.has_permission("Opportunity", "report", user=user))


def forecast_figure(total: dict) -> tuple:
	return (total["count"], money([total["amount"], total["won_amount"], total["lost_amount"]]))


def read_forecast(ctx, user):
	answer = endpoint.call("opportunity_plus.api.forecast.get_forecast", {"company": ctx.company}, user=user)
	return answer, (lambda result: forecast_figure(result["total"]))


def expect_company_figure(ctx, user):
	rows = rows_for(user, {"company": ctx.company})
	return REFUSED if rows is None else figure(rows)


def read_pipeline_forecast_report(ctx, user):
	answer = report("Pipeline Forecast", {"company": ctx.company, "group_by": "stage"}, user)
	return answer, (lambda result: forecast_figure(total_row(result)))


def expect_company_figure_in_a_report(ctx, user):
	return expect_company_figure(ctx, user) if may_run_reports(user) else REFUSED


def read_win_loss(ctx, user):
	answer = endpoint.call("opportunity_plus.api.winloss.get_win_loss", {"company": ctx.company}, user=user)

	def value(result):
		total = result["win_rate"]["total"]
		return (
			total["won_count"] + total["lost_count"],
			money([total["won_amount"], total["lost_amount"]]),
		)

	return answer, value


def expect_closed_figure(ctx, user):
	rows = rows_for(user, {"company": ctx.company, "status": ("in", sorted(CLOSED_STATUSES))})
	return REFUSED if rows is None else figure(rows)


def read_win_loss_report(ctx, user):
	answer = report("Win Loss Analysis", {"company": ctx.company, "view": "win_rate"}, user)

	def value(result):
		rows = data_rows(result)
		return (
			sum(row["won_count"] + row["lost_count"] for row in rows),
			money([row["won_amount"] + row["lost_amount"] for row in rows]),
		)

	return answer, value


def expect_closed_figure_in_a_report(ctx, user):
	return expect_closed_figure(ctx, user) if may_run_reports(user) else REFUSED


def card(method):
	def read(ctx, user):
		return endpoint.call(f"opportunity_plus.api.cards.{method}", {}, user=user), (
			lambda result: None if result["value"] is None else flt(result["value"], 2)
		)

	return read


def expect_card(kind):
	def expect(ctx, user):
		rows = rows_for(user, {"company": ctx.company})
		if rows is None:
			return REFUSED
		if kind == "open":
			return money(row.base_opportunity_amount for row in rows if kind_of(row) == OPEN)
		if kind == "weighted":
			return money(
				flt(row.base_opportunity_amount) * flt(row.probability) / 100
				for row in rows
				if kind_of(row) == OPEN
			)
		first, last = current_quarter()
		if kind == "won_quarter":
			return money(
				row.base_opportunity_amount
				for row in rows
				if kind_of(row) == WON and row.expected_closing and first <= row.expected_closing <= last
			)
		last = get_last_day(nowdate())
		first = get_first_day(add_months(last, -11))
		window = [
			kind_of(row) for row in rows if row.expected_closing and first <= row.expected_closing <= last
		]
		won, lost = window.count(WON), window.count(LOST)
		return flt(won * 100 / (won + lost), 1) if won + lost else None

	return expect


def read_open_by_stage_chart(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.charts.open_pipeline_by_stage",
		{"chart_name": "Open Pipeline by Stage", "filters": json.dumps({"company": ctx.company})},
		user=user,
	)
	return answer, (lambda result: money(result["datasets"][0]["values"]) if result["datasets"] else 0.0)


def read_weighted_chart(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.charts.weighted_pipeline_by_close_month",
		{"chart_name": "Weighted Pipeline by Close Month", "filters": json.dumps({"company": ctx.company})},
		user=user,
	)
	return answer, (lambda result: money(v for dataset in result["datasets"] for v in dataset["values"]))


def expect_weighted_chart(ctx, user):
	rows = rows_for(user, {"company": ctx.company})
	if rows is None:
		return REFUSED
	months = get_settings().pipeline_chart_months or 12
	end = add_days(add_months(get_first_day(nowdate()), months), -1)
	return money(
		flt(row.base_opportunity_amount) * flt(row.probability) / 100
		for row in rows
		if kind_of(row) == OPEN and row.expected_closing and row.expected_closing <= end
	)


def read_board(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.board.get_board", {"company": ctx.company, "limit_per_stage": 0}, user=user
	)
	return answer, (lambda result: (result["totals"]["count"], flt(result["totals"]["amount"], 2)))


def expect_board(ctx, user):
	rows = rows_for(user, {"company": ctx.company, "status": ("in", sorted(OPEN_STATUSES))})
	if rows is None:
		return REFUSED
	stages = get_stages()
	return figure(
		[row for row in rows if not (row.sales_stage in stages and stages[row.sales_stage].kind != "Open")]
	)


def read_party_deals(ctx, user):
	opportunity = ctx.readable.get(user) or ctx.deals["A1"]
	answer = endpoint.call(
		"opportunity_plus.api.party.get_party_deals", {"opportunity": opportunity, "limit": 100}, user=user
	)
	return answer, (lambda result: result["summary"]["total"]["count"])


def expect_party_deals(ctx, user):
	opportunity = ctx.readable.get(user)
	if not opportunity:
		return REFUSED
	rows = rows_for(user, {"opportunity_from": "Lead", "party_name": ctx.lead, "name": ("!=", opportunity)})
	return REFUSED if rows is None else len(rows)


def read_one_opportunity(method, key="opportunity"):
	def read(ctx, user):
		opportunity = ctx.readable.get(user) or ctx.deals["A1"]
		return endpoint.call(method, {key: opportunity}, user=user), (lambda result: "answered")

	return read


def expect_one_opportunity(*also_needs: tuple[str, str]):
	def expect(ctx, user):
		if not ctx.readable.get(user):
			return REFUSED
		if not all(frappe.has_permission(doctype, ptype, user=user) for doctype, ptype in also_needs):
			return REFUSED
		return "answered"

	return expect


def follow_up_names(rows) -> list[str]:
	return sorted(row.name for row in rows)


def expect_follow_ups(ctx, user):
	rows = rows_for(
		user,
		{
			"op_next_contact_by": ctx.follow_up_person,
			"status": ("in", sorted(OPEN_STATUSES)),
			"op_next_contact_date": ("is", "set"),
		},
	)
	return REFUSED if rows is None else follow_up_names(rows)


def read_my_follow_ups(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.followups.get_my_follow_ups", {"user": ctx.follow_up_person}, user=user
	)
	return answer, (lambda result: sorted(row["opportunity"] for row in result))


def read_my_follow_ups_report(ctx, user):
	answer = report("My Follow-ups", {"user": ctx.follow_up_person}, user)
	return answer, (lambda result: sorted(row["opportunity"] for row in result["result"]))


def expect_follow_ups_in_a_report(ctx, user):
	return expect_follow_ups(ctx, user) if may_run_reports(user) else REFUSED


def calendar_window():
	start = datetime.combine(getdate(nowdate()), time.min)
	return start, start + timedelta(days=14)


def read_calendar(ctx, user):
	start, end = calendar_window()
	answer = endpoint.call(
		"opportunity_plus.api.followups.get_calendar_events",
		{
			"start": str(start),
			"end": str(end),
			"filters": json.dumps([["Opportunity", "company", "=", ctx.company]]),
		},
		user=user,
	)
	return answer, (lambda result: sorted(row["name"] for row in result))


def expect_calendar(ctx, user):
	start, end = calendar_window()
	rows = rows_for(
		user,
		[
			["company", "=", ctx.company],
			["status", "in", sorted(OPEN_STATUSES)],
			["op_next_contact_date", ">=", start],
			["op_next_contact_date", "<=", end],
		],
	)
	return REFUSED if rows is None else follow_up_names(rows)


def read_response_report(ctx, user):
	today = nowdate()
	answer = report(
		"Minutes to First Response for Opportunity",
		{"company": ctx.company, "from_date": today, "to_date": today, "group_by": "owner"},
		user,
	)
	return answer, (lambda result: sum(row["responded"] + row["not_responded"] for row in data_rows(result)))


def expect_created_today(ctx, user):
	if not may_run_reports(user):
		return REFUSED
	today = getdate(nowdate())
	rows = rows_for(
		user,
		[
			["company", "=", ctx.company],
			["creation", ">=", datetime.combine(today, time.min)],
			["creation", "<", datetime.combine(add_days(today, 1), time.min)],
		],
	)
	return REFUSED if rows is None else len(rows)


def read_stages(method):
	def read(ctx, user):
		return endpoint.call(method, {}, user=user), (lambda result: "answered")

	return read


def expect_stage_reader(ctx, user):
	readable = frappe.has_permission("Opportunity", "read", user=user) or frappe.has_permission(
		"Sales Stage", "read", user=user
	)
	return "answered" if readable else REFUSED


def expect_opportunity_reader(ctx, user):
	return "answered" if frappe.has_permission("Opportunity", "read", user=user) else REFUSED


def read_stage_requirements(ctx, user):
	opportunity = ctx.readable.get(user) or ctx.deals["A1"]
	stage = frappe.db.get_value("Opportunity", opportunity, "sales_stage") or first_stage_of_kind("Open").name
	answer = endpoint.call(
		"opportunity_plus.api.pipelines.get_stage_requirements",
		{"opportunity": opportunity, "stage": stage},
		user=user,
	)
	return answer, (lambda result: "answered")


def read_autoclose_preview(ctx, user):
	return endpoint.call("opportunity_plus.api.autoclose.preview", {"horizon_days": 5}, user=user), (
		lambda result: "answered"
	)


def expect_settings_manager(ctx, user):
	return "answered" if frappe.has_permission("Opportunity Plus Settings", "write", user=user) else REFUSED


def read_history_list(ctx, user):
	"""Not a method of the app: the Opportunity History list, through the app's permission query."""
	frappe.set_user(user)
	try:
		names = frappe.get_list(
			"Opportunity History",
			filters={"opportunity": ("in", list(ctx.deals.values()))},
			pluck="opportunity",
			distinct=True,
			limit_page_length=0,
		)
		answer = endpoint.Answer(200, result=names)
	except frappe.PermissionError as error:
		frappe.clear_last_message()
		answer = endpoint.Answer(403, exception=error)
	finally:
		frappe.set_user("Administrator")
	return answer, (lambda result: sorted(set(result)))


def expect_history_list(ctx, user):
	if not frappe.has_permission("Opportunity History", "read", user=user):
		return REFUSED
	rows = rows_for(user, {"name": ("in", list(ctx.deals.values()))})
	return sorted(row.name for row in rows or [])


# --- targets and forecast categories: the current month's figures of the caller's deals ------------


def this_month():
	first = get_first_day(nowdate())
	return first, getdate(add_days(add_months(first, 1), -1)), f"{first.year:04d}-{first.month:02d}"


def closing_date(row):
	"""The day a closed deal closed, by api.winloss's rule (lost date, else the latest history row that
	set its status, else its last change)."""
	if row.status == "Lost" and frappe.db.get_value("Opportunity", row.name, "op_lost_on"):
		return getdate(frappe.db.get_value("Opportunity", row.name, "op_lost_on"))
	changed = frappe.get_all(
		"Opportunity History",
		filters={"opportunity": row.name, "changed_field": "status", "to_value": row.status},
		pluck="changed_on",
		order_by="changed_on desc",
		limit=1,
	)
	return getdate(changed[0] if changed else frappe.db.get_value("Opportunity", row.name, "modified"))


def in_this_month(row) -> bool:
	first, last, _key = this_month()
	day = closing_date(row) if row.status in CLOSED_STATUSES else row.expected_closing
	return bool(day) and first <= getdate(day) <= last


def read_attainment(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.targets.get_attainment",
		{"company": ctx.company, "period": this_month()[2]},
		user=user,
	)
	return answer, (lambda result: attainment_figure(result["total"]))


def attainment_figure(total: dict) -> tuple:
	return (
		total["won_count"],
		flt(total["won_amount"], 2),
		total["open_count"],
		flt(total["open_amount"], 2),
	)


def expect_attainment(ctx, user):
	rows = rows_for(user, {"company": ctx.company})
	if rows is None:
		return REFUSED
	won = [row for row in rows if row.status == "Converted" and in_this_month(row)]
	pipeline = [row for row in rows if row.status in OPEN_STATUSES and in_this_month(row)]
	return (*figure(won), *figure(pipeline))


def read_attainment_report(ctx, user):
	answer = report("Sales Target Attainment", {"company": ctx.company, "period": this_month()[2]}, user)
	return answer, (lambda result: attainment_figure(total_row(result)))


def expect_attainment_in_a_report(ctx, user):
	return expect_attainment(ctx, user) if may_run_reports(user) else REFUSED


def category_figure(total: dict) -> tuple:
	# Best Case includes Commit: closed + best case + pipeline + omitted is every deal once.
	parts = ("closed", "best_case", "pipeline", "omitted")
	return (
		sum(total[f"{part}_count"] for part in parts),
		money(total[f"{part}_amount"] for part in parts),
	)


def read_category_forecast(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.categories.get_category_forecast",
		{"company": ctx.company, "period": this_month()[2], "group_by": "territory"},
		user=user,
	)
	return answer, (lambda result: category_figure(result["total"]["total"]))


def expect_category_forecast(ctx, user):
	rows = rows_for(user, {"company": ctx.company})
	return REFUSED if rows is None else figure([row for row in rows if in_this_month(row)])


def read_category_report(ctx, user):
	answer = report(
		"Forecast by Category", {"company": ctx.company, "period": this_month()[2], "group_by": "owner"}, user
	)
	return answer, (lambda result: category_figure(total_row(result)))


def expect_category_forecast_in_a_report(ctx, user):
	return expect_category_forecast(ctx, user) if may_run_reports(user) else REFUSED


def read_movement(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.movement.get_movement",
		{"company": ctx.company, "from_date": str(add_days(getdate(nowdate()), -3))},
		user=user,
	)
	return answer, (lambda result: flt(result["closing"], 2))


def read_as_of(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.movement.get_forecast_as_of", {"company": ctx.company}, user=user
	)
	return answer, (lambda result: flt(result["total"]["amount"], 2))


def expect_open_this_quarter(ctx, user):
	"""The open pipeline of the current quarter (the default period of movement and as-of)."""
	first, last = current_quarter()
	rows = rows_for(
		user,
		[
			["company", "=", ctx.company],
			["status", "in", sorted(OPEN_STATUSES)],
			["expected_closing", ">=", first],
			["expected_closing", "<=", last],
		],
	)
	return REFUSED if rows is None else money(row.base_opportunity_amount for row in rows)


def read_stage_conversion(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.funnel.get_stage_conversion", {"company": ctx.company}, user=user
	)
	return answer, (lambda result: result["deals"])


def read_stage_conversion_report(ctx, user):
	answer = report("Stage Conversion", {"company": ctx.company}, user)
	return answer, (lambda result: result["report_summary"][0]["value"])


def expect_created_in_the_default_pipeline(ctx, user):
	"""The deals of the company created in the last three months (api.funnel's default window, today
	included) that are in the default pipeline (a blank pipeline is the default's)."""
	rows = rows_for(
		user,
		[
			["company", "=", ctx.company],
			["creation", ">=", add_days(add_months(getdate(nowdate()), -3), 1)],
		],
	)
	if rows is None:
		return REFUSED
	default = default_pipeline()
	pipelines = dict(
		frappe.get_all(
			"Opportunity",
			filters={"name": ("in", [row.name for row in rows] or [""])},
			fields=["name", "op_pipeline"],
			as_list=True,
		)
	)
	return sum(1 for row in rows if (pipelines.get(row.name) or default) == default)


def expect_created_in_the_default_pipeline_in_a_report(ctx, user):
	return expect_created_in_the_default_pipeline(ctx, user) if may_run_reports(user) else REFUSED


def read_forecast_call(method):
	"""A forecast-call reader for the root of the Sales Person tree: only those who see every sales person
	(Sales Manager) may; nobody in the fixture is a Sales Person."""

	def read(ctx, user):
		root = get_root_of("Sales Person")
		answer = endpoint.call(method, {"company": ctx.company, "sales_person": root}, user=user)
		return answer, (lambda result: "answered")

	return read


def read_forecast_call_accuracy_report(ctx, user):
	answer = report(
		"Forecast Call Accuracy", {"company": ctx.company, "sales_person": get_root_of("Sales Person")}, user
	)
	return answer, (lambda result: "answered")


def expect_sales_manager(ctx, user):
	return "answered" if "Sales Manager" in frappe.get_roles(user) else REFUSED


def read_my_forecast_call(ctx, user):
	answer = endpoint.call(
		"opportunity_plus.api.forecast_call.my_forecast_call",
		{"filters": json.dumps({"company": ctx.company})},
		user=user,
	)
	return answer, (lambda result: result["value"])


def expect_my_forecast_call(ctx, user):
	"""Nobody of the fixture is a Sales Person: those who may read forecast calls are told so."""
	return "No Sales Person" if frappe.has_permission("Forecast Submission", "read", user=user) else REFUSED


READERS = {
	"opportunity_plus.api.forecast.get_forecast": (read_forecast, expect_company_figure),
	"report:Pipeline Forecast": (read_pipeline_forecast_report, expect_company_figure_in_a_report),
	"opportunity_plus.api.winloss.get_win_loss": (read_win_loss, expect_closed_figure),
	"report:Win Loss Analysis": (read_win_loss_report, expect_closed_figure_in_a_report),
	"opportunity_plus.api.cards.open_pipeline": (card("open_pipeline"), expect_card("open")),
	"opportunity_plus.api.cards.weighted_pipeline": (card("weighted_pipeline"), expect_card("weighted")),
	"opportunity_plus.api.cards.won_this_quarter": (card("won_this_quarter"), expect_card("won_quarter")),
	"opportunity_plus.api.cards.win_rate": (card("win_rate"), expect_card("win_rate")),
	"opportunity_plus.api.charts.open_pipeline_by_stage": (read_open_by_stage_chart, expect_card("open")),
	"opportunity_plus.api.charts.weighted_pipeline_by_close_month": (
		read_weighted_chart,
		expect_weighted_chart,
	),
	"opportunity_plus.api.board.get_board": (read_board, expect_board),
	"opportunity_plus.api.party.get_party_deals": (read_party_deals, expect_party_deals),
	"opportunity_plus.api.mappers.get_expected_margin": (
		read_one_opportunity("opportunity_plus.api.mappers.get_expected_margin"),
		expect_one_opportunity(("Supplier Quotation", "read")),
	),
	"opportunity_plus.api.mappers.get_supplier_plan": (
		read_one_opportunity("opportunity_plus.api.mappers.get_supplier_plan"),
		expect_one_opportunity(("Supplier Quotation", "create")),
	),
	"opportunity_plus.api.mappers.get_request_suppliers": (
		read_one_opportunity("opportunity_plus.api.mappers.get_request_suppliers"),
		expect_one_opportunity(("Request for Quotation", "create")),
	),
	"opportunity_plus.api.followups.get_my_follow_ups": (read_my_follow_ups, expect_follow_ups),
	"report:My Follow-ups": (read_my_follow_ups_report, expect_follow_ups_in_a_report),
	"opportunity_plus.api.followups.get_calendar_events": (read_calendar, expect_calendar),
	"report:Minutes to First Response for Opportunity": (read_response_report, expect_created_today),
	"opportunity_plus.api.stages.get_stages": (
		read_stages("opportunity_plus.api.stages.get_stages"),
		expect_stage_reader,
	),
	"opportunity_plus.api.stages.search_stages": (
		read_stages("opportunity_plus.api.stages.search_stages"),
		expect_stage_reader,
	),
	"opportunity_plus.api.autoclose.preview": (read_autoclose_preview, expect_settings_manager),
	"opportunity_plus.api.pipelines.get_pipelines": (
		read_stages("opportunity_plus.api.pipelines.get_pipelines"),
		expect_opportunity_reader,
	),
	"opportunity_plus.api.pipelines.suggest_pipeline": (
		read_stages("opportunity_plus.api.pipelines.suggest_pipeline"),
		expect_opportunity_reader,
	),
	"opportunity_plus.api.pipelines.get_stage_requirements": (
		read_stage_requirements,
		expect_one_opportunity(),
	),
	"Opportunity History list": (read_history_list, expect_history_list),
	"opportunity_plus.api.movement.get_movement": (read_movement, expect_open_this_quarter),
	"opportunity_plus.api.movement.get_forecast_as_of": (read_as_of, expect_open_this_quarter),
	"opportunity_plus.api.cards.target_attainment": (
		read_stages("opportunity_plus.api.cards.target_attainment"),
		expect_opportunity_reader,
	),
	"opportunity_plus.api.cards.pipeline_coverage": (
		read_stages("opportunity_plus.api.cards.pipeline_coverage"),
		expect_opportunity_reader,
	),
	"opportunity_plus.api.sales_forecast.get_periods": (
		read_stages("opportunity_plus.api.sales_forecast.get_periods"),
		expect_opportunity_reader,
	),
	"opportunity_plus.api.targets.get_attainment": (read_attainment, expect_attainment),
	"report:Sales Target Attainment": (read_attainment_report, expect_attainment_in_a_report),
	"opportunity_plus.api.categories.get_category_forecast": (
		read_category_forecast,
		expect_category_forecast,
	),
	"report:Forecast by Category": (read_category_report, expect_category_forecast_in_a_report),
	"opportunity_plus.api.funnel.get_stage_conversion": (
		read_stage_conversion,
		expect_created_in_the_default_pipeline,
	),
	"report:Stage Conversion": (
		read_stage_conversion_report,
		expect_created_in_the_default_pipeline_in_a_report,
	),
	"opportunity_plus.api.forecast_call.get_forecast_call": (
		read_forecast_call("opportunity_plus.api.forecast_call.get_forecast_call"),
		expect_sales_manager,
	),
	"opportunity_plus.api.forecast_call.get_accuracy": (
		read_forecast_call("opportunity_plus.api.forecast_call.get_accuracy"),
		expect_sales_manager,
	),
	"report:Forecast Call Accuracy": (read_forecast_call_accuracy_report, expect_sales_manager),
	"opportunity_plus.api.forecast_call.my_forecast_call": (read_my_forecast_call, expect_my_forecast_call),
}

# Methods that write: each is checked for refusing a caller who may not write the opportunity it names
# (TestWritersRefuseCallersWithoutAccess); listed here so that discovery knows them.
WRITERS = {
	"opportunity_plus.api.followups.set_follow_up",
	"opportunity_plus.api.board.move_to_stage",
	"opportunity_plus.api.board.declare_lost",
	"opportunity_plus.api.mappers.make_quotation",
	"opportunity_plus.api.mappers.make_supplier_quotations",
	"opportunity_plus.api.mappers.make_request_for_quotation",
	"opportunity_plus.api.lead.convert_lead",
	"opportunity_plus.api.forecast_call.submit_call",
	"opportunity_plus.api.forecast_call.adjust_call",
}


class MatrixFixture(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.own_deals_role = OwnDealsRole()

	@classmethod
	def tearDownClass(cls):
		cls.own_deals_role.remove()
		super().tearDownClass()

	def setUp(self):
		self.ctx = build_fixture(self.own_deals_role.name)

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback()
		clear_stage_cache()


def build_fixture(own_deals_role: str) -> Context:
	company = factories.company()
	ctx = Context(company=company, lead=factories.lead())
	odd = factories.territory(prefix="OP 50% O'Brien Zürich")
	other = factories.territory()
	open_stage = first_stage_of_kind("Open").name
	# a lead of the other territory: the territory rep may not convert it
	ctx.other_lead = factories.lead()
	frappe.db.set_value("Lead", ctx.other_lead, "territory", other)

	users = ctx.users
	users["Guest"] = "Guest"
	users["no role"] = factories.sales_user(roles=())
	users["shared only"] = factories.sales_user(roles=("Accounts User",))
	users["territory rep"] = factories.sales_user(territory_name=odd)
	users["if_owner only"] = factories.sales_user(roles=(own_deals_role,))
	users["Sales Manager"] = factories.sales_user(roles=("Sales Manager",))
	users["System Manager"] = factories.sales_user(roles=("System Manager",))
	ctx.follow_up_person = users["Sales Manager"]

	today = getdate(nowdate())

	def deal(key, territory, amount, **values):
		doc = factories.opportunity(
			party_name=ctx.lead,
			territory=territory,
			company=company,
			opportunity_amount=amount,
			sales_stage=values.pop("sales_stage", open_stage),
			probability=values.pop("probability", 40),
			expected_closing=values.pop("expected_closing", add_days(today, 20)),
			**values,
		)
		ctx.deals[key] = doc.name
		return doc

	deal(
		"A1",
		odd,
		100,
		op_next_contact_date=datetime.combine(add_days(today, 2), time(10)),
		op_next_contact_by=ctx.follow_up_person,
	)
	deal("A2", odd, 250, expected_closing=add_days(today, -40))
	deal(
		"B1",
		other,
		400,
		op_next_contact_date=datetime.combine(add_days(today, 3), time(11)),
		op_next_contact_by=ctx.follow_up_person,
	)
	lost = deal("B2", other, 800)
	if not frappe.db.exists("Opportunity Lost Reason", LOST_REASON):
		frappe.get_doc({"doctype": "Opportunity Lost Reason", "lost_reason": LOST_REASON}).insert()
	lost.declare_enquiry_lost([{"lost_reason": LOST_REASON}], [])
	won = deal("W1", odd, 1600, expected_closing=today)
	won.set_status(update=True, status="Converted")
	own = deal("O1", other, 3200)
	frappe.db.set_value("Opportunity", own.name, "owner", users["if_owner only"], update_modified=False)
	shared = deal("S1", other, 6400, expected_closing=add_days(today, 5))
	for key in ("shared only", "System Manager", "territory rep"):
		frappe.share.add_docshare(
			"Opportunity", shared.name, users[key], read=1, flags={"ignore_share_permission": True}
		)

	readable = {
		"Guest": None,
		"no role": None,
		"shared only": shared.name,
		"territory rep": ctx.deals["A1"],
		"if_owner only": own.name,
		"Sales Manager": ctx.deals["B1"],
		"System Manager": shared.name,
	}
	ctx.readable = {users[caller]: name for caller, name in readable.items()}
	return ctx


class OwnDealsRole:
	"""A role that reads (and reports on) only the opportunities its user created.

	Committed, not rolled back like the rest of the fixture: a permission is part of the doctype's cached
	meta, which any other process on the site (a web server, another test run) may cache again from the
	committed state at any moment. Removed at the end, with the Custom DocPerms Frappe copied from the
	standard ones when the site had none.
	"""

	def __init__(self):
		self.name = f"OP Own Deals {random_string(6)}"
		self.customised_before = bool(frappe.db.exists("Custom DocPerm", {"parent": "Opportunity"}))
		frappe.get_doc({"doctype": "Role", "role_name": self.name, "desk_access": 1}).insert(
			ignore_permissions=True
		)
		add_permission("Opportunity", self.name, 0)
		for ptype in ("read", "report", "if_owner"):
			update_permission_property("Opportunity", self.name, 0, ptype, 1, validate=False)
		frappe.db.commit()
		frappe.clear_cache(doctype="Opportunity")

	def remove(self):
		frappe.db.rollback()
		if self.customised_before:
			frappe.db.delete("Custom DocPerm", {"parent": "Opportunity", "role": self.name})
		else:
			frappe.db.delete("Custom DocPerm", {"parent": "Opportunity"})
		frappe.db.delete("Has Role", {"role": self.name})
		frappe.delete_doc("Role", self.name, ignore_permissions=True, force=True)
		frappe.db.commit()
		frappe.clear_cache(doctype="Opportunity")


class TestPermissionMatrix(MatrixFixture):
	def test_every_reader_gives_each_caller_what_get_list_gives_them(self):
		ctx = self.ctx
		# the fixture really separates the callers: each sees a different part of it
		seen = {
			caller: sorted(
				row.name for row in rows_for(user, {"name": ("in", list(ctx.deals.values()))}) or []
			)
			for caller, user in ctx.users.items()
		}
		self.assertEqual(seen["territory rep"], sorted([ctx.deals[k] for k in ("A1", "A2", "W1", "S1")]))
		self.assertEqual(seen["shared only"], [ctx.deals["S1"]])
		self.assertEqual(seen["System Manager"], [ctx.deals["S1"]])
		self.assertEqual(seen["if_owner only"], [ctx.deals["O1"]])
		self.assertEqual(len(seen["Sales Manager"]), len(ctx.deals))
		self.assertEqual(seen["no role"], [])

		for reader, (read, expect) in READERS.items():
			for caller, user in ctx.users.items():
				with self.subTest(reader=reader, caller=caller):
					expected = expect(ctx, user)
					answer, value_of = read(ctx, user)
					if expected == REFUSED:
						self.assertEqual(
							answer.status,
							403,
							f"{reader} as {caller} must be refused, got {answer.status}: "
							f"{answer.message or answer.result}",
						)
					else:
						self.assertEqual(answer.status, 200, f"{reader} as {caller}: {answer.message}")
						self.assertEqual(value_of(answer.result), expected)

	def test_every_method_and_report_has_a_row(self):
		discovered = set(endpoint.app_methods()) | {f"report:{name}" for name in endpoint.app_reports()}
		covered = set(READERS) | WRITERS
		self.assertFalse(
			discovered - covered,
			"add a row to READERS (or WRITERS) of test_permission_matrix.py for each new endpoint or report",
		)
		self.assertFalse({name for name in covered - discovered if "." in name or name.startswith("report:")})


class TestWritersRefuseCallersWithoutAccess(MatrixFixture):
	"""The territory rep may not write B1 (another territory); a shared-only reader may not write S1."""

	def test_writers_refuse_and_write_nothing(self):
		ctx = self.ctx
		rep, reader = ctx.users["territory rep"], ctx.users["shared only"]
		future = str(datetime.combine(add_days(getdate(nowdate()), 3), time(9)))
		calls = {
			"opportunity_plus.api.followups.set_follow_up": {
				"opportunity": ctx.deals["B1"],
				"next_contact_date": future,
			},
			"opportunity_plus.api.board.move_to_stage": {
				"opportunity": ctx.deals["B1"],
				"stage": first_stage_of_kind("Open").name,
			},
			"opportunity_plus.api.board.declare_lost": {
				"opportunity": ctx.deals["B1"],
				"lost_reasons": json.dumps([LOST_REASON]),
			},
			"opportunity_plus.api.mappers.make_quotation": {"source_name": ctx.deals["B1"]},
			"opportunity_plus.api.mappers.make_supplier_quotations": {"opportunity": ctx.deals["B1"]},
			"opportunity_plus.api.mappers.make_request_for_quotation": {
				"opportunity": ctx.deals["B1"],
				"suppliers": json.dumps([]),
			},
			"opportunity_plus.api.lead.convert_lead": {"lead": ctx.other_lead, "deal_name": "x", "amount": 1},
			# nobody of the fixture is a Sales Person: no call of their own, nobody to adjust
			"opportunity_plus.api.forecast_call.submit_call": {"commit": 1, "best_case": 2},
			"opportunity_plus.api.forecast_call.adjust_call": {
				"sales_person": get_root_of("Sales Person"),
				"commit": 1,
				"best_case": 2,
			},
		}
		self.assertEqual(set(calls), WRITERS)
		before = snapshot(ctx)
		for method, args in calls.items():
			for caller in (rep, reader, "Guest"):
				with self.subTest(method=method, caller=caller):
					answer = endpoint.call(method, args, user=caller, http="POST")
					self.assertEqual(answer.status, 403, f"{method} as {caller}: {answer.message}")
		self.assertEqual(snapshot(ctx), before)


def snapshot(ctx) -> dict:
	return {
		"opportunities": frappe.get_all(
			"Opportunity",
			filters={"name": ("in", list(ctx.deals.values()))},
			fields=["name", "status", "sales_stage", "op_next_contact_date", "modified"],
			order_by="name",
		),
		"counts": {
			doctype: frappe.db.count(doctype)
			for doctype in (
				"Quotation",
				"Supplier Quotation",
				"Request for Quotation",
				"Customer",
				"ToDo",
				"Forecast Submission",
			)
		},
	}


class TestSharedWithNoRole(MatrixFixture):
	"""Defect 5 of the permissions issue: a user with no sales role and one shared deal used to get the
	whole company's figures from the forecast while /api/resource/Opportunity listed one deal."""

	def test_forecast_counts_only_the_shared_deal(self):
		answer = endpoint.call(
			"opportunity_plus.api.forecast.get_forecast",
			{"company": self.ctx.company},
			user=self.ctx.users["shared only"],
		)
		self.assertEqual(answer.status, 200, answer.message)
		self.assertEqual(answer.result["total"]["count"], 1)
		self.assertEqual(flt(answer.result["total"]["amount"]), 6400)
