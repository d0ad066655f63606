"""The OAuth 2.0 code flow on its own, as a protocol other than OpenID Connect would use it;
tests/integration/test_oidc_hostile_provider.py drives it through the OIDC adapter."""

import base64
import contextlib
import json
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from hypothesis import given
from hypothesis import strategies as st

from adapters.http.client import HttpError, HttpResponse
from adapters.oauth2.code_flow import (
    OAuth2Client,
    check_error,
    check_state,
    client_authentication,
    code_of,
    form_document,
    token_answer,
)
from domain.errors import ProviderUnavailable, SignInCancelled, SignInFailed, SignInMismatch

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
    with pytest.raises(SignInMismatch):
        check_state(answered, kept)


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        ("access_denied", SignInCancelled),
        ("login_required", SignInCancelled),
        ("temporarily_unavailable", ProviderUnavailable),
        ("invalid_scope", SignInFailed),
    ],
)
def test_an_error_answer_becomes_the_domain_error_a_person_can_act_on(error, raised):
    with pytest.raises(raised):
        check_error({"error": error})
    check_error({"code": "c"})


class Answering:
    """An HTTP client that answers every request with one response, and keeps the requests."""

    def __init__(self, status=200, body=b"{}", content_type="application/json"):
        self.response = HttpResponse("https://op.example/token", status, {}, body)
        if content_type:
            self.response = HttpResponse(
                self.response.url, status, {"content-type": content_type}, body
            )
        self.requests: list[dict] = []

    def request(self, method, url, *, body=None, headers=None):
        self.requests.append({"method": method, "url": url, "body": body, "headers": headers})
        return self.response


class Unreachable:
    def request(self, method, url, **options):
        raise HttpError("connection refused")


KEPT = {"state": "tx", "verifier": "v" * 43, "redirect_uri": RETURN}
TOKENS = {"access_token": "at-1", "token_type": "bearer", "scope": "read:user"}


def client_answering(**answer) -> tuple[OAuth2Client, Answering]:
    http = Answering(**answer)
    return OAuth2Client("site", "se:cret", http), http  # type: ignore[arg-type]


def test_a_request_without_pkce_keeps_and_sends_no_verifier():
    client = OAuth2Client("site", "secret", http=None)  # type: ignore[arg-type]
    request = client.authorization_request(
        "https://op.example/authorize", state="tx", return_to=RETURN, scope="", pkce=False
    )
    query = parse_qs(urlsplit(request.url).query)
    assert "code_challenge" not in query and "scope" not in query
    assert request.state == {"state": "tx", "redirect_uri": RETURN}


def test_the_code_exchange_asks_for_json_and_authenticates_by_basic():
    client, http = client_answering(body=json.dumps(TOKENS).encode())
    assert client.exchange("https://op.example/token", "c0de", KEPT) == TOKENS
    [sent] = http.requests
    form = dict(parse_qsl(sent["body"]))
    assert form == {
        "grant_type": "authorization_code",
        "code": "c0de",
        "redirect_uri": RETURN,
        "code_verifier": KEPT["verifier"],
    }
    assert sent["headers"]["Accept"] == "application/json"
    # RFC 6749 2.3.1: form-encoded before Basic encoding ("se:cret" -> "se%3Acret").
    assert (
        sent["headers"]["Authorization"] == "Basic " + base64.b64encode(b"site:se%3Acret").decode()
    )


def test_client_secret_post_sends_the_credentials_in_the_form_and_no_basic_header():
    client, http = client_answering(body=json.dumps(TOKENS).encode())
    client.exchange("https://op.example/token", "c0de", KEPT, "client_secret_post")
    [sent] = http.requests
    form = dict(parse_qsl(sent["body"]))
    assert form["client_id"] == "site" and form["client_secret"] == "se:cret"
    assert "Authorization" not in sent["headers"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (urlencode(TOKENS).encode(), "application/x-www-form-urlencoded; charset=utf-8"),
        (urlencode(TOKENS).encode(), "text/plain"),
        (json.dumps(TOKENS).encode(), "text/plain"),
        (json.dumps(TOKENS).encode(), None),
    ],
)
def test_a_token_answer_is_read_in_json_or_form_encoding(body, content_type):
    client, _ = client_answering(body=body, content_type=content_type)
    assert client.exchange("https://op.example/token", "c0de", KEPT) == TOKENS


