"""The desk as a Sales User (limited to one territory by a User Permission) and as a Sales Manager.

Each test runs once per role (the `desk` fixture, see conftest.py) over the committed fixture data
(fixture.py); each page is a step with its own screenshot, and every step also fails on a failed API call,
a console error, an uncaught page error or an error dialog (desk.py).
"""

import json
import secrets
from urllib.parse import quote

from opportunity_plus.tests.browser.desk import VIEWPORT, Desk

REPORTS = (
	"Pipeline Forecast",
	"Win Loss Analysis",
	"My Follow-ups",
	"Minutes to First Response for Opportunity",
	"Forecast by Category",
	"Sales Target Attainment",
	"Stage Conversion",
)
WORKSPACE_CARDS = (
	"Open Pipeline",
	"Weighted Pipeline",
	"Won This Quarter",
	"Win Rate",
	"Target Attainment",
	"Pipeline Coverage",
	"My Forecast Call",
)
WORKSPACE_CHARTS = ("Weighted Pipeline by Close Month", "Open Pipeline by Stage")
BOARD_VIEWPORT = {"width": 3000, "height": 1000}


def is_rep(desk: Desk) -> bool:
	return desk.role == "Sales User"


def test_opportunity_list_form_and_calendar(desk: Desk, opb: dict):
	deals = opb["deals"]

	with desk.step("Opportunity list"):
		# only the fixture's deals, so that other opportunities of the site never page them out
		desk.open("/app/opportunity?title=" + quote(json.dumps(["like", "OPB %"])))
		desk.wait_for(
			"() => window.cur_list && cur_list.doctype === 'Opportunity' && Array.isArray(cur_list.data)",
			"the Opportunity list to load",
		)
		listed = set(desk.js("() => cur_list.data.map((row) => row.name)"))
		rows = desk.js("() => document.querySelectorAll('.frappe-list .list-row-container').length")
		assert rows == len(listed), f"the list shows {rows} rows for {len(listed)} loaded deals"
		expected = set(opb["visible_open"][desk.role]) | {deals["lost"]}
		assert expected <= listed, f"deals missing from the list: {sorted(expected - listed)}"
		if is_rep(desk):
			assert (
				deals["hidden"] not in listed
			), f"the rep sees {deals['hidden']} of {opb['other_territory']}, outside their territory"

	# ends on the Items tab; the Details tab (follow-up and both panels) has a screenshot of its own
	with desk.step("Opportunity form"):
		name = deals["alpha"]
		open_form(desk, "Opportunity", name)
		form = desk.js(
			"""() => ({
				items: cur_frm.doc.items.length,
				follow_up_visible: $(cur_frm.fields_dict.op_next_contact_date.wrapper).is(':visible'),
				next_contact_by: cur_frm.doc.op_next_contact_by,
				next_contact_date: cur_frm.doc.op_next_contact_date,
			})"""
		)
		assert form["items"] >= 1, "the opportunity shows no item lines"
		assert form["follow_up_visible"], "the Follow-up section (Next Contact Date) is not visible"
		assert (
			form["next_contact_by"] == opb["users"]["Sales User"] and form["next_contact_date"]
		), f"the follow-up is not shown: {form}"
		# Both panels start collapsed: open them as a user would.
		expand_section(desk, "Deal History")
		history = desk.page.locator(".op-history")
		history.wait_for(state="visible")
		changes = history.locator(".op-changes tbody tr")
		assert (
			changes.count() >= 2
		), f"Deal History lists {changes.count()} change(s), expected the stage and amount"
		moved_to = opb["open_stages"][2]
		assert moved_to in history.inner_text(), f"Deal History does not show the move to {moved_to}"
		expand_section(desk, "Party's Deals")
		party_deals = desk.page.locator(".op-party-deals-table")
		party_deals.wait_for(state="visible")
		shown = party_deals.inner_text()
		for other in (deals["beta"], deals["gamma"]):
			assert other in shown, f"Party's Deals does not list {other}"
		desk.settle()
		# Neither sales role may read Supplier Quotation: the margin line must not appear (nor fail).
		margin = desk.page.locator(".op-expected-margin").count()
		assert margin == 0, "the Expected margin line shows for a role that cannot read Supplier Quotations"
		desk.screenshot("Opportunity form details")
		desk.page.locator(".form-tabs .nav-link", has_text="Items").first.click()
		desk.page.locator(
			'.frappe-control[data-fieldname="items"] .grid-body .rows .grid-row'
		).first.wait_for(state="visible")

	with desk.step("Opportunity calendar (follow-ups)"):
		desk.open("/app/opportunity/view/calendar/default")
		desk.wait_for("() => document.querySelector('.fc-view')", "the calendar to render")
		follow_up = desk.page.locator(".fc-event", has_text=follow_up_title(opb, desk.role))
		follow_up.first.wait_for(state="visible")

	desk.raise_failures()


