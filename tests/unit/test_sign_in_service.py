from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.administration import disable_user, enable_user
from domain.audit import Recorder
from domain.errors import (
    AccountDisabled,
    Conflict,
    EmailRequired,
    SignInCancelled,
    SignInExpired,
    SignInMismatch,
    TooManyConflicts,
    UnknownProvider,
    UserNotFound,
)
from domain.model import (
    Device,
    NewUser,
    ProviderPolicy,
    SessionPolicy,
    VerifiedIdentity,
    hash_token,
)
from domain.provisioning import IdentityMustWait, complete_sign_in
from domain.round_trips import Parked, ProviderChoice, RoundTrips
from domain.sessions import SessionService, current_user, log_out, log_out_everywhere
from domain.sign_in import Browser, SignInService
from domain.sign_out import SignOutService
from tests.fakes import (
    FakeAuditTrail,
    FakeClock,
    FakeIdentityProvider,
    FakeSessions,
    FakeSingleUse,
    FakeTokenSource,
    FakeUnitOfWork,
)
from tests.strategies import STEAM, TRUSTED, UNTRUSTED


@pytest.fixture
def login(uow, sessions, clock, tokens, session_policy):
    def login(verified: VerifiedIdentity, remember: bool = False):
        return complete_sign_in(
            verified,
            remember=remember,
            uow=uow,
            sessions=sessions,
            clock=clock,
            tokens=tokens,
            policy=session_policy,
        )

    return login


@pytest.fixture
def whoami(uow, sessions, clock, session_policy):
    return partial(current_user, sessions=sessions, clock=clock, policy=session_policy)


def identity(policy=UNTRUSTED, subject="https://id.example/alice", verified=True, **claims):
    return VerifiedIdentity(
        policy, "openid", subject, claims.get("nickname"), claims.get("email"), verified
    )


def all_users(uow):
    with uow:
        return list(uow.users.list())


def test_first_login_provisions_a_user_with_the_provider_nickname(login, uow):
    signed_in = login(identity(TRUSTED, nickname="Alice", email="Alice@Example.com"))
    assert signed_in.user.nickname == "Alice"
    assert signed_in.user.email == "alice@example.com"
    assert all_users(uow) == [signed_in.user]
    with uow:
        assert uow.identities.owner_of("openid", "https://id.example/alice") == signed_in.user.id


def test_second_login_with_same_identity_reuses_the_user(login, uow):
    first = login(identity(nickname="alice"))
    second = login(identity(nickname="someone else", email="other@example.com"))
    assert second.user == first.user
    assert len(all_users(uow)) == 1
    assert second.token != first.token


def test_nickname_falls_back_to_the_email_local_part(login):
    assert login(identity(email="carol@example.com")).user.nickname == "carol"


def test_nickname_falls_back_to_the_provider_fallback(login):
    assert login(identity(STEAM)).user.nickname == "steam user"


def test_colliding_nicknames_get_a_number(login):
    first = login(identity(subject="a", nickname="alice"))
    second = login(identity(subject="b", nickname="ALICE"))
    assert (first.user.nickname, second.user.nickname) == ("alice", "ALICE2")


def test_untrusted_provider_cannot_enter_an_account_by_asserting_its_email(login, uow, sessions):
    owner = login(identity(TRUSTED, subject="owner", email="alice@example.com")).user
    waiting = login(identity(UNTRUSTED, subject="attacker", email="ALICE@example.com"))
    assert waiting == IdentityMustWait(owner.id), "it waits for the owner to sign in"
    assert all_users(uow) == [owner]
    with uow:
        assert uow.identities.owner_of("openid", "attacker") is None
    assert len(sessions.sessions) == 1


def test_trusted_provider_links_a_new_identity_to_the_owner_of_its_email(login, uow):
    owner = login(identity(TRUSTED, subject="first", email="alice@example.com")).user
    linked = login(identity(TRUSTED, subject="second", email="alice@example.com")).user
    assert linked == owner
    with uow:
        assert {i.subject for i in uow.identities.of_user(owner.id)} == {"first", "second"}


