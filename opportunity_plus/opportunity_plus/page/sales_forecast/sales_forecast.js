// Sales Forecast: the weekly forecast call on one page. For a period (month, quarter, fiscal year), a
// company and every Sales Pipeline or one (the picker shows where a site has several): targets against won and pipeline (attainment, gap, coverage), the forecast by category
// (Closed, Commit, Best Case, Pipeline), how the pipeline moved between two dates, and the pipeline as
// it stood on a past date. Every figure comes from the app's REST methods, over the deals the user may
// read; a click on a row or a deal opens the opportunities behind it.
// The Forecast Call view is the call itself (api.forecast_call): a sales person's computed figures with
// this week against last, their calls and the form to submit one, the trend over the period's weeks, and
// a manager's direct reports with their calls and the manager's adjustments. The workspace card "My
// Forecast Call" opens it (route options view, period, company).

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
	if (!wrapper.sales_forecast) return;
	wrapper.sales_forecast.apply_route_options();
	wrapper.sales_forecast.refresh();
};

opportunity_plus.SalesForecast = class SalesForecast {
	static VIEWS = {
		targets: __("Targets"),
		categories: __("Categories"),
		movement: __("Movement"),
		as_of: __("As Of"),
		call: __("Forecast Call"),
	};
	// The filters each view takes; company and period apply to all.
	static FILTERS = {
		targets: ["pipeline", "group_by", "item_group"],
		categories: ["pipeline", "group_by"],
		movement: ["pipeline", "from_date", "to_date", "territory", "opportunity_owner"],
		as_of: ["pipeline", "as_of", "group_by", "territory", "opportunity_owner"],
		call: ["sales_person"],
	};
	// Week-over-week figures where a rise is bad news.
	static WORSE_WHEN_UP = ["gap"];

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
		this.$body.on("click", "[data-sales-person]", (event) => {
			event.preventDefault();
			this.show_sales_person(decodeURIComponent($(event.currentTarget).attr("data-sales-person")) || null);
		});
		this.$body.on("click", "[data-adjust]", (event) => {
			event.preventDefault();
			this.adjust_dialog(decodeURIComponent($(event.currentTarget).attr("data-adjust")));
		});
		this.$body.on("click", ".op-call-submit", (event) => {
			event.preventDefault();
			this.submit_call();
		});
		this.apply_route_options();
		this.load_periods();
	}

	apply_route_options() {
		// The workspace card "My Forecast Call" opens the page with {view, period, company}.
		const options = frappe.route_options;
		if (!options || !(options.view || options.period || options.company)) return false;
		frappe.route_options = null;
		if (options.view && SalesForecast.VIEWS[options.view]) {
			this.view = options.view;
			this.call_person = null;
			this.show_filters();
		}
		if (options.period) this.wanted_period = options.period;
		if (options.company && options.company !== this.filters.company.get_value()) {
			this.filters.company.set_value(options.company); // reloads the periods
		} else if (options.period && this.periods) {
			this.select_period();
		}
		return true;
	}

	make_tabs() {
		const $tabs = this.$wrapper.find(".op-forecast-tabs");
		for (const [view, label] of Object.entries(SalesForecast.VIEWS)) {
			$(`<button type="button" class="btn btn-default btn-sm" data-view="${view}">${label}</button>`)
				.appendTo($tabs)
				.on("click", () => {
					this.view = view;
					this.call_person = null;
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
			// the Forecast Call view's, for a Sales Manager (others drill down through their team)
			sales_person: field({
				fieldname: "sales_person",
				label: __("Sales Person"),
				fieldtype: "Link",
				options: "Sales Person",
				change: () => {
					const person = this.filters.sales_person.get_value() || null;
					if (person === this.call_person) return;
					this.call_person = person;
					this.refresh();
				},
			}),
		};
		this.has_pipelines = false;
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
				this.has_pipelines = names.length > 1;
				this.show_filters();
			});
	}

	show_filters() {
		const shown = SalesForecast.FILTERS[this.view];
		const applies = {
			pipeline: this.has_pipelines,
			sales_person: Boolean(frappe.user.has_role("Sales Manager")),
		};
		for (const name of Object.keys(this.filters)) {
			if (name === "company" || name === "period") continue;
			this.filters[name].$wrapper.toggle(shown.includes(name) && applies[name] !== false);
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
				this.default_period = result.default;
				this.select_period(current);
			});
	}

	select_period(current) {
		// the period the route asked for, else the one shown, else the current quarter
		const keys = this.periods.map((period) => period.key);
		const wanted = [this.wanted_period, current, this.default_period].find((key) => keys.includes(key));
		this.wanted_period = null;
		this.filters.period.set_input(wanted || this.default_period);
		this.refresh();
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
		if (this.view === "call") {
			common.pipeline = undefined; // the call counts every pipeline
			common.sales_person = this.call_person || undefined;
		}
		const calls = {
			call: ["opportunity_plus.api.forecast_call.get_forecast_call", {}],
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
			this.result_view = view;
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
					`<tr class="${row._class || ""}"${row._key ? ` data-key="${encodeURIComponent(row._key)}"` : ""}>${columns
						.map((column) => `<td class="${column.align || ""}">${column.value(row)}</td>`)
						.join("")}</tr>`
			)
			.join("");
		return `<table class="table table-bordered op-forecast-table"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
	}

	chart(data, type = "bar", options = {}, $target = this.$chart) {
		if (!data.labels.length) return;
		new frappe.Chart($target.get(0), {
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

	render_call(result) {
		const escape = frappe.utils.escape_html;
		this.call_form = null;
		if (!result.sales_person) {
			// not an error: the user is no Sales Person (a Sales Manager picks one)
			this.$body.html(`<div class="op-call-empty text-muted">
				<p>${escape(result.reason || "")}</p>
				${(result.pick_from || []).length
					? `<p>${result.pick_from.map((name) => this.person_link(name)).join(" · ")}</p>`
					: ""}
			</div>`);
			return;
		}
		const period_label = ((this.periods || []).find((p) => p.key === result.period) || {}).label || result.period;
		const back = [];
		if (this.call_person && !result.can_submit && result.parent_sales_person) {
			back.push(this.person_link(result.parent_sales_person, `← ${result.parent_sales_person}`));
		}
		if (this.call_person) back.push(this.person_link("", __("My forecast call")));
		this.$note.text(
			__("{0}'s forecast call for {1} ({2} to {3}): the figures include their team's deals.", [
				result.sales_person,
				period_label,
				frappe.datetime.str_to_user(result.from_date),
				frappe.datetime.str_to_user(result.to_date),
			])
		);
		this.$body.html(`
			${back.length ? `<div class="op-call-back small">${back.join(" · ")}</div>` : ""}
			<div class="op-call-figures">${this.call_figures(result)}</div>
			<div class="op-call-latest">${this.latest_call(result)}</div>
			${result.can_submit ? `<div class="op-call-form-wrapper">
				<h6>${__("Submit your call for {0}", [escape(period_label)])}</h6>
				<div class="op-call-form"></div>
				<button type="button" class="btn btn-primary btn-sm op-call-submit">${__("Submit Call")}</button>
			</div>` : ""}
			<div class="op-call-trend"></div>
			<div class="op-call-reports">${this.reports_table(result)}</div>
		`);
		if (result.can_submit) this.make_call_form(result);
		const trend = result.trend || [];
		if (trend.length) {
			this.$body.find(".op-call-trend").prepend(`<h6>${__("Trend by Week")}</h6><div class="op-call-trend-chart"></div>`);
			this.chart(
				{
					labels: trend.map((week) => frappe.datetime.str_to_user(week.week)),
					// frappe-charts draws no gaps: a week before the first call shows 0
					datasets: [
						{ name: __("Commit"), values: trend.map((week) => week.commit || 0) },
						{ name: __("Best Case"), values: trend.map((week) => week.best_case || 0) },
						{ name: __("Called Commit"), values: trend.map((week) => week.call_commit || 0) },
					],
				},
				// frappe-charts cannot draw a line through one point
				trend.length > 1 ? "line" : "bar",
				{ lineOptions: { dotSize: 5, regionFill: 0 }, animate: 0 },
				this.$body.find(".op-call-trend-chart")
			);
		}
	}

	person_link(name, label) {
		// "" returns to the user's own call
		return `<a href="#" class="op-call-person" data-sales-person="${encodeURIComponent(name)}">${frappe.utils.escape_html(
			label || name
		)}</a>`;
	}

	show_sales_person(name) {
		this.call_person = name;
		if (this.filters.sales_person.$wrapper.is(":visible")) this.filters.sales_person.set_input(name || "");
		this.refresh();
	}

	wow(changes, name) {
		// ▲/▼ and the change since last week's snapshot; nothing when a week has none
		const change = (changes || []).find((c) => c.name === name);
		if (!change || !change.direction) return "";
		const before = name === "coverage" ? this.ratio(change.before) : this.money(change.before);
		const title = frappe.utils.escape_html(__("Last week: {0}", [before]));
		if (change.direction === "same") {
			return `<span class="op-wow op-wow-same text-muted" title="${title}">= ${__("no change")}</span>`;
		}
		const worse = SalesForecast.WORSE_WHEN_UP.includes(name) === (change.direction === "up");
		const delta = name === "coverage" ? this.ratio(Math.abs(change.delta)) : this.money(Math.abs(change.delta));
		const arrow = change.direction === "up" ? "▲" : "▼";
		return `<span class="op-wow op-wow-${change.direction} ${worse ? "op-wow-worse" : "op-wow-better"}" title="${title}">${arrow} ${delta}</span>`;
	}

	call_figures(result) {
		const figures = result.computed || {};
		const money = (value) => (value === null || value === undefined ? "–" : this.money(value));
		const boxes = [
			["closed", __("Closed"), money(figures.closed)],
			["commit", __("Commit"), money(figures.commit)],
			["best_case", __("Best Case"), money(figures.best_case)],
			["pipeline", __("Pipeline"), money(figures.pipeline)],
			["target", __("Target"), figures.target === null ? __("Not set") : money(figures.target)],
			["gap", __("Gap"), money(figures.gap)],
			["coverage", __("Coverage"), figures.coverage === null ? "–" : this.ratio(figures.coverage)],
		];
		return boxes
			.map(
				([name, label, value]) => `<div class="op-call-figure" data-figure="${name}">
					<div class="op-call-figure-label text-muted small">${label}</div>
					<div class="op-call-figure-value">${value}</div>
					<div class="op-call-figure-wow small">${this.wow(result.week_over_week, name)}</div>
				</div>`
			)
			.join("");
	}

	call_text(call) {
		return __("Commit {0}, Best Case {1}", [this.money(call.commit), this.money(call.best_case)]);
	}

	when(call) {
		return call && call.submitted_on ? frappe.datetime.str_to_user(call.submitted_on) : "";
	}

	latest_call(result) {
		const escape = frappe.utils.escape_html;
		const call = result.call;
		if (!call) return `<p class="text-muted">${__("No call yet for this period.")}</p>`;
		const note = call.note ? `<div class="op-call-note text-muted">${escape(call.note)}</div>` : "";
		const earlier = (result.calls || []).slice(1);
		return `<p><b>${__("Latest call")}:</b> ${this.call_text(call)}
			<span class="text-muted">${__("on {0} by {1}", [escape(this.when(call)), escape(call.submitted_by || "")])}</span></p>
			${note}
			${earlier.length ? `<details class="op-call-history"><summary>${__("Earlier calls ({0})", [earlier.length])}</summary>
				${this.table(
					[
						{ label: __("Submitted On"), value: (c) => escape(this.when(c)) },
						{ label: __("Commit"), align: "text-right", value: (c) => this.money(c.commit) },
						{ label: __("Best Case"), align: "text-right", value: (c) => this.money(c.best_case) },
						{ label: __("Note"), value: (c) => escape(c.note || "") },
					],
					earlier
				)}
			</details>` : ""}`;
	}

	make_call_form(result) {
		const call = result.default_call || {};
		this.call_form = new frappe.ui.FieldGroup({
			parent: this.$body.find(".op-call-form"),
			fields: [
				{ fieldname: "currency", fieldtype: "Data", hidden: 1, default: result.currency },
				{ fieldname: "commit", label: __("Commit"), fieldtype: "Currency", options: "currency", reqd: 1, default: call.commit },
				{ fieldtype: "Column Break" },
				{
					fieldname: "best_case",
					label: __("Best Case"),
					fieldtype: "Currency",
					options: "currency",
					reqd: 1,
					default: call.best_case,
					description: __("Includes Commit"),
				},
				{ fieldtype: "Column Break" },
				{ fieldname: "note", label: __("Note"), fieldtype: "Small Text" },
			],
		});
		this.call_form.make();
	}

	submit_call() {
		if (!this.call_form) return;
		const values = this.call_form.get_values(); // null, with a message, when one is missing
		if (!values) return;
		const result = this.result;
		const $button = this.$body.find(".op-call-submit").prop("disabled", true); // one call per click
		return frappe
			.xcall("opportunity_plus.api.forecast_call.submit_call", {
				company: result.company,
				period: result.period,
				commit: values.commit,
				best_case: values.best_case,
				note: values.note,
			})
			.then((call) => {
				frappe.show_alert({ message: __("Forecast call submitted: {0}", [this.call_text(call)]), indicator: "green" });
				return this.refresh();
			})
			.finally(() => $button.prop("disabled", false));
	}

	reports_table(result) {
		const escape = frappe.utils.escape_html;
		const reports = result.reports || [];
		if (!reports.length) return "";
		const figures = (call) => (call ? this.call_text(call) : "");
		const submitted = (call) =>
			call
				? `${figures(call)}<div class="text-muted small">${escape(this.when(call))}${
						call.note ? ` · ${escape(call.note)}` : ""
				  }</div>`
				: `<span class="text-muted">${__("Not called")}</span>`;
		const columns = [
			{
				label: __("Sales Person"),
				value: (r) => (r.has_team ? this.person_link(r.sales_person) : escape(r.sales_person)),
			},
			{
				label: __("Commit"),
				align: "text-right",
				value: (r) => `${this.money(r.computed.commit)}<div class="small">${this.wow(r.week_over_week, "commit")}</div>`,
			},
			{ label: __("Best Case"), align: "text-right", value: (r) => this.money(r.computed.best_case) },
			{ label: __("Pipeline"), align: "text-right", value: (r) => this.money(r.computed.pipeline) },
			{ label: __("Their Call"), value: (r) => `<div class="op-call-their">${submitted(r.call)}</div>` },
			{
				label: __("Adjustment"),
				value: (r) => `<div class="op-call-adjustment">${r.adjustment ? submitted(r.adjustment) : ""}</div>`,
			},
			{ label: __("Effective"), value: (r) => `<div class="op-call-effective">${figures(r.effective)}</div>` },
		];
		if (result.can_adjust) {
			columns.push({
				label: "",
				value: (r) =>
					`<button type="button" class="btn btn-default btn-xs" data-adjust="${encodeURIComponent(r.sales_person)}">${__(
						"Adjust"
					)}</button>`,
			});
		}
		const rows = reports.map((r) => ({ ...r, _class: "op-call-report", _key: r.sales_person }));
		return `<h6>${__("Direct Reports")}</h6>${this.table(columns, rows)}
		<p class="text-muted small">${__("Effective: your adjustment, else their call. Your default call adds these up with your own deals: {0}.", [
			result.default_call ? this.call_text(result.default_call) : "",
		])}</p>`;
	}

	adjust_dialog(sales_person) {
		const result = this.result;
		const line = (result.reports || []).find((r) => r.sales_person === sales_person);
		if (!line) return;
		const start = line.effective || {
			commit: line.computed.closed + line.computed.commit,
			best_case: line.computed.closed + line.computed.best_case,
		};
		const dialog = new frappe.ui.Dialog({
			title: __("Adjust the call of {0}", [frappe.utils.escape_html(sales_person)]),
			fields: [
				{ fieldname: "currency", fieldtype: "Data", hidden: 1, default: result.currency },
				{
					fieldname: "their_call",
					fieldtype: "HTML",
					options: `<p class="text-muted">${
						line.call ? __("Their call: {0}", [this.call_text(line.call)]) : __("They have not called yet.")
					}</p>`,
				},
				{ fieldname: "commit", label: __("Commit"), fieldtype: "Currency", options: "currency", reqd: 1, default: start.commit },
				{
					fieldname: "best_case",
					label: __("Best Case"),
					fieldtype: "Currency",
					options: "currency",
					reqd: 1,
					default: start.best_case,
					description: __("Includes Commit"),
				},
				{ fieldname: "note", label: __("Note"), fieldtype: "Small Text" },
			],
			primary_action_label: __("Adjust"),
			primary_action: (values) => {
				dialog.disable_primary_action(); // one adjustment per click
				return frappe
					.xcall("opportunity_plus.api.forecast_call.adjust_call", {
						sales_person,
						company: result.company,
						period: result.period,
						commit: values.commit,
						best_case: values.best_case,
						note: values.note,
					})
					.then((adjustment) => {
						dialog.hide();
						frappe.show_alert({
							message: __("{0}'s call adjusted: {1}", [
								frappe.utils.escape_html(sales_person),
								this.call_text(adjustment),
							]),
							indicator: "green",
						});
						return this.refresh();
					})
					.finally(() => dialog.enable_primary_action());
			},
		});
		dialog.$wrapper.addClass("op-adjust-call-dialog");
		dialog.show();
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
			.op-call-back { margin-bottom: 8px; }
			.op-forecast a.op-call-person { text-decoration: underline dotted; }
			.op-call-figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; }
			.op-call-figure { flex: 1 1 140px; border: 1px solid var(--border-color); border-radius: 8px; padding: 10px 12px; }
			.op-call-figure-value { font-size: 1.25em; font-weight: 600; }
			.op-call-figure-wow { min-height: 1.4em; }
			.op-wow { white-space: nowrap; }
			.op-wow-better { color: var(--green-600); }
			.op-wow-worse { color: var(--red-600); }
			.op-call-latest { margin-bottom: 12px; }
			.op-call-history summary { cursor: pointer; }
			.op-call-form-wrapper { border: 1px solid var(--border-color); border-radius: 8px; padding: 12px; margin-bottom: 16px; }
			.op-call-form .form-section .section-body { margin: 0; }
			.op-call-form textarea { height: 74px; }
			.op-call-trend { margin-bottom: 16px; }
		</style>`).appendTo("head");
	}
};