def test_lead_to_customer_with_opportunity(desk: Desk, opb: dict):
	lead = opb["convert_leads"][desk.role]
	deal_name = f"OPB Converted by {desk.role}"
	stage = opb["open_stages"][1]

	with desk.step("Lead > Create > Customer with Opportunity"):
		open_form(desk, "Lead", lead)
		allowed = desk.js(
			"() => frappe.model.can_create('Customer') && frappe.model.can_create('Opportunity')"
		)
		action = desk.page.locator(
			'.inner-group-button[data-label="Create"] .dropdown-item[data-label="Customer%20with%20Opportunity"]'
		)
		if not allowed:
			# Stock ERPNext gives this role no create permission on Customer: the action must be hidden.
			assert (
				action.count() == 0
			), "Create > Customer with Opportunity shows for a role that cannot create a Customer"
		else:
			desk.page.locator('.inner-group-button[data-label="Create"] > button').click()
			action.click()
			dialog = desk.page.locator(".modal.show", has_text="Customer with Opportunity")
			dialog.wait_for(state="visible")
			# Frappe focuses the dialog's first field once it has faded in: typing before that would
			# land in whichever field has the focus then.
			desk.wait_for(
				"() => window.cur_dialog && cur_dialog.$wrapper[0].contains(document.activeElement)"
				" && document.activeElement.matches('input')",
				"the dialog to finish opening (its first field focused)",
			)
			dialog.locator('[data-fieldname="deal_name"] input').fill(deal_name)
			dialog.locator('[data-fieldname="amount"] input').fill("1234")
			closing = desk.js("() => frappe.datetime.add_days(frappe.datetime.get_today(), 30)")
			closing_typed = desk.js("(day) => frappe.datetime.str_to_user(day)", closing)
			dialog.locator('[data-fieldname="expected_closing"] input').fill(closing_typed)
			# a click outside the field closes its date picker (Escape would close the dialog)
			dialog.locator(".modal-title").click()
			pick_link(desk, dialog, "sales_stage", stage)
			values = desk.js("() => cur_dialog.get_values(true)")
			expected = {
				"deal_name": deal_name,
				"amount": 1234,
				"expected_closing": closing,
				"sales_stage": stage,
			}
			assert {key: values.get(key) for key in expected} == expected, f"the dialog holds {values}"
			desk.screenshot("Customer with Opportunity dialog")
			dialog.locator(".modal-footer .btn-primary").click()
			desk.wait_for(
				"(title) => window.cur_frm && cur_frm.doctype === 'Opportunity' && cur_frm.doc.title === title",
				"the new opportunity to open",
				arg=deal_name,
			)
			desk.settle()
			made = desk.js(
				"() => ({name: cur_frm.doc.name, from: cur_frm.doc.opportunity_from, stage: cur_frm.doc.sales_stage,"
				" amount: cur_frm.doc.opportunity_amount, party: cur_frm.doc.party_name})"
			)
			assert made["from"] == "Customer", f"the new opportunity is not for the customer: {made}"
			assert (
				made["stage"] == stage and made["amount"] == 1234
			), f"the dialog's values were not kept: {made}"
			lead_status = desk.api_get(f"/api/resource/Lead/{lead}")["data"]["status"]
			assert lead_status == "Converted", f"the lead is {lead_status}, not Converted"

	desk.raise_failures()


def test_pipeline_board(desk: Desk, opb: dict):
	deals = opb["deals"]
	# Every column on screen at once: a drag must not scroll the board under the mouse.
	desk.page.set_viewport_size(BOARD_VIEWPORT)
	try:
		check_pipeline_board(desk, opb, deals)
	finally:
		desk.page.set_viewport_size(VIEWPORT)
	desk.raise_failures()


