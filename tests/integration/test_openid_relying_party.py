import socket
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import urllib3
from sqlalchemy import func, select

from adapters.http.client import FetchPolicy, SafeHttpClient
from adapters.openid.fetcher import SafeFetcher
from adapters.openid.relying_party import OpenIdIdentityProvider, OpenIdProfile
from adapters.openid.store import SqlOpenIdStore
from adapters.sql.tables import openid_associations, openid_nonces
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from domain.errors import (
    InvalidIdentifier,
    ProviderUnavailable,
    SignInCancelled,
    SignInFailed,
    SignInMismatch,
)
from domain.model import ProviderPolicy
from tests.servers import serving

REALM = "http://127.0.0.1:5000/"
RETURN_TO = "http://127.0.0.1:5000/login/return/dev"
DEV = ProviderPolicy("dev", trusted_for_email=True)
LOCAL = FetchPolicy.allowing(["127.0.0.1/32"], connect_timeout=1.0, read_timeout=1.0)

browser = urllib3.PoolManager()


def provider_serving(**settings):
    return serving(lambda base: create_dev_provider(DevProviderSettings(base, **settings)))


@pytest.fixture(scope="module")
def op():
    with provider_serving() as base:
        yield base


@pytest.fixture(scope="module")
def stateless_op():
    with provider_serving(refuse_associations=True) as base:
        yield base


@pytest.fixture(scope="module")
def steam_op():
    with provider_serving(send_profile=False) as base:
        yield base


@pytest.fixture
def store(engine):
    return SqlOpenIdStore(engine)


def relying_party(store, profile=None, fetch_policy=LOCAL):
    profile = profile or OpenIdProfile(DEV, "Dev OpenID")
    return OpenIdIdentityProvider(profile, store, REALM, SafeFetcher(SafeHttpClient(fetch_policy)))


def start(rp, identifier, sign_in_id="login-1"):
    return rp.begin(sign_in_id=sign_in_id, return_to=RETURN_TO, identifier=identifier)


def approve(redirect_url, name=None, email="", decision="approve"):
    """What a person does in the browser: open the provider's page, approve, come back."""
    page = browser.request("GET", redirect_url, redirect=False)
    assert page.status == 303, page.data[:300]
    approval_url = page.headers["Location"]
    form = {"decision": decision, "email": email, **({"name": name} if name else {})}
    answer = browser.request(
        "POST",
        approval_url,
        body=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        redirect=False,
    )
    assert answer.status == 302, answer.data[:300]
    return answer_query(answer.headers["Location"])


def answer_query(location):
    assert location.startswith(RETURN_TO)
    return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))


def count(store_engine, table):
    with store_engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_login_with_an_identity_url_brings_nickname_and_email(op, store, engine):
    rp = relying_party(store)
    started = start(rp, f"{op}/id/alice")
    assert started.url.startswith(f"{op}/endpoint?")
    assert set(started.state) >= {"claimed_id", "server_url", "type_uris", "return_to", "state"}
    response = approve(started.url, email="alice@example.com")
    assert response["state"] == "login-1"
    verified = rp.complete(response, started.state)
    assert (verified.namespace, verified.subject) == ("openid", f"{op}/id/alice")
    assert (verified.nickname, verified.email) == ("alice", "alice@example.com")
    assert verified.policy == DEV
    assert verified.email_verified is True, "a pinned provider trusted for email vouches"
    assert count(engine, openid_associations) == 1, "stateful: the association is shared"


def test_login_with_the_op_identifier_lets_the_person_choose_a_name(op, store):
    rp = relying_party(store)
    started = start(rp, f"{op}/")
    response = approve(started.url, name="bob", email="")
    verified = rp.complete(response, started.state)
    assert verified.subject == f"{op}/id/bob"
    assert (verified.nickname, verified.email) == ("bob", None)


def test_stateless_login_against_a_provider_that_refuses_associations(stateless_op, store, engine):
    rp = relying_party(store)
    started = start(rp, f"{stateless_op}/id/carol")
    verified = rp.complete(approve(started.url), started.state)
    assert verified.subject == f"{stateless_op}/id/carol"
    assert count(engine, openid_associations) == 0
    assert count(engine, openid_nonces) == 1, "the nonce is still checked"


def test_a_refusing_provider_is_remembered_so_no_new_association_is_tried(stateless_op, store):
    rp = relying_party(store)
    start(rp, f"{stateless_op}/id/carol")
    assert rp._refusals.recently_refused(f"{stateless_op}/endpoint")


