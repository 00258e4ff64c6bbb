// Opportunity Plus: deal history, the party's other deals, the deal's pipeline (its stages, the stage's
// guidance and required fields), stage probability and overdue flag on ERPNext's Opportunity form.

frappe.ui.form.on("Opportunity", {
	setup(frm) {
		// Stock ERPNext lets only Sales Manager read Sales Stage: for everyone else the desk's check of a
		// picked stage (frappe.client.validate_link) answers 403 and the stage cannot be changed. The
		// picker lists stages through the app (hooks.standard_queries) and the server still checks the
		// stage exists on save.
		if (!frappe.model.can_read("Sales Stage")) {
			frm.set_df_property("sales_stage", "ignore_link_validation", 1);
		}
		// The stage picker offers the deal's pipeline's stages, in its order.
		frm.set_query("sales_stage", () => ({ filters: { pipeline: frm.doc.op_pipeline || "" } }));
		frm.set_query("op_pipeline", () => ({ filters: { enabled: 1 } }));
	},

	onload(frm) {
		if (frm.is_new()) opportunity_plus.suggest_pipeline(frm);
	},

	refresh(frm) {
		// What the deal was saved with: entering another stage (or pipeline) is what its rules check.
		frm._op_saved = frm.is_new() ? {} : { stage: frm.doc.sales_stage, pipeline: frm.doc.op_pipeline };
		opportunity_plus.render_history(frm);
		opportunity_plus.render_party_deals(frm);
		opportunity_plus.show_pipeline_indicators(frm);
		opportunity_plus.show_stage_rules(frm);
	},

	opportunity_type(frm) {
		if (frm.is_new()) opportunity_plus.suggest_pipeline(frm);
	},

	company(frm) {
		if (frm.is_new()) opportunity_plus.suggest_pipeline(frm);
	},

	op_pipeline(frm) {
		// A saved deal is moved to the matching stage of the new pipeline by the server on save; a new
		// one starts in the pipeline's first open stage unless its stage is one of the pipeline's.
		if (frm.is_new() && frm.doc.op_pipeline) {
			opportunity_plus.get_pipelines().then((pipelines) => {
				const pipeline = pipelines.find((row) => row.name === frm.doc.op_pipeline);
				if (!pipeline || pipeline.stages.some((row) => row.name === frm.doc.sales_stage)) return;
				const first = pipeline.stages.find((row) => row.kind === "Open");
				if (first) frm.set_value("sales_stage", first.name);
			});
		}
		opportunity_plus.show_stage_rules(frm);
	},

	sales_stage(frm) {
		opportunity_plus.show_stage_rules(frm);
		// The server applies the stage's default probability on save unless the user sets one by hand
		// in the same save; show the default right away so the user sees what will be saved.
		if (!frm.doc.sales_stage) return;
		// Through the app's method: stock ERPNext lets only Sales Manager read Sales Stage itself.
		opportunity_plus.get_stages(frm.doc.op_pipeline).then((stages) => {
			const stage = stages.find((row) => row.name === frm.doc.sales_stage);
			if (!stage) return;
			if (stage.kind === "Lost") {
				frappe.msgprint(
					__("{0} is a lost stage: use Actions > Declare Lost to record why the deal was lost.", [
						frm.doc.sales_stage.bold(),
					])
				);
			}
			frm._op_stage_probability = stage.probability;
			frm.set_value("probability", stage.probability);
			frm.set_value("op_probability_overridden", 0);
		});
	},

	probability(frm) {
		if (frm._op_stage_probability === undefined) return;
		frm.set_value(
			"op_probability_overridden",
			flt(frm.doc.probability) !== flt(frm._op_stage_probability) ? 1 : 0
		);
	},
});

frappe.provide("opportunity_plus");

// The stages (name, kind, default probability) of a pipeline (every pipeline's without one), in its
// order, loaded once per page.
opportunity_plus.get_stages = function (pipeline) {
	opportunity_plus._stages = opportunity_plus._stages || {};
	const key = pipeline || "";
	if (!opportunity_plus._stages[key]) {
		opportunity_plus._stages[key] = frappe
			.xcall("opportunity_plus.api.stages.get_stages", pipeline ? { pipeline } : {})
			.catch((error) => {
				delete opportunity_plus._stages[key];
				throw error;
			});
	}
	return opportunity_plus._stages[key];
};

// Every pipeline with its stages, their guidance and required fields, loaded once per page.
opportunity_plus.get_pipelines = function () {
	if (!opportunity_plus._pipelines) {
		opportunity_plus._pipelines = frappe
			.xcall("opportunity_plus.api.pipelines.get_pipelines", { include_disabled: 1 })
			.catch((error) => {
				opportunity_plus._pipelines = null;
				throw error;
			});
	}
	return opportunity_plus._pipelines;
};

