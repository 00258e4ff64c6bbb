"""The functional core must never import frappe or erpnext, directly or through another module."""

import ast
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import opportunity_plus.core

CORE_DIR = Path(opportunity_plus.core.__file__).parent
REPO_ROOT = CORE_DIR.parent.parent
FORBIDDEN = ("frappe", "erpnext")


def core_modules() -> list[str]:
	return [
		f"opportunity_plus.core.{info.name}"
		for info in pkgutil.walk_packages([str(CORE_DIR)])
		if not info.name.startswith("_")
	]


def forbidden_imports(source: str, filename: str) -> list[str]:
	found = []
	for node in ast.walk(ast.parse(source, filename=filename)):
		names = []
		if isinstance(node, ast.Import):
			names = [alias.name for alias in node.names]
		elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
			names = [node.module]
		found += [
			f"{filename}:{node.lineno} imports {name}" for name in names if name.split(".")[0] in FORBIDDEN
		]
	return found


def test_core_has_no_forbidden_import_statement():
	offenders = [o for path in CORE_DIR.rglob("*.py") for o in forbidden_imports(path.read_text(), path.name)]
	assert not offenders, offenders


def test_importing_every_core_module_loads_no_forbidden_package():
	# A fresh interpreter with an import hook that refuses frappe/erpnext catches indirect imports too
	# (a core module importing a non-core module that imports frappe).
	script = textwrap.dedent(
		f"""
		import importlib, importlib.abc, sys

		class Refuse(importlib.abc.MetaPathFinder):
			def find_spec(self, name, path=None, target=None):
				if name.split(".")[0] in {FORBIDDEN!r}:
					raise ImportError("core imported " + name)
				return None

		sys.meta_path.insert(0, Refuse())
		for module in {core_modules()!r}:
			importlib.import_module(module)
		print("imported", len({core_modules()!r}))
		"""
	)
	result = subprocess.run(
		[sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=False
	)
	assert result.returncode == 0, result.stderr
	assert result.stdout.startswith("imported")


def test_the_purity_check_catches_imports_inside_functions():
	# Guards against the static check passing vacuously.
	source = "import os\n\ndef f():\n\tfrom frappe.utils import now\n\timport erpnext.accounts\n"
	assert forbidden_imports(source, "bad.py") == [
		"bad.py:4 imports frappe.utils",
		"bad.py:5 imports erpnext.accounts",
	]