def check_pipeline_board(desk: Desk, opb: dict, deals: dict) -> None:
	with desk.step("Pipeline Board"):
		open_board(desk)
		board = board_state(desk)
		for name in opb["visible_open"][desk.role]:
			column = board["column_of"].get(name)
			truncated = any(column["has_more"] for column in board["columns"])
			assert column or truncated, f"the board has no card for {name}"
		if is_rep(desk):
			assert (
				deals["hidden"] not in board["column_of"]
			), f"the rep's board shows {deals['hidden']} of {opb['other_territory']}, outside their territory"

	with desk.step("Pipeline Board: drag a card to another stage"):
		# the fixture's territory only, so the card is on the board whatever else the site holds
		desk.js(
			"(territory) => frappe.container.page.pipeline_board.filters.territory.set_value(territory)",
			opb["territory"],
		)
		desk.settle()
		name = deals["gamma"]
		board = board_state(desk)
		source_stage = board["column_of"].get(name)
		assert source_stage, f"the board has no card for {name} in {opb['territory']}"
		target_stage = next(
			column["stage"]
			for column in board["columns"]
			if column["kind"] == "Open" and column["stage"] and column["stage"] != source_stage
		)
		card = desk.page.locator(f'.op-card[data-name="{name}"]')
		target = desk.page.locator(
			".op-column", has=desk.page.locator(f'.op-column-name[title="{target_stage}"]')
		)
		card.drag_to(target.locator(".op-column-cards"))
		desk.wait_for(
			"([name, stage]) => { const board = frappe.container.page.pipeline_board.board;"
			" return board.columns.some((c) => c.stage === stage && c.cards.some((card) => card.name === name)); }",
			f"{name} to show in {target_stage} after the drop",
			arg=[name, target_stage],
		)
		desk.settle()
		saved = desk.api_get(f"/api/resource/Opportunity/{name}")["data"]["sales_stage"]
		assert (
			saved == target_stage
		), f"dragged {name} from {source_stage} to {target_stage}, but it saved {saved}"


def test_reports(desk: Desk, opb: dict):
	for report in REPORTS:
		with desk.step(f"Report {report}"):
			desk.open(f"/app/query-report/{report}")
			desk.wait_for(
				"(name) => frappe.query_report && frappe.query_report.report_name === name"
				" && Array.isArray(frappe.query_report.data)",
				f"{report} to run",
				arg=report,
			)
			desk.settle()
			rows = desk.js("() => frappe.query_report.data.length")
			assert rows > 0, f"{report} shows no rows"
			desk.page.locator(".dt-scrollable .dt-row").first.wait_for(state="visible")
			if report == "My Follow-ups":
				follow_up = opb["follow_ups"][desk.role]
				listed = desk.js("() => frappe.query_report.data.map((row) => row.opportunity)")
				assert follow_up in listed, f"My Follow-ups does not list {follow_up}"

	desk.raise_failures()


def test_workspace(desk: Desk, opb: dict):
	with desk.step("Opportunity Plus workspace"):
		desk.open("/app/opportunity-plus")
		# A chart widget shows "Loading..." and then either its chart or "No Data" (both divs
		# .chart-loading-state, one of them shown).
		desk.wait_for(
			"""(count) => {
				const shown = (element) => element.offsetParent !== null;
				const cards = document.querySelectorAll('.number-widget-box .widget-body .number').length;
				const charts = [...document.querySelectorAll('.dashboard-widget-box')];
				return cards >= count && charts.length && charts.every((chart) =>
					![...chart.querySelectorAll('.chart-loading-state')].some(
						(state) => shown(state) && state.innerText.trim() === __('Loading...')
					) && (chart.querySelector('svg.frappe-chart') || [...chart.querySelectorAll('.chart-loading-state')].some(shown))
				);
			}""",
			"the number cards and charts to load",
			arg=len(WORKSPACE_CARDS),
		)
		desk.settle()
		cards = desk.js(
			"""() => Object.fromEntries([...document.querySelectorAll('.number-widget-box')].map((card) => [
				card.querySelector('.widget-title').textContent.trim(),
				(card.querySelector('.widget-body .number') || {}).textContent || '',
			]))"""
		)
		for label in WORKSPACE_CARDS:
			assert cards.get(label, "").strip(), f"the number card {label} shows no value: {cards}"
		charts = desk.js(
			"""() => Object.fromEntries([...document.querySelectorAll('.dashboard-widget-box')].map((chart) => [
				chart.querySelector('.widget-title').textContent.trim(),
				{
					message: [...chart.querySelectorAll('.chart-loading-state')]
						.filter((state) => state.offsetParent !== null).map((state) => state.innerText.trim()).join(' '),
					marks: chart.querySelectorAll(
						'svg.frappe-chart .bar, svg.frappe-chart .donut-path, svg.frappe-chart .pie-path,'
						+ ' svg.frappe-chart .line-graph-path, svg.frappe-chart .percentage-bar'
					).length,
				},
			]))"""
		)
		for label in WORKSPACE_CHARTS:
			chart = charts.get(label)
			assert chart, f"the chart {label} is not on the workspace: {sorted(charts)}"
			assert chart["marks"] and not chart["message"], f"the chart {label} shows no data: {chart}"

	desk.raise_failures()