def test_an_unverified_email_from_a_trusted_provider_neither_links_nor_is_kept(login, uow):
    owner = login(identity(TRUSTED, subject="owner", email="alice@example.com")).user
    stranger = login(identity(TRUSTED, subject="other", email="alice@example.com", verified=False))
    assert stranger.user.id != owner.id and stranger.user.email is None
    newcomer = login(identity(TRUSTED, subject="new", email="new@example.com", verified=False))
    assert newcomer.user.email is None
    assert [u.id for u in all_users(uow)] == [owner.id, stranger.user.id, newcomer.user.id]


def test_an_untrusted_email_is_not_kept(login):
    # Kept, it would capture the real owner's later login through a trusted provider.
    user = login(identity(UNTRUSTED, email="victim@example.com")).user
    assert user.email is None
    assert user.nickname == "victim"


def test_email_required_refuses_a_login_without_one_and_writes_nothing(login, uow):
    with pytest.raises(EmailRequired):
        login(identity(TRUSTED, nickname="alice"))
    assert all_users(uow) == []


def test_a_malformed_email_counts_as_none(login, uow):
    with pytest.raises(EmailRequired):
        login(identity(TRUSTED, email="not an email"))


def test_a_disabled_user_cannot_log_in(login, uow, sessions):
    user = login(identity()).user
    disable_user(user.id, uow=uow, sessions=sessions)
    with pytest.raises(AccountDisabled):
        login(identity())
    assert sessions.of_user(user.id) == []


def test_a_trusted_link_to_a_disabled_account_is_refused_and_writes_nothing(login, uow, sessions):
    owner = login(identity(TRUSTED, subject="first", email="alice@example.com")).user
    disable_user(owner.id, uow=uow, sessions=sessions)
    with pytest.raises(AccountDisabled):
        login(identity(TRUSTED, subject="second", email="alice@example.com"))
    with uow:
        assert uow.identities.owner_of("openid", "second") is None


def test_an_enabled_user_can_log_in_again(login, uow, sessions):
    user = login(identity()).user
    disable_user(user.id, uow=uow, sessions=sessions)
    enable_user(user.id, uow=uow)
    assert login(identity()).user.id == user.id


def test_disabling_an_unknown_user_says_so(uow, sessions):
    with pytest.raises(UserNotFound):
        disable_user(42, uow=uow, sessions=sessions)


def test_session_token_is_stored_only_as_a_hash(login, sessions):
    signed_in = login(identity())
    assert signed_in.token not in sessions.sessions
    assert hash_token(signed_in.token) in sessions.sessions


def test_current_user_is_found_by_session_token(login, whoami):
    signed_in = login(identity())
    assert whoami(signed_in.token) == signed_in.user
    assert whoami("forged") is None
    assert whoami(None) is None


def test_an_expired_session_signs_nobody_in_and_is_removed(login, whoami, clock, sessions):
    signed_in = login(identity(), remember=False)
    clock.advance(timedelta(hours=12))
    assert whoami(signed_in.token) is None
    assert sessions.sessions == {}


def test_a_remembered_session_outlives_a_plain_one(login, whoami, clock):
    remembered = login(identity(subject="a"), remember=True)
    plain = login(identity(subject="b"), remember=False)
    clock.advance(timedelta(days=29))
    assert whoami(remembered.token) == remembered.user
    assert whoami(plain.token) is None
    clock.advance(timedelta(days=1))
    assert whoami(remembered.token) is None


def test_last_seen_is_written_at_most_once_per_interval(login, whoami, clock, sessions):
    signed_in = login(identity())
    for _ in range(10):
        whoami(signed_in.token)
    assert sessions.touches == 0
    clock.advance(timedelta(minutes=6))
    whoami(signed_in.token)
    whoami(signed_in.token)
    assert sessions.touches == 1
    assert sessions.get(hash_token(signed_in.token)).last_seen_at == clock.now()


