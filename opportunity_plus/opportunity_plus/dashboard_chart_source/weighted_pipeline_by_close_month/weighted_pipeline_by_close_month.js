// The workspace chart's source. Loaded on every desk page by opportunity_plus.bundle.js, because Frappe
// lets only System Managers fetch a chart source's script, and the chart is for every sales role.
frappe.provide("frappe.dashboards.chart_sources");

frappe.dashboards.chart_sources["Weighted Pipeline by Close Month"] = {
	method: "opportunity_plus.api.charts.weighted_pipeline_by_close_month",
	filters: [
		{
			fieldname: "company",
			label: __("Company"),
			fieldtype: "Link",
			options: "Company",
			default: frappe.defaults.get_user_default("Company"),
		},
		{
			fieldname: "pipeline",
			label: __("Sales Pipeline"),
			fieldtype: "Link",
			options: "Sales Pipeline",
			description: __("Empty: every pipeline"),
		},
	],
};
