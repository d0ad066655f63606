"""Look-alike nicknames (issue 26, item 4): invisible characters, confusables, mixed scripts."""

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.administration import find_user
from domain.errors import NicknameLooksTaken, NicknameMixesScripts, NicknameTaken, UserNotFound
from domain.lookalikes import (
    is_default_ignorable,
    mixes_scripts,
    resolved_script_set,
    script_extensions,
    skeleton,
    tables,
)
from domain.model import NewUser, User, VerifiedIdentity
from domain.nicknames import (
    MAX_NICKNAME_KEY_LENGTH,
    choose_nickname,
    first_suffix,
    is_mixed_script,
    make_unique,
    nickname_key,
    normalise_nickname,
)
from domain.provisioning import provision, rename_user
from tests.strategies import (
    DEFAULT_IGNORABLES,
    UNTRUSTED,
    japanese_words,
    nickname_texts,
    single_script_words,
)

# What the audit typed after "admin": each renders as "admin".
AUDIT_INVISIBLE_SUFFIXES = [
    "\u034f",  # COMBINING GRAPHEME JOINER
    "\ufe0f",  # VARIATION SELECTOR-16
    "\ufe00",  # VARIATION SELECTOR-1
    "\U000e0100",  # VARIATION SELECTOR-17
    "\u180b",  # MONGOLIAN FREE VARIATION SELECTOR ONE
    "\u180f",  # MONGOLIAN FREE VARIATION SELECTOR FOUR
    "\u17b4",  # KHMER VOWEL INHERENT AQ
    "\u17b5",  # KHMER VOWEL INHERENT AA
]
CYRILLIC_A_ADMIN = "\u0430dmin"
DOTLESS_I_ADMIN = "adm\u0131n"
GREEK_NU_ADMIN = "admi\u03bd"


@pytest.mark.parametrize("invisible", AUDIT_INVISIBLE_SUFFIXES)
def test_admin_followed_by_an_invisible_character_is_normalised_to_admin(invisible):
    assert normalise_nickname("admin" + invisible) == "admin"


@pytest.mark.parametrize("invisible", AUDIT_INVISIBLE_SUFFIXES)
def test_admin_followed_by_an_invisible_character_is_taken_when_admin_is(invisible):
    taken = {nickname_key("admin")}
    assert make_unique(choose_nickname(["admin" + invisible]), taken.__contains__) == "admin2"


@pytest.mark.parametrize("look_alike", [CYRILLIC_A_ADMIN, DOTLESS_I_ADMIN, "ADMIN", "adrnin"])
def test_a_look_alike_of_admin_has_the_key_of_admin(look_alike):
    assert nickname_key(look_alike) == nickname_key("admin")


@pytest.mark.parametrize("mixed", [CYRILLIC_A_ADMIN, GREEK_NU_ADMIN, "pay\u0440al", "ab\u0663"])
def test_a_word_mixing_scripts_is_mixed(mixed):
    assert is_mixed_script(mixed)


@pytest.mark.parametrize(
    "word",
    [
        "admin",
        "adm\u0131n",  # dotless i is Latin
        "\u043f\u0440\u0438\u0432\u0435\u0442",  # Cyrillic only
        "\u03b1\u03b2\u03b3",  # Greek only
        "\u65e5\u672c\u8a9e\u306e\u30ab\u30bf\u30ab\u30ca",  # Han, Hiragana and Katakana
        "\ud55c\uad6d\uc5b4\u6f22\u5b57",  # Hangul with Han is Korean
        "john-smith_42",
        "Ren\u00e9e M\u00fcller",
        "\u0430\u0431\u0432 abc",  # a Cyrillic word and a Latin word
    ],
)
def test_a_word_of_one_writing_system_is_not_mixed(word):
    assert not is_mixed_script(word)


# Sign-up never blocks the sign-in.


def new_identity(subject, nickname, email=None):
    return VerifiedIdentity(UNTRUSTED, "openid", subject, nickname, email, True)


def sign_up(uow, clock, subject, nickname, email=None):
    return provision(uow, new_identity(subject, nickname, email), clock)


CYRILLIC_SCOPE = "\u0455\u0441\u043e\u0440\u0435"  # all Cyrillic, reads "scope"


@pytest.mark.parametrize(
    ("taken", "look_alike", "given"),
    [
        ("admin", DOTLESS_I_ADMIN, DOTLESS_I_ADMIN + "2"),
        ("admin", "admin\ufe0f", "admin2"),
        ("admin", "adrnin", "adrnin2"),
        ("scope", CYRILLIC_SCOPE, CYRILLIC_SCOPE + "2"),
    ],
)
def test_a_look_alike_of_a_taken_nickname_gets_a_number_at_sign_up(
    uow, clock, taken, look_alike, given
):
    assert sign_up(uow, clock, "a", taken).nickname == taken
    assert sign_up(uow, clock, "b", look_alike).nickname == given