def test_a_plain_session_idle_past_the_limit_signs_nobody_in_and_is_removed(
    login, whoami, clock, sessions, session_policy
):
    signed_in = login(identity(), remember=False)
    clock.advance(session_policy.idle_limit)
    assert whoami(signed_in.token) is None
    assert sessions.sessions == {}


def test_a_plain_session_used_within_the_idle_limit_stays_signed_in_past_it(
    login, whoami, clock, session_policy
):
    signed_in = login(identity(), remember=False)
    for _ in range(6):
        clock.advance(session_policy.idle_limit - timedelta(seconds=1))
        assert whoami(signed_in.token) == signed_in.user


def test_a_touch_moves_a_plain_sessions_expiry_to_the_idle_limit_after_it(
    login, whoami, clock, sessions, session_policy
):
    signed_in = login(identity(), remember=False)
    stored = sessions.get(hash_token(signed_in.token))
    assert stored.expires_at == clock.now() + session_policy.idle_limit
    clock.advance(timedelta(minutes=6))
    whoami(signed_in.token)
    stored = sessions.get(hash_token(signed_in.token))
    assert stored.expires_at == clock.now() + session_policy.idle_limit
    clock.advance(session_policy.idle_limit)
    assert sessions.remove_expired(clock.now()) == 1, "the stores' sweep ends idle sessions too"


def test_a_remembered_session_is_not_ended_by_the_idle_limit(
    login, whoami, clock, sessions, session_policy
):
    remembered = login(identity(), remember=True)
    clock.advance(timedelta(days=3))
    assert whoami(remembered.token) == remembered.user
    stored = sessions.get(hash_token(remembered.token))
    assert stored.expires_at == stored.created_at + session_policy.remembered_lifetime


def test_with_the_idle_limit_off_only_the_lifetime_ends_a_plain_session(
    uow, sessions, clock, tokens
):
    policy = SessionPolicy(idle_limit=None)
    signed_in = complete_sign_in(
        identity(),
        remember=False,
        uow=uow,
        sessions=sessions,
        clock=clock,
        tokens=tokens,
        policy=policy,
    )
    whoami = partial(current_user, sessions=sessions, clock=clock, policy=policy)
    clock.advance(policy.plain_lifetime - timedelta(seconds=1))
    assert whoami(signed_in.token) == signed_in.user
    clock.advance(timedelta(seconds=1))
    assert whoami(signed_in.token) is None


def test_a_session_opened_without_an_idle_limit_is_still_held_to_one_set_later(
    login, whoami, clock, sessions, session_policy
):
    signed_in = login(identity(), remember=False)
    unlimited = SessionPolicy(idle_limit=None)
    token_hash = hash_token(signed_in.token)
    opened = sessions.get(token_hash)
    sessions.sessions[token_hash] = replace(
        opened, expires_at=unlimited.expiry(opened.created_at, False, opened.last_seen_at)
    )
    clock.advance(session_policy.idle_limit)
    assert whoami(signed_in.token) is None


def test_log_out_ends_only_that_session(login, whoami, sessions):
    here = login(identity())
    there = login(identity())
    log_out(here.token, sessions=sessions)
    assert whoami(here.token) is None
    assert whoami(there.token) == there.user


def test_log_out_everywhere_ends_every_session_of_the_user(login, whoami, sessions):
    here = login(identity(subject="a"))
    there = login(identity(subject="a"))
    other = login(identity(subject="b"))
    assert log_out_everywhere(here.user.id, sessions=sessions) == 2
    assert whoami(here.token) is None
    assert whoami(there.token) is None
    assert whoami(other.token) == other.user


def test_disabling_a_user_signs_out_every_session(login, whoami, uow, sessions):
    signed_in = [login(identity(), remember=True) for _ in range(3)]
    disable_user(signed_in[0].user.id, uow=uow, sessions=sessions)
    assert all(whoami(s.token) is None for s in signed_in)
    assert sessions.sessions == {}


def test_a_session_of_a_disabled_user_is_refused_even_if_left_behind(login, whoami, uow):
    signed_in = login(identity())
    with uow:
        uow.users.set_active(signed_in.user.id, False)
        uow.commit()
    assert whoami(signed_in.token) is None