// A new deal shows the pipeline its type and company give it (what the save would choose), until the
// user picks another.
opportunity_plus.suggest_pipeline = function (frm) {
	if (frm.doc.op_pipeline && frm.doc.op_pipeline !== frm._op_suggested_pipeline) return;
	frappe
		.xcall("opportunity_plus.api.pipelines.suggest_pipeline", {
			opportunity_type: frm.doc.opportunity_type || "",
			company: frm.doc.company || "",
		})
		.then((pipeline) => {
			if (!pipeline || frm.doc.op_pipeline === pipeline) return;
			if (frm.doc.op_pipeline && frm.doc.op_pipeline !== frm._op_suggested_pipeline) return;
			frm._op_suggested_pipeline = pipeline;
			frm.set_value("op_pipeline", pipeline);
		});
};

// The stage's guidance above the form, and its required fields marked while the deal is entering it
// (a new deal, another stage or another pipeline): the server refuses the save without them.
opportunity_plus.show_stage_rules = function (frm) {
	opportunity_plus.get_pipelines().then((pipelines) => {
		const pipeline =
			pipelines.find((row) => row.name === frm.doc.op_pipeline) ||
			pipelines.find((row) => row.is_default);
		const stage = pipeline && pipeline.stages.find((row) => row.name === frm.doc.sales_stage);
		for (const fieldname of frm._op_required || []) frm.toggle_reqd(fieldname, false);
		frm._op_required = [];
		const saved = frm._op_saved || {};
		const entering =
			stage &&
			stage.kind === "Open" &&
			(frm.is_new() || saved.stage !== frm.doc.sales_stage || saved.pipeline !== frm.doc.op_pipeline);
		const notes = [];
		if (stage && stage.guidance) notes.push(frappe.utils.escape_html(stage.guidance));
		if (entering && stage.required_fields.length) {
			for (const field of stage.required_fields) {
				if (field.fieldname !== "submitted_quotation" && frm.fields_dict[field.fieldname]) {
					frm.toggle_reqd(field.fieldname, true);
					frm._op_required.push(field.fieldname);
				}
			}
			notes.push(
				__("To enter {0} the deal needs: {1}.", [
					frappe.utils.escape_html(stage.name).bold(),
					stage.required_fields.map((field) => frappe.utils.escape_html(field.label)).join(", "),
				])
			);
		}
		frm.set_intro(notes.length ? notes.join("<br>") : "", "blue");
	});
};

opportunity_plus.show_pipeline_indicators = function (frm) {
	// "Probability Set by Hand" (op_probability_overridden) shows itself only when set.
	if (frm.doc.op_is_overdue) {
		frm.dashboard.set_headline_alert(
			__("Overdue: the expected closing date {0} has passed.", [
				frappe.datetime.str_to_user(frm.doc.expected_closing),
			]),
			"red"
		);
	}
};

opportunity_plus.format_duration = function (seconds) {
	const days = Math.floor(seconds / 86400);
	const hours = Math.floor((seconds % 86400) / 3600);
	if (days) return __("{0} d {1} h", [days, hours]);
	const minutes = Math.floor((seconds % 3600) / 60);
	return hours ? __("{0} h {1} min", [hours, minutes]) : __("{0} min", [minutes]);
};

opportunity_plus.render_history = function (frm) {
	const field = frm.get_field("op_history_html");
	const data = frm.doc.__onload && frm.doc.__onload.op_history;
	if (!field || !data) return;
	const esc = frappe.utils.escape_html;
	const show = (fieldname, value) => {
		if (value === null || value === undefined || value === "") return "";
		if (fieldname === "expected_closing") return frappe.datetime.str_to_user(value);
		if (fieldname === "opportunity_amount") return format_currency(value, frm.doc.currency);
		if (fieldname === "probability") return `${value} %`;
		if (fieldname === "status" || fieldname === "sales_stage") return esc(__(value));
		return esc(value);
	};
	const stages = data.time_in_stages
		.map(
			(row) =>
				`<tr><td>${esc(row.stage)}</td><td class="text-right">${opportunity_plus.format_duration(
					row.seconds
				)}</td></tr>`
		)
		.join("");
	const changes = data.changes
		.map(
			(row) => `<tr>
				<td>${frappe.datetime.str_to_user(row.changed_on)}</td>
				<td>${esc(__(row.field_label || row.changed_field))}</td>
				<td>${show(row.changed_field, row.from_value)}</td>
				<td>${show(row.changed_field, row.to_value)}</td>
				<td>${esc(frappe.user.full_name(row.changed_by))}</td>
			</tr>`
		)
		.join("");
	const more =
		data.total_changes > data.changes.length
			? `<a href="/app/opportunity-history?opportunity=${encodeURIComponent(frm.doc.name)}">${__(
					"All {0} changes",
					[data.total_changes]
			  )}</a>`
			: "";
	field.$wrapper.html(`
		<div class="op-history">
			<div class="row">
				<div class="col-sm-4">
					<h6>${__("Time in Stage")}</h6>
					<table class="table table-sm table-bordered op-time-in-stage">${
						stages || `<tr><td class="text-muted">${__("No stage yet")}</td></tr>`
					}</table>
					<p class="op-close-date-slips">${__("Close date slipped {0} time(s)", [
						data.close_date_slips,
					])}</p>
				</div>
				<div class="col-sm-8">
					<h6>${__("Changes")}</h6>
					<table class="table table-sm table-bordered op-changes">
						<thead><tr><th>${__("When")}</th><th>${__("What")}</th><th>${__("From")}</th><th>${__(
		"To"
	)}</th><th>${__("By")}</th></tr></thead>
						<tbody>${changes}</tbody>
					</table>
					${more}
				</div>
			</div>
		</div>`);
};