# --- helpers ---------------------------------------------------------------------------------------------


def test_stage_change_in_the_form(desk: Desk, opb: dict):
	"""Both roles pick another stage in the form's Sales Stage field and save (stock ERPNext lets only
	Sales Manager read Sales Stage: the picker and the check of the picked stage go through the app)."""
	name = opb["deals"]["gamma"]
	start = desk.api_get(f"/api/resource/Opportunity/{quote(name)}")["data"]["sales_stage"]
	target = next(stage for stage in opb["open_stages"] if stage != start)
	for stage in (target, start):  # and back, so the other tests find the fixture as it was
		with desk.step(f"Opportunity form: change the stage to {stage}"):
			open_form(desk, "Opportunity", name)
			pick_link(desk, desk.page, "sales_stage", stage)
			desk.js("() => cur_frm.save()")
			desk.wait_for(
				"(stage) => !cur_frm.is_dirty() && cur_frm.doc.sales_stage === stage",
				f"the opportunity to be saved in {stage}",
				arg=stage,
			)
			saved = desk.api_get(f"/api/resource/Opportunity/{quote(name)}")["data"]
			assert saved["sales_stage"] == stage, f"the stage saved is {saved['sales_stage']}, not {stage}"
	desk.raise_failures()


def test_sales_forecast_page(desk: Desk, opb: dict):
	views = {
		"Targets": ".op-forecast-table",
		"Categories": ".op-forecast-table",
		"Movement": ".op-waterfall",
		"As Of": ".op-forecast-table",
	}
	with desk.step("Sales Forecast"):
		desk.open("/app/sales-forecast")
		desk.wait_for(
			"() => frappe.container.page && frappe.container.page.sales_forecast"
			" && frappe.container.page.sales_forecast.result",
			"the Sales Forecast page to load its first view",
		)
	for view, selector in views.items():
		with desk.step(f"Sales Forecast: {view}"):
			desk.page.locator(".op-forecast-tabs button", has_text=view).first.click()
			desk.page.locator(f".op-forecast-body {selector}").first.wait_for(state="visible")
			desk.settle()
			text = desk.page.locator(".op-forecast-body").inner_text()
			if view == "Categories":
				# the fixture's open deals are in the pipeline of the period the page opens on or later;
				# the table always has the company row
				assert "Company" in text, f"the Categories view shows no company row: {text[:300]}"
			if view == "Movement":
				assert "Opening" in text and "Closing" in text, f"no waterfall: {text[:300]}"
			if is_rep(desk):
				assert "OPB Hidden Deal" not in text, "the rep sees a deal of another territory"
	# The site has two pipelines: the picker shows, and each view answers for the one picked.
	pipeline = opb["pipeline"]["name"]
	answers = {"Targets": "has_targets", "Categories": "periods", "Movement": "steps", "As Of": "as_of"}
	with desk.step("Sales Forecast: one pipeline"):
		assert desk.page.locator(
			".page-form [data-fieldname='pipeline']"
		).first.is_visible(), "no pipeline picker"
		desk.page.evaluate(
			"(name) => frappe.container.page.sales_forecast.filters.pipeline.set_value(name)", pipeline
		)
	for view, selector in views.items():
		with desk.step(f"Sales Forecast: {view} of {pipeline}"):
			desk.page.locator(".op-forecast-tabs button", has_text=view).first.click()
			desk.wait_for(
				"([name, key]) => { const result = frappe.container.page.sales_forecast.result;"
				" return result && key in result && result.pipeline === name; }",
				f"the {view} view of {pipeline}",
				arg=[pipeline, answers[view]],
			)
			desk.page.locator(f".op-forecast-body {selector}").first.wait_for(state="visible")
			desk.settle()
	desk.raise_failures()


