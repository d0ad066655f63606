"""The OpenID Connect relying party against a provider that lies, in the manner of the
OpenID Foundation's RP certification tests (their names are in the test ids)."""

import logging
import time

import pytest
from joserfc.jwk import ECKey

from adapters.http.client import FetchPolicy, SafeHttpClient
from adapters.oidc.relying_party import OidcIdentityProvider, OidcProfile
from domain.audit import Recorder
from domain.errors import DomainError, ProviderUnavailable, SignInCancelled, SignInMismatch
from domain.model import Device, ProviderPolicy, SessionPolicy
from domain.round_trips import RoundTrips
from domain.sign_in import Browser, SignInService
from entrypoints.web.error_pages import status_of
from tests.fakes import (
    FakeAuditTrail,
    FakeClock,
    FakeSeconds,
    FakeSessions,
    FakeSingleUse,
    FakeTokenSource,
    FakeUnitOfWork,
)
from tests.oidc_op import CLIENT_ID, CLIENT_SECRET, DROP, HostileProvider, rsa_key
from tests.servers import serving

LOCAL = FetchPolicy.allowing(["127.0.0.1/32"], connect_timeout=1.0, read_timeout=2.0)
CORP = ProviderPolicy("corp", trusted_for_email=True)


@pytest.fixture(scope="module")
def hostile():
    provider = HostileProvider()
    with serving(provider.app):
        yield provider


@pytest.fixture
def op(hostile):
    hostile.reset()
    return hostile


@pytest.fixture
def monotonic():
    return FakeSeconds(1000.0)


@pytest.fixture
def rp(op, monotonic):
    profile = OidcProfile(CORP, "Corp", op.base, CLIENT_ID, CLIENT_SECRET)
    return OidcIdentityProvider(profile, SafeHttpClient(LOCAL), monotonic=monotonic)


class Site:
    """The domain's login service over the relying party, with every other port faked."""

    def __init__(self, op, rp) -> None:
        self.op, self.uow = op, FakeUnitOfWork()
        sessions = FakeSessions(self.uow.database)
        self.trips = RoundTrips(
            providers={"corp": rp},
            return_url=lambda key: f"https://microblog.example/login/return/{key}",
            sign_ins=FakeSingleUse(),
            parked=FakeSingleUse(),
            sessions=sessions,
            clock=FakeClock(),
            tokens=FakeTokenSource(),
        )
        self.logins = SignInService(
            round_trips=self.trips,
            waiting=FakeSingleUse(),
            recorder=Recorder(FakeAuditTrail(), Device, FakeClock()),
            unit_of_work=lambda: self.uow,
            sessions=sessions,
            clock=FakeClock(),
            tokens=FakeTokenSource(),
            policy=SessionPolicy(),
        )

    def sign_in(self, **callback_changes):
        started = self.trips.begin("corp", identifier=None, next_url=None, remember=False)
        callback = self.op.authorize(started.redirect_url) | callback_changes
        return self.logins.finish("corp", Browser(started.sign_in_id), callback)

    def users(self):
        with self.uow:
            return list(self.uow.users.list())


@pytest.fixture
def site(op, rp):
    return Site(op, rp)


def test_rp_response_type_code_and_rp_id_token_sig_rs256_are_accepted(site, op):
    signed_in = site.sign_in()
    assert (signed_in.user.nickname, signed_in.user.email) == ("alice", "alice@example.com")
    with site.uow:
        [identity] = site.uow.identities.of_user(signed_in.user.id)
    assert (identity.namespace, identity.subject) == (op.base, "alice-sub")
    assert "/userinfo" not in op.calls, "the ID token had everything"


def test_the_request_carries_pkce_state_and_nonce(site, op):
    started = site.trips.begin("corp", identifier=None, next_url=None, remember=False)
    assert f"state={started.sign_in_id}" in started.redirect_url
    for parameter in ("nonce=", "code_challenge=", "code_challenge_method=S256", "scope=openid"):
        assert parameter in started.redirect_url


def test_rp_id_token_kid_absent_single_jwks_is_accepted(site, op):
    op.header = {"kid": DROP}
    assert site.sign_in().user.nickname == "alice"


