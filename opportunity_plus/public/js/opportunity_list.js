// Opportunity Plus: an "Overdue" indicator in ERPNext's Opportunity list, on top of its status colours.
(function () {
	const settings = (frappe.listview_settings["Opportunity"] = frappe.listview_settings["Opportunity"] || {});
	const stock_indicator = settings.get_indicator;
	settings.add_fields = [...new Set([...(settings.add_fields || []), "op_is_overdue", "status", "title"])];
	settings.get_indicator = function (doc) {
		if (doc.op_is_overdue) {
			return [__("Overdue"), "red", "op_is_overdue,=,1"];
		}
		return stock_indicator ? stock_indicator(doc) : [__(doc.status), "gray", "status,=," + doc.status];
	};
})();