def test_a_concurrent_first_login_of_the_same_identity_yields_one_user(
    login, uow, sessions, clock, tokens, session_policy
):
    racer = FakeUnitOfWork(uow.database)
    uow.before_commit = lambda: complete_sign_in(
        identity(nickname="alice"),
        remember=False,
        uow=racer,
        sessions=sessions,
        clock=clock,
        tokens=tokens,
        policy=session_policy,
    )
    signed_in = login(identity(nickname="alice"))
    assert [u.id for u in all_users(uow)] == [signed_in.user.id]
    assert racer.commits == 1
    assert uow.commits == 1, "the retry found the winner's identity and only noted its use"
    with uow:
        [kept] = uow.identities.of_user(signed_in.user.id)
    assert kept.last_used_at == clock.now()


def test_a_concurrent_login_taking_the_same_nickname_gets_the_next_one(login, uow, clock):
    racer = FakeUnitOfWork(uow.database)

    def racing_signup():
        with racer:
            racer.users.add(NewUser("Alice", None, created_at=clock.now()))
            racer.commit()

    uow.before_commit = racing_signup
    assert login(identity(nickname="alice")).user.nickname == "alice2"


class AlwaysConflictingUnitOfWork(FakeUnitOfWork):
    def commit(self) -> None:
        raise Conflict()


def test_endless_conflicts_fail_cleanly_and_write_nothing(sessions, clock, tokens, session_policy):
    uow = AlwaysConflictingUnitOfWork()
    with pytest.raises(TooManyConflicts):
        complete_sign_in(
            identity(),
            remember=False,
            uow=uow,
            sessions=sessions,
            clock=clock,
            tokens=tokens,
            policy=session_policy,
        )
    assert all_users(uow) == [] and sessions.sessions == {}


RETURN = "https://microblog.example/login/return/"


@pytest.fixture
def provider():
    return FakeIdentityProvider(ProviderPolicy("dev"), name="Dev")


@pytest.fixture
def parked():
    return FakeSingleUse()


@pytest.fixture
def waiting():
    return FakeSingleUse()


@pytest.fixture
def audit():
    return FakeAuditTrail()


@pytest.fixture
def make_logins(sign_ins, parked, waiting, audit, uow, sessions, clock, tokens, session_policy):
    """The round trips through `providers`, and the service that finishes them."""

    def make_logins(providers):
        trips = RoundTrips(
            providers=providers,
            return_url=lambda key: RETURN + key,
            sign_ins=sign_ins,
            parked=parked,
            sessions=sessions,
            clock=clock,
            tokens=tokens,
        )
        service = SignInService(
            round_trips=trips,
            waiting=waiting,
            recorder=Recorder(audit, lambda: Device("TestBrowser/1.0", "198.51.100.7"), clock),
            unit_of_work=lambda: uow,
            sessions=sessions,
            clock=clock,
            tokens=tokens,
            policy=session_policy,
        )
        return trips, service

    return make_logins


@pytest.fixture
def made(make_logins, provider):
    return make_logins({"dev": provider})


@pytest.fixture
def trips(made):
    return made[0]


@pytest.fixture
def logins(made):
    return made[1]


def begin(trips, next_url=None, remember=False, key="dev"):
    return trips.begin(
        key, identifier="https://id.example/alice", next_url=next_url, remember=remember
    )


def answer(started, **claims):
    """What the provider sends back for this login: its state, and what it asserts."""
    return {"state": started.sign_in_id, **claims}


def test_a_login_round_trip_keeps_next_and_remember_server_side(trips, logins, provider, sign_ins):
    started = begin(trips, next_url="/user/alice?page=2", remember=True)
    assert started.redirect_url == f"https://dev.example/auth?state={started.sign_in_id}"
    assert provider.begun == [
        {
            "sign_in_id": started.sign_in_id,
            "return_to": RETURN + "dev",
            "identifier": "https://id.example/alice",
        }
    ]
    kept = sign_ins.items[started.sign_in_id]
    assert (kept.provider, kept.next_url, kept.remember) == ("dev", "/user/alice?page=2", True)
    signed_in = logins.finish("dev", Browser(started.sign_in_id), answer(started, nickname="alice"))
    assert signed_in.user.nickname == "alice"
    assert signed_in.next_url == "/user/alice?page=2"
    assert signed_in.session.remember is True