def test_rp_scope_userinfo_claims_are_read_when_the_id_token_lacks_them(site, op):
    op.claims = {"email": DROP, "email_verified": DROP, "preferred_username": DROP}
    signed_in = site.sign_in()
    assert signed_in.user.nickname == "alice-from-userinfo"
    assert signed_in.user.email == "alice@userinfo.example", '"true" as a string counts'
    assert "/userinfo" in op.calls


def test_a_rotated_key_is_accepted_after_one_refetch(site, op, monotonic):
    site.sign_in()
    op.signing_key = rsa_key("k2")
    op.published = [op.signing_key]
    monotonic.now += 61
    assert site.sign_in().user.nickname == "alice"
    assert op.calls.count("/jwks") == 2


def test_rp_key_rotation_op_sign_key_an_immediate_second_login_succeeds(site, op, monotonic):
    site.sign_in()  # the first login fetches the keys
    op.rotate("k2")
    assert site.sign_in().user.nickname == "alice", "no time passed: the refetch is allowed"
    assert op.calls.count("/jwks") == 2


def test_unknown_keys_are_refetched_at_most_once_per_cooldown(site, op, monotonic):
    site.sign_in()
    op.signing_key = rsa_key("k2")  # signs with a key it does not publish
    for _ in range(5):
        with pytest.raises(DomainError):
            site.sign_in()
    assert op.calls.count("/jwks") == 2, "one refetch, then the cooldown holds back the rest"


def test_an_unknown_key_is_refetched_again_once_the_cooldown_has_passed(site, op, monotonic):
    site.sign_in()
    op.signing_key = rsa_key("k2")
    with pytest.raises(DomainError):
        site.sign_in()
    monotonic.now += OidcProfile.jwks_refetch_cooldown_seconds
    op.rotate("k3")
    assert site.sign_in().user.nickname == "alice"
    assert op.calls.count("/jwks") == 3


def test_an_unverified_email_is_not_trusted(site, op):
    op.claims = {"email_verified": False}
    assert site.sign_in().user.email is None


@pytest.mark.parametrize("verified", [1, 1.0, "1", "True", "yes", [True], {"true": True}])
def test_email_verified_in_the_id_token_counts_only_as_json_true_or_the_string_true(
    site, op, verified
):
    op.claims = {"email_verified": verified}
    assert site.sign_in().user.email is None


@pytest.mark.parametrize("verified", [1, 1.0, "1", "True", "yes", [True], {"true": True}])
def test_email_verified_from_userinfo_counts_only_as_json_true_or_the_string_true(
    site, op, verified
):
    op.claims = {"email": DROP, "email_verified": DROP, "preferred_username": DROP}
    op.userinfo = {"email_verified": verified}
    assert site.sign_in().user.email is None


@pytest.mark.parametrize("verified", [True, "true"])
def test_json_true_and_the_string_true_verify_an_email_in_either_document(site, op, verified):
    op.claims = {"email_verified": verified}
    assert site.sign_in().user.email == "alice@example.com"
    op.claims = {"sub": "bob", "email": DROP, "email_verified": DROP, "preferred_username": DROP}
    op.userinfo = {"sub": "bob", "email": "bob@userinfo.example", "email_verified": verified}
    assert site.sign_in().user.email == "bob@userinfo.example"


def other_key_set(op):
    op.published = [op.signing_key, rsa_key("k-other")]
    op.header = {"kid": DROP}


