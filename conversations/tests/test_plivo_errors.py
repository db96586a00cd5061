"""Plivo's error codes explained: each documented code in its own words, no error as nothing."""

import pytest

from conversations.plivo_errors import ERROR_EXPLANATIONS, ERROR_NAMES, error_name, explain_error_code, normalize_error_code


# What each explanation must say; a code added to the table without an entry here fails.
EXPLAINED_AS = {
    "10": "invalid", "20": "network problem", "30": "spam", "40": "sending number", "50": "not a valid mobile number",
    "60": "loop", "70": "disconnected", "80": "unreachable", "90": "no carrier route", "100": "carrier refused",
    "110": "too long", "200": "opted out", "201": "toll-free", "420": "expired", "1000": "unknown error",
}


@pytest.mark.parametrize("code", sorted(ERROR_EXPLANATIONS))
def test_every_documented_code_is_explained_in_its_own_words(code):
    assert EXPLAINED_AS[code] in explain_error_code(code)


@pytest.mark.parametrize("code", [None, "", " ", "0", "000", "null"])
def test_no_error_explains_nothing(code):
    assert explain_error_code(code) == "" and normalize_error_code(code) == ""


def test_integer_and_padded_codes_are_the_same_code():
    assert explain_error_code(200) == explain_error_code("200") == explain_error_code("0200")
    assert "opted out" in explain_error_code(200)


def test_unknown_code_names_the_code_and_what_to_do():
    text = explain_error_code("7777")
    assert "7777" in text and "Plivo support" in text


def test_explanations_are_distinct():
    assert len(set(ERROR_EXPLANATIONS.values())) == len(ERROR_EXPLANATIONS)


def test_every_documented_code_has_a_short_name_too():
    assert set(ERROR_NAMES) == set(ERROR_EXPLANATIONS)
    assert error_name("0050") == "invalid destination number" and error_name(80) == "destination temporarily unavailable"
    assert error_name("7777") == "error 7777" and error_name("0") == ""
