// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["Sales Target Attainment"] = {
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
			label: __("Period"),
			fieldtype: "Data",
			default: (() => {
				const today = frappe.datetime.str_to_obj(frappe.datetime.get_today());
				return `${today.getFullYear()}-Q${Math.floor(today.getMonth() / 3) + 1}`;
			})(),
			reqd: 1,
			description: __("A month (2026-12), a quarter (2026-Q4) or a fiscal year's name"),
		},
		{
			fieldname: "group_by",
			label: __("Group By"),
			fieldtype: "Select",
			options: [
				{ value: "sales_person", label: __("Sales Person") },
				{ value: "territory", label: __("Territory") },
			],
			default: "sales_person",
			reqd: 1,
		},
		{ fieldname: "item_group", label: __("Item Group"), fieldtype: "Link", options: "Item Group" },
		{
			fieldname: "pipeline",
			label: __("Sales Pipeline"),
			fieldtype: "Link",
			options: "Sales Pipeline",
			description: __("Won and pipeline of this pipeline's deals, against the whole targets"),
		},
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