REFUSED = {
    "rp-id_token-issuer-mismatch": lambda op: op.claims.update(iss="https://evil.example"),
    "rp-id_token-sub (missing)": lambda op: op.claims.update(sub=DROP),
    "rp-id_token-aud": lambda op: op.claims.update(aud="someone-else"),
    "rp-id_token-iat (missing)": lambda op: op.claims.update(iat=DROP),
    "rp-id_token-kid-absent-multiple-jwks": other_key_set,
    "rp-id_token-sig-none": lambda op: setattr(op, "forge", "none"),
    "rp-id_token-bad-sig-rs256": lambda op: setattr(op, "forge", "bad-signature"),
    "rp-nonce-invalid": lambda op: op.claims.update(nonce="not-the-one-sent"),
    "expired token": lambda op: op.claims.update(exp=int(time.time()) - 3600),
    "token from the future": lambda op: op.claims.update(iat=int(time.time()) + 3600),
    "bad at_hash": lambda op: op.claims.update(at_hash="AAAAAAAAAAAAAAAAAAAAAA"),
    "HS256 keyed with the public key": lambda op: setattr(op, "forge", "hs256-with-public-key"),
    "several audiences, foreign azp": lambda op: op.claims.update(
        aud=[CLIENT_ID, "other-client"], azp="other-client"
    ),
    "several audiences, no azp": lambda op: op.claims.update(aud=[CLIENT_ID, "other-client"]),
    "discovery names another issuer": lambda op: op.discovery.update(issuer=f"{op.base}/other"),
    "unknown kid": lambda op: op.header.update(kid="nobody"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_lying_provider_is_refused_with_a_4xx_and_nothing_stored(site, op, case):
    REFUSED[case](op)
    with pytest.raises(DomainError) as refused:
        site.sign_in()
    assert 400 <= status_of(refused.value) < 500
    assert refused.value.message
    assert site.users() == []
    assert "/userinfo" not in op.calls, "no userinfo call after a failed check"


def test_rp_userinfo_bad_sub_claim_is_refused(site, op):
    op.claims = {"email": DROP, "preferred_username": DROP}
    op.userinfo = {"sub": "mallory-sub"}
    with pytest.raises(DomainError) as refused:
        site.sign_in()
    assert status_of(refused.value) == 400 and site.users() == []


def test_a_state_that_does_not_match_is_refused(site, op):
    with pytest.raises(SignInMismatch):
        site.sign_in(state="another-login")
    assert site.users() == [] and "/token" not in op.calls


def test_an_iss_parameter_that_does_not_match_is_refused(site, op):
    op.discovery = {"authorization_response_iss_parameter_supported": True}
    with pytest.raises(DomainError) as refused:
        site.sign_in(iss="https://evil.example")
    assert status_of(refused.value) == 400 and "/token" not in op.calls
    with pytest.raises(DomainError):
        site.sign_in()  # advertised, so it must be there
    assert site.sign_in(iss=op.base).user.nickname == "alice"


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        ("access_denied", SignInCancelled, 400),
        ("login_required", SignInCancelled, 400),
        ("invalid_scope", DomainError, 400),
        ("temporarily_unavailable", ProviderUnavailable, 502),
    ],
)
def test_a_provider_error_answer_becomes_a_domain_error(site, op, error, kind, status):
    with pytest.raises(kind) as refused:
        site.sign_in(code="", error=error)
    assert status_of(refused.value) == status
    assert site.users() == [] and "/token" not in op.calls


def test_an_unreachable_provider_is_unavailable(monotonic):
    profile = OidcProfile(CORP, "Corp", "http://127.0.0.1:9", CLIENT_ID, CLIENT_SECRET)
    rp = OidcIdentityProvider(profile, SafeHttpClient(LOCAL), monotonic=monotonic)
    with pytest.raises(ProviderUnavailable):
        rp.begin(sign_in_id="t", return_to="https://microblog.example/r", identifier=None)


def test_the_client_secret_never_shows_in_a_repr(rp):
    assert CLIENT_SECRET not in repr(rp.profile)


def test_no_code_token_or_client_secret_reaches_the_logs(site, op, caplog):
    caplog.set_level(logging.DEBUG)
    site.sign_in()
    op.claims = {"email": DROP, "preferred_username": DROP}
    site.sign_in()  # with a userinfo call
    for lie in ("bad-signature", "none"):
        op.forge = lie
        with pytest.raises(DomainError):
            site.sign_in()
    logged = caplog.text + " ".join(str(record.args) for record in caplog.records)
    assert len(op.issued) >= 8 and "OIDC" in logged
    for secret in [CLIENT_SECRET, *op.issued]:
        assert secret not in logged


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [
        ("PS256", lambda: rsa_key("p1")),
        ("ES256", lambda: ECKey.generate_key("P-256", parameters={"kid": "e1"})),
    ],
)
def test_ps256_and_es256_tokens_are_accepted(site, op, algorithm, key):
    op.signing_key = key()
    op.published = [op.signing_key]
    op.header = {"alg": algorithm}
    assert site.sign_in().user.nickname == "alice"
