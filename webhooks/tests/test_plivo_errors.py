import pytest

from conversations.plivo_errors import ERROR_EXPLANATIONS, explain_error_code, normalize_error_code


@pytest.mark.parametrize("code", sorted(ERROR_EXPLANATIONS))
def test_every_documented_code_has_its_own_explanation(code):
    text = explain_error_code(code)
    assert text == ERROR_EXPLANATIONS[code] and "Plivo reported error" not in text


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
