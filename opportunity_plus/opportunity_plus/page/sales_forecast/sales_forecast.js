// Sales Forecast: the weekly forecast call on one page. For a period (month, quarter, fiscal year), a
// company and every Sales Pipeline or one (the picker shows where a site has several): targets against won and pipeline (attainment, gap, coverage), the forecast by category
// (Closed, Commit, Best Case, Pipeline), how the pipeline moved between two dates, and the pipeline as
// it stood on a past date. Every figure comes from the app's REST methods, over the deals the user may
// read; a click on a row or a deal opens the opportunities behind it.

frappe.provide("opportunity_plus");

frappe.pages["sales-forecast"].on_page_load = function (wrapper) {
	const page = frappe.ui.make_app_page({
		parent: wrapper,
		title: __("Sales Forecast"),
		single_column: true,
	});
	frappe.breadcrumbs.add("CRM");
	wrapper.sales_forecast = new opportunity_plus.SalesForecast(page);
};

frappe.pages["sales-forecast"].on_page_show = function (wrapper) {
	wrapper.sales_forecast && wrapper.sales_forecast.refresh();
};

opportunity_plus.SalesForecast = class SalesForecast {
	static VIEWS = {
		targets: __("Targets"),
		categories: __("Categories"),
		movement: __("Movement"),
		as_of: __("As Of"),
	};

	constructor(page) {
		this.page = page;
		this.load_count = 0;
		this.view = "targets";
		SalesForecast.add_style();
		this.page.container.addClass("full-width");
		this.$wrapper = $(`
			<div class="op-forecast">
				<div class="op-forecast-tabs btn-group" role="group"></div>
				<div class="op-forecast-note text-muted small"></div>
				<div class="op-forecast-chart"></div>
				<div class="op-forecast-body"></div>
			</div>
		`).appendTo(this.page.main);
		this.$note = this.$wrapper.find(".op-forecast-note");
		this.$chart = this.$wrapper.find(".op-forecast-chart");
		this.$body = this.$wrapper.find(".op-forecast-body");
		this.make_tabs();
		this.make_filters();
		this.page.set_secondary_action(__("Refresh"), () => this.refresh());
		this.$body.on("click", "[data-route]", (event) => {
			event.preventDefault();
			const route = JSON.parse(decodeURIComponent($(event.currentTarget).attr("data-route")));
			frappe.set_route(...route);
		});
		this.load_periods();
	}

	make_tabs() {
		const $tabs = this.$wrapper.find(".op-forecast-tabs");
		for (const [view, label] of Object.entries(SalesForecast.VIEWS)) {
			$(`<button type="button" class="btn btn-default btn-sm" data-view="${view}">${label}</button>`)
				.appendTo($tabs)
				.on("click", () => {
					this.view = view;
					this.show_filters();
					this.refresh();
				});
		}
	}

	make_filters() {
		const refresh = () => this.refresh();
		const field = (df) => this.page.add_field({ change: refresh, ...df });
		this.filters = {
			company: field({
				fieldname: "company",
				label: __("Company"),
				fieldtype: "Link",
				options: "Company",
				reqd: 1,
				default: frappe.defaults.get_user_default("Company"),
				change: () => this.load_periods(),
			}),
			period: field({ fieldname: "period", label: __("Period"), fieldtype: "Select", options: [] }),
			pipeline: field({
				fieldname: "pipeline",
				label: __("Pipeline"),
				fieldtype: "Select",
				options: [{ value: "", label: __("All Pipelines") }],
			}),
			group_by: field({ fieldname: "group_by", label: __("Per"), fieldtype: "Select", options: [] }),
			item_group: field({
				fieldname: "item_group",
				label: __("Item Group"),
				fieldtype: "Link",
				options: "Item Group",
			}),
			from_date: field({
				fieldname: "from_date",
				label: __("From"),
				fieldtype: "Date",
				default: frappe.datetime.add_days(frappe.datetime.get_today(), -7),
			}),
			to_date: field({
				fieldname: "to_date",
				label: __("To"),
				fieldtype: "Date",
				default: frappe.datetime.get_today(),
			}),
			as_of: field({
				fieldname: "as_of",
				label: __("As Of"),
				fieldtype: "Date",
				default: frappe.datetime.add_days(frappe.datetime.get_today(), -7),
			}),
			territory: field({
				fieldname: "territory",
				label: __("Territory"),
				fieldtype: "Link",
				options: "Territory",
			}),
			opportunity_owner: field({
				fieldname: "opportunity_owner",
				label: __("Owner"),
				fieldtype: "Link",
				options: "User",
			}),
		};
		this.filters.pipeline.$wrapper.hide();
		this.show_filters();
		this.load_pipelines();
	}

	load_pipelines() {
		// The enabled pipelines, the default first; the picker shows from two on.
		frappe
			.xcall("opportunity_plus.api.pipelines.get_pipelines")
			.then((rows) => {
				const select = this.filters.pipeline;
				const current = select.get_value();
				const names = rows.map((row) => row.name);
				select.df.options = [
					{ value: "", label: __("All Pipelines") },
					...names.map((name) => ({ value: name, label: name })),
				];
				select.refresh();
				select.set_input(names.includes(current) ? current : "");
				select.$wrapper.toggle(names.length > 1);
			});
	}

	show_filters() {
		const shown = {
			targets: ["group_by", "item_group"],
			categories: ["group_by"],
			movement: ["from_date", "to_date", "territory", "opportunity_owner"],
			as_of: ["as_of", "group_by", "territory", "opportunity_owner"],
		}[this.view];
		for (const name of ["group_by", "item_group", "from_date", "to_date", "as_of", "territory", "opportunity_owner"]) {
			this.filters[name].$wrapper.toggle(shown.includes(name));
		}
		const groupings = {
			targets: [
				["sales_person", __("Sales Person")],
				["territory", __("Territory")],
			],
			categories: [
				["owner", __("Owner")],
				["sales_person", __("Sales Person (rolled up)")],
				["territory", __("Territory (rolled up)")],
				["pipeline", __("Pipeline")],
			],
			as_of: [
				["stage", __("Stage")],
				["category", __("Category")],
			],
		}[this.view];
		if (groupings) {
			const select = this.filters.group_by;
			const current = select.get_value();
			select.df.options = groupings.map(([value, label]) => ({ value, label }));
			select.refresh();
			const values = groupings.map(([value]) => value);
			select.set_input(values.includes(current) ? current : values[0]);
		}
		this.$wrapper.find(".op-forecast-tabs .btn").each((_, button) => {
			$(button).toggleClass("btn-primary", button.dataset.view === this.view);
			$(button).toggleClass("btn-default", button.dataset.view !== this.view);
		});
	}

	load_periods() {
		const company = this.filters.company.get_value();
		if (!company) return;
		frappe
			.xcall("opportunity_plus.api.sales_forecast.get_periods", { company })
			.then((result) => {
				const select = this.filters.period;
				const current = select.get_value();
				this.periods = result.periods;
				select.df.options = result.periods.map((period) => ({ value: period.key, label: period.label }));
				select.refresh();
				const keys = result.periods.map((period) => period.key);
				select.set_input(keys.includes(current) ? current : result.default);
				this.refresh();
			});
	}

	value(name) {
		return this.filters[name].get_value() || undefined;
	}

	refresh() {
		if (!this.periods || !this.value("company") || !this.value("period")) return;
		const load = ++this.load_count;
		const common = {
			company: this.value("company"),
			period: this.value("period"),
			pipeline: this.value("pipeline"),
		};
		const calls = {
			targets: ["opportunity_plus.api.targets.get_attainment", { group_by: this.value("group_by"), item_group: this.value("item_group") }],
			categories: ["opportunity_plus.api.categories.get_category_forecast", { group_by: this.value("group_by") }],
			movement: [
				"opportunity_plus.api.movement.get_movement",
				{
					from_date: this.value("from_date"),
					to_date: this.value("to_date"),
					territory: this.value("territory"),
					opportunity_owner: this.value("opportunity_owner"),
				},
			],
			as_of: [
				"opportunity_plus.api.movement.get_forecast_as_of",
				{
					as_of: this.value("as_of"),
					group_by: this.value("group_by"),
					territory: this.value("territory"),
					opportunity_owner: this.value("opportunity_owner"),
				},
			],
		};
		const [method, args] = calls[this.view];
		const view = this.view;
		return frappe.xcall(method, { ...common, ...args }).then((result) => {
			if (load !== this.load_count) return;
			this.result = result;
			this.$note.empty();
			this.$chart.empty();
			this[`render_${view}`](result);
		});
	}

	// --- helpers -------------------------------------------------------------------------------------

	money(value) {
		return format_currency(value || 0, this.result.currency, 0);
	}

	percent(fraction) {
		return fraction === null || fraction === undefined ? "" : `${format_number(fraction * 100, null, 1)}%`;
	}

	ratio(value) {
		return value === null || value === undefined ? "" : `${format_number(value, null, 2)}×`;
	}

	period_dates() {
		const period = (this.periods || []).find((p) => p.key === this.value("period"));
		return period ? [period.from_date, period.to_date] : [];
	}

	route_link(label, route) {
		const escape = frappe.utils.escape_html;
		return `<a href="#" data-route="${encodeURIComponent(JSON.stringify(route))}">${escape(label)}</a>`;
	}

	deals_route(group_by, key) {
		const [from_date, to_date] = this.period_dates();
		const filters = { company: this.value("company") };
		if (from_date) filters.expected_closing = ["between", [from_date, to_date]];
		if (this.value("pipeline")) filters.op_pipeline = this.value("pipeline");
		const field = { owner: "opportunity_owner", territory: "territory", stage: "sales_stage", pipeline: "op_pipeline" }[
			group_by
		];
		if (field && key) filters[field] = key;
		return ["List", "Opportunity", filters];
	}

	label(key) {
		return key === null || key === undefined || key === "" ? __("Not Set") : __(key);
	}

	table(columns, rows) {
		const head = columns.map((column) => `<th class="${column.align || ""}">${column.label}</th>`).join("");
		const body = rows
			.map(
				(row) =>
					`<tr class="${row._class || ""}">${columns
						.map((column) => `<td class="${column.align || ""}">${column.value(row)}</td>`)
						.join("")}</tr>`
			)
			.join("");
		return `<table class="table table-bordered op-forecast-table"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
	}

	chart(data, type = "bar", options = {}) {
		if (!data.labels.length) return;
		new frappe.Chart(this.$chart.get(0), {
			data,
			type,
			height: 260,
			colors: ["#2490EF", "#29CD42", "#ECAD4B", "#7575FF", "#CB2929", "#8D99A6"],
			axisOptions: { xIsSeries: 0, shortenYAxisNumbers: 1 },
			tooltipOptions: { formatTooltipY: (value) => this.money(value) },
			...options,
		});
	}

	// --- views -------------------------------------------------------------------------------------

	render_targets(result) {
		if (!result.has_targets) {
			this.$note.text(
				__("No targets are set for {0}: set them on Sales Person or Territory (Targets). Won and pipeline are shown.", [
					result.period,
				])
			);
		}
		const rows = [...result.rows, { ...result.total, key: __("Company"), _class: "op-total" }];
		const name = (row) =>
			`<span style="padding-left: ${(row.indent || 0) * 16}px">${
				row._class ? frappe.utils.escape_html(row.key) : this.route_link(this.label(row.key), this.deals_route(result.group_by, row.key))
			}</span>`;
		this.$body.html(
			this.table(
				[
					{ label: result.group_by === "territory" ? __("Territory") : __("Sales Person"), value: name },
					{ label: __("Target"), align: "text-right", value: (r) => (r.target === null ? "" : this.money(r.target)) },
					{ label: __("Won"), align: "text-right", value: (r) => this.money(r.won_amount) },
					{ label: __("Attainment"), align: "text-right", value: (r) => this.percent(r.attainment) },
					{ label: __("Gap"), align: "text-right", value: (r) => (r.gap === null ? "" : this.money(r.gap)) },
					{ label: __("Open Pipeline"), align: "text-right", value: (r) => this.money(r.open_amount) },
					{ label: __("Weighted"), align: "text-right", value: (r) => this.money(r.weighted_amount) },
					{
						label: __("Coverage"),
						align: "text-right",
						value: (r) => (r.target_met ? __("Target met") : this.ratio(r.coverage)),
					},
					{ label: __("Weighted Coverage"), align: "text-right", value: (r) => this.ratio(r.weighted_coverage) },
				],
				rows
			)
		);
		const top = result.rows.filter((row) => !row.indent);
		this.chart({
			labels: top.map((row) => this.label(row.key)),
			datasets: [
				{ name: __("Target"), values: top.map((row) => row.target || 0) },
				{ name: __("Won"), values: top.map((row) => row.won_amount) },
				{ name: __("Weighted Pipeline"), values: top.map((row) => row.weighted_amount) },
			],
		});
	}

	render_categories(result) {
		const rows = [...result.rows, { key: __("Company"), indent: 0, total: result.total.total || result.total, _class: "op-total" }];
		const figures = (row) => row.total || row;
		const name = (row) =>
			`<span style="padding-left: ${(row.indent || 0) * 16}px">${
				row._class ? frappe.utils.escape_html(row.key) : this.route_link(this.label(row.key), this.deals_route(result.group_by, row.key))
			}</span>`;
		const money = (field) => (row) => {
			const f = figures(row);
			return `${this.money(f[`${field}_amount`])} <span class="text-muted small">(${f[`${field}_count`]})</span>`;
		};
		const by = {
			owner: __("Owner"),
			sales_person: __("Sales Person"),
			territory: __("Territory"),
			pipeline: __("Pipeline"),
		}[result.group_by];
		this.$body.html(
			this.table(
				[
					{ label: by, value: name },
					{ label: __("Closed"), align: "text-right", value: money("closed") },
					{ label: __("Commit"), align: "text-right", value: money("commit") },
					{ label: __("Best Case (Commit + Best Case)"), align: "text-right", value: money("best_case") },
					{ label: __("Pipeline"), align: "text-right", value: money("pipeline") },
					{ label: __("Omitted"), align: "text-right", value: money("omitted") },
				],
				rows
			)
		);
		const top = result.rows.filter((row) => !row.indent);
		this.chart({
			labels: top.map((row) => this.label(row.key)),
			datasets: ["closed", "commit", "best_case", "pipeline"].map((field) => ({
				name: { closed: __("Closed"), commit: __("Commit"), best_case: __("Best Case"), pipeline: __("Pipeline") }[field],
				values: top.map((row) => figures(row)[`${field}_amount`]),
			})),
		});
	}

	render_movement(result) {
		const escape = frappe.utils.escape_html;
		this.$note.text(
			__("Open pipeline closing {0} to {1}, from the end of {2} to the end of {3}. Deal history since {4}.", [
				frappe.datetime.str_to_user(result.period_start),
				frappe.datetime.str_to_user(result.period_end),
				frappe.datetime.str_to_user(result.from_date),
				frappe.datetime.str_to_user(result.to_date),
				frappe.datetime.str_to_user(result.history_since),
			])
		);
		// A waterfall: each bar starts where the previous one ended.
		const bars = [{ label: __("Opening"), amount: result.opening, start: 0, end: result.opening, kind: "total" }];
		let level = result.opening;
		for (const step of result.steps) {
			bars.push({ label: step.label, amount: step.amount, start: level, end: level + step.amount, kind: step.amount < 0 ? "down" : "up", step });
			level += step.amount;
		}
		bars.push({ label: __("Closing"), amount: result.closing, start: 0, end: result.closing, kind: "total" });
		const top = Math.max(...bars.map((bar) => Math.max(bar.start, bar.end)), 1);
		const width = (value) => `${(Math.abs(value) / top) * 100}%`;
		const waterfall = bars
			.map((bar) => {
				const left = Math.min(bar.start, bar.end);
				return `<div class="op-waterfall-row">
					<div class="op-waterfall-label">${escape(bar.label)}</div>
					<div class="op-waterfall-track">
						<div class="op-waterfall-bar op-${bar.kind}" style="margin-left: ${width(left)}; width: ${width(bar.end - bar.start)}"></div>
					</div>
					<div class="op-waterfall-amount">${this.money(bar.amount)}</div>
				</div>`;
			})
			.join("");
		const deals = result.steps
			.map(
				(step) => `<details class="op-step-deals">
					<summary>${escape(step.label)}: ${__("{0} deal(s)", [step.count])}, ${this.money(step.amount)}</summary>
					${this.table(
						[
							{ label: __("Opportunity"), value: (d) => this.route_link(d.title || d.name, ["Form", "Opportunity", d.name]) },
							{ label: __("ID"), value: (d) => escape(d.name) },
							{ label: __("Change"), align: "text-right", value: (d) => this.money(d.amount) },
						],
						step.deals
					)}
				</details>`
			)
			.join("");
		this.$body.html(
			`<div class="op-waterfall">${waterfall}</div>${deals || `<p class="text-muted">${__("Nothing moved the pipeline in these dates.")}</p>`}`
		);
	}

	render_as_of(result) {
		const escape = frappe.utils.escape_html;
		let note = __("Open pipeline closing {0} to {1} as it stood at the end of {2}.", [
			frappe.datetime.str_to_user(result.period_start),
			frappe.datetime.str_to_user(result.period_end),
			frappe.datetime.str_to_user(result.as_of),
		]);
		if (result.no_history.count) {
			note += " " + __("{0} deal(s) ({1}) existed before the deal history began on {2} and are not counted.", [
				result.no_history.count,
				this.money(result.no_history.amount),
				frappe.datetime.str_to_user(result.history_since),
			]);
		}
		this.$note.text(note);
		const rows = [...result.rows, { ...result.total, key: __("Total"), _class: "op-total" }];
		this.$body.html(
			this.table(
				[
					{ label: result.group_by === "stage" ? __("Sales Stage") : __("Forecast Category"), value: (r) => escape(r._class ? r.key : this.label(r.key)) },
					{ label: __("Deals"), align: "text-right", value: (r) => r.count },
					{ label: __("Amount"), align: "text-right", value: (r) => this.money(r.amount) },
					{ label: __("Weighted"), align: "text-right", value: (r) => this.money(r.weighted_amount) },
				],
				rows
			)
		);
		this.chart({
			labels: result.rows.map((row) => this.label(row.key)),
			datasets: [
				{ name: __("Amount"), values: result.rows.map((row) => row.amount) },
				{ name: __("Weighted"), values: result.rows.map((row) => row.weighted_amount) },
			],
		});
	}

	static add_style() {
		if (document.getElementById("op-sales-forecast-style")) return;
		$(`<style id="op-sales-forecast-style">
			.op-forecast-tabs { margin: 8px 0 12px; }
			.op-forecast-note { margin-bottom: 8px; }
			.op-forecast-table td, .op-forecast-table th { padding: 6px 10px; }
			.op-forecast-table tr.op-total td { font-weight: 600; }
			.op-waterfall { margin: 8px 0 16px; }
			.op-waterfall-row { display: flex; align-items: center; gap: 12px; margin: 4px 0; }
			.op-waterfall-label { width: 260px; flex: none; }
			.op-waterfall-track { flex: 1; background: var(--control-bg); height: 18px; border-radius: 4px; }
			.op-waterfall-bar { height: 18px; border-radius: 4px; min-width: 2px; }
			.op-waterfall-bar.op-total { background: var(--blue-500); }
			.op-waterfall-bar.op-up { background: var(--green-500); }
			.op-waterfall-bar.op-down { background: var(--red-500); }
			.op-waterfall-amount { width: 140px; flex: none; text-align: right; }
			.op-step-deals { margin: 6px 0; }
			.op-step-deals summary { cursor: pointer; }
		</style>`).appendTo("head");
	}
};