def test_stateless_profile_never_associates(op, store, engine):
    rp = relying_party(store, OpenIdProfile(DEV, "Dev", stateless=True))
    started = start(rp, f"{op}/id/dave")
    assert rp.complete(approve(started.url), started.state).subject.endswith("/dave")
    assert count(engine, openid_associations) == 0


def test_cancel_becomes_login_cancelled_and_stores_nothing(op, store, engine):
    rp = relying_party(store)
    started = start(rp, f"{op}/id/alice")
    response = approve(started.url, decision="cancel")
    with pytest.raises(SignInCancelled):
        rp.complete(response, started.state)
    assert count(engine, openid_nonces) == 0


@pytest.fixture
def signed_response(op, store):
    rp = relying_party(store)
    started = start(rp, f"{op}/id/alice")
    return rp, started.state, approve(started.url, email="alice@example.com")


def test_a_tampered_signature_is_refused(signed_response, engine):
    rp, state, response = signed_response
    response["openid.sig"] = "A" * len(response["openid.sig"])
    with pytest.raises(SignInFailed):
        rp.complete(response, state)
    assert count(engine, openid_nonces) == 0


def test_a_changed_claimed_id_is_refused(signed_response, op):
    rp, state, response = signed_response
    response["openid.claimed_id"] = response["openid.identity"] = f"{op}/id/mallory"
    with pytest.raises(SignInFailed):
        rp.complete(response, state)


def test_a_return_to_that_does_not_match_is_refused(signed_response):
    rp, state, response = signed_response
    moved = state | {"return_to": "http://127.0.0.1:5000/elsewhere?state=login-1"}
    with pytest.raises(SignInFailed):
        rp.complete(response, moved)


def test_an_answer_given_for_another_login_is_refused_before_any_provider_call(op, store, engine):
    rp = relying_party(store)
    mine = start(rp, f"{op}/id/alice", sign_in_id="mine")
    theirs = start(rp, f"{op}/id/mallory", sign_in_id="theirs")
    their_answer = approve(theirs.url)
    with pytest.raises(SignInMismatch):
        rp.complete(their_answer, mine.state)
    assert count(engine, openid_nonces) == 0, "refused before the answer was checked"


def test_an_answer_whose_state_was_rewritten_is_refused(op, store):
    # The state is also in the signed return_to: changing the visible one breaks the match.
    rp = relying_party(store)
    mine = start(rp, f"{op}/id/alice", sign_in_id="mine")
    theirs = start(rp, f"{op}/id/mallory", sign_in_id="theirs")
    forged = approve(theirs.url) | {"state": "mine"}
    with pytest.raises(SignInFailed):
        rp.complete(forged, mine.state)


def test_a_provider_pinned_by_its_endpoint_accepts_only_answers_signed_there(op, store):
    pinned = OpenIdProfile(DEV, "Dev", op_endpoint=f"{op}/endpoint")
    rp = relying_party(store, pinned)
    started = start(rp, f"{op}/id/alice")
    assert rp.complete(approve(started.url), started.state).subject == f"{op}/id/alice"
    elsewhere = OpenIdProfile(DEV, "Dev", op_endpoint="https://op.example/endpoint")
    rp = relying_party(store, elsewhere)
    started = start(rp, f"{op}/id/alice")
    with pytest.raises(SignInFailed):
        rp.complete(approve(started.url), started.state)


def test_a_replayed_response_is_refused(signed_response):
    rp, state, response = signed_response
    rp.complete(response, state)
    with pytest.raises(SignInFailed):
        rp.complete(response, state)


def test_a_response_replayed_to_another_relying_party_sharing_the_database_is_refused(
    signed_response, database_url, engine
):
    from adapters.sql.engine import create_database_engine

    rp, state, response = signed_response
    rp.complete(response, state)
    other_engine = create_database_engine(database_url)
    try:
        with pytest.raises(SignInFailed):
            relying_party(SqlOpenIdStore(other_engine)).complete(response, state)
    finally:
        other_engine.dispose()


def test_unsigned_profile_values_injected_into_a_valid_response_are_ignored(op, store):
    rp = relying_party(store)
    started = start(rp, f"{op}/id/alice")
    response = approve(started.url, email="")
    assert "openid.sreg.email" not in response
    response["openid.sreg.email"] = "victim@example.com"
    response["openid.ax.value.email"] = "victim@example.com"
    verified = rp.complete(response, started.state)
    assert verified.email is None
    assert verified.nickname in ("alice", None)