@pytest.mark.parametrize("next_url", ["//evil.example", "https://evil.example", None])
def test_an_off_site_next_is_dropped_when_the_login_begins(trips, logins, next_url):
    started = begin(trips, next_url=next_url)
    assert logins.finish("dev", Browser(started.sign_in_id), answer(started)).next_url is None


def test_a_login_transaction_can_be_completed_only_once(trips, logins):
    started = begin(trips)
    logins.finish("dev", Browser(started.sign_in_id), answer(started))
    with pytest.raises(SignInExpired):
        logins.finish("dev", Browser(started.sign_in_id), answer(started))


def test_an_unknown_or_missing_transaction_is_refused(logins):
    with pytest.raises(SignInExpired):
        logins.finish("dev", Browser("made-up"), {"state": "made-up"})
    with pytest.raises(SignInExpired):
        logins.finish("dev", Browser(None), {})


def test_an_old_login_transaction_has_expired(trips, logins, clock, uow):
    started = begin(trips)
    clock.advance(timedelta(minutes=11))
    with pytest.raises(SignInExpired):
        logins.finish("dev", Browser(started.sign_in_id), answer(started))
    assert all_users(uow) == []


def test_a_cancelled_login_writes_nothing_and_uses_up_the_sign_in(
    trips, logins, uow, sessions, sign_ins
):
    started = begin(trips)
    with pytest.raises(SignInCancelled):
        logins.finish("dev", Browser(started.sign_in_id), answer(started, mode="cancel"))
    assert all_users(uow) == [] and sessions.sessions == {} and sign_ins.items == {}


def test_an_answer_given_for_another_login_is_refused(trips, logins, uow, sign_ins):
    mine, theirs = begin(trips), begin(trips)
    with pytest.raises(SignInMismatch):
        logins.finish("dev", Browser(mine.sign_in_id), answer(theirs, nickname="mallory"))
    assert all_users(uow) == []
    assert set(sign_ins.items) == {theirs.sign_in_id}


def test_an_answer_arriving_at_another_providers_return_url_is_refused(make_logins, provider):
    other = FakeIdentityProvider(ProviderPolicy("other"))
    trips, logins = make_logins({"dev": provider, "other": other})
    started = begin(trips)
    with pytest.raises(SignInMismatch):
        logins.finish("other", Browser(started.sign_in_id), answer(started))


def test_a_sign_in_begun_with_a_provider_no_longer_configured_is_refused(
    trips, logins, make_logins
):
    started = begin(trips)
    with pytest.raises(UnknownProvider):
        make_logins({})[1].finish("dev", Browser(started.sign_in_id), answer(started))


def test_an_unknown_provider_cannot_begin(trips):
    with pytest.raises(UnknownProvider):
        begin(trips, key="nobody")


def test_a_parked_answer_finishes_the_login_once(trips, logins, parked):
    started = begin(trips)
    handle = trips.park("dev", answer(started, nickname="alice"))
    assert handle not in (started.sign_in_id, "")
    signed_in = logins.finish("dev", Browser(started.sign_in_id), Parked(handle))
    assert signed_in.user.nickname == "alice"
    assert parked.items == {}
    with pytest.raises(SignInExpired):
        logins.finish("dev", Browser(begin(trips).sign_in_id), Parked(handle))


