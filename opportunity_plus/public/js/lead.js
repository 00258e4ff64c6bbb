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
				fieldname: "pipeline",
				label: __("Pipeline"),
				options: "Sales Pipeline",
				description: __("Blank: the one the pipelines' rules choose."),
				get_query: () => ({ filters: { enabled: 1 } }),
				onchange: () => dialog.set_value("sales_stage", ""),
			},
			{
				fieldtype: "Link",
				fieldname: "sales_stage",
				label: __("Sales Stage"),
				options: "Sales Stage",
				// the stages of the chosen pipeline (else of the one the rules would choose), in its order
				get_query: () => ({
					filters: { pipeline: dialog.get_value("pipeline") || dialog.suggested_pipeline || "" },
				}),
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
	// A customer's first deal is of type Sales in the default company, as convert_lead makes it.
	frappe
		.xcall("opportunity_plus.api.pipelines.suggest_pipeline", {
			opportunity_type: "Sales",
			company: frappe.defaults.get_user_default("Company") || "",
		})
		.then((pipeline) => {
			dialog.suggested_pipeline = pipeline;
			if (pipeline) dialog.fields_dict.pipeline.set_description(__("Blank: {0}", [pipeline]));
		});
};
