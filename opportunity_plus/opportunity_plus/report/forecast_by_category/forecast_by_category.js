// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["Forecast by Category"] = {
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
			fieldname: "period",
			label: __("From Period"),
			fieldtype: "Data",
			default: (() => {
				const today = frappe.datetime.str_to_obj(frappe.datetime.get_today());
				return `${today.getFullYear()}-Q${Math.floor(today.getMonth() / 3) + 1}`;
			})(),
			reqd: 1,
			description: __("A month (2026-12), a quarter (2026-Q4) or a fiscal year's name"),
		},
		{
			fieldname: "periods",
			label: __("Number of Periods"),
			fieldtype: "Int",
			default: 1,
			reqd: 1,
		},
		{
			fieldname: "group_by",
			label: __("Group By"),
			fieldtype: "Select",
			options: [
				{ value: "owner", label: __("Opportunity Owner") },
				{ value: "sales_person", label: __("Sales Person (Manager's View)") },
				{ value: "territory", label: __("Territory (Manager's View)") },
				{ value: "pipeline", label: __("Sales Pipeline") },
			],
			default: "owner",
			reqd: 1,
		},
		{ fieldname: "pipeline", label: __("Sales Pipeline"), fieldtype: "Link", options: "Sales Pipeline" },
	],
	tree: true,
	name_field: "key",
	parent_field: "parent",
	initial_depth: 3,
	formatter(value, row, column, data, default_formatter) {
		value = default_formatter(value, row, column, data);
		if (data && data.bold) value = value.bold();
		return value;
	},
};
