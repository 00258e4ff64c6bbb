// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["Minutes to First Response for Opportunity"] = {
	filters: [
		{
			fieldname: "company",
			label: __("Company"),
			fieldtype: "Link",
			options: "Company",
			default: frappe.defaults.get_user_default("Company"),
		},
		{
			fieldname: "from_date",
			label: __("Created From"),
			fieldtype: "Date",
			default: frappe.datetime.add_days(frappe.datetime.get_today(), -30),
			reqd: 1,
		},
		{
			fieldname: "to_date",
			label: __("Created To"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
			reqd: 1,
		},
		{
			fieldname: "group_by",
			label: __("Group By"),
			fieldtype: "Select",
			options: [
				{ value: "day", label: __("Day") },
				{ value: "owner", label: __("Opportunity Owner") },
				{ value: "source", label: __("Source") },
			],
			default: "day",
			reqd: 1,
		},
		{
			fieldname: "basis",
			label: __("Chart"),
			fieldtype: "Select",
			options: [
				{ value: "working", label: __("Working Hours") },
				{ value: "wall", label: __("Wall Clock") },
			],
			default: "working",
			reqd: 1,
		},
	],
	formatter(value, row, column, data, default_formatter) {
		value = default_formatter(value, row, column, data);
		if (data && data.bold) value = value.bold();
		return value;
	},
};
