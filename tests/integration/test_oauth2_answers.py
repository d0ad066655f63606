"""What the github and oauth2 adapters read out of a provider's JSON: property tests of
their parsers on any document."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.github.relying_party import account_id, primary_verified_email
from adapters.oauth2_generic.relying_party import Fields, OAuth2Profile, field_at, verified_identity
from domain.errors import SignInFailed
from domain.model import ProviderPolicy
from tests.strategies import github_email_entries, json_values


@given(st.lists(github_email_entries, max_size=5) | json_values)
def test_only_an_address_flagged_primary_and_verified_by_json_true_is_taken(emails: Any):
    found = primary_verified_email(emails)
    if found is not None:
        assert any(
            isinstance(e, dict)
            and e.get("email") == found
            and e.get("primary") is True
            and e.get("verified") is True
            for e in emails
        )


def test_a_verified_secondary_and_an_unverified_primary_give_no_email():
    emails = [
        {"email": "primary@example.com", "primary": True, "verified": False},
        {"email": "other@example.com", "primary": False, "verified": True},
    ]
    assert primary_verified_email(emails) is None
    assert primary_verified_email([*emails, {**emails[0], "verified": True}]) == (
        "primary@example.com"
    )


@given(json_values)
def test_an_account_id_is_a_non_negative_json_integer_or_refused(value: Any):
    try:
        subject = account_id({"id": value})
    except SignInFailed:
        assert not (type(value) is int and value >= 0)
    else:
        assert type(value) is int and subject == str(value)


PROFILE = OAuth2Profile(
    ProviderPolicy("discord"),
    "Discord",
    "https://discord.com",
    "https://discord.com/oauth2/authorize",
    "https://discord.com/api/oauth2/token",
    "https://discord.com/api/users/@me",
    "id",
    "secret",
    fields=Fields("user.id", "user.username", "user.email", "user.verified"),
)


@given(json_values)
def test_any_user_document_gives_an_identity_with_a_subject_or_is_refused(document: Any):
    if not isinstance(document, dict):
        document = {"user": document}
    try:
        identity = verified_identity(PROFILE, document)
    except SignInFailed:
        return
    assert identity.subject and identity.namespace == "https://discord.com"
    user = document.get("user")
    flag = user.get("verified") if isinstance(user, dict) else None
    trusted_flag = flag is True or flag == "true"
    assert identity.email_verified is (identity.email is not None and trusted_flag)


@pytest.mark.parametrize(
    ("document", "path", "value"),
    [
        ({"user": {"id": "1"}}, "user.id", "1"),
        ({"user": {"id": "1"}}, "user.name", None),
        ({"user": "flat"}, "user.id", None),
        ({"user.id": "dotted key"}, "user.id", None),
        ({"id": 0}, "id", 0),
    ],
)
def test_a_dotted_path_reaches_into_nested_objects_only(document, path, value):
    assert field_at(document, path) == value


def test_an_email_counts_as_verified_only_by_json_true_or_the_string_true():
    base = {"user": {"id": 5, "email": "w@example.com"}}
    for flag, verified in [(True, True), ("true", True), (1, False), ("yes", False)]:
        document = {"user": base["user"] | {"verified": flag}}
        assert verified_identity(PROFILE, document).email_verified is verified
    without_field = OAuth2Profile(
        **{**PROFILE.__dict__, "fields": Fields("user.id", None, "user.email")}
    )
    document = {"user": base["user"] | {"verified": True}}
    assert verified_identity(without_field, document).email_verified is False