def test_an_identifier_pointing_at_an_internal_address_is_refused_before_connecting(store):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        with pytest.raises(InvalidIdentifier):
            start(
                relying_party(store, fetch_policy=FetchPolicy()),
                f"http://127.0.0.1:{port}/id/alice",
            )
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody connected
    finally:
        listener.close()


@pytest.mark.parametrize(
    "identifier", ["http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/"]
)
def test_internal_addresses_are_refused(store, identifier):
    with pytest.raises(InvalidIdentifier):
        start(relying_party(store, fetch_policy=FetchPolicy()), identifier)


def test_a_provider_that_never_answers_is_unavailable_within_the_timeout(store):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            start(relying_party(store), f"http://127.0.0.1:{port}/id/alice")
        assert time.monotonic() - started < 5
    finally:
        listener.close()


def test_an_xrds_with_entity_expansion_fails_discovery_without_fetching_further(store):
    hits = []
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY ext SYSTEM "http://127.0.0.1:{port}/leak">]>'
        '<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"><XRD><Service>'
        "<Type>http://specs.openid.net/auth/2.0/signon</Type><URI>&b;&ext;</URI>"
        "</Service></XRD></xrds:XRDS>"
    )

    from flask import Flask, Response

    def make_app(base):
        app = Flask("hostile")

        @app.get("/id")
        def identity():
            hits.append("id")
            port = base.rsplit(":", 1)[1]
            return Response(bomb.replace("{port}", port), content_type="application/xrds+xml")

        @app.get("/leak")
        def leak():
            hits.append("leak")
            return "secret"

        return app

    with serving(make_app) as base, pytest.raises((SignInFailed, InvalidIdentifier)):
        start(relying_party(store), f"{base}/id")
    assert "id" in hits and "leak" not in hits


@pytest.mark.parametrize("identifier", ["", "   ", "x" * 10_000, "http://a\x00b/", "=xri.name"])
def test_bad_identifiers_get_a_clear_validation_error(store, identifier):
    with pytest.raises(InvalidIdentifier) as refused:
        start(relying_party(store), identifier)
    assert refused.value.message


def test_a_steam_like_provider_is_accepted_for_its_own_prefix(steam_op, store):
    profile = OpenIdProfile(
        ProviderPolicy("steam", fallback_nickname="steam user"),
        "Steam",
        op_identifier=f"{steam_op}/",
        claimed_id_prefix=f"{steam_op}/id/",
    )
    rp = relying_party(store, profile)
    started = start(rp, None)
    verified = rp.complete(approve(started.url, name="76561197960287930"), started.state)
    assert verified.subject == f"{steam_op}/id/76561197960287930"
    assert (verified.nickname, verified.email) == (None, None)


def test_a_steam_like_provider_is_refused_outside_its_prefix(steam_op, store):
    profile = OpenIdProfile(
        ProviderPolicy("steam"),
        "Steam",
        op_identifier=f"{steam_op}/",
        claimed_id_prefix=f"{steam_op}/openid/id/",
    )
    rp = relying_party(store, profile)
    started = start(rp, None)
    with pytest.raises(SignInFailed):
        rp.complete(approve(started.url, name="someone"), started.state)


