"""Bench commands of the app (bench finds them in `opportunity_plus.commands.commands`)."""

import click
from frappe.commands import get_site, pass_context


def _on_site(context, work) -> None:
	"""Run `work(site)` connected to the command's site."""
	import frappe

	site = get_site(context)
	frappe.init(site=site)
	frappe.connect()
	try:
		work(site)
	finally:
		frappe.destroy()


@click.command("opportunity-plus-rebuild-summary")
@pass_context
def rebuild_summary(context):
	"""Recompute the pipeline summary of Opportunity Plus from the opportunities."""
	from opportunity_plus import summary

	def rebuild(site):
		counts = summary.rebuild()
		click.echo(
			f"{site}: {counts['opportunities']} opportunities, {counts['entries']} entries, "
			f"{counts['summary_rows']} summary rows"
		)

	_on_site(context, rebuild)


@click.command("opportunity-plus-reconcile-summary")
@pass_context
def reconcile_summary(context):
	"""Repair and report drift between the opportunities and the pipeline summary (the daily job)."""
	from opportunity_plus import summary

	def reconcile(site):
		result = summary.reconcile()
		if result is None:
			click.echo(f"{site}: another rebuild or reconciliation is running")
		else:
			click.echo(
				f"{site}: {result['entries_repaired']} opportunities and "
				f"{result['summary_rows_repaired']} summary rows repaired"
			)

	_on_site(context, reconcile)


@click.command("opportunity-plus-snapshot-forecasts")
@pass_context
def snapshot_forecasts(context):
	"""Store this week's forecast figures of every sales person (the weekly job, at once)."""
	from opportunity_plus import forecast_call

	def snapshot(site):
		result = forecast_call.take_snapshots()
		click.echo(f"{site}: {result['rows']} snapshots of {result['companies']} companies")

	_on_site(context, snapshot)


@click.command("opportunity-plus-rebuild-stage-entries")
@pass_context
def rebuild_stage_entries(context):
	"""Recompute what every opportunity adds to Stage Conversion from the deal history."""
	from opportunity_plus import funnel

	def rebuild(site):
		result = funnel.rebuild()
		funnel.frappe.db.set_default(funnel.VERSION_DEFAULT, funnel.VERSION)
		funnel.frappe.db.commit()
		click.echo(f"{site}: {result['opportunities']} opportunities, {result['entries']} stage entries")

	_on_site(context, rebuild)


commands = [rebuild_summary, reconcile_summary, snapshot_forecasts, rebuild_stage_entries]
