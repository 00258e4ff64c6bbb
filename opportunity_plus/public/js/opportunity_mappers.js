// Opportunity Plus: Create > Supplier Quotation makes one draft per supplier (each item's default supplier),
// asking for a supplier for the items that have none; Create > Request For Quotation makes one draft RFQ
// to the suppliers picked in a dialog. Create > Quotation reaches the app through
// override_whitelisted_methods and needs nothing here.

frappe.ui.form.on("Opportunity", {
	refresh(frm) {
		// ERPNext's refresh (loaded before this script) has added its own buttons: one supplier quotation
		// with all the items, and an RFQ whose lines lose their opportunity line. Replace both.
		frm.remove_custom_button(__("Supplier Quotation"), __("Create"));
		frm.remove_custom_button(__("Request For Quotation"), __("Create"));
		// the form is reused for the next opportunity: drop the last one's margin
		$(frm.layout.wrapper).find(".op-expected-margin").remove();
		if (frm.is_new() || !(frm.doc.items || []).length) return;
		// Each part shows only to those who may use it: stock ERPNext lets no sales role read Supplier
		// Quotations or make buying documents.
		if (frappe.model.can_read("Supplier Quotation")) opportunity_plus.show_expected_margin(frm);
		if (["Lost", "Closed"].includes(frm.doc.status)) return;
		if (frappe.model.can_create("Supplier Quotation")) {
			frm.add_custom_button(
				__("Supplier Quotation"),
				() => opportunity_plus.make_supplier_quotations(frm),
				__("Create")
			);
		}
		if (frappe.model.can_create("Request for Quotation")) {
			frm.add_custom_button(
				__("Request For Quotation"),
				() => opportunity_plus.make_request_for_quotation(frm),
				__("Create")
			);
		}
	},
});

frappe.provide("opportunity_plus");

opportunity_plus.make_supplier_quotations = function (frm) {
	if (frm.is_dirty()) {
		frappe.msgprint(__("Save the opportunity first."));
		return;
	}
	frappe
		.call({
			method: "opportunity_plus.api.mappers.get_supplier_plan",
			args: { opportunity: frm.doc.name },
			freeze: true,
		})
		.then(({ message: plan }) => opportunity_plus.supplier_plan_dialog(frm, plan));
};

opportunity_plus.supplier_plan_dialog = function (frm, plan) {
	const esc = frappe.utils.escape_html;
	const line = (row) =>
		`<li>${esc(row.item_code || "")}${
			row.item_name && row.item_name !== row.item_code ? ` — ${esc(row.item_name)}` : ""
		} × ${format_number(row.qty)}</li>`;
	const groups = plan.suppliers
		.map(
			(group) =>
				`<p><b>${esc(group.supplier)}</b></p><ul>${group.items.map(line).join("")}</ul>`
		)
		.join("");
	const fields = [
		{
			fieldtype: "HTML",
			fieldname: "plan",
			options: groups
				? `<p class="text-muted">${__(
						"One draft supplier quotation per default supplier:"
				  )}</p>${groups}`
				: "",
		},
	];
	if (plan.existing.length) {
		fields.unshift({
			fieldtype: "HTML",
			fieldname: "existing",
			options: `<div class="alert alert-warning">${__(
				"This opportunity already has supplier quotations: {0}. New drafts are made anyway.",
				[plan.existing.map((row) => esc(`${row.name} (${row.supplier})`)).join(", ")]
			)}</div>`,
		});
	}
	if (plan.unassigned.length) {
		fields.push(
			{
				fieldtype: "HTML",
				fieldname: "unassigned_items",
				options: `<p class="text-muted">${__(
					"These items have no default supplier for {0}:",
					[esc(frm.doc.company)]
				)}</p><ul>${plan.unassigned.map(line).join("")}</ul>`,
			},
			{
				fieldtype: "Link",
				fieldname: "supplier",
				label: __("Supplier for These Items"),
				options: "Supplier",
				reqd: 1,
				get_query: () => ({ filters: { disabled: 0 } }),
			}
		);
	}
	const dialog = new frappe.ui.Dialog({
		title: __("Create Supplier Quotations"),
		fields,
		primary_action_label: __("Create Drafts"),
		primary_action(values) {
			dialog.hide();
			frappe
				.call({
					method: "opportunity_plus.api.mappers.make_supplier_quotations",
					args: {
						opportunity: frm.doc.name,
						supplier_for_unassigned: values.supplier || null,
					},
					freeze: true,
					freeze_message: __("Creating supplier quotations..."),
				})
				.then(({ message: names }) =>
					opportunity_plus.open_supplier_quotations(frm, names || [])
				);
		},
	});
	dialog.show();
};

