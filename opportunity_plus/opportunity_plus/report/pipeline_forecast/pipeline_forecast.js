// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["Pipeline Forecast"] = {
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
			label: __("Expected Close From"),
			fieldtype: "Date",
			default: frappe.datetime.year_start(),
		},
		{
			fieldname: "to_date",
			label: __("Expected Close To"),
			fieldtype: "Date",
			default: frappe.datetime.year_end(),
		},
		{
			fieldname: "group_by",
			label: __("Group By"),
			fieldtype: "Select",
			options: [
				{ value: "stage", label: __("Sales Stage") },
				{ value: "close_month", label: __("Close Month") },
				{ value: "close_quarter", label: __("Close Quarter") },
				{ value: "owner", label: __("Opportunity Owner") },
				{ value: "territory", label: __("Territory") },
				{ value: "source", label: __("Source") },
				{ value: "opportunity_type", label: __("Opportunity Type") },
				{ value: "pipeline", label: __("Sales Pipeline") },
			],
			default: "stage",
			reqd: 1,
		},
		{
			fieldname: "period",
			label: __("Chart Period"),
			fieldtype: "Select",
			options: [
				{ value: "month", label: __("Month") },
				{ value: "quarter", label: __("Quarter") },
			],
			default: "month",
		},
		{ fieldname: "pipeline", label: __("Sales Pipeline"), fieldtype: "Link", options: "Sales Pipeline" },
		{ fieldname: "territory", label: __("Territory"), fieldtype: "Link", options: "Territory" },
		{ fieldname: "opportunity_owner", label: __("Opportunity Owner"), fieldtype: "Link", options: "User" },
		{ fieldname: "source", label: __("Source"), fieldtype: "Link", options: "Lead Source" },
		{
			fieldname: "opportunity_type",
			label: __("Opportunity Type"),
			fieldtype: "Link",
			options: "Opportunity Type",
		},
	],
	formatter(value, row, column, data, default_formatter) {
		value = default_formatter(value, row, column, data);
		if (data && data.bold) value = value.bold();
		return value;
	},
};
