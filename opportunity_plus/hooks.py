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
