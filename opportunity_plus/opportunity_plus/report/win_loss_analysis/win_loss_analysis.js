// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["Win Loss Analysis"] = {
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
			fieldname: "from_date",
			label: __("Closed From"),
			fieldtype: "Date",
			// The last twelve months, the current one included.
			default: frappe.datetime.add_months(frappe.datetime.month_start(), -11),
		},
		{
			fieldname: "to_date",
			label: __("Closed To"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
		},
		{ fieldname: "pipeline", label: __("Sales Pipeline"), fieldtype: "Link", options: "Sales Pipeline" },
		{
			fieldname: "view",
			label: __("View"),
			fieldtype: "Select",
			options: [
				{ value: "lost_reasons", label: __("Lost Reasons by Month") },
				{ value: "competitors", label: __("Lost by Competitor") },
				{ value: "win_rate", label: __("Win Rate by Dimension") },
			],
			default: "lost_reasons",
			reqd: 1,
		},
		{
			fieldname: "dimension",
			label: __("Win Rate By"),
			fieldtype: "Select",
			options: [
				{ value: "source", label: __("Source") },
				{ value: "opportunity_type", label: __("Opportunity Type") },
				{ value: "owner", label: __("Opportunity Owner") },
				{ value: "territory", label: __("Territory") },
				{ value: "pipeline", label: __("Sales Pipeline") },
			],
			default: "source",
			depends_on: "eval:doc.view == 'win_rate'",
		},
	],
	formatter(value, row, column, data, default_formatter) {
		value = default_formatter(value, row, column, data);
		if (data && data.bold) value = value.bold();
		return value;
	},
};
