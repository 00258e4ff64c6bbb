"""The one table of fields this app adds to other apps' doctypes.

Every field is tagged with the app's module, prefixed `op_`, created on install and after every
migrate (see `install.sync_custom_fields`) and removed before uninstall.
"""

from opportunity_plus.core.categories import CATEGORIES, OVERRIDE_CATEGORIES

MODULE = "Opportunity Plus"

SALES_STAGE_KINDS = ("Open", "Won", "Lost")

CUSTOM_FIELDS: dict[str, list[dict]] = {
	"Sales Stage": [
		{
			"fieldname": "op_probability",
			"label": "Default Probability (%)",
			"fieldtype": "Percent",
			"insert_after": "stage_name",
			"in_list_view": 1,
			"description": "Probability an opportunity gets when it enters this stage (0-100).",
		},
		{
			"fieldname": "op_stage_kind",
			"label": "Kind",
			"fieldtype": "Select",
			"options": "\n".join(SALES_STAGE_KINDS),
			"default": "Open",
			"insert_after": "op_probability",
			"in_list_view": 1,
			"in_standard_filter": 1,
		},
		{
			"fieldname": "op_stage_order",
			"label": "Order",
			"fieldtype": "Int",
			"insert_after": "op_stage_kind",
			"in_list_view": 1,
			"description": "Position of the stage in the pipeline (lowest first).",
		},
	],
	"Opportunity": [
		{
			"fieldname": "op_pipeline",
			"label": "Pipeline",
			"fieldtype": "Link",
			"options": "Sales Pipeline",
			"insert_after": "column_break_10",
			"in_standard_filter": 1,
			"description": "The Sales Pipeline the deal moves through: its stage is one of the pipeline's. Left blank, "
			"the pipelines' rules choose it.",
		},
		{
			"fieldname": "op_is_overdue",
			"label": "Overdue",
			"fieldtype": "Check",
			"insert_after": "expected_closing",
			"read_only": 1,
			"depends_on": "eval:doc.op_is_overdue",
			"no_copy": 1,
			"in_standard_filter": 1,
			"description": "Open, and its expected closing date has passed.",
		},
		{
			"fieldname": "op_lost_on",
			"label": "Lost On",
			"fieldtype": "Date",
			"insert_after": "order_lost_reason",
			"read_only": 1,
			"no_copy": 1,
			"depends_on": "eval:doc.status=='Lost'",
		},
		{
			"fieldname": "op_closed_on",
			"label": "Closed On",
			"fieldtype": "Date",
			"insert_after": "op_lost_on",
			"read_only": 1,
			"no_copy": 1,
			"depends_on": "eval:['Converted','Lost','Closed'].includes(doc.status)",
			"description": "The day it was won, lost or closed: when its status last became Converted, Lost or Closed.",
		},
		{
			"fieldname": "op_autoclose_warned_on",
			"label": "Auto-Close Warning Sent On",
			"fieldtype": "Date",
			"insert_after": "op_lost_on",
			"read_only": 1,
			"hidden": 1,
			"no_copy": 1,
		},
		{
			"fieldname": "op_probability_overridden",
			"label": "Probability Set by Hand",
			"fieldtype": "Check",
			"insert_after": "probability",
			"read_only": 1,
			"depends_on": "eval:doc.op_probability_overridden",
			"no_copy": 1,
			"description": "The probability differs from the stage's default because it was set by hand.",
		},
		# Follow-up: the next contact, kept as one open Event and ToDo for that person (followups.py).
		{
			"fieldname": "op_follow_up_section",
			"label": "Follow-up",
			"fieldtype": "Section Break",
			"insert_after": "op_probability_overridden",
		},
		{
			"fieldname": "op_next_contact_date",
			"label": "Next Contact Date",
			"fieldtype": "Datetime",
			"insert_after": "op_follow_up_section",
			"no_copy": 1,
			"in_standard_filter": 1,
			"search_index": 1,
		},
		{
			"fieldname": "op_next_contact_by",
			"label": "Next Contact By",
			"fieldtype": "Link",
			"options": "User",
			"insert_after": "op_next_contact_date",
			"no_copy": 1,
			"in_standard_filter": 1,
			"search_index": 1,
			"mandatory_depends_on": "eval:doc.op_next_contact_date",
			"description": "Gets an event in their calendar and a ToDo, and a notification on the day.",
		},
		{
			"fieldname": "op_follow_up_column",
			"fieldtype": "Column Break",
			"insert_after": "op_next_contact_by",
		},
		{
			"fieldname": "op_follow_up_event",
			"label": "Follow-up Event",
			"fieldtype": "Link",
			"options": "Event",
			"insert_after": "op_follow_up_column",
			"read_only": 1,
			"no_copy": 1,
			"depends_on": "eval:doc.op_follow_up_event",
		},
		{
			"fieldname": "op_follow_up_todo",
			"label": "Follow-up ToDo",
			"fieldtype": "Link",
			"options": "ToDo",
			"insert_after": "op_follow_up_event",
			"read_only": 1,
			"no_copy": 1,
			"depends_on": "eval:doc.op_follow_up_todo",
		},
		{
			"fieldname": "op_follow_up_notified_on",
			"label": "Follow-up Notified On",
			"fieldtype": "Date",
			"insert_after": "op_follow_up_todo",
			"read_only": 1,
			"hidden": 1,
			"no_copy": 1,
		},
		{
			"fieldname": "op_history_section",
			"label": "Deal History",
			"fieldtype": "Section Break",
			"insert_after": "op_follow_up_notified_on",
			"collapsible": 1,
			"depends_on": "eval:!doc.__islocal",
		},
		{
			"fieldname": "op_history_html",
			"label": "Deal History",
			"fieldtype": "HTML",
			"insert_after": "op_history_section",
		},
		{
			"fieldname": "op_party_deals_section",
			"label": "Party's Deals",
			"fieldtype": "Section Break",
			"insert_after": "op_history_html",
			"collapsible": 1,
			"depends_on": "eval:!doc.__islocal",
		},
		{
			"fieldname": "op_party_deals_html",
			"label": "Party's Deals",
			"fieldtype": "HTML",
			"insert_after": "op_party_deals_section",
		},
		{
			"fieldname": "op_territory_rep",
			"label": "Territory Rep",
			"fieldtype": "Link",
			"options": "User",
			"insert_after": "territory",
			"read_only": 1,
			"no_copy": 1,
			"description": "The territory's manager (Sales Person > Employee > User), or the nearest parent "
			'territory\'s: the "Opportunity: by Territory" assignment rule assigns to this user.',
		},
		# Minutes to first response in working hours, beside ERPNext's wall-clock first_response_time.
		{
			"fieldname": "op_first_responded_on",
			"label": "First Responded On",
			"fieldtype": "Datetime",
			"insert_after": "first_response_time",
			"read_only": 1,
			"no_copy": 1,
		},
		{
			"fieldname": "op_first_response_minutes",
			"label": "First Response (Working Minutes)",
			"fieldtype": "Float",
			"precision": "1",
			"insert_after": "op_first_responded_on",
			"read_only": 1,
			"no_copy": 1,
			"description": "Minutes from creation to the first reply, counting only working hours on working "
			"days (Opportunity Plus Settings and the company's holiday list).",
		},
	],
	# ERPNext's RFQ mapper maps each opportunity line to fields Request for Quotation Item does not have;
	# these keep the link (set by api.mappers.make_request_for_quotation).
	"Request for Quotation Item": [
		{
			"fieldname": "op_opportunity",
			"label": "Opportunity",
			"fieldtype": "Link",
			"options": "Opportunity",
			"insert_after": "material_request_item",
			"read_only": 1,
		},
		{
			"fieldname": "op_opportunity_item",
			"label": "Opportunity Item",
			"fieldtype": "Data",
			"insert_after": "op_opportunity",
			"read_only": 1,
			"hidden": 1,
		},
	],
}

