// Opportunity Plus: deal history, stage probability and overdue flag on ERPNext's Opportunity form.

frappe.ui.form.on("Opportunity", {
	refresh(frm) {
		opportunity_plus.render_history(frm);
		opportunity_plus.show_pipeline_indicators(frm);
	},

	sales_stage(frm) {
		// The server applies the stage's default probability on save unless the user sets one by hand
		// in the same save; show the default right away so the user sees what will be saved.
		if (!frm.doc.sales_stage) return;
		frappe.db.get_value("Sales Stage", frm.doc.sales_stage, ["op_probability", "op_stage_kind"]).then(
			({ message }) => {
				if (!message) return;
				if (message.op_stage_kind === "Lost") {
					frappe.msgprint(
						__("{0} is a lost stage: use Actions > Declare Lost to record why the deal was lost.", [
							frm.doc.sales_stage.bold(),
						])
					);
				}
				frm._op_stage_probability = message.op_probability;
				frm.set_value("probability", message.op_probability);
				frm.set_value("op_probability_overridden", 0);
			}
		);
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
