import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.nicknames import (
    LAST_RESORT_NICKNAME,
    MAX_NICKNAME_LENGTH,
    choose_nickname,
    first_suffix,
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


def counter_kept_by_a_store(keys: set[str]):
    """`next_suffix` as a store keeps it: the first call for a base starts after the numbers
    already used after it, each later call goes one further."""
    last: dict[str, int] = {}

    def next_suffix(base: str) -> int:
        last[base] = last[base] + 1 if base in last else first_suffix(base, keys)
        return last[base]

    return next_suffix


@given(st.lists(nickname_texts, min_size=1, max_size=30))
def test_a_kept_counter_gives_the_nicknames_of_the_first_free_search(texts):
    """People sign up, nobody renames, no nickname ends in a digit (nor in what its key
    writes as one: 0 and 1 read as "o" and "l"): counting on from the last number handed
    out finds the nicknames that trying 2, 3, ... from the start finds, without walking the
    taken ones."""
    searched: set[str] = set()
    counted: set[str] = set()
    next_suffix = counter_kept_by_a_store(counted)
    for text in texts:
        nickname = choose_nickname([text])
        if nickname[-1].isdigit() or nickname_key(nickname)[-1] in "ol":
            continue
        by_search = make_unique(nickname, searched.__contains__)
        by_counter = make_unique(nickname, counted.__contains__, next_suffix)
        assert by_counter == by_search
        searched.add(nickname_key(by_search))
        counted.add(nickname_key(by_counter))


def test_a_kept_counter_starts_after_the_highest_number_in_use():
    keys = {"alice", "alice7"}
    assert make_unique("Alice", keys.__contains__, counter_kept_by_a_store(keys)) == "Alice8"


@given(st.lists(st.tuples(nickname_texts, st.booleans()), min_size=1, max_size=30))
def test_with_a_kept_counter_and_nicknames_taken_by_hand_no_two_share_a_key(steps):
    keys: set[str] = set()
    next_suffix = counter_kept_by_a_store(keys)
    for text, by_hand in steps:
        if by_hand:  # a rename to a numbered form the counter did not hand out
            keys.add(nickname_key(normalise_nickname(text) + "7"))
            continue
        nickname = make_unique(choose_nickname([text]), keys.__contains__, next_suffix)
        assert is_valid_nickname(nickname) and nickname_key(nickname) not in keys
        keys.add(nickname_key(nickname))


def test_the_first_suffix_counts_only_plain_numbers_after_the_base():
    taken = {"gamer", "gamer7", "gamer07", "gamerx9", "gamer٣", "gam", "gamer12b"}
    assert first_suffix("gamer", taken) == 8
    assert first_suffix("elf", taken) == 2


@given(st.sets(st.integers(min_value=1, max_value=10**6), max_size=20))
def test_the_first_suffix_is_above_every_number_in_use(numbers):
    taken = {"gamer", *(f"gamer{n}" for n in numbers)}
    assert first_suffix("gamer", taken) == max([1, *numbers]) + 1
