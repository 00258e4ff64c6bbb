// Copyright (c) 2026, opportunity_plus developers
// For license information, please see license.txt

frappe.ui.form.on("Opportunity Plus Settings", {});
