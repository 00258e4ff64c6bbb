app_name = "opportunity_plus"
app_title = "Opportunity Plus"
app_publisher = "opportunity_plus developers"
app_description = "Deal tracking on ERPNext's Opportunity: pipeline, forecast, follow-ups and win/loss"
app_email = "dev@opportunity-plus.invalid"
app_license = "mit"

required_apps = ["erpnext"]

# Install, upgrade, uninstall
# ---------------------------
after_install = "opportunity_plus.setup.install.after_install"
after_migrate = "opportunity_plus.setup.install.after_migrate"
before_uninstall = "opportunity_plus.setup.install.before_uninstall"

# On every desk page: the workspace charts' sources (Frappe serves a source's script to System Managers only)
app_include_js = "opportunity_plus.bundle.js"

# Desk scripts for ERPNext doctypes
# ---------------------------------
doctype_js = {
	"Opportunity": ["public/js/opportunity.js", "public/js/opportunity_mappers.js"],
	"Lead": "public/js/lead.js",
}
doctype_list_js = {"Opportunity": "public/js/opportunity_list.js"}
# The Opportunity calendar (/app/opportunity/view/calendar) shows follow-ups, read by the app's method.
doctype_calendar_js = {"Opportunity": "public/js/opportunity_calendar.js"}

# ERPNext endpoints rerouted to the app
# -------------------------------------
# Opportunity > Create > Quotation calls this path: ERPNext's mapper runs, then the app completes it.
override_whitelisted_methods = {
	"erpnext.crm.doctype.opportunity.opportunity.make_quotation": "opportunity_plus.api.mappers.make_quotation",
}

# Sales Stage pickers list the stages in pipeline order, also for Sales Users (stock ERPNext lets only
# Sales Manager read Sales Stage, so its own link search fails for them).
standard_queries = {"Sales Stage": "opportunity_plus.api.stages.search_stages"}

# Assignment Rule, with a per-rep cap and never touching closed opportunities (assignment.py).
# A subclass of Frappe's own: the engine, its rule types and its UI stay Frappe's.
override_doctype_class = {
	"Assignment Rule": "opportunity_plus.assignment.OpportunityAssignmentRule",
}

# Document events
# ---------------
doc_events = {
	"Opportunity": {
		"before_validate": "opportunity_plus.events.opportunity.before_validate",
		"validate": "opportunity_plus.events.opportunity.validate",
		"onload": "opportunity_plus.events.opportunity.onload",
		"on_change": "opportunity_plus.events.opportunity.on_change",
		"on_trash": "opportunity_plus.events.opportunity.on_trash",
		"after_delete": "opportunity_plus.events.opportunity.after_delete",
	},
	"Quotation": {
		"on_submit": "opportunity_plus.events.quotation.on_submit",
		"on_update_after_submit": "opportunity_plus.events.quotation.on_update_after_submit",
	},
	# Minutes to first response: every reply counts, however it was sent (response.py).
	"Communication": {
		"on_update": "opportunity_plus.events.communication.on_update",
	},
	# A disabled user's open opportunities go back to the assignment rules.
	"User": {
		"on_update": "opportunity_plus.events.user.on_update",
		"after_rename": "opportunity_plus.summary.after_rename",
	},
	# The pipeline summary keeps these names: a rename (or merge) moves its rows with the opportunities'.
	"Company": {"after_rename": "opportunity_plus.summary.after_rename"},
	"Territory": {"after_rename": "opportunity_plus.summary.after_rename"},
	"Sales Stage": {
		"validate": [
			"opportunity_plus.events.sales_stage.validate",
			"opportunity_plus.categories.validate_sales_stage",
		],
		"on_change": [
			"opportunity_plus.events.sales_stage.clear_cache",
			# the default pipeline follows the stage's fields (a new default category reaches its deals)
			"opportunity_plus.pipelines.stage_changed",
		],
		"on_trash": [
			"opportunity_plus.pipelines.stage_trashed",
			"opportunity_plus.events.sales_stage.clear_cache",
		],
		"after_rename": [
			"opportunity_plus.events.sales_stage.clear_cache",
			"opportunity_plus.summary.after_rename",
		],
	},
	"Sales Pipeline": {
		"after_rename": "opportunity_plus.summary.after_rename",
		# other stages or kinds: Stage Conversion's rows of its deals again, in the background
		"on_update": "opportunity_plus.funnel.pipeline_changed",
	},
}

# An opportunity's history (events.opportunity.on_trash) and its Stage Conversion rows (after_delete) are
# deleted with it, so they never block deletion.
ignore_links_on_delete = ["Opportunity History", "Opportunity Stage Entry"]

# Permissions
# -----------
# History rows are readable exactly where their opportunity is.
permission_query_conditions = {
	"Opportunity History": "opportunity_plus.permissions.opportunity_history_query",
	# Forecast calls and snapshots: a person's own and their team's (forecast_call.py).
	"Forecast Submission": "opportunity_plus.forecast_call.submission_query",
	"Forecast Snapshot": "opportunity_plus.forecast_call.snapshot_query",
}
has_permission = {
	"Opportunity History": "opportunity_plus.permissions.opportunity_history_has_permission",
	"Forecast Submission": "opportunity_plus.forecast_call.submission_has_permission",
	"Forecast Snapshot": "opportunity_plus.forecast_call.snapshot_has_permission",
}

# Scheduled tasks
# ---------------
scheduler_events = {
	"daily": [
		"opportunity_plus.tasks.flag_overdue_opportunities",
		"opportunity_plus.tasks.reopen_opportunities_with_an_event_today",
	],
	"cron": {
		# Mornings, system time zone: the day's follow-up notifications and the overdue digest.
		"0 7 * * *": [
			"opportunity_plus.tasks.send_follow_up_reminders",
		],
		# The forecast call: the reminder on the settings' weekday, and the weekly snapshots (Monday).
		"0 8 * * *": [
			"opportunity_plus.tasks.remind_forecast_calls",
		],
		"30 5 * * 1": [
			"opportunity_plus.tasks.snapshot_forecasts",
		],
	},
	"daily_long": [
		"opportunity_plus.tasks.auto_close_opportunities",
		"opportunity_plus.tasks.reconcile_pipeline_summary",
	],
}