# Forecast categories (categories.py): the stage's default, the owner's override and the category in force.
FORECAST_CATEGORY_FIELDS: dict[str, list[dict]] = {
	"Sales Stage": [
		{
			"fieldname": "op_forecast_category",
			"label": "Forecast Category",
			"fieldtype": "Select",
			# Blank first: Frappe gives a new record a Select's first option, and a blank one is filled
			# by the stage's kind (categories.validate_sales_stage).
			"options": "\n" + "\n".join(CATEGORIES),
			"insert_after": "op_stage_order",
			"in_list_view": 1,
			"description": "The category open opportunities in this stage forecast in, unless their owner "
			"sets another. Converted deals are always Closed, lost and closed ones Omitted.",
		},
	],
	"Opportunity": [
		{
			"fieldname": "op_forecast_category",
			"label": "Forecast Category Override",
			"fieldtype": "Select",
			"options": "\n" + "\n".join(OVERRIDE_CATEGORIES),
			"insert_after": "sales_stage",
			"no_copy": 1,
			"depends_on": "eval:['Open', 'Quotation', 'Replied'].includes(doc.status)",
			"description": "Blank: the stage's category. Cleared when the stage changes, unless set in the "
			"same save.",
		},
		{
			"fieldname": "op_effective_forecast_category",
			"label": "Forecast Category",
			"fieldtype": "Select",
			"options": "\n" + "\n".join(CATEGORIES),
			"insert_after": "op_forecast_category",
			"read_only": 1,
			"no_copy": 1,
			"in_standard_filter": 1,
			"description": "The category the deal counts in: Closed when converted, Omitted when lost or "
			"closed, else the override, else the stage's category.",
		},
	],
}
for _doctype, _fields in FORECAST_CATEGORY_FIELDS.items():
	CUSTOM_FIELDS.setdefault(_doctype, []).extend(_fields)

# Changes to ERPNext's own fields, as Property Setters tagged with the app's module.
PROPERTY_SETTERS: list[dict] = [
	# Stock hides `title` and fills it with the customer's name; it is the doctype's title field, so
	# showing it as the deal name puts a human name in lists, kanban cards, links and reports.
	{
		"doctype": "Opportunity",
		"fieldname": "title",
		"property": "hidden",
		"value": "0",
		"property_type": "Check",
	},
	{
		"doctype": "Opportunity",
		"fieldname": "title",
		"property": "label",
		"value": "Deal Name",
		"property_type": "Data",
	},
	{
		"doctype": "Opportunity",
		"fieldname": "title",
		"property": "bold",
		"value": "1",
		"property_type": "Check",
	},
	{
		"doctype": "Opportunity",
		"fieldname": "title",
		"property": "in_standard_filter",
		"value": "1",
		"property_type": "Check",
	},
	{
		"doctype": "Opportunity",
		"fieldname": "title",
		"property": "description",
		"value": 'A short name for the deal, e.g. "Q3 expansion". Defaults to the customer\'s name.',
		"property_type": "Small Text",
	},
]


def get_property_setters() -> list[dict]:
	return [{**setter, "module": MODULE} for setter in PROPERTY_SETTERS]


def get_custom_fields() -> dict[str, list[dict]]:
	"""The table with every field tagged with this app's module (a fresh copy: callers may mutate it)."""
	return {
		doctype: [{**field, "module": MODULE} for field in fields]
		for doctype, fields in CUSTOM_FIELDS.items()
	}
