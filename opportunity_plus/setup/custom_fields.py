"""The one table of fields this app adds to other apps' doctypes.

Every field is tagged with the app's module, prefixed `op_`, created on install and after every
migrate (see `install.sync_custom_fields`) and removed before uninstall.
"""

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
}


def get_custom_fields() -> dict[str, list[dict]]:
	"""The table with every field tagged with this app's module (a fresh copy: callers may mutate it)."""
	return {
		doctype: [{**field, "module": MODULE} for field in fields]
		for doctype, fields in CUSTOM_FIELDS.items()
	}
