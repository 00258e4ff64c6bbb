"""What the Sales Forecast desk page needs besides its views (targets, categories, movement, as-of)."""

import frappe
from frappe import _
from frappe.utils import add_months, formatdate, getdate, nowdate

from opportunity_plus import planning
from opportunity_plus.api.utils import parse_name
from opportunity_plus.core.targets import PeriodError, parse_period

MONTHS_BACK, MONTHS_AHEAD = 3, 9
QUARTERS_BACK, QUARTERS_AHEAD = 2, 4


@frappe.whitelist()
@frappe.read_only()
def get_periods(company: str | None = None) -> dict:
	"""The periods the page offers (months and quarters around today, the company's fiscal years), each
	as the key the views take, with a label; and the current quarter's key as the default."""
	company = planning.company_or_default(parse_name(company, _("Company"), required=False))
	planning.check_can_read_opportunities()
	today = getdate(nowdate())
	years = planning.fiscal_years(company)
	periods = []
	for offset in range(-MONTHS_BACK, MONTHS_AHEAD + 1):
		first = add_months(today.replace(day=1), offset)
		periods.append(
			_period(f"{first.year:04d}-{first.month:02d}", formatdate(first, "MMMM yyyy"), "month", years)
		)
	quarter_start = today.replace(day=1, month=(today.month - 1) // 3 * 3 + 1)
	for offset in range(-QUARTERS_BACK, QUARTERS_AHEAD + 1):
		first = add_months(quarter_start, 3 * offset)
		key = f"{first.year:04d}-Q{(first.month - 1) // 3 + 1}"
		periods.append(_period(key, key, "quarter", years))
	for year in sorted(years, key=lambda year: year.start, reverse=True):
		periods.append(_period(year.name, _("Fiscal Year {0}").format(year.name), "fiscal_year", years))
	current = f"{quarter_start.year:04d}-Q{(quarter_start.month - 1) // 3 + 1}"
	return {"company": company, "periods": [p for p in periods if p], "default": current}


def _period(key: str, label: str, kind: str, years) -> dict | None:
	try:
		period = parse_period(key, years)
	except PeriodError:
		return None
	return {
		"key": key,
		"label": label,
		"kind": kind,
		"from_date": str(period.start),
		"to_date": str(period.end),
	}
