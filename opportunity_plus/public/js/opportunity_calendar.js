// Opportunity calendar: each open opportunity's follow-up (Next Contact Date), 30 minutes long.
// Events come from the app's method, which reads only follow-ups inside the visible window.
frappe.views.calendar["Opportunity"] = {
	field_map: {
		id: "name",
		start: "op_next_contact_date",
		end: "op_follow_up_end",
		title: "title",
		allDay: "all_day",
	},
	get_events_method: "opportunity_plus.api.followups.get_calendar_events",
};
