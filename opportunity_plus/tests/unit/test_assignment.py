import pytest

from opportunity_plus.core.assignment import (
	ALL_AT_CAP,
	ALL_UNAVAILABLE,
	AT_CAP,
	BASED_ON_FIELD,
	LOAD_BALANCING,
	NO_USERS,
	ROUND_ROBIN,
	UNAVAILABLE,
	Choice,
	choose_assignee,
	under_cap,
)

USERS = ["a", "b", "c"]


def choose(rule, last_user=None, loads=None, cap=0, unavailable=(), users=USERS):
	return choose_assignee(rule, users, last_user, loads or {}, cap, set(unavailable))


# --- Round Robin -----------------------------------------------------------------------------------


def test_round_robin_starts_at_the_top_and_goes_on_after_the_last_user():
	assert choose(ROUND_ROBIN) == Choice("a")
	assert choose(ROUND_ROBIN, last_user="a") == Choice("b")
	assert choose(ROUND_ROBIN, last_user="b") == Choice("c")


def test_round_robin_wraps_around():
	assert choose(ROUND_ROBIN, last_user="c") == Choice("a")


def test_round_robin_with_a_stale_last_user_starts_at_the_top():
	assert choose(ROUND_ROBIN, last_user="gone") == Choice("a")


def test_round_robin_skips_a_capped_rep_and_wraps():
	assert choose(ROUND_ROBIN, last_user="b", loads={"c": 2}, cap=2) == Choice("a")
	assert choose(ROUND_ROBIN, last_user="a", loads={"b": 3}, cap=2) == Choice("c")


def test_round_robin_skips_disabled_users():
	assert choose(ROUND_ROBIN, last_user="a", unavailable={"b"}) == Choice("c")


def test_round_robin_may_pick_the_last_user_again_when_the_others_are_capped():
	assert choose(ROUND_ROBIN, last_user="b", loads={"a": 2, "c": 2}, cap=2) == Choice("b")


def test_cap_zero_means_no_cap():
	assert choose(ROUND_ROBIN, last_user="a", loads={"b": 500}, cap=0) == Choice("b")
	assert choose(LOAD_BALANCING, loads={"a": 500, "b": 501, "c": 502}, cap=0) == Choice("a")
	assert choose(BASED_ON_FIELD, users=["b"], loads={"b": 500}, cap=0) == Choice("b")


def test_everyone_at_cap_gives_nobody():
	choice = choose(ROUND_ROBIN, last_user="a", loads={"a": 2, "b": 2, "c": 5}, cap=2)
	assert choice == Choice(None, ALL_AT_CAP)
	assert choice.capped


# --- Load Balancing --------------------------------------------------------------------------------


def test_load_balancing_picks_the_least_loaded():
	assert choose(LOAD_BALANCING, loads={"a": 3, "b": 1, "c": 2}) == Choice("b")


def test_load_balancing_ties_go_to_the_earlier_in_the_list():
	assert choose(LOAD_BALANCING, loads={"a": 2, "b": 1, "c": 1}) == Choice("b")
	assert choose(LOAD_BALANCING) == Choice("a")


def test_load_balancing_ignores_last_user():
	assert choose(LOAD_BALANCING, last_user="a") == Choice("a")


def test_load_balancing_skips_capped_and_disabled():
	assert choose(LOAD_BALANCING, loads={"a": 0, "b": 1, "c": 2}, cap=3, unavailable={"a"}) == Choice("b")
	assert choose(LOAD_BALANCING, loads={"a": 3, "b": 3, "c": 2}, cap=3) == Choice("c")


def test_load_balancing_everyone_at_cap():
	assert choose(LOAD_BALANCING, loads={"a": 1, "b": 1, "c": 1}, cap=1) == Choice(None, ALL_AT_CAP)


# --- Based on Field --------------------------------------------------------------------------------


def test_based_on_field_takes_the_fields_user_under_the_cap():
	assert choose(BASED_ON_FIELD, users=["b"], loads={"b": 1}, cap=2) == Choice("b")


def test_based_on_field_at_cap():
	choice = choose(BASED_ON_FIELD, users=["b"], loads={"b": 2}, cap=2)
	assert choice == Choice(None, AT_CAP)
	assert choice.capped


def test_based_on_field_disabled_or_empty():
	assert choose(BASED_ON_FIELD, users=["b"], unavailable={"b"}) == Choice(None, UNAVAILABLE)
	assert choose(BASED_ON_FIELD, users=[None]) == Choice(None, NO_USERS)
	assert not choose(BASED_ON_FIELD, users=[]).capped


# --- edge cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [ROUND_ROBIN, LOAD_BALANCING])
def test_no_users_or_all_disabled(rule):
	assert choose(rule, users=[]) == Choice(None, NO_USERS)
	assert choose(rule, unavailable=set(USERS)) == Choice(None, ALL_UNAVAILABLE)
	# disabled beats capped: it is not the cap that leaves the opportunity unassigned
	assert not choose(rule, unavailable=set(USERS), loads={"a": 9}, cap=1).capped


def test_a_user_listed_twice_counts_once():
	assert choose(ROUND_ROBIN, users=["a", "b", "a"], last_user="b") == Choice("a")


def test_unknown_rule_is_refused():
	with pytest.raises(ValueError):
		choose("Random")


def test_under_cap():
	assert under_cap(1, 2)
	assert not under_cap(2, 2)
	assert under_cap(99, 0)
	assert under_cap(99, -1)
