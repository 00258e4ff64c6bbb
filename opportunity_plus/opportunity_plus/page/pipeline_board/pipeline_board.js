// Pipeline Board: open opportunities of one sales pipeline as cards, one column per stage in its order.
// Dragging a card saves the deal's new stage on the server (opportunity_plus.api.board), where the
// app's stage rules run exactly as in the form; a lost stage opens ERPNext's lost flow instead, and a
// stage whose required fields the deal lacks opens a dialog asking for them. The pipeline shown is
// remembered per user.

frappe.provide("opportunity_plus");

frappe.pages["pipeline-board"].on_page_load = function (wrapper) {
	const page = frappe.ui.make_app_page({
		parent: wrapper,
		title: __("Pipeline Board"),
		single_column: true,
	});
	frappe.breadcrumbs.add("CRM");
	wrapper.pipeline_board = new opportunity_plus.PipelineBoard(page);
};

frappe.pages["pipeline-board"].on_page_show = function (wrapper) {
	// Also runs when coming back from an opportunity's form, where the deal may have changed.
	wrapper.pipeline_board && wrapper.pipeline_board.refresh();
};

opportunity_plus.PipelineBoard = class PipelineBoard {
	constructor(page) {
		this.page = page;
		this.board = null;
		this.drag = null;
		this.load_count = 0;
		PipelineBoard.add_style();

		// Ten stages need the whole width: widen the head with the body so both stay aligned.
		this.page.wrapper.addClass("op-board-page");
		this.page.container.addClass("full-width");
		this.$wrapper = $(`
			<div class="op-board">
				<div class="op-board-summary"></div>
				<div class="op-board-columns"></div>
			</div>
		`).appendTo(this.page.main);
		this.$summary = this.$wrapper.find(".op-board-summary");
		this.$columns = this.$wrapper.find(".op-board-columns");

		this.make_filters();
		this.page.set_primary_action(__("New Opportunity"), () =>
			frappe.new_doc("Opportunity", {
				company: this.filters.company.get_value(),
				op_pipeline: this.board && this.board.pipeline,
			})
		);
		this.page.set_secondary_action(__("Refresh"), () => this.refresh());
		this.bind_events();
		// The pipeline shown is remembered per user (Frappe's user settings, kept under this page's name).
		this.remembered = frappe.model.user_settings
			.get(PipelineBoard.SETTINGS)
			.then((settings) => (settings && settings.pipeline) || null)
			.catch(() => null);
	}

	static SETTINGS = "Pipeline Board";

	make_filters() {
		const refresh = () => this.refresh();
		this.filters = {
			pipeline: this.page.add_field({
				fieldname: "pipeline",
				label: __("Pipeline"),
				fieldtype: "Link",
				options: "Sales Pipeline",
				get_query: () => ({ filters: { enabled: 1 } }),
				change: () => {
					const value = this.filters.pipeline.get_value();
					if (this.board && value === this.board.pipeline) return;
					frappe.model.user_settings.save(PipelineBoard.SETTINGS, "pipeline", value || null);
					refresh();
				},
			}),
			company: this.page.add_field({
				fieldname: "company",
				label: __("Company"),
				fieldtype: "Link",
				options: "Company",
				reqd: 1,
				default: frappe.defaults.get_user_default("Company"),
				change: refresh,
			}),
			territory: this.page.add_field({
				fieldname: "territory",
				label: __("Territory"),
				fieldtype: "Link",
				options: "Territory",
				change: refresh,
			}),
			opportunity_owner: this.page.add_field({
				fieldname: "opportunity_owner",
				label: __("Owner"),
				fieldtype: "Link",
				options: "User",
				change: refresh,
			}),
			opportunity_type: this.page.add_field({
				fieldname: "opportunity_type",
				label: __("Opportunity Type"),
				fieldtype: "Link",
				options: "Opportunity Type",
				change: refresh,
			}),
			include_closed: this.page.add_field({
				fieldname: "include_closed",
				label: __("Closed in last 30 days"),
				fieldtype: "Check",
				change: refresh,
			}),
		};
	}

	get_args() {
		const filters = {};
		for (const fieldname of ["territory", "opportunity_owner", "opportunity_type"]) {
			const value = this.filters[fieldname].get_value();
			if (value) filters[fieldname] = value;
		}
		return {
			company: this.filters.company.get_value() || undefined,
			pipeline: this.filters.pipeline.get_value() || undefined,
			filters,
			include_closed: this.filters.include_closed.get_value() ? 1 : 0,
		};
	}

	refresh() {
		// Filters can change faster than the server answers: only the latest answer is drawn.
		const load = ++this.load_count;
		return this.remembered.then((remembered) => {
			if (remembered && !this.filters.pipeline.get_value() && !this.board) {
				this.filters.pipeline.set_input(remembered);
			}
			return this.call("get_board", this.get_args(), { type: "GET" }).then(
				(board) => {
					if (load === this.load_count) this.render(board);
				},
				(error) => {
					// a remembered pipeline deleted since: back to the default one
					if (remembered && this.filters.pipeline.get_value() === remembered && !this.board) {
						this.filters.pipeline.set_input("");
						this.remembered = Promise.resolve(null);
						return this.refresh();
					}
					throw error;
				}
			);
		});
	}

	call(method, args, { type = "POST", freeze = false } = {}) {
		return new Promise((resolve, reject) => {
			frappe.call({
				method: `opportunity_plus.api.board.${method}`,
				type,
				args,
				freeze,
				// Frappe shows the server's message itself; the caller only has to undo what it showed.
				callback: (r) => (r.exc ? reject(r) : resolve(r.message)),
				error: (r) => reject(r),
			});
		});
	}

	// --- rendering ---------------------------------------------------------------------------------

	render(board) {
		this.board = board;
		if (board.pipeline && this.filters.pipeline.get_value() !== board.pipeline) {
			this.filters.pipeline.set_input(board.pipeline);
		}
		const scroll_left = this.$columns.scrollLeft();
		this.$summary.html(this.summary_html(board));
		this.$columns.html(board.columns.map((column, index) => this.column_html(column, index)).join(""));
		this.$columns.scrollLeft(scroll_left);
	}

	money(value) {
		return format_currency(value || 0, this.board.currency, 0);
	}

	summary_html(board) {
		const totals = board.totals;
		return `
			<span class="op-summary-label">${__("Open pipeline")}</span>
			<span>${__("{0} deals", [totals.count])}</span>
			<span>${this.money(totals.amount)}</span>
			<span class="text-muted">${__("weighted {0}", [this.money(totals.weighted_amount)])}</span>
			${board.can_write ? `<span class="op-summary-hint">${__("Drag a card to move the deal.")}</span>` : ""}
		`;
	}

	column_html(column, index) {
		const escape = frappe.utils.escape_html;
		const probability =
			column.probability === null || column.probability === undefined
				? ""
				: `<span class="op-column-probability">${flt(column.probability, 1)}%</span>`;
		const cards = column.cards.map((card) => this.card_html(card)).join("");
		const more = column.has_more
			? `<a class="op-column-more" data-index="${index}">${__("{0} more in the list", [
					column.count - column.cards.length,
			  ])}</a>`
			: "";
		return `
			<div class="op-column op-kind-${column.kind.toLowerCase()}" data-index="${index}">
				<div class="op-column-head">
					<div class="op-column-title">
						<span class="op-column-name ellipsis" title="${escape(column.label)}">
							${escape(__(column.label))}
						</span>
						<span class="op-column-count">${column.count}</span>
						${probability}
					</div>
					<div class="op-column-figures">
						<span title="${__("Amount")}">${this.money(column.amount)}</span>
						<span class="text-muted" title="${__("Weighted amount: amount × probability")}">
							${__("weighted {0}", [this.money(column.weighted_amount)])}
						</span>
					</div>
				</div>
				<div class="op-column-cards">
					${cards || `<div class="op-column-empty text-muted">${__("No deals")}</div>`}
					${more}
				</div>
			</div>
		`;
	}

	card_html(card) {
		const escape = frappe.utils.escape_html;
		const party = card.customer_name || card.party_name || "";
		const closing = card.expected_closing
			? `<span class="op-card-date ${card.op_is_overdue ? "op-overdue" : ""}"
					title="${card.op_is_overdue ? __("Overdue") : __("Expected Closing Date")}">
					${frappe.datetime.str_to_user(card.expected_closing)}
				</span>`
			: `<span class="op-card-date text-muted">${__("No close date")}</span>`;
		const status =
			card.status === "Open"
				? ""
				: `<span class="indicator-pill ${PipelineBoard.STATUS_COLORS[card.status] || "gray"}">
					${__(card.status)}
				</span>`;
		const owner = card.opportunity_owner ? frappe.avatar(card.opportunity_owner, "avatar-xs") : "";
		return `
			<div class="op-card" data-name="${escape(card.name)}" draggable="${this.board.can_write}">
				<div class="op-card-title ellipsis" title="${escape(card.title || card.name)}">
					${escape(card.title || card.name)}
				</div>
				<div class="op-card-party text-muted ellipsis">${escape(party)}</div>
				<div class="op-card-row">
					<span class="op-card-amount">${this.money(card.base_opportunity_amount)}</span>
					<span class="op-card-probability">${flt(card.probability, 1)}%</span>
				</div>
				<div class="op-card-row">${closing}${status}${owner}</div>
			</div>
		`;
	}

	// --- events ------------------------------------------------------------------------------------

	bind_events() {
		this.$columns.on("click", ".op-card", (event) => {
			frappe.set_route("Form", "Opportunity", $(event.currentTarget).attr("data-name"));
		});
		this.$columns.on("click", ".op-column-more", (event) => {
			this.open_list(this.board.columns[$(event.currentTarget).attr("data-index")]);
		});

		this.$columns.on("dragstart", ".op-card", (event) => {
			const $card = $(event.currentTarget);
			const $column = $card.closest(".op-column");
			this.drag = {
				name: $card.attr("data-name"),
				$card,
				from: this.board.columns[$column.attr("data-index")],
				// where to put the card back if the move fails
				$parent: $card.parent(),
				$next: $card.next(),
			};
			const transfer = event.originalEvent.dataTransfer;
			transfer.effectAllowed = "move";
			transfer.setData("text/plain", this.drag.name);
			// let the browser take its drag image before the card fades
			setTimeout(() => $card.addClass("op-dragging"), 0);
		});
		this.$columns.on("dragend", ".op-card", (event) => {
			$(event.currentTarget).removeClass("op-dragging");
			this.$columns.find(".op-drop-target").removeClass("op-drop-target");
		});
		this.$columns.on("dragover", ".op-column", (event) => {
			if (!this.drag) return;
			event.preventDefault();
			event.originalEvent.dataTransfer.dropEffect = "move";
			const $column = $(event.currentTarget);
			if (!$column.hasClass("op-drop-target")) {
				this.$columns.find(".op-drop-target").removeClass("op-drop-target");
				$column.addClass("op-drop-target");
			}
		});
		this.$columns.on("drop", ".op-column", (event) => {
			event.preventDefault();
			const drag = this.drag;
			this.drag = null;
			this.$columns.find(".op-drop-target").removeClass("op-drop-target");
			if (!drag) return;
			const target = this.board.columns[$(event.currentTarget).attr("data-index")];
			if (target.stage !== drag.from.stage) this.move(drag, target);
		});
	}

	open_list(column) {
		const route_options = {
			company: this.board.company,
			op_pipeline: this.board.pipeline,
			sales_stage: column.stage || ["is", "not set"],
		};
		Object.assign(route_options, this.get_args().filters);
		frappe.route_options = route_options;
		frappe.set_route("List", "Opportunity");
	}

	// --- moves -------------------------------------------------------------------------------------

	move(drag, target) {
		const card = this.find_card(drag.name) || { name: drag.name };
		if (!target.stage) {
			frappe.show_alert({
				message: __("Drop the deal on a stage: deals cannot lose their stage."),
				indicator: "orange",
			});
			return;
		}
		if (target.kind === "Won") {
			frappe.msgprint({
				title: __("Won Stage"),
				indicator: "blue",
				message: __(
					"Deals reach {0} when they convert: make a quotation from the opportunity and order it.",
					[frappe.utils.escape_html(target.label).bold()]
				),
			});
			return;
		}
		this.place(drag, target);
		if (target.kind === "Lost" && card.status !== "Lost") {
			this.ask_lost_reasons(drag, card, target);
			return;
		}
		// What the stage needs that the deal lacks is asked for before the move, not refused after it.
		frappe
			.xcall("opportunity_plus.api.pipelines.get_stage_requirements", {
				opportunity: drag.name,
				stage: target.stage,
			})
			.then(
				(requirements) => {
					if (requirements.missing.length) {
						this.ask_required_fields(drag, card, target, requirements);
					} else {
						this.save_move(drag, target);
					}
				},
				() => this.put_back(drag)
			);
	}

	save_move(drag, target, values, dialog) {
		const args = { opportunity: drag.name, stage: target.stage };
		if (values) args.values = values;
		return this.call("move_to_stage", args, { freeze: !!dialog }).then(
			(moved) => {
				if (dialog) {
					dialog.moved = true;
					dialog.hide();
				}
				frappe.show_alert({
					message: __("{0} moved to {1}", [moved.title || moved.name, moved.sales_stage]),
					indicator: "green",
				});
				// show the saved card (new probability) at once; the totals follow with the refresh
				drag.$card.replaceWith(this.card_html(moved));
				this.refresh();
			},
			// with a dialog open, it stays open so the user can fix a value or cancel
			() => dialog || this.put_back(drag)
		);
	}

	ask_required_fields(drag, card, target, requirements) {
		const escape = frappe.utils.escape_html;
		const title = card.title || card.name;
		const on_form = requirements.missing.filter((field) => !field.askable);
		if (on_form.length) {
			this.put_back(drag);
			frappe.msgprint({
				title: __("Required for {0}", [target.label]),
				indicator: "orange",
				message: `${__("To enter {0}, {1} needs: {2}.", [
					escape(target.label).bold(),
					escape(title),
					requirements.missing.map((field) => escape(field.label)).join(", "),
				])}<br><br><a href="/app/opportunity/${encodeURIComponent(drag.name)}">${__(
					"Open the opportunity to add them"
				)}</a>`,
			});
			return;
		}
		const fields = [];
		if (requirements.guidance) {
			fields.push({
				fieldname: "op_guidance",
				fieldtype: "HTML",
				options: `<p class="text-muted op-stage-guidance">${escape(requirements.guidance)}</p>`,
			});
		}
		for (const field of requirements.missing) {
			fields.push({
				fieldname: field.fieldname,
				label: field.label,
				fieldtype: field.fieldtype,
				options: field.options,
				reqd: 1,
			});
		}
		const dialog = new frappe.ui.Dialog({
			title: __("Move {0} to {1}", [title, target.label]),
			fields,
			primary_action_label: __("Move"),
			primary_action: (values) => {
				const asked = {};
				for (const field of requirements.missing) asked[field.fieldname] = values[field.fieldname];
				this.save_move(drag, target, asked, dialog);
			},
		});
		dialog.$wrapper.addClass("op-required-fields-dialog");
		dialog.onhide = () => {
			if (!dialog.moved) this.put_back(drag);
		};
		dialog.show();
	}

	ask_lost_reasons(drag, card, target) {
		// The dialog's Table MultiSelect fields need their row doctypes' meta, which a page has not loaded.
		const doctypes = ["Opportunity Lost Reason Detail", "Competitor Detail"];
		Promise.all(doctypes.map((doctype) => frappe.model.with_doctype(doctype))).then(
			() => this.show_lost_dialog(drag, card, target),
			() => this.put_back(drag)
		);
	}

	show_lost_dialog(drag, card, target) {
		let declared = false;
		const dialog = new frappe.ui.Dialog({
			title: __("Declare {0} Lost", [card.title || card.name]),
			fields: [
				{
					fieldname: "lost_reasons",
					label: __("Lost Reasons"),
					fieldtype: "Table MultiSelect",
					options: "Opportunity Lost Reason Detail",
					reqd: 1,
				},
				{
					fieldname: "competitors",
					label: __("Competitors"),
					fieldtype: "Table MultiSelect",
					options: "Competitor Detail",
				},
				{
					fieldname: "detailed_reason",
					label: __("Detailed Reason"),
					fieldtype: "Small Text",
				},
			],
			primary_action_label: __("Declare Lost"),
			primary_action: (values) => {
				const args = {
					opportunity: drag.name,
					lost_reasons: values.lost_reasons,
					competitors: values.competitors || [],
					detailed_reason: values.detailed_reason,
					stage: target.stage,
				};
				// On an error the dialog stays open, so the user can fix the reasons or cancel.
				this.call("declare_lost", args, { freeze: true }).then(() => {
					declared = true;
					dialog.hide();
					frappe.show_alert({
						message: __("{0} declared lost", [card.title || card.name]),
						indicator: "red",
					});
					this.refresh();
				});
			},
		});
		dialog.onhide = () => {
			if (!declared) this.put_back(drag);
		};
		dialog.show();
	}

	place(drag, target) {
		const index = this.board.columns.indexOf(target);
		const $cards = this.$columns.find(`.op-column[data-index="${index}"] .op-column-cards`);
		$cards.find(".op-column-empty").remove();
		$cards.prepend(drag.$card);
		drag.$card.addClass("op-saving");
	}

	put_back(drag) {
		drag.$card.removeClass("op-saving");
		if (drag.$next.length && drag.$next.parent().is(drag.$parent)) {
			drag.$card.insertBefore(drag.$next);
		} else {
			drag.$parent.append(drag.$card);
		}
	}

	find_card(name) {
		for (const column of this.board.columns) {
			const card = column.cards.find((row) => row.name === name);
			if (card) return card;
		}
	}

	static add_style() {
		if (document.getElementById("op-pipeline-board-style")) return;
		$(`<style id="op-pipeline-board-style">${PipelineBoard.STYLE}</style>`).appendTo("head");
	}

	static STATUS_COLORS = {
		Quotation: "blue",
		Replied: "orange",
		Converted: "green",
		Lost: "red",
		Closed: "gray",
	};

	// Scoped to .op-board; colours come from the desk theme so the board follows light and dark mode.
	static STYLE = `
		.op-board-page .page-head .container {
			width: 100%;
			max-width: 100%;
		}
		.op-board-summary {
			display: flex;
			flex-wrap: wrap;
			gap: var(--margin-md);
			align-items: baseline;
			padding: var(--padding-sm) 0 var(--padding-md);
			font-size: var(--text-md);
		}
		.op-board .op-summary-label {
			font-weight: var(--weight-semibold);
		}
		.op-board .op-summary-hint {
			margin-left: auto;
			color: var(--text-muted);
			font-size: var(--text-sm);
		}
		.op-board-columns {
			display: flex;
			gap: var(--margin-md);
			align-items: flex-start;
			overflow-x: auto;
			padding-bottom: var(--padding-md);
		}
		.op-board .op-column {
			/* fixed width: a flex item never shrinks below its content unless min-width is 0 */
			flex: 0 0 260px;
			min-width: 0;
			display: flex;
			flex-direction: column;
			max-height: calc(100vh - 230px);
			background: var(--subtle-fg);
			border-radius: var(--border-radius-md);
			border-top: 3px solid var(--gray-400);
			transition: box-shadow 0.1s;
		}
		.op-board .op-kind-won {
			border-top-color: var(--green-500);
		}
		.op-board .op-kind-lost {
			border-top-color: var(--red-500);
		}
		.op-board .op-drop-target {
			box-shadow: 0 0 0 2px var(--primary);
		}
		.op-board .op-column-head {
			padding: var(--padding-sm) var(--padding-md);
		}
		.op-board .op-column-title {
			display: flex;
			align-items: center;
			gap: var(--margin-xs);
			font-weight: var(--weight-semibold);
		}
		.op-board .op-column-name {
			min-width: 0;
		}
		.op-board .op-column-count {
			padding: 0 6px;
			border-radius: var(--border-radius-full);
			background: var(--card-bg);
			font-size: var(--text-xs);
		}
		.op-board .op-column-probability {
			margin-left: auto;
			color: var(--text-muted);
			font-size: var(--text-xs);
			font-weight: normal;
		}
		.op-board .op-column-figures {
			display: flex;
			flex-wrap: wrap;
			justify-content: space-between;
			column-gap: var(--margin-sm);
			font-size: var(--text-sm);
		}
		.op-board .op-column-figures > span {
			white-space: nowrap;
		}
		.op-board .op-column-cards {
			flex: 1;
			min-height: 60px;
			overflow-y: auto;
			padding: 0 var(--padding-sm) var(--padding-sm);
		}
		.op-board .op-column-empty {
			padding: var(--padding-md);
			text-align: center;
			font-size: var(--text-sm);
		}
		.op-board .op-column-more {
			display: block;
			padding: var(--padding-xs);
			text-align: center;
			font-size: var(--text-sm);
		}
		.op-board .op-card {
			margin-top: var(--margin-sm);
			padding: var(--padding-sm) var(--padding-md);
			background: var(--card-bg);
			border-radius: var(--border-radius);
			box-shadow: var(--card-shadow);
			cursor: pointer;
		}
		.op-board .op-card[draggable="true"] {
			cursor: grab;
		}
		.op-board .op-card:hover {
			box-shadow: var(--shadow-md);
		}
		.op-board .op-dragging,
		.op-board .op-saving {
			opacity: 0.5;
		}
		.op-board .op-card-title {
			font-weight: var(--weight-medium);
		}
		.op-board .op-card-party {
			font-size: var(--text-sm);
		}
		.op-board .op-card-row {
			display: flex;
			align-items: center;
			gap: var(--margin-xs);
			margin-top: var(--margin-xs);
			font-size: var(--text-sm);
		}
		.op-board .op-card-amount {
			font-weight: var(--weight-semibold);
		}
		.op-board .op-card-probability {
			margin-left: auto;
			color: var(--text-muted);
		}
		.op-board .op-card-date {
			margin-right: auto;
		}
		.op-board .op-overdue {
			color: var(--red-600);
			font-weight: var(--weight-medium);
		}
	`;
};