def test_a_parked_answer_is_only_for_its_own_provider_and_time(make_logins, provider, clock):
    trips, logins = make_logins(
        {"dev": provider, "other": FakeIdentityProvider(ProviderPolicy("o"))}
    )
    started = begin(trips)
    handle = trips.park("other", answer(started))
    with pytest.raises(SignInMismatch):
        logins.finish("dev", Browser(started.sign_in_id), Parked(handle))
    started = begin(trips)
    handle = trips.park("dev", answer(started))
    clock.advance(timedelta(minutes=6))
    with pytest.raises(SignInExpired):
        logins.finish("dev", Browser(started.sign_in_id), Parked(handle))


def test_an_answer_for_an_unknown_provider_is_not_parked(trips, logins, parked):
    with pytest.raises(UnknownProvider):
        trips.park("nobody", {"state": "x"})
    assert parked.items == {}


def test_parking_an_answer_sweeps_the_expired_ones(trips, logins, parked, clock):
    old = trips.park("dev", {"state": "x"})
    clock.advance(timedelta(minutes=6))
    new = trips.park("dev", {"state": "y"})
    assert set(parked.items) == {new}, f"{old} was swept"


def test_an_identifier_counts_as_its_providers_key_or_else_as_its_trimmed_casefolded_text(
    make_logins, provider
):
    class Normalising(FakeIdentityProvider):
        def identifier_key(self, identifier):
            return "https://id.example/alice" if "alice" in identifier.lower() else None

    trips, _ = make_logins({"dev": provider, "norm": Normalising(ProviderPolicy("norm"))})
    assert trips.identifier_key("norm", "id.example/ALICE#me") == "https://id.example/alice"
    assert trips.identifier_key("norm", " Bob ") == "bob", "no key from the provider"
    assert trips.identifier_key("nobody", " Bob ") == "bob", "an unknown provider"
    assert trips.identifier_key("dev", " Bob ") == "bob"


def test_two_providers_reaching_one_identity_reach_one_user(make_logins, uow):
    # A typed identifier and a provider button can lead to the same OpenID identity.
    typed = FakeIdentityProvider(ProviderPolicy("openid"), namespace="openid")
    button = FakeIdentityProvider(ProviderPolicy("dev"), namespace="openid")
    trips, logins = make_logins({"openid": typed, "dev": button})
    via_typed = begin(trips, key="openid")
    first = logins.finish(
        "openid", Browser(via_typed.sign_in_id), answer(via_typed, nickname="alice")
    )
    via_button = begin(trips, key="dev")
    second = logins.finish("dev", Browser(via_button.sign_in_id), answer(via_button))
    assert second.user == first.user
    assert len(all_users(uow)) == 1


def test_providers_taking_an_identifier_are_offered_first(make_logins):
    fixed = FakeIdentityProvider(ProviderPolicy("steam"), name="Steam")
    fixed.takes_identifier = False
    typed = FakeIdentityProvider(ProviderPolicy("openid"), name="OpenID")
    assert make_logins({"steam": fixed, "openid": typed})[0].choices() == [
        ProviderChoice("openid", "OpenID", True),
        ProviderChoice("steam", "Steam", False),
    ]


def test_sign_ins_refusals_and_sign_outs_are_audited_with_their_origin(
    trips, logins, audit, clock, sessions, session_policy
):
    recorder = Recorder(audit, lambda: Device("TestBrowser/1.0", "198.51.100.7"), clock)
    signing_out = SessionService(
        sessions=sessions, recorder=recorder, clock=clock, policy=session_policy
    )
    logging_out = SignOutService(
        sign_outs={},
        return_url=str,
        sessions=sessions,
        seen_notices=FakeSingleUse(),
        recorder=recorder,
        clock=clock,
        tokens=FakeTokenSource(),
    )
    started = begin(trips)
    signed_in = logins.finish("dev", Browser(started.sign_in_id), answer(started, nickname="alice"))
    cancelled = begin(trips)
    with pytest.raises(SignInCancelled):
        logins.finish("dev", Browser(cancelled.sign_in_id), answer(cancelled, mode="cancel"))
    logging_out.log_out(signed_in.token)
    logging_out.log_out(signed_in.token)  # already ended: nothing to record
    signing_out.log_out_everywhere(signed_in.user.id)
    assert [(e.kind, e.user_id, e.provider, e.detail) for e in audit.recorded] == [
        ("sign_in.succeeded", signed_in.user.id, "dev", None),
        ("sign_in.refused", None, "dev", "SignInCancelled"),
        ("session.ended", signed_in.user.id, None, None),
        ("account.signed_out_everywhere", signed_in.user.id, None, "0 sessions"),
    ]
    assert {(e.client_address, e.user_agent, e.at) for e in audit.recorded} == {
        ("198.51.100.7", "TestBrowser/1.0", clock.now())
    }


