import pytest

from opportunity_plus.core.sqltext import UnterminatedLiteral, index_friendly, parameterize


def test_each_literal_becomes_a_placeholder_with_its_value():
	text, values = parameterize("`tabOpportunity`.`territory` in ('East', 'West')", "p")
	assert text == "`tabOpportunity`.`territory` in (%(p0)s, %(p1)s)"
	assert values == {"p0": "East", "p1": "West"}


@pytest.mark.parametrize(
	"literal, value",
	[
		("'EMEA 50% Zone'", "EMEA 50% Zone"),
		("'O\\'Brien'", "O'Brien"),
		("'O''Brien'", "O'Brien"),
		('"double ""quoted"""', 'double "quoted"'),
		("'Zürich Ost – 東京'", "Zürich Ost – 東京"),
		("'%(company)s'", "%(company)s"),
		("'a\\\\b'", "a\\b"),
		("'line\\nbreak\\ttab\\0nul\\Zsub\\rcr\\bbs'", "line\nbreak\ttab\0nul\x1asub\rcr\bbs"),
		# LIKE escapes keep their backslash, as MariaDB reads them
		("'50\\% off\\_x'", "50\\% off\\_x"),
		("'\\q'", "q"),
		("''", ""),
	],
)
def test_literals_are_read_as_mariadb_reads_them(literal, value):
	text, values = parameterize(f"x = {literal}", "v")
	assert text == "x = %(v0)s"
	assert values == {"v0": value}


def test_percent_outside_literals_is_doubled_so_one_formatting_restores_it():
	text, values = parameterize("a % 2 = 0 and b like 'x%'", "p")
	assert text == "a %% 2 = 0 and b like %(p0)s"
	assert text % {name: repr(value) for name, value in values.items()} == "a % 2 = 0 and b like 'x%'"


def test_a_value_written_like_a_placeholder_never_takes_a_callers_parameter():
	text, values = parameterize("`t`.`territory` in ('%(company)s')", "scope_")
	assert "%(company)s" not in text
	assert values == {"scope_0": "%(company)s"}


def test_identifiers_and_comments_are_kept_but_their_percent_doubled():
	text, values = parameterize("`tab50% Odd` = 1 /* it's 5% */ and y = 'a' -- note's %\n", "p")
	assert text == "`tab50%% Odd` = 1 /* it's 5%% */ and y = %(p0)s -- note's %%\n"
	assert values == {"p0": "a"}


def test_backquote_inside_identifier():
	text, values = parameterize("`we``ird` = 'x'", "p")
	assert text == "`we``ird` = %(p0)s"


def test_hash_comment_runs_to_end_of_line():
	text, values = parameterize("a = 1 # it's\nand b = 'y'", "p")
	assert text == "a = 1 # it's\nand b = %(p0)s"
	assert values == {"p0": "y"}


def test_double_dash_without_space_is_not_a_comment():
	text, values = parameterize("a--'1'", "p")
	assert text == "a--%(p0)s"


@pytest.mark.parametrize("text", ["x = 'open", "`open = 1", "a /* open", "x = 'trailing\\"])
def test_unterminated_text_is_refused(text):
	with pytest.raises(UnterminatedLiteral):
		parameterize(text, "p")


def test_text_without_literals_is_unchanged():
	assert parameterize("`tabOpportunity`.`docstatus` < 2", "p") == ("`tabOpportunity`.`docstatus` < 2", {})


def test_index_friendly_rewrites_the_empty_link_test():
	condition = "(ifnull(`tabOpportunity`.`territory`, '')='' or `tabOpportunity`.`territory` in ('A'))"
	assert index_friendly(condition) == (
		"((`tabOpportunity`.`territory` is null or `tabOpportunity`.`territory`='') "
		"or `tabOpportunity`.`territory` in ('A'))"
	)


def test_index_friendly_leaves_other_conditions_alone():
	condition = "ifnull(`tabOpportunity`.`territory`, 'x')='x' and `tabOpportunity`.`owner` = 'a'"
	assert index_friendly(condition) == condition