def test_the_dev_provider_answers_an_unsupported_association_type_with_400(op):
    form = {
        "openid.ns": "http://specs.openid.net/auth/2.0",
        "openid.mode": "associate",
        "openid.assoc_type": "HMAC-SHA1",
        "openid.session_type": "no-encryption",
    }
    answer = browser.request(
        "POST",
        f"{op}/endpoint",
        body=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 400
    assert b"error_code:unsupported-type" in answer.data
    assert b"session_type:DH-SHA256" in answer.data


@pytest.fixture
def log_in_through(engine):
    from adapters.sql.audit import SqlAuditTrail
    from adapters.sql.stores import (
        PARKED_ANSWERS,
        SIGN_INS,
        WAITING_IDENTITIES,
        SqlSessions,
        SqlSingleUse,
    )
    from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
    from adapters.system import SecretsTokenSource, SystemClock
    from domain.audit import Recorder
    from domain.model import Device, SessionPolicy
    from domain.round_trips import RoundTrips
    from domain.sign_in import Browser, SignInService

    def log_in_through(rp, identifier, **answer):
        trips = RoundTrips(
            providers={rp.policy.key: rp},
            return_url=lambda key: RETURN_TO,
            sign_ins=SqlSingleUse(engine, SIGN_INS),
            parked=SqlSingleUse(engine, PARKED_ANSWERS),
            sessions=SqlSessions(engine),
            clock=SystemClock(),
            tokens=SecretsTokenSource(),
        )
        logins = SignInService(
            round_trips=trips,
            waiting=SqlSingleUse(engine, WAITING_IDENTITIES),
            recorder=Recorder(SqlAuditTrail(engine), Device, SystemClock()),
            unit_of_work=lambda: SqlAlchemyUnitOfWork(engine, writing=True),
            sessions=SqlSessions(engine),
            clock=SystemClock(),
            tokens=SecretsTokenSource(),
            policy=SessionPolicy(),
        )
        key = rp.policy.key
        started = trips.begin(key, identifier=identifier, next_url="/after", remember=True)
        return logins.finish(
            key, Browser(started.sign_in_id), approve(started.redirect_url, **answer)
        )

    return log_in_through


def test_a_missing_email_is_refused_when_the_provider_profile_requires_one(
    op, store, log_in_through
):
    from domain.errors import EmailRequired

    profile = OpenIdProfile(
        ProviderPolicy("dev", trusted_for_email=True, email_required=True), "Dev"
    )
    with pytest.raises(EmailRequired):
        log_in_through(relying_party(store, profile), f"{op}/id/erin", email="")
    signed_in = log_in_through(
        relying_party(store, profile), f"{op}/id/erin", email="erin@example.com"
    )
    assert (signed_in.user.nickname, signed_in.user.email) == ("erin", "erin@example.com")
    assert signed_in.next_url == "/after"


def test_a_missing_nickname_falls_back_per_provider_profile(steam_op, store, log_in_through):
    profile = OpenIdProfile(
        ProviderPolicy("steam", fallback_nickname="steam user"),
        "Steam",
        op_identifier=f"{steam_op}/",
    )
    signed_in = log_in_through(relying_party(store, profile), None, name="7656")
    assert signed_in.user.nickname == "steam user"
    assert signed_in.user.email is None


@pytest.mark.parametrize(
    "response",
    [
        {},
        {"openid.mode": "bogus"},
        {"openid.ns": "http://specs.openid.net/auth/2.0", "openid.mode": "id_res"},
        {"openid.ns": "not a namespace", "openid.mode": "id_res", "openid.sig": "x"},
        {
            "openid.ns": "http://specs.openid.net/auth/2.0",
            "openid.mode": "error",
            "openid.error": "no",
        },
    ],
)
def test_malformed_responses_fail_cleanly(op, store, response):
    rp = relying_party(store)
    started = start(rp, f"{op}/id/alice")
    with pytest.raises(SignInFailed):
        rp.complete(response | {"state": "login-1"}, started.state)


def test_setup_needed_becomes_a_cancelled_login(op, store):
    rp = relying_party(store)
    started = start(rp, f"{op}/id/alice")
    immediate = started.url.replace("checkid_setup", "checkid_immediate")
    answer = browser.request("GET", immediate, redirect=False)
    assert answer.status == 302
    with pytest.raises(SignInCancelled):
        rp.complete(answer_query(answer.headers["Location"]), started.state)


def test_stateless_login_with_the_op_identifier(stateless_op, store, engine):
    rp = relying_party(store)
    started = start(rp, f"{stateless_op}/")
    verified = rp.complete(approve(started.url, name="frank"), started.state)
    assert (verified.subject, verified.nickname) == (f"{stateless_op}/id/frank", "frank")
    assert count(engine, openid_associations) == 0


def test_a_database_outage_during_the_answer_check_is_a_503_not_a_bad_answer(op, store, engine):
    from adapters.sql.engine import create_database_engine
    from domain.errors import StoreUnavailable

    rp = relying_party(store)
    started = start(rp, f"{op}/id/alice")
    answer = approve(started.url)
    unreachable = create_database_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    try:
        with pytest.raises(StoreUnavailable):
            relying_party(SqlOpenIdStore(unreachable)).complete(answer, started.state)
    finally:
        unreachable.dispose()


def test_remembered_refusals_are_bounded():
    from adapters.openid.relying_party import AssociationRefusals

    refusals = AssociationRefusals(capacity=100)
    for n in range(5000):
        refusals.remember(f"https://op-{n}.example/endpoint")
    assert len(refusals._until) == 100
    assert refusals.recently_refused("https://op-4999.example/endpoint")
    assert not refusals.recently_refused("https://op-0.example/endpoint")
