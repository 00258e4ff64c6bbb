// Opportunity Plus: "Customer with Opportunity" on the Lead form makes the customer (ERPNext's own mapper)
// and its first opportunity in one step, optionally moving the lead's open opportunities to the customer;
// all or nothing (opportunity_plus.api.lead.convert_lead).

frappe.ui.form.on("Lead", {
	refresh(frm) {
		if (frm.is_new() || frm.doc.status === "Converted" || frm.doc.customer) return;
		if (frm.doc.__onload && frm.doc.__onload.is_customer) return;
		if (!frappe.model.can_create("Customer") || !frappe.model.can_create("Opportunity"))
			return;
		frm.add_custom_button(
			__("Customer with Opportunity"),
			() => opportunity_plus.convert_lead(frm),
			__("Create")
		);
	},
});

frappe.provide("opportunity_plus");

opportunity_plus.convert_lead = function (frm) {
	if (frm.is_dirty()) {
		frappe.msgprint(__("Save the lead first."));
		return;
	}
	const dialog = new frappe.ui.Dialog({
		title: __("Customer with Opportunity"),
		fields: [
			{
				fieldtype: "Data",
				fieldname: "deal_name",
				label: __("Deal Name"),
				default: frm.doc.company_name || frm.doc.lead_name,
			},
			{ fieldtype: "Currency", fieldname: "amount", label: __("Opportunity Amount") },
			{
				fieldtype: "Date",
				fieldname: "expected_closing",
				label: __("Expected Closing Date"),
			},
			{
				fieldtype: "Link",
				fieldname: "sales_stage",
				label: __("Sales Stage"),
				options: "Sales Stage",
				// Stock ERPNext lets only Sales Manager read Sales Stage, so Frappe's link check
				// (frappe.client.validate_link) refuses a Sales User the stage they picked. The search lists
				// the stages for every sales role (hooks.standard_queries) and convert_lead checks the stage.
				ignore_link_validation: 1,
			},
			{
				fieldtype: "Check",
				fieldname: "move_open_opportunities",
				label: __("Move the lead's open opportunities to the customer"),
			},
		],
		primary_action_label: __("Create"),
		primary_action(values) {
			dialog.hide();
			frappe
				.call({
					method: "opportunity_plus.api.lead.convert_lead",
					type: "POST",
					args: { lead: frm.doc.name, ...values },
					freeze: true,
					freeze_message: __("Creating customer and opportunity..."),
				})
				.then(({ message }) =>
					frappe.set_route("Form", "Opportunity", message.opportunity)
				);
		},
	});
	dialog.show();
};