def test_forecast_call(desk: Desk, opb: dict):
	"""The Forecast Call view as each role: the computed figures with this week against last; the rep
	submits a call through the form, the manager (the rep's manager in the Sales Person tree) sees the rep's
	call among the direct reports and adjusts it through the dialog; the workspace card shows the call or
	"Due" and opens the view. Each role's part stands alone: the fixture made a first call for the rep."""
	forecast_call = opb["forecast_call"]
	person = forecast_call["persons"][desk.role]
	token = secrets.token_hex(3)

	with desk.step("Sales Forecast: Forecast Call"):
		desk.open("/app/sales-forecast")
		desk.wait_for(
			"() => frappe.container.page && frappe.container.page.sales_forecast"
			" && frappe.container.page.sales_forecast.result",
			"the Sales Forecast page to load its first view",
		)
		desk.page.locator(".op-forecast-tabs button", has_text="Forecast Call").first.click()
		wait_for_call(desk, person)
		hidden = desk.js(
			"""() => ['group_by', 'item_group', 'from_date', 'to_date', 'as_of', 'territory', 'opportunity_owner',
				'pipeline'].filter((name) => frappe.container.page.sales_forecast.filters[name].$wrapper.is(':visible'))"""
		)
		assert not hidden, f"filters of other views show on the Forecast Call view: {hidden}"
		check_call_figures(desk)

	if is_rep(desk):
		note = f"OPB rep call {token}"
		with desk.step("Forecast Call: submit a call"):
			form = desk.page.locator(".op-call-form")
			form.wait_for(state="visible")
			fill_amount(desk, form, "commit", "2345")
			fill_amount(desk, form, "best_case", "3456")
			form.locator('[data-fieldname="note"] textarea').fill(note)
			desk.page.locator(".op-call-submit").click()
			desk.wait_for(
				"(note) => { const result = frappe.container.page.sales_forecast.result;"
				" return result.call && result.call.note === note; }",
				"the submitted call to show as the latest",
				arg=note,
			)
			desk.settle()
			call = desk.js("() => frappe.container.page.sales_forecast.result.call")
			assert (call["commit"], call["best_case"]) == (2345, 3456), f"the call saved is {call}"
			latest = desk.page.locator(".op-call-latest").inner_text()
			assert note in latest, f"the latest call shown is not the one submitted: {latest!r}"
			assert money(desk, 2345) in latest, f"the latest call does not show its Commit: {latest!r}"
			history = desk.js("() => frappe.container.page.sales_forecast.result.calls.length")
			assert history >= 2, f"the earlier call is not in the history ({history} call(s))"
	else:
		note = f"OPB adjustment {token}"
		rep = forecast_call["rep"]
		row = desk.page.locator(f'tr.op-call-report[data-key="{quote(rep)}"]')
		with desk.step("Forecast Call: the direct reports"):
			row.wait_for(state="visible")
			line = report_line(desk, rep)
			assert line["call"], f"the rep's call is not among the reports: {line}"
			their_call = row.locator(".op-call-their").inner_text()
			assert (
				money(desk, line["call"]["commit"]) in their_call
			), f"the rep's call shows as {their_call!r}"
			before = line["effective"]
			assert money(desk, before["commit"]) in row.locator(".op-call-effective").inner_text()

		with desk.step("Forecast Call: adjust a report's call"):
			commit = int(before["commit"]) + 250
			best_case = max(int(before["best_case"]), commit) + 500
			row.locator("[data-adjust]").click()
			dialog = desk.page.locator(".op-adjust-call-dialog.show")
			dialog.wait_for(state="visible")
			desk.wait_for(
				"() => document.querySelector('.op-adjust-call-dialog.show').contains(document.activeElement)",
				"the adjust dialog to finish opening",
			)
			fill_amount(desk, dialog, "commit", str(commit))
			fill_amount(desk, dialog, "best_case", str(best_case))
			dialog.locator('[data-fieldname="note"] textarea').fill(note)
			desk.screenshot("Forecast Call adjust dialog")
			dialog.locator(".modal-footer .btn-primary").click()
			desk.wait_for(
				"([rep, note]) => { const line = frappe.container.page.sales_forecast.result.reports"
				".find((line) => line.sales_person === rep);"
				" return line && line.adjustment && line.adjustment.note === note; }",
				"the adjustment to show",
				arg=[rep, note],
			)
			desk.settle()
			line = report_line(desk, rep)
			assert (line["effective"]["commit"], line["effective"]["best_case"]) == (
				commit,
				best_case,
			), f"the effective call is {line['effective']}, not the adjustment {commit} / {best_case}"
			assert line["effective"] != before, "the effective call did not change"
			assert money(desk, commit) in row.locator(".op-call-adjustment").inner_text()
			assert money(desk, commit) in row.locator(".op-call-effective").inner_text()
			assert not desk.page.locator(".op-adjust-call-dialog.show").count(), "the dialog stayed open"

	with desk.step("Workspace: My Forecast Call"):
		card = open_workspace_card(desk, "My Forecast Call")
		expected = desk.api_get("/api/method/opportunity_plus.api.forecast_call.my_forecast_call")["message"]
		shown = card.locator(".widget-body .number").inner_text().strip()
		if expected["due"]:
			assert not is_rep(desk), "the card says the rep's call is due right after the rep called"
			assert shown == "Due", f"the card shows {shown!r}, not Due"
		else:
			# the desk shows the amount in the site's number format
			digits = "".join(char for char in shown if char.isdigit())
			assert digits == "".join(
				char for char in expected["value"] if char.isdigit()
			), f"the card shows {shown!r}"
			if is_rep(desk):
				assert digits == "234500", f"the card does not show the rep's call of 2,345.00: {shown!r}"
		desk.screenshot("Workspace My Forecast Call card")
		card.locator(".widget-body").click()
		wait_for_call(desk, person)
		period = desk.js("() => frappe.container.page.sales_forecast.result.period")
		assert period == expected["period"], f"the card opened the call of {period}, not {expected['period']}"

	desk.raise_failures()


