"""Back-channel logout against hostile logout tokens, minted here with joserfc: the cases of
the OpenID Foundation's Back-Channel Logout RP tests (oidcc-client-test-rp-backchannel-
rpinitlogout and its -alg-none, -no-event, -wrong-event, -with-nonce, -wrong-alg, -wrong-aud
and -wrong-iss variants: their names are in the test ids) and more. The site is the real app,
its OIDC provider the tests' own (tests/oidc_op.py), whose keys it fetches over HTTP. Every
refusal is a 400 in JSON, and the session it aimed at still works."""

import json
import secrets
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from adapters.oidc.logout import BACKCHANNEL_LOGOUT_EVENT
from adapters.sql.migrate import upgrade_database
from entrypoints.app import create_app
from tests.oidc_op import CLIENT_ID, CLIENT_SECRET, DROP, HostileProvider, b64, rsa_key
from tests.servers import serving

CSRF_FIELD = 'name="csrf_token" type="hidden" value="'
BACKCHANNEL = "/logout/backchannel/corp"


@pytest.fixture(scope="module")
def hostile():
    provider = HostileProvider()
    with serving(provider.app):
        yield provider


@pytest.fixture
def op(hostile):
    hostile.reset()
    return hostile


def make_site(tmp_path, op, **settings):
    corp = {
        "key": "corp",
        "protocol": "oidc",
        "name": "Corp",
        "issuer": op.base,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    config = {
        "instance_path": str(tmp_path / "instance"),
        "database_url": f"sqlite:///{tmp_path / 'site.sqlite'}",
        "providers": [{"key": "openid", "name": "OpenID"}, corp],
        "rate_limit_login": "off",
        "rate_limit_callback": "off",
    }
    app = create_app(config | settings)
    upgrade_database(app.extensions["container"].engine())
    return app


@pytest.fixture
def site(tmp_path, op):
    app = make_site(tmp_path, op)
    yield app
    app.extensions["container"].shutdown_resources()


def sign_in(site, op, subject, sid):
    """A browser signed in through the provider as `subject` in its session `sid`, with
    remember-me: its test client."""
    op.claims = {"sub": subject, "sid": sid, "preferred_username": subject.split("-")[0]}
    op.claims |= {"email": f"{subject}@example.com"}
    browser = site.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = page.split(CSRF_FIELD, 1)[1].split('"', 1)[0]
    form = {"provider": "corp", "remember_me": "y", "csrf_token": token}
    started = browser.post("/login", data=form)
    answer = op.authorize(started.headers["Location"])
    landed = browser.get("/login/return/corp", query_string=answer)
    assert landed.status_code == 302, landed.get_data(as_text=True)
    return browser


def greeting(browser):
    page = browser.get("/index")
    if page.status_code != 200:
        return None
    text = page.get_data(as_text=True)
    return text.split("<h1>Hi, ", 1)[1].split("!</h1>", 1)[0]


def remembered(site, browser):
    """A new browser holding only this one's remember-me cookie."""
    other = site.test_client()
    cookie = browser.get_cookie("remember_token")
    other.set_cookie("remember_token", cookie.value)
    return other


def claims_of(op, **changes):
    claims = {
        "iss": op.base,
        "aud": CLIENT_ID,
        "iat": int(time.time()),
        "jti": secrets.token_urlsafe(12),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        "sub": "alice-sub",
        "sid": "sid-alice",
    } | changes
    return {name: value for name, value in claims.items() if value is not DROP}


def logout_token(op, key=None, header=None, **changes):
    """A logout token as the provider signs one, with `changes` to its claims and header."""
    key = key or op.signing_key
    header = {"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"} | (header or {})
    header = {name: value for name, value in header.items() if value is not DROP}
    return jwt.encode(header, claims_of(op, **changes), key, algorithms=[header["alg"]])


def unsigned(op, **changes):
    header = b64(json.dumps({"alg": "none", "typ": "logout+jwt"}).encode())
    return f"{header}.{b64(json.dumps(claims_of(op, **changes)).encode())}."


def hs256_with_the_client_secret(op):
    secret = OctKey.import_key(CLIENT_SECRET.encode())
    return jwt.encode({"alg": "HS256", "typ": "logout+jwt"}, claims_of(op), secret)


def with_bad_signature(op):
    head, body, signature = logout_token(op).split(".")
    return f"{head}.{body}.{signature[:-8]}{'A' * 8}"


def post_notice(site, token, **more):
    return site.test_client().post(BACKCHANNEL, data={"logout_token": token, **more})


def assert_refused(answer, because=""):
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json["error"] == "invalid_request"
    assert because in answer.json["error_description"]


HOSTILE = {
    # The OpenID Foundation's Back-Channel Logout RP tests
    "rpinitlogout-alg-none": lambda op: unsigned(op),
    "rpinitlogout-no-event": lambda op: logout_token(op, events=DROP),
    "rpinitlogout-wrong-event": lambda op: logout_token(
        op, events={"http://schemas.openid.net/event/other": {}}
    ),
    "rpinitlogout-with-nonce": lambda op: logout_token(op, nonce="n-0S6_WzA2Mj"),
    "rpinitlogout-wrong-alg": hs256_with_the_client_secret,
    "the-providers-key-with-an-algorithm-not-allowed": lambda op: logout_token(
        op, header={"alg": "RS512"}
    ),
    "rpinitlogout-wrong-aud": lambda op: logout_token(op, aud="someone-else"),
    "rpinitlogout-wrong-iss": lambda op: logout_token(op, iss="https://evil.example"),
    # and more
    "neither-sub-nor-sid": lambda op: logout_token(op, sub=DROP, sid=DROP),
    "bad-signature": with_bad_signature,
    "iat-too-old": lambda op: logout_token(op, iat=int(time.time()) - 11 * 60),
    "iat-in-the-future": lambda op: logout_token(op, iat=int(time.time()) + 5 * 60),
    "no-iat": lambda op: logout_token(op, iat=DROP),
    "expired": lambda op: logout_token(op, exp=int(time.time()) - 5 * 60),
    "no-jti": lambda op: logout_token(op, jti=DROP),
    "event-not-an-object": lambda op: logout_token(op, events={BACKCHANNEL_LOGOUT_EVENT: "yes"}),
    "aud-list-without-the-client": lambda op: logout_token(op, aud=["a", "b"]),
    "typ-of-an-id-token": lambda op: logout_token(op, header={"typ": "JWT"}),
    "a-key-the-provider-never-published": lambda op: logout_token(op, key=rsa_key("k9")),
    "another-key-under-the-providers-kid": lambda op: logout_token(op, key=rsa_key("k1")),
    "sid-not-a-string": lambda op: logout_token(op, sid=7),
    "not-a-jwt": lambda op: "not.a.jwt",
    "empty": lambda op: "",
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_logout_token_is_refused_and_the_session_it_aims_at_still_works(site, op, case):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    assert_refused(post_notice(site, HOSTILE[case](op)))
    assert greeting(alice) == "alice"
    assert greeting(remembered(site, alice)) == "alice"


def test_rpinitlogout_a_valid_logout_token_ends_its_sid_sessions_remember_me_included(site, op):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    alice_phone = sign_in(site, op, "alice-sub", "sid-alice-phone")
    bob = sign_in(site, op, "bob-sub", "sid-bob")
    kept_remember_me = remembered(site, alice)
    answer = post_notice(site, logout_token(op), unknown_field="ignored")
    assert (answer.status_code, answer.json) == (200, {})
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert greeting(alice) is None and greeting(kept_remember_me) is None
    assert (greeting(alice_phone), greeting(bob)) == ("alice", "bob")
    [event] = site.extensions["container"].audit_trail().events()[-1:]
    assert (event.kind, event.provider, event.detail) == (
        "session.ended_by_provider",
        "corp",
        "1 sessions",
    )


def test_a_logout_token_with_only_a_subject_ends_every_session_of_it(site, op):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    alice_phone = sign_in(site, op, "alice-sub", "sid-alice-phone")
    bob = sign_in(site, op, "bob-sub", "sid-bob")
    assert post_notice(site, logout_token(op, sid=DROP)).status_code == 200
    assert (greeting(alice), greeting(alice_phone), greeting(bob)) == (None, None, "bob")


def test_a_logout_token_for_another_persons_sid_ends_only_that_persons_session(site, op):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    bob = sign_in(site, op, "bob-sub", "sid-bob")
    assert post_notice(site, logout_token(op, sub="bob-sub", sid="sid-bob")).status_code == 200
    assert (greeting(alice), greeting(bob)) == ("alice", None)


def test_a_replayed_logout_token_is_refused(site, op):
    first = sign_in(site, op, "alice-sub", "sid-alice")
    token = logout_token(op)
    assert post_notice(site, token).status_code == 200
    assert greeting(first) is None
    again = sign_in(site, op, "alice-sub", "sid-alice")  # the same provider session, again
    assert_refused(post_notice(site, token), "used already")
    assert greeting(again) == "alice"


def test_a_valid_logout_token_for_sessions_that_ended_already_answers_200(site, op):
    assert post_notice(site, logout_token(op, sid="sid-long-gone")).status_code == 200


def test_a_logout_token_signed_with_a_key_the_provider_rotated_in_is_accepted(site, op):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    op.rotate("k2")
    assert post_notice(site, logout_token(op)).status_code == 200
    assert greeting(alice) is None


def test_a_logout_token_whose_keys_cannot_be_fetched_is_refused(site, op):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    op.rotate("k2")
    op.jwks_status = 404
    assert_refused(post_notice(site, logout_token(op)), "No key")
    assert greeting(alice) == "alice"


def test_an_unknown_kid_refetches_the_keys_once_not_per_token(site, op):
    sign_in(site, op, "alice-sub", "sid-alice")
    fetched = op.calls.count("/jwks")
    for _ in range(3):
        assert_refused(post_notice(site, logout_token(op, key=rsa_key("k9"))))
    assert op.calls.count("/jwks") == fetched + 1


def test_a_logout_token_with_an_audience_list_holding_the_client_is_accepted(site, op):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    token = logout_token(op, aud=[CLIENT_ID, "another"], header={"typ": "application/logout+jwt"})
    assert post_notice(site, token).status_code == 200
    assert greeting(alice) is None


@pytest.mark.parametrize("path", ["/logout/backchannel/openid", "/logout/backchannel/nope"])
def test_a_logout_token_for_a_provider_that_sends_none_is_refused_alike(site, op, path):
    alice = sign_in(site, op, "alice-sub", "sid-alice")
    answer = site.test_client().post(path, data={"logout_token": logout_token(op)})
    assert_refused(answer)
    assert greeting(alice) == "alice"


def test_a_request_without_a_logout_token_is_refused(site):
    assert_refused(site.test_client().post(BACKCHANNEL, data={"token": "x"}), "no logout_token")
    assert_refused(site.test_client().post(BACKCHANNEL, json={"logout_token": "x"}))


def test_logout_notices_need_no_csrf_token_and_are_limited_per_provider(tmp_path, op):
    site = make_site(tmp_path, op, rate_limit_backchannel="2/minute")
    try:
        answers = [post_notice(site, logout_token(op)).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        limited = post_notice(site, logout_token(op))
        assert limited.headers["Content-Type"] == "application/json"
        assert limited.headers["Cache-Control"] == "no-store"
        other = site.test_client().post("/logout/backchannel/openid", data={"logout_token": "x"})
        assert other.status_code == 400, "another provider has its own count"
        from_the_provider = site.test_client().post(
            BACKCHANNEL,
            data={"logout_token": logout_token(op)},
            environ_base={"REMOTE_ADDR": "198.51.100.9"},
        )
        assert from_the_provider.status_code == 200, "junk from one address blocks no other"
    finally:
        site.extensions["container"].shutdown_resources()


def test_the_logout_token_is_never_logged(site, op, caplog):
    sign_in(site, op, "alice-sub", "sid-alice")
    token = logout_token(op, iat=int(time.time()) - 3600)
    with caplog.at_level("DEBUG"):
        post_notice(site, token)
    assert token.split(".")[2] not in caplog.text and token.split(".")[1] not in caplog.text
