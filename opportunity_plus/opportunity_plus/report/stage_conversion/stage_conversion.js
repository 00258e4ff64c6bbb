// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["Stage Conversion"] = {
	filters: [
		{
			fieldname: "company",
			label: __("Company"),
			fieldtype: "Link",
			options: "Company",
			default: frappe.defaults.get_user_default("Company"),
			reqd: 1,
		},
		{
			fieldname: "pipeline",
			label: __("Sales Pipeline"),
			fieldtype: "Link",
			options: "Sales Pipeline",
			description: __("Blank: the default pipeline"),
		},
		{
			fieldname: "from_date",
			label: __("Created From"),
			fieldtype: "Date",
			// the last three months, today included (api.funnel's default)
			default: frappe.datetime.add_days(frappe.datetime.add_months(frappe.datetime.get_today(), -3), 1),
		},
		{
			fieldname: "to_date",
			label: __("Created To"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
		},
		{ fieldname: "territory", label: __("Territory"), fieldtype: "Link", options: "Territory" },
		{ fieldname: "opportunity_owner", label: __("Opportunity Owner"), fieldtype: "Link", options: "User" },
	],
};
