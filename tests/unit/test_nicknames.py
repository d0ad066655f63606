import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.nicknames import (
    LAST_RESORT_NICKNAME,
    MAX_NICKNAME_LENGTH,
    choose_nickname,
    make_unique,
    nickname_key,
    normalise_nickname,
)
from tests.strategies import TRICKY_CHARACTERS, nickname_texts

INVISIBLE = "\u202e\u202d\u2066\u200b\u200c\u200d\u2060\ufeff\u00ad\x00\x07\x1b\x7f\u3164\u2800"


def is_valid_nickname(nickname: str) -> bool:
    return (
        0 < len(nickname) <= MAX_NICKNAME_LENGTH
        and nickname == nickname.strip()
        and "  " not in nickname
        and all(c == " " or not c.isspace() for c in nickname)
        and not any(c in INVISIBLE for c in nickname)
        and all(not unicodedata.category(c).startswith("C") for c in nickname)
        and unicodedata.normalize("NFKC", nickname) == nickname
    )


@given(nickname_texts)
def test_normalised_nickname_is_empty_or_valid(text):
    nickname = normalise_nickname(text)
    assert nickname == "" or is_valid_nickname(nickname)


@given(nickname_texts)
def test_normalising_twice_changes_nothing(text):
    once = normalise_nickname(text)
    assert normalise_nickname(once) == once


@given(st.lists(st.one_of(st.none(), nickname_texts), max_size=4))
def test_chosen_nickname_is_always_valid(candidates):
    assert is_valid_nickname(choose_nickname(candidates))


@given(st.text(alphabet=INVISIBLE + " \t\n\u3000"))
def test_a_nickname_of_only_invisible_characters_falls_back(text):
    assert choose_nickname([text, None, "fallback"]) == "fallback"
    assert choose_nickname([text]) == LAST_RESORT_NICKNAME


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John   Smith ", "John Smith"),
        ("jo\u200bhn", "john"),
        ("\u202eevil", "evil"),
        ("ａｌｉｃｅ", "alice"),
        ("e\u200d\u0301", "é"),
        ("a\tb\nc", "a b c"),
        ("x" * 100, "x" * 64),
    ],
)
def test_normalise_nickname_examples(raw, expected):
    assert normalise_nickname(raw) == expected


def test_nickname_keys_ignore_case_and_width():
    assert nickname_key("Alice") == nickname_key("ALICE") == nickname_key("ａｌｉｃｅ")
    assert nickname_key("Straße") == nickname_key("STRASSE")


def test_a_free_nickname_is_kept():
    assert make_unique("alice", lambda key: False) == "alice"


def test_a_taken_nickname_gets_the_first_free_number():
    taken = {"alice", "alice2", "alice3"}
    assert make_unique("Alice", taken.__contains__) == "Alice4"


def test_a_suffixed_nickname_still_fits():
    taken = {nickname_key("x" * 64)}
    assert make_unique("x" * 64, taken.__contains__) == "x" * 63 + "2"


@given(st.lists(nickname_texts, min_size=1, max_size=20))
def test_made_unique_nicknames_never_share_a_key(texts):
    keys: set[str] = set()
    for text in texts:
        nickname = make_unique(choose_nickname([text]), keys.__contains__)
        assert is_valid_nickname(nickname)
        assert nickname_key(nickname) not in keys
        keys.add(nickname_key(nickname))


@given(st.text(alphabet=TRICKY_CHARACTERS, min_size=1))
def test_key_of_a_normalised_nickname_is_stable(text):
    nickname = normalise_nickname(text)
    assert nickname_key(nickname) == nickname_key(normalise_nickname(nickname))