def test_retrying_conflicts_stops_within_its_time_budget(sessions, clock, tokens, session_policy):
    uow = AlwaysConflictingUnitOfWork()
    attempts = []
    original = uow.commit

    def slow_commit():  # every attempt seems to take 4 s (a busy database)
        attempts.append(1)
        clock.advance(timedelta(seconds=4))
        original()

    uow.commit = slow_commit
    with pytest.raises(TooManyConflicts):
        complete_sign_in(
            identity(),
            remember=False,
            uow=uow,
            sessions=sessions,
            clock=clock,
            tokens=tokens,
            policy=session_policy,
        )
    assert len(attempts) == 3, "gave up after 12 s of the 10 s budget, not after 10 attempts"


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def test_retries_after_a_conflict_pause_on_the_clock(sessions, clock, tokens, session_policy):
    started = clock.now()
    with pytest.raises(TooManyConflicts):
        complete_sign_in(
            identity(),
            remember=False,
            uow=AlwaysConflictingUnitOfWork(),
            sessions=sessions,
            clock=clock,
            tokens=tokens,
            policy=session_policy,
        )
    assert len(clock.pauses) >= 9, "a pause before each of the 9 retries"
    assert all(0 <= pause <= 0.002 * n for n, pause in enumerate(clock.pauses, start=1))
    assert clock.now() - started == sum(map(seconds, clock.pauses), timedelta())


def test_a_kelvin_sign_email_does_not_sign_in_to_kates_account(login, uow):
    """str.lower() made "\u212aate@example.com" (KELVIN SIGN) kate@example.com."""
    kate = login(identity(TRUSTED, subject="https://id.example/kate", email="kate@example.com"))
    mallory = login(
        identity(TRUSTED, subject="https://id.example/mallory", email="\u212aate@example.com")
    )
    assert mallory.user.id != kate.user.id
    assert mallory.user.email == "\u212aate@example.com"
    assert len(all_users(uow)) == 2


@given(
    idle_minutes=st.one_of(st.none(), st.integers(min_value=10, max_value=90)),
    remember=st.booleans(),
    gaps=st.lists(st.integers(min_value=0, max_value=100 * 60), min_size=1, max_size=12),
)
def test_a_session_ends_when_idle_past_the_limit_and_never_while_used_more_often(
    idle_minutes, remember, gaps
):
    """Gaps in seconds between uses (under 12 hours in all). Without remember-me, a gap of the
    idle limit or more signs out for good; a gap shorter than the limit less the touch
    interval never does; between the two, it depends on when last-seen was last written."""
    idle = None if idle_minutes is None else timedelta(minutes=idle_minutes)
    policy = SessionPolicy(idle_limit=idle)
    uow, clock, tokens = FakeUnitOfWork(), FakeClock(), FakeTokenSource()
    sessions = FakeSessions(uow.database)
    signed_in = complete_sign_in(
        identity(),
        remember=remember,
        uow=uow,
        sessions=sessions,
        clock=clock,
        tokens=tokens,
        policy=policy,
    )
    whoami = partial(current_user, sessions=sessions, clock=clock, policy=policy)
    ended = False
    for seconds in gaps:
        gap = timedelta(seconds=seconds)
        clock.advance(gap)
        found = whoami(signed_in.token)
        if remember or idle is None or ended:
            assert (found is None) is ended
            continue
        if gap >= idle:
            assert found is None
            ended = True
        elif gap < idle - policy.touch_interval:
            assert found == signed_in.user
        else:
            ended = found is None
