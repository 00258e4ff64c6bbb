// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["Forecast Call Accuracy"] = {
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
			description: __("2026-12 (a month), 2026-Q4 (a quarter) or a fiscal year; blank: the current one"),
		},
		{
			fieldname: "sales_person",
			label: __("Sales Person"),
			fieldtype: "Link",
			options: "Sales Person",
			description: __("Blank: your own team"),
		},
	],
	formatter(value, row, column, data, default_formatter) {
		value = default_formatter(value, row, column, data);
		if (column.fieldname === "sales_person" && data && data.indent) {
			value = `<span style="padding-left: ${data.indent * 15}px">${value}</span>`;
		}
		return value;
	},
};