@pytest.mark.parametrize(
    "answer",
    [
        {"body": b'{"error": "bad_verification_code"}'},  # GitHub: an error inside a 200
        {"body": b'{"error": "invalid_grant", "access_token": "at-1"}'},
        {
            "body": b"error=bad_verification_code&error_description=expired",
            "content_type": "application/x-www-form-urlencoded; charset=utf-8",
        },
        {"status": 400, "body": b'{"error": "invalid_grant"}'},
        {"status": 401, "body": b"<html>no</html>", "content_type": "text/html"},
        {"body": b'{"token_type": "bearer"}'},  # no access token
        {"body": b"[]"},
        {"body": b"not json", "content_type": None},
    ],
)
def test_a_token_answer_that_refuses_or_is_unreadable_fails_the_sign_in(answer):
    client, _ = client_answering(**answer)
    with pytest.raises(SignInFailed):
        client.exchange("https://op.example/token", "c0de", KEPT)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_provider_answering_5xx_is_unavailable(status):
    client, _ = client_answering(status=status, body=b"down")
    with pytest.raises(ProviderUnavailable):
        client.exchange("https://op.example/token", "c0de", KEPT)
    with pytest.raises(ProviderUnavailable):
        client.resource("GET", "https://api.example/user")


def test_an_unreachable_provider_is_unavailable():
    client = OAuth2Client("site", "secret", Unreachable())  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable):
        client.exchange("https://op.example/token", "c0de", KEPT)


def test_a_resource_answers_any_json_or_none_for_the_statuses_that_mean_absent():
    client, _ = client_answering(body=b'[{"email": "a@example.com"}]')
    assert client.resource("GET", "https://api.example/user/emails") == [{"email": "a@example.com"}]
    client, _ = client_answering(status=404, body=b'{"message": "Not Found"}')
    assert client.resource("GET", "https://api.example/x", absent_when={403, 404}) is None
    with pytest.raises(SignInFailed):
        client.resource("GET", "https://api.example/x")


@pytest.mark.parametrize(
    ("callback", "advertised"),
    [
        ({"code": "c", "state": "tx", "iss": "https://evil.example"}, False),
        ({"code": "c", "state": "tx"}, True),
    ],
)
def test_an_answer_naming_another_issuer_or_none_where_advertised_is_refused(callback, advertised):
    with pytest.raises(SignInFailed):
        code_of(callback, KEPT, issuer="https://op.example", issuer_advertised=advertised)


def test_the_code_of_an_answer_is_checked_state_first():
    assert code_of({"code": "c", "state": "tx"}, KEPT) == "c"
    with pytest.raises(SignInMismatch):
        code_of({"error": "access_denied", "state": "other"}, KEPT)
    with pytest.raises(SignInCancelled):
        code_of({"error": "access_denied", "state": "tx"}, KEPT)
    with pytest.raises(ProviderUnavailable):
        code_of({"error": "server_error", "state": "tx"}, KEPT)
    with pytest.raises(SignInFailed):
        code_of({"state": "tx"}, KEPT)


@given(st.dictionaries(st.text(), st.text(), max_size=5))
def test_any_form_encoded_answer_reads_back_as_it_was_sent(fields):
    body = urlencode(fields).encode()
    assert form_document(body) == fields


@given(st.binary(max_size=200))
def test_any_bytes_as_a_token_answer_give_a_dictionary_or_login_failed(body):
    for content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
        response = HttpResponse(
            "https://op.example/token", 200, {"content-type": content_type}, body
        )
        with contextlib.suppress(SignInFailed):
            assert isinstance(token_answer(response), dict)


@pytest.mark.parametrize(
    ("supported", "chosen"),
    [
        ([], "client_secret_basic"),
        (["client_secret_post"], "client_secret_post"),
        (["client_secret_post", "client_secret_basic"], "client_secret_basic"),
    ],
)
def test_basic_authentication_unless_the_provider_supports_only_post(supported, chosen):
    assert client_authentication(supported) == chosen