def wait_for_call(desk: Desk, person: str) -> None:
	desk.wait_for(
		"(person) => { const page = frappe.container.page.sales_forecast;"
		" return page && page.result_view === 'call' && page.result.sales_person === person"
		" && document.querySelector('.op-call-figures'); }",
		f"the Forecast Call view of {person}",
		arg=person,
	)
	desk.settle()


def check_call_figures(desk: Desk) -> None:
	"""Each computed figure is shown, with an arrow and the change wherever last week had a figure."""
	shown = desk.js(
		"""() => {
			const page = frappe.container.page.sales_forecast;
			const result = page.result;
			return {
				computed: result.computed,
				changes: result.week_over_week,
				boxes: Object.fromEntries([...document.querySelectorAll('.op-call-figure')].map((box) => [
					box.dataset.figure,
					{
						value: box.querySelector('.op-call-figure-value').innerText.trim(),
						wow: box.querySelector('.op-call-figure-wow').innerText.trim(),
					},
				])),
				money: Object.fromEntries(['closed', 'commit', 'best_case', 'pipeline'].map(
					(name) => [name, page.money(result.computed[name])])),
			};
		}"""
	)
	boxes = shown["boxes"]
	assert sorted(boxes) == sorted(
		["closed", "commit", "best_case", "pipeline", "target", "gap", "coverage"]
	), f"the figures shown are {sorted(boxes)}"
	for name, formatted in shown["money"].items():
		assert boxes[name]["value"] == formatted, f"{name} shows {boxes[name]['value']!r}, not {formatted!r}"
	for change in shown["changes"]:
		wow = boxes[change["name"]]["wow"]
		arrow = {"up": "▲", "down": "▼", "same": "="}.get(change["direction"], "")
		assert (arrow in wow) if arrow else not wow, f"{change['name']} {change['direction']}: shows {wow!r}"


def report_line(desk: Desk, sales_person: str) -> dict:
	return desk.js(
		"(name) => frappe.container.page.sales_forecast.result.reports.find((line) => line.sales_person === name)",
		sales_person,
	)


def money(desk: Desk, amount) -> str:
	return desk.js("(amount) => frappe.container.page.sales_forecast.money(amount)", amount)


def fill_amount(desk: Desk, scope, fieldname: str, amount: str) -> None:
	"""Type an amount into a Currency field and leave it, so the desk parses it."""
	field = scope.locator(f'[data-fieldname="{fieldname}"] input')
	field.fill(amount)
	field.press("Tab")
	desk.settle()


