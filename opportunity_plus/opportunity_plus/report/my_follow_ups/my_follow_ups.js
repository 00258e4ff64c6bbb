// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.query_reports["My Follow-ups"] = {
	filters: [
		{
			fieldname: "user",
			label: __("Next Contact By"),
			fieldtype: "Link",
			options: "User",
			default: frappe.session.user,
			reqd: 1,
		},
		{
			fieldname: "till_date",
			label: __("Due Till"),
			fieldtype: "Date",
		},
	],
	formatter(value, row, column, data, default_formatter) {
		value = default_formatter(value, row, column, data);
		if (data && column.fieldname === "next_contact_date") {
			if (data.days_overdue > 0) {
				value = `<span class="text-danger">${value}</span>`;
			} else if (data.due_today) {
				value = `<span class="text-warning">${value}</span>`;
			}
		}
		return value;
	},
};
