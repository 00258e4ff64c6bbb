"""Every user-facing text of the app reaches Frappe's translation extraction and the caller's language.

Frappe's extractor (`bench get-untranslated`, the POT builder) finds only `_("literal")` calls: a message
passed as `_(MESSAGES[code])` or `_(variable)` is never offered to translators. A `_()` that runs at import
(module level, class body, default argument) translates once, into the language of whoever imported the
module first, and every later caller gets that. This scans the app's source (tests excluded) for both.
"""

import ast
from pathlib import Path

import opportunity_plus

APP_DIR = Path(opportunity_plus.__file__).parent


def source_files() -> list[Path]:
	return sorted(path for path in APP_DIR.rglob("*.py") if "tests" not in path.relative_to(APP_DIR).parts)


def is_translation_call(node: ast.AST) -> bool:
	if not isinstance(node, ast.Call):
		return False
	function = node.func
	if isinstance(function, ast.Name):
		return function.id == "_"
	return (
		isinstance(function, ast.Attribute)
		and function.attr == "_"
		and isinstance(function.value, ast.Name)
		and function.value.id == "frappe"
	)


def translation_problems(source: str, filename: str) -> list[str]:
	"""`file:line: problem` for each `_()` whose text is not a string literal or that runs at import."""
	problems = []

	def visit(node: ast.AST, at_import: bool) -> None:
		if is_translation_call(node):
			text = node.args[0] if node.args else None
			if not (isinstance(text, ast.Constant) and isinstance(text.value, str)):
				problems.append(f"{filename}:{node.lineno}: _() of a non-literal: {ast.unparse(node)}")
			if at_import:
				problems.append(f"{filename}:{node.lineno}: _() at import time: {ast.unparse(node)}")
		if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
			# decorators and default values run when the function is defined; the body when it is called
			for child in (
				*getattr(node, "decorator_list", []),
				*node.args.defaults,
				*(default for default in node.args.kw_defaults if default is not None),
			):
				visit(child, at_import)
			for child in node.body if isinstance(node.body, list) else [node.body]:
				visit(child, False)
			return
		for child in ast.iter_child_nodes(node):
			visit(child, at_import)

	visit(ast.parse(source, filename=filename), True)
	return problems


def test_every_translated_text_is_a_literal_translated_per_call():
	problems = [
		problem
		for path in source_files()
		for problem in translation_problems(path.read_text(encoding="utf-8"), str(path.relative_to(APP_DIR)))
	]
	assert problems == []


def test_the_scan_finds_what_it_looks_for():
	source = """
from frappe import _
import frappe
LABELS = {"stage": _("Sales Stage")}
MESSAGES = {"x": "Text"}

class Form:
	title = frappe._("Title")

def message(code, label=_("Default")):
	good = _("Literal {0}").format(code)
	return _(MESSAGES[code]) + _(f"{code}") + good

handler = lambda: _("Runs when called")
"""
	problems = translation_problems(source, "sample.py")
	assert [problem.split(": ", 1)[1].split(":")[0] for problem in problems] == [
		"_() at import time",
		"_() at import time",
		"_() at import time",
		"_() of a non-literal",
		"_() of a non-literal",
	]
	assert [int(problem.split(":")[1]) for problem in problems] == [4, 8, 10, 12, 12]
