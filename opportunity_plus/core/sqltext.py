"""SQL text handling for permission conditions that Frappe hands over as text.

Frappe's query machinery returns a user's read restrictions as SQL text with the values inline (quoted
and escaped by the database driver). A query that is then run with parameters is %-formatted once more
by the driver: a `%` inside such a value breaks it ("not enough arguments for format string") or, worse,
a value written like a placeholder (`%(company)s`) is replaced by a caller's parameter. `parameterize`
turns each inline literal into a placeholder with its value beside it, and doubles every other `%`, so
the text can take part in a parameterised query and each value is formatted exactly once.

Literals are read as MariaDB reads them in its default mode (backslash escapes on, '' and "" inside a
literal of the same quote). Backquoted identifiers and comments are kept as they are.
"""

import re

# MariaDB's backslash escapes; any other escaped character stands for itself. `\%` and `\_` keep their
# backslash (they are LIKE escapes), as in MariaDB.
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "%": "\\%", "_": "\\_"}

# Frappe writes an "empty link" test of a user permission as `ifnull(field, '')=''`, which no index can
# serve; `(field is null or field='')` selects the same rows and can be a range scan.
_IFNULL_EMPTY = re.compile(r"ifnull\((`\w[\w ]*`\.`\w+`), ''\)\s*=\s*''")


class UnterminatedLiteral(ValueError):
	"""The text ends inside a quoted literal, identifier or comment."""


def index_friendly(condition: str) -> str:
	"""The same condition, with each `ifnull(col, '')=''` as `(col is null or col='')`."""
	return _IFNULL_EMPTY.sub(r"(\1 is null or \1='')", condition)


def parameterize(text: str, prefix: str) -> tuple[str, dict[str, str]]:
	"""`text` with each string literal replaced by `%(<prefix><n>)s` and every other `%` doubled, and the
	literals' values by placeholder name.

	>>> parameterize("`t`.`a` in ('x%', 'it''s') and b % 2 = 0", "p")
	('`t`.`a` in (%(p0)s, %(p1)s) and b %% 2 = 0', {'p0': 'x%', 'p1': "it's"})
	"""
	out: list[str] = []
	values: dict[str, str] = {}
	i, n = 0, len(text)
	while i < n:
		char = text[i]
		if char in "'\"":
			value, i = _read_literal(text, i)
			name = f"{prefix}{len(values)}"
			values[name] = value
			out.append(f"%({name})s")
		elif char == "`":
			end = _find_identifier_end(text, i)
			out.append(text[i:end].replace("%", "%%"))
			i = end
		elif text.startswith("/*", i):
			end = text.find("*/", i + 2)
			if end < 0:
				raise UnterminatedLiteral(text)
			out.append(text[i : end + 2].replace("%", "%%"))
			i = end + 2
		elif char == "#" or (text.startswith("--", i) and (i + 2 == n or text[i + 2] in " \t\n")):
			end = text.find("\n", i)
			end = n if end < 0 else end
			out.append(text[i:end].replace("%", "%%"))
			i = end
		elif char == "%":
			out.append("%%")
			i += 1
		else:
			out.append(char)
			i += 1
	return "".join(out), values


def _read_literal(text: str, start: int) -> tuple[str, int]:
	quote = text[start]
	chars: list[str] = []
	i, n = start + 1, len(text)
	while i < n:
		char = text[i]
		if char == "\\":
			if i + 1 >= n:
				break
			following = text[i + 1]
			chars.append(_ESCAPES.get(following, following))
			i += 2
		elif char == quote:
			if i + 1 < n and text[i + 1] == quote:
				chars.append(quote)
				i += 2
			else:
				return "".join(chars), i + 1
		else:
			chars.append(char)
			i += 1
	raise UnterminatedLiteral(text)


def _find_identifier_end(text: str, start: int) -> int:
	i, n = start + 1, len(text)
	while i < n:
		if text[i] == "`":
			if i + 1 < n and text[i + 1] == "`":
				i += 2
				continue
			return i + 1
		i += 1
	raise UnterminatedLiteral(text)