opportunity_plus.open_supplier_quotations = function (frm, names) {
	if (names.length === 1) {
		frappe.set_route("Form", "Supplier Quotation", names[0]);
		return;
	}
	frappe.show_alert({
		message: __("{0} draft supplier quotations created", [names.length]),
		indicator: "green",
	});
	frappe.set_route("List", "Supplier Quotation", { opportunity: frm.doc.name });
};

opportunity_plus.make_request_for_quotation = function (frm) {
	if (frm.is_dirty()) {
		frappe.msgprint(__("Save the opportunity first."));
		return;
	}
	frappe
		.call({
			method: "opportunity_plus.api.mappers.get_request_suppliers",
			args: { opportunity: frm.doc.name },
			freeze: true,
		})
		.then(({ message: suppliers }) => {
			const dialog = new frappe.ui.Dialog({
				title: __("Create Request for Quotation"),
				fields: [
					{
						fieldtype: "HTML",
						fieldname: "intro",
						options: `<p class="text-muted">${__(
							"One draft request for all the items of {0}, sent to these suppliers (the items' default suppliers to start with):",
							[frappe.utils.escape_html(frm.doc.title || frm.doc.name)]
						)}</p>`,
					},
					{
						fieldtype: "Table",
						fieldname: "suppliers",
						label: __("Suppliers"),
						cannot_add_rows: false,
						in_place_edit: true,
						data: (suppliers || []).map((supplier) => ({ supplier })),
						fields: [
							{
								fieldtype: "Link",
								fieldname: "supplier",
								label: __("Supplier"),
								options: "Supplier",
								in_list_view: 1,
								reqd: 1,
								get_query: () => ({ filters: { disabled: 0 } }),
							},
						],
					},
				],
				primary_action_label: __("Create Draft"),
				primary_action(values) {
					const chosen = (values.suppliers || [])
						.map((row) => row.supplier)
						.filter(Boolean);
					if (!chosen.length) {
						frappe.msgprint(
							__("Choose at least one supplier to send the request to.")
						);
						return;
					}
					dialog.hide();
					frappe
						.call({
							method: "opportunity_plus.api.mappers.make_request_for_quotation",
							args: { opportunity: frm.doc.name, suppliers: chosen },
							freeze: true,
						})
						.then(({ message: name }) =>
							frappe.set_route("Form", "Request for Quotation", name)
						);
				},
			});
			dialog.show();
		});
};

// A short "Expected margin" line above the form: the margin at the best supplier rates quoted so far.
// Its own block under the headline (which the overdue banner uses), since v15 puts dashboard sections
// in the Connections tab.
opportunity_plus.show_expected_margin = function (frm) {
	frappe
		.call({
			method: "opportunity_plus.api.mappers.get_expected_margin",
			args: { opportunity: frm.doc.name },
		})
		.then(({ message: margin }) => {
			if (!margin || frm.doc.name !== margin.opportunity) return;
			const esc = frappe.utils.escape_html;
			const money = (value) => format_currency(value, margin.currency);
			const missing = margin.items_without_supplier_rate;
			let html;
			if (missing.length === margin.items.length) {
				html = __("No supplier rates yet (selling {0}).", [money(margin.selling)]);
			} else {
				const color = margin.margin < 0 ? "red" : "green";
				html = __("{0} ({1}%) on selling {2} at the best supplier cost {3}.", [
					`<b class="text-${color}">${money(margin.margin)}</b>`,
					format_number(margin.margin_percent || 0, null, 1),
					money(margin.priced_selling),
					money(margin.best_cost),
				]);
				if (missing.length) {
					html += " " + __("No supplier rate yet for: {0}.", [esc(missing.join(", "))]);
				}
			}
			$(frm.layout.wrapper).find(".op-expected-margin").remove();
			$(`<div class="form-message blue op-expected-margin">
				<b>${__("Expected margin")}:</b> ${html}</div>`).insertAfter(frm.layout.message);
		});
};
