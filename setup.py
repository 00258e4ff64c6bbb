from setuptools import find_packages, setup

# Read the version without importing the package: importing it must never require frappe.
with open("opportunity_plus/__init__.py") as f:
	version = next(line.split("=")[1].strip().strip("\"'") for line in f if line.startswith("__version__"))

setup(
	name="opportunity_plus",
	version=version,
	description="Deal tracking on ERPNext's Opportunity: pipeline, forecast, follow-ups and win/loss",
	author="opportunity_plus developers",
	author_email="dev@opportunity-plus.invalid",
	license="MIT",
	packages=find_packages(exclude=["benchmarks", "benchmarks.*"]),
	include_package_data=True,
	zip_safe=False,
	python_requires=">=3.10,<3.13",
	# frappe and erpnext are not on PyPI: bench provides them (see [tool.bench.frappe-dependencies]).
	install_requires=[],
)
