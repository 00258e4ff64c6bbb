// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.ui.form.on("Opportunity Plus Settings", {
	refresh(frm) {
		const rule = frm.doc.__onload && frm.doc.__onload.rule_in_force;
		frm.get_field("auto_close_rule_in_force").$wrapper.html(
			rule
				? `<p class="text-muted">${__("Auto-close rule in force")}: <b>${frappe.utils.escape_html(
						rule
				  )}</b></p>`
				: ""
		);
		if (frm.doc.auto_close_enabled) {
			frm.add_custom_button(__("Preview Auto-Close"), () => opportunity_plus_preview_auto_close(frm));
		}
	},
});

function opportunity_plus_preview_auto_close(frm) {
	if (frm.is_dirty()) {
		frappe.msgprint(__("Save the settings first: the preview uses the saved settings."));
		return;
	}
	frappe
		.call("opportunity_plus.api.autoclose.preview", { horizon_days: 30 })
		.then(({ message: rows }) => {
			const esc = frappe.utils.escape_html;
			const body = rows.length
				? `<table class="table table-bordered table-sm">
					<thead><tr><th>${__("Opportunity")}</th><th>${__("Status")}</th><th>${__(
						"Owner"
				  )}</th><th>${__("Idle Days")}</th><th>${__("Action Today")}</th><th>${__(
						"Closes On"
				  )}</th></tr></thead>
					<tbody>${rows
						.map(
							(r) => `<tr>
						<td><a href="/app/opportunity/${encodeURIComponent(r.opportunity)}">${esc(
								r.title || r.opportunity
							)}</a></td>
						<td>${esc(__(r.status))}</td>
						<td>${esc(r.owner || "")}</td>
						<td>${r.idle_days} / ${r.threshold}</td>
						<td>${esc(
							{ close: __("Close"), warn: __("Warn owner"), wait: __("None") }[r.action]
						)}</td>
						<td>${frappe.datetime.str_to_user(r.close_on)}</td>
					</tr>`
						)
						.join("")}</tbody></table>`
				: `<p>${__("No opportunity closes in the next 30 days.")}</p>`;
			const dialog = new frappe.ui.Dialog({
				title: __("Auto-Close Preview (next 30 days, nothing is changed)"),
				size: "extra-large",
				fields: [{ fieldtype: "HTML", fieldname: "table", options: body }],
			});
			dialog.show();
		});
}