def open_workspace_card(desk: Desk, label: str):
	desk.open("/app/opportunity-plus")
	card = desk.page.locator(".number-widget-box", has=desk.page.locator(".widget-title", has_text=label))
	card.first.wait_for(state="visible")
	desk.wait_for(
		"(label) => [...document.querySelectorAll('.number-widget-box')].some((card) =>"
		" card.querySelector('.widget-title').textContent.trim() === label"
		" && (card.querySelector('.widget-body .number') || {}).textContent)",
		f"the number card {label} to show its value",
		arg=label,
	)
	desk.settle()
	return card.first


def test_pipelines_on_the_board(desk: Desk, opb: dict):
	"""The board shows one pipeline, picked by the user and remembered; a drag to a stage whose required
	field the deal lacks asks for it in a dialog, then saves both."""
	pipeline = opb["pipeline"]
	name = pipeline["board_deals"][desk.role]
	desk.page.set_viewport_size(BOARD_VIEWPORT)
	try:
		with desk.step("Pipeline Board: another pipeline"):
			open_board(desk)
			pick_link(desk, desk.page.locator(".page-form"), "pipeline", pipeline["name"])
			desk.wait_for(
				"(pipeline) => frappe.container.page.pipeline_board.board.pipeline === pipeline",
				f"the board to show {pipeline['name']}",
				arg=pipeline["name"],
			)
			desk.settle()
			board = board_state(desk)
			assert [column["stage"] for column in board["columns"]] == pipeline[
				"stages"
			], f"the board's columns are not {pipeline['name']}'s stages: {board['columns']}"
			assert board["column_of"].get(name) == pipeline["stages"][0], f"{name} is not in its first stage"
			assert opb["deals"]["alpha"] not in board["column_of"], "a deal of the default pipeline shows"

		with desk.step("Pipeline Board: a drag asks for the required field"):
			quote = pipeline["quote"]
			card = desk.page.locator(f'.op-card[data-name="{name}"]')
			target = desk.page.locator(
				".op-column", has=desk.page.locator(f'.op-column-name[title="{quote}"]')
			)
			card.drag_to(target.locator(".op-column-cards"))
			dialog = desk.page.locator(".op-required-fields-dialog.show")
			dialog.wait_for(state="visible")
			asked = desk.js(
				"() => [...document.querySelectorAll('.op-required-fields-dialog.show .frappe-control')]"
				".map((control) => control.dataset.fieldname)"
			)
			assert pipeline["quote_needs"] in asked, f"the dialog asks for {asked}"
			assert (
				pipeline["guidance"] in dialog.inner_text()
			), "the dialog does not show the stage's guidance"
			desk.wait_for(
				"() => document.querySelector('.op-required-fields-dialog.show').contains(document.activeElement)",
				"the dialog to finish opening",
			)
			pick_link(desk, dialog, pipeline["quote_needs"], pipeline["contact"])
			desk.screenshot("Pipeline Board required field dialog")
			dialog.locator(".modal-footer .btn-primary").click()
			desk.wait_for(
				"([name, stage]) => frappe.container.page.pipeline_board.board.columns.some("
				"(c) => c.stage === stage && c.cards.some((card) => card.name === name))",
				f"{name} to show in {quote}",
				arg=[name, quote],
			)
			desk.settle()
			saved = desk.api_get(f"/api/resource/Opportunity/{quote_name(name)}")["data"]
			assert (saved["sales_stage"], saved["contact_person"]) == (
				quote,
				pipeline["contact"],
			), f"saved {saved['sales_stage']} / {saved['contact_person']}"

		with desk.step("Pipeline Board: the pipeline is remembered"):
			open_board(desk)
			desk.wait_for(
				"(pipeline) => frappe.container.page.pipeline_board.board.pipeline === pipeline",
				"the board to open on the pipeline picked last",
				arg=pipeline["name"],
			)
			# back to the default pipeline for the user's other pages
			pick_link(desk, desk.page.locator(".page-form"), "pipeline", pipeline["default"])
			desk.wait_for(
				"(pipeline) => frappe.container.page.pipeline_board.board.pipeline === pipeline",
				"the board to show the default pipeline again",
				arg=pipeline["default"],
			)
			desk.settle()
	finally:
		desk.page.set_viewport_size(VIEWPORT)
	desk.raise_failures()