def test_a_mixed_script_nickname_falls_back_to_the_email_at_sign_up(uow, clock):
    sign_up(uow, clock, "a", "admin")
    user = sign_up(uow, clock, "b", GREEK_NU_ADMIN, email="mallory@example.com")
    assert user.nickname == "mallory"


def test_a_mixed_script_nickname_with_nothing_else_gets_the_fallback(uow, clock):
    assert sign_up(uow, clock, "b", CYRILLIC_A_ADMIN).nickname == UNTRUSTED.fallback_nickname


def add_user(uow, clock, nickname):
    with uow:
        user = uow.users.add(NewUser(nickname, None, clock.now()))
        uow.commit()
    return user


def test_renaming_to_a_look_alike_of_another_users_nickname_is_refused(uow, clock):
    add_user(uow, clock, "admin")
    mallory = add_user(uow, clock, "mallory")
    with pytest.raises(NicknameLooksTaken) as refused:
        rename_user(uow, mallory.id, DOTLESS_I_ADMIN)
    assert refused.value.message == (
        "That nickname looks like another user's nickname. Please choose another."
    )
    with pytest.raises(NicknameTaken):
        rename_user(uow, mallory.id, "admin\u17b4")  # normalised to admin: the same letters
    with uow:
        assert uow.users.get(mallory.id).nickname == "mallory"


def test_renaming_to_a_taken_nickname_still_says_it_is_taken(uow, clock):
    add_user(uow, clock, "admin")
    mallory = add_user(uow, clock, "mallory")
    with pytest.raises(NicknameTaken) as refused:
        rename_user(uow, mallory.id, "Admin")
    assert type(refused.value) is NicknameTaken


def test_renaming_to_a_mixed_script_nickname_is_refused_with_a_clear_message(uow, clock):
    mallory = add_user(uow, clock, "mallory")
    with pytest.raises(NicknameMixesScripts) as refused:
        rename_user(uow, mallory.id, GREEK_NU_ADMIN)
    assert "mixes letters from different alphabets" in refused.value.message


def test_renaming_to_a_look_alike_of_ones_own_nickname_is_allowed(uow, clock):
    admin = add_user(uow, clock, "admin")
    assert rename_user(uow, admin.id, "ADMIN") == "ADMIN"


# Properties.


@given(nickname_texts)
def test_normalising_removes_every_default_ignorable_and_is_idempotent(text):
    nickname = normalise_nickname(text)
    assert not any(is_default_ignorable(char) for char in nickname)
    assert normalise_nickname(nickname) == nickname


@given(nickname_texts, st.data())
def test_inserting_ignorables_changes_neither_the_skeleton_nor_the_key(text, data):
    positions = data.draw(st.lists(st.integers(0, len(text)), max_size=5))
    spiked = text
    for at in sorted(positions, reverse=True):
        spiked = spiked[:at] + data.draw(st.sampled_from(DEFAULT_IGNORABLES)) + spiked[at:]
    assert skeleton(spiked) == skeleton(text)
    assert nickname_key(spiked) == nickname_key(text)
    assert nickname_key(normalise_nickname(spiked)) == nickname_key(normalise_nickname(text))


@given(st.lists(nickname_texts, min_size=1, max_size=20))
def test_a_made_unique_nickname_never_shares_a_skeleton_with_an_existing_one(texts):
    def folded_skeleton(nickname):
        return skeleton(unicodedata.normalize("NFKC", nickname.casefold())).casefold()

    keys: set[str] = set()
    skeletons: set[str] = set()
    for text in texts:
        nickname = make_unique(choose_nickname([text]), keys.__contains__)
        assert not is_mixed_script(nickname)
        assert unicodedata.normalize("NFC", folded_skeleton(nickname)) not in skeletons
        assert len(nickname_key(nickname)) <= MAX_NICKNAME_KEY_LENGTH
        keys.add(nickname_key(nickname))
        skeletons.add(unicodedata.normalize("NFC", folded_skeleton(nickname)))


@given(single_script_words)
def test_a_word_of_a_single_script_is_never_mixed(word):
    assert not mixes_scripts(word)


@given(japanese_words)
def test_japanese_han_with_kana_is_never_mixed(word):
    assert not mixes_scripts(word)


@given(single_script_words, single_script_words)
def test_two_letters_of_different_scripts_in_one_word_are_mixed(first, second):
    scripts = resolved_script_set(first), resolved_script_set(second)
    if scripts[0] is not None and scripts[1] is not None and not scripts[0] & scripts[1]:
        assert mixes_scripts(first + second)
        assert not mixes_scripts(f"{first} {second}")


# The numeric suffix keeps its bounded cost though keys write 0 and 1 as letters.


def test_keys_write_zero_and_one_as_letters():
    assert nickname_key("admin10") == nickname_key("adminlo") == nickname_key("adminLO")


def test_the_first_suffix_counts_numbers_that_keys_write_as_letters():
    base = nickname_key("admin")
    taken = {base, nickname_key("admin10"), nickname_key("adminl2"), nickname_key("admino")}
    assert first_suffix(base, taken) == 13