opportunity_plus.render_party_deals = function (frm) {
	const field = frm.get_field("op_party_deals_html");
	if (!field) return;
	if (frm.is_new()) {
		field.$wrapper.empty();
		return;
	}
	const name = frm.doc.name;
	frappe
		.call({
			method: "opportunity_plus.api.party.get_party_deals",
			args: { opportunity: name },
		})
		.then(({ message }) => {
			// The user may have moved on to another opportunity while this one loaded.
			if (message && frm.doc.name === name) {
				field.$wrapper.html(opportunity_plus.party_deals_html(frm, message));
				opportunity_plus.show_party_deal_counts(field, message.summary);
			}
		});
};

opportunity_plus.show_party_deal_counts = function (field, summary) {
	// The section starts collapsed: its head tells the rep whether opening it is worth it.
	const head = field.section && field.section.head;
	if (!head) return;
	head.find(".op-party-deals-counts").remove();
	if (!summary.total.count) return;
	const counts = __("{0} open · {1} won · {2} lost", [
		summary.open.count,
		summary.won.count,
		summary.lost.count,
	]);
	head.find(".collapse-indicator").before(
		`<span class="op-party-deals-counts text-muted small ml-2">${counts}</span>`
	);
};

opportunity_plus.party_deals_html = function (frm, data) {
	const esc = frappe.utils.escape_html;
	const summary = data.summary;
	if (!summary.total.count) {
		const empty = __("This party has no other opportunities you can see.");
		return `<p class="text-muted op-party-deals-empty">${empty}</p>`;
	}
	const date = (value) => (value ? frappe.datetime.str_to_user(value) : "");
	const colors = { won: "green", lost: "red", open: "blue" };
	const row = (deal) => {
		const url = `/app/opportunity/${encodeURIComponent(deal.name)}`;
		const link = `<a href="${url}">${esc(deal.title || deal.name)}</a>`;
		// Deals of the lead this customer came from (or of the customer this lead became) say whose they are.
		const party_label = `${esc(__(deal.opportunity_from))}: ${esc(deal.party_title)}`;
		const party =
			deal.opportunity_from !== frm.doc.opportunity_from
				? `<div class="text-muted small">${party_label}</div>`
				: "";
		const color = deal.status === "Closed" ? "gray" : colors[deal.outcome];
		const closing =
			deal.outcome === "lost" && deal.lost_on
				? __("Lost on {0}", [date(deal.lost_on)])
				: date(deal.expected_closing);
		return `<tr>
			<td>${link} <span class="text-muted small">${esc(deal.name)}</span>${party}</td>
			<td><span class="indicator-pill ${color}">${esc(__(deal.status))}</span></td>
			<td>${esc(deal.sales_stage ? __(deal.sales_stage) : "")}</td>
			<td class="text-right">${format_currency(deal.amount, deal.currency)}</td>
			<td>${closing}</td>
		</tr>`;
	};
	const total = (label, key) => {
		const amount = format_currency(summary[key].amount, summary.currency);
		return `<span class="op-party-deals-${key}">${label}: <b>${summary[key].count}</b> · ${amount}</span>`;
	};
	const totals = [total(__("Open"), "open"), total(__("Won"), "won"), total(__("Lost"), "lost")];
	const not_summed = summary.not_summed
		? `<div class="text-muted small">${__(
				"{0} deal(s) of companies with another currency are counted but not summed.",
				[summary.not_summed]
		  )}</div>`
		: "";
	const list_url = `/app/opportunity?party_name=${encodeURIComponent(frm.doc.party_name)}`;
	const more =
		summary.total.count > data.deals.length
			? `<a href="${list_url}">${__("All {0} deals", [summary.total.count])}</a>`
			: "";
	return `
		<div class="op-party-deals">
			<table class="table table-sm table-bordered op-party-deals-table">
				<thead><tr>
					<th>${__("Deal")}</th>
					<th>${__("Status")}</th>
					<th>${__("Stage")}</th>
					<th class="text-right">${__("Amount ({0})", [esc(summary.currency)])}</th>
					<th>${__("Expected Closing / Lost On")}</th>
				</tr></thead>
				<tbody>${data.deals.map(row).join("")}</tbody>
			</table>
			<p class="op-party-deals-totals">${totals.join(" &nbsp;|&nbsp; ")}</p>
			${not_summed}
			${more}
		</div>`;
};