def test_pipeline_in_the_form(desk: Desk, opb: dict):
	"""The form shows the deal's pipeline, its stage picker offers that pipeline's stages, and a stage
	being entered shows its guidance and marks the fields it requires."""
	pipeline = opb["pipeline"]
	name = pipeline["form_deals"][desk.role]
	with desk.step("Opportunity form: the deal's pipeline"):
		open_form(desk, "Opportunity", name)
		assert desk.js("() => cur_frm.doc.op_pipeline") == pipeline["name"]
		field = desk.page.locator('[data-fieldname="sales_stage"] input')
		field.click()
		field.fill("")
		field.press("ArrowDown")
		desk.wait_for(
			'() => document.querySelectorAll(\'[data-fieldname="sales_stage"] [role="option"]\').length',
			"the stage picker's suggestions",
		)
		offered = desk.js(
			"""() => [...document.querySelectorAll('[data-fieldname="sales_stage"] [role="option"]')]
				.map((option) => option.querySelector('strong') ? option.querySelector('strong').innerText.trim()
					: option.innerText.trim().split(/\\s*\\n/)[0])
				.filter((text) => text)"""
		)
		offered = [
			text
			for text in offered
			if text in pipeline["stages"] or text.startswith("OPB") or text in opb["open_stages"]
		]
		assert (
			offered[: len(pipeline["stages"])] == pipeline["stages"]
		), f"the stage picker offers {offered}, not {pipeline['name']}'s stages"
		field.press("Escape")
		desk.settle()

	with desk.step("Opportunity form: a stage with guidance and a required field"):
		pick_link(desk, desk.page, "sales_stage", pipeline["quote"])
		desk.wait_for(
			"(field) => cur_frm.fields_dict[field].df.reqd",
			"the required field to be marked",
			arg=pipeline["quote_needs"],
		)
		intro = desk.js("() => cur_frm.layout.wrapper.find('.form-message').text()")
		assert pipeline["guidance"] in intro, f"the form does not show the stage's guidance: {intro!r}"
		desk.screenshot("Opportunity form stage guidance")
		# leave the form as it was (no save: the field is still empty)
		desk.js("() => cur_frm.reload_doc()")
		desk.settle()
	desk.raise_failures()


def quote_name(name: str) -> str:
	return quote(name)


def open_form(desk: Desk, doctype: str, name: str) -> None:
	desk.open(f"/app/{doctype.lower().replace(' ', '-')}/{quote(name)}")
	desk.wait_for(
		"([doctype, name]) => window.cur_frm && cur_frm.doctype === doctype && cur_frm.doc.name === name"
		" && !cur_frm.is_new()",
		f"the {doctype} form of {name}",
		arg=[doctype, name],
	)
	desk.settle()


def expand_section(desk: Desk, label: str) -> None:
	head = desk.page.locator(".form-section .section-head", has_text=label).first
	head.wait_for(state="visible")
	if "collapsed" in (head.get_attribute("class") or ""):
		head.click()
	desk.settle()


def pick_link(desk: Desk, scope, fieldname: str, value: str) -> None:
	"""Fill a Link field as a user does: type, then choose the value from the suggestions."""
	field = scope.locator(f'[data-fieldname="{fieldname}"] input')
	field.click()
	field.fill(value)
	scope.locator(f'[data-fieldname="{fieldname}"] [role="option"]', has_text=value).first.click()
	desk.settle()


def open_board(desk: Desk) -> None:
	desk.open("/app/pipeline-board")
	desk.wait_for(
		"() => frappe.container.page && frappe.container.page.pipeline_board"
		" && frappe.container.page.pipeline_board.board"
		" && document.querySelectorAll('.op-board .op-column').length",
		"the Pipeline Board to draw its columns",
	)
	desk.settle()


def board_state(desk: Desk) -> dict:
	return desk.js(
		"""() => {
			const board = frappe.container.page.pipeline_board.board;
			const column_of = {};
			for (const column of board.columns) for (const card of column.cards) column_of[card.name] = column.stage;
			// what is drawn, not only what was loaded
			for (const name of Object.keys(column_of)) {
				if (!document.querySelector(`.op-card[data-name="${CSS.escape(name)}"]`)) delete column_of[name];
			}
			return {
				column_of,
				columns: board.columns.map((c) => ({stage: c.stage, kind: c.kind, has_more: !!c.has_more})),
			};
		}"""
	)


def follow_up_title(opb: dict, role: str) -> str:
	return {"Sales User": "OPB Alpha Deal", "Sales Manager": "OPB Beta Deal"}[role]
