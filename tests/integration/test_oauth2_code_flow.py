"""The OAuth 2.0 code flow on its own, as a protocol other than OpenID Connect would use it;
tests/integration/test_oidc_hostile_provider.py drives it through the OIDC adapter."""

from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from adapters.oauth2.code_flow import OAuth2Client, check_error, check_state
from domain.errors import LoginCancelled, LoginFailed, LoginMismatch, ProviderUnavailable

RETURN = "https://site.example/login/return/op"


def test_an_authorization_request_carries_the_state_and_a_challenge_of_the_kept_verifier():
    client = OAuth2Client("site", "secret", http=None)  # type: ignore[arg-type]
    request = client.authorization_request(
        "https://op.example/authorize", state="tx", return_to=RETURN, scope="read:user"
    )
    query = parse_qs(urlsplit(request.url).query)
    assert query["state"] == ["tx"] and query["client_id"] == ["site"]
    assert query["scope"] == ["read:user"] and query["redirect_uri"] == [RETURN]
    assert query["code_challenge"] == [create_s256_code_challenge(request.state["verifier"])]
    assert query["code_challenge_method"] == ["S256"]
    assert request.state | {"verifier": "v"} == {
        "state": "tx",
        "verifier": "v",
        "redirect_uri": RETURN,
    }
    assert "secret" not in request.url


@pytest.mark.parametrize(("answered", "kept"), [(None, "tx"), ("tx", None), ("other", "tx")])
def test_an_answer_for_another_sign_in_is_a_mismatch(answered, kept):
    with pytest.raises(LoginMismatch):
        check_state(answered, kept)


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        ("access_denied", LoginCancelled),
        ("login_required", LoginCancelled),
        ("temporarily_unavailable", ProviderUnavailable),
        ("invalid_scope", LoginFailed),
    ],
)
def test_an_error_answer_becomes_the_domain_error_a_person_can_act_on(error, raised):
    with pytest.raises(raised):
        check_error({"error": error})
    check_error({"code": "c"})