# "admin12" typed by hand, its digits written as the letters their keys read as, or not.
numbered_admins = st.builds(
    lambda number, letters: (
        "admin"
        + "".join(
            {"0": "o", "1": "l"}.get(digit, digit) if as_letter else digit
            for digit, as_letter in zip(str(number), letters, strict=False)
        )
    ),
    st.integers(2, 20),
    st.lists(st.booleans(), min_size=2, max_size=2),
)


@given(st.lists(st.one_of(numbered_admins, st.text(alphabet="admin0l1Oo2 ", max_size=8))))
@example(["admin9", "admin10"])
@example(["admin11", "adminl2", "admin"])
def test_with_a_kept_counter_a_crowded_nickname_is_found_in_two_lookups(typed):
    """Others typed nicknames of digits and look-alike letters first ("adminl2" for
    admin12); then many sign up as "admin": each finds a free nickname in at most two
    lookups."""
    keys = {nickname_key(nickname) for text in typed if (nickname := normalise_nickname(text))}
    last: dict[str, int] = {}

    def next_suffix(base):
        last[base] = last[base] + 1 if base in last else first_suffix(base, keys)
        return last[base]

    for _ in range(5):
        lookups = []

        def is_taken(key, lookups=lookups):
            lookups.append(key)
            return key in keys

        nickname = make_unique("admin", is_taken, next_suffix)
        assert len(lookups) <= 2
        keys.add(nickname_key(nickname))


# The vendored Unicode data.


def test_the_vendored_data_states_its_unicode_versions():
    assert (tables().ucd_version, tables().confusables_version) == ("15.0.0", "13.0.0")


def assigned_in_python():
    for code_point in range(0x110000):
        char = chr(code_point)
        if unicodedata.category(char) not in ("Cn", "Cs", "Co"):
            yield char


NAME_PREFIX_SCRIPT = {
    "LATIN ": "Latn",
    "CYRILLIC ": "Cyrl",
    "GREEK ": "Grek",
    "HEBREW LETTER": "Hebr",
    "ARABIC LETTER": "Arab",
    "HIRAGANA ": "Hira",
    "KATAKANA LETTER": "Kana",
    "CJK UNIFIED IDEOGRAPH": "Hani",
    "HANGUL SYLLABLE": "Hang",
    "DEVANAGARI LETTER": "Deva",
    "THAI CHARACTER": "Thai",
}


def test_the_vendored_scripts_agree_with_pythons_character_names():
    checked = 0
    for char in assigned_in_python():
        assert script_extensions(char) != {"Zzzz"}, f"U+{ord(char):04X} has no script"
        name = unicodedata.name(char, "")
        for prefix, script in NAME_PREFIX_SCRIPT.items():
            if name.startswith(prefix) and unicodedata.category(char) in ("Lu", "Ll", "Lo"):
                assert script in script_extensions(char), f"U+{ord(char):04X} {name}"
                checked += 1
    assert checked > 90_000


def test_the_vendored_default_ignorables_agree_with_pythons_categories():
    ignorable = {char for char in map(chr, range(0x110000)) if is_default_ignorable(char)}
    for char in ignorable:
        category = unicodedata.category(char)
        assert category in ("Cf", "Mn", "Lo", "Cn"), f"U+{ord(char):04X} is {category}"
    for char in assigned_in_python():
        name = unicodedata.name(char, "")
        if "VARIATION SELECTOR" in name or name.startswith("ZERO WIDTH"):
            assert char in ignorable, name
    assert len(ignorable) > 4000


def test_the_vendored_confusables_name_characters_python_knows():
    prototypes = tables().prototypes
    assert len(prototypes) > 6000
    for source, prototype in prototypes.items():
        assert unicodedata.category(source) != "Cn", f"U+{ord(source):04X}"
        assert prototype and all(unicodedata.category(c) != "Cn" for c in prototype)
    # The examples the audit used.
    assert prototypes["\u0430"] == "a" and prototypes["\u0131"] == "i"
    assert prototypes["m"] == "rn" and prototypes["1"] == "l" and prototypes["0"] == "O"


def test_an_operator_finds_the_look_alike_account_they_typed_not_the_original(uow, clock):
    """Accounts older than the look-alike rule keep look-alike nicknames (migration 0007):
    disabling "аdmin" must not disable "admin"."""
    admin = add_user(uow, clock, "admin")
    # As migration 0007 leaves an older look-alike: its own nickname, under a distinct key.
    impostor = User(admin.id + 1, CYRILLIC_A_ADMIN, None, True, clock.now())
    uow.database.users[impostor.id] = impostor
    assert find_user(CYRILLIC_A_ADMIN, uow=uow).id == impostor.id
    assert find_user("ADMIN", uow=uow).id == admin.id
    with pytest.raises(UserNotFound):
        find_user("adrnin", uow=uow)
