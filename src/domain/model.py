import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ProviderPolicy:
    """How far the site trusts one identity provider.

    `trusted_for_email`: the provider verifies the addresses it asserts, so an asserted email
    may link a new identity to the account that owns it. `email_required`: a first login
    without an email is refused. `fallback_nickname` is used when neither a nickname nor an
    email arrives.
    """

    key: str
    trusted_for_email: bool = False
    email_required: bool = False
    fallback_nickname: str = "user"


@dataclass(frozen=True)
class VerifiedIdentity:
    """What a provider adapter vouches for after checking the provider's signed answer.

    (`namespace`, `subject`) names the identity whichever configured provider brought it:
    two buttons reaching the same identity reach the same user. `email_verified` is the
    provider's own word that the address is the person's. `handle`: the name people know the
    identity by at its provider when it is not its subject (a login its owner may rename):
    shown on the account page, never used to find anyone.
    """

    policy: ProviderPolicy
    namespace: str
    subject: str
    nickname: str | None = None
    email: str | None = None
    email_verified: bool = False
    # The provider's own session, when it names one: a logout it sends later names it too.
    provider_session_id: str | None = None
    # What the provider wants back to end its sign-in too (an ID token, say); kept server
    # side only, never shown, logged or audited.
    logout_hint: str | None = field(default=None, repr=False)
    handle: str | None = None

    @property
    def provider(self) -> str:
        return self.policy.key

    @property
    def email_is_trusted(self) -> bool:
        """Only a verified email from a provider trusted for email may find an account."""
        return self.email_verified and self.policy.trusted_for_email


@dataclass(frozen=True)
class Identity:
    """A connected login. `provider` is the key of the configured provider that added it;
    `handle` what its provider called it at its last sign-in (VerifiedIdentity)."""

    namespace: str
    subject: str
    user_id: int
    provider: str = ""
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    handle: str | None = None


@dataclass(frozen=True)
class NewUser:
    nickname: str
    email: str | None
    created_at: datetime


@dataclass(frozen=True)
class User:
    id: int
    nickname: str
    email: str | None
    active: bool
    created_at: datetime
    # The language the person chose for pages (a locale of the web layer's), if any.
    language: str | None = None


@dataclass(frozen=True)
class Post:
    id: int
    user_id: int
    body: str
    created_at: datetime


def hash_token(token: str) -> str:
    """Session tokens are stored only as this digest: a stolen table opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    plain_lifetime: timedelta = timedelta(hours=12)
    remembered_lifetime: timedelta = timedelta(days=30)
    # Writing last-seen on every request would turn each page view into a database write.
    touch_interval: timedelta = timedelta(minutes=5)
    # A session without remember-me ends once unused this long (None: only its lifetime ends
    # it). Its expiry moves to last-seen plus this limit each time last-seen is written, so it
    # ends between the limit less touch_interval and the limit after its last use. A
    # remembered session is meant to outlast days away, up to its lifetime: not idle-limited.
    idle_limit: timedelta | None = timedelta(minutes=30)

    def lifetime(self, remember: bool) -> timedelta:
        return self.remembered_lifetime if remember else self.plain_lifetime

    def expiry(self, created_at: datetime, remember: bool, last_seen_at: datetime) -> datetime:
        """When a session ends unless used again: its lifetime's end or, without
        remember-me, the idle limit after it was last seen, whichever comes first."""
        end = created_at + self.lifetime(remember)
        if remember or self.idle_limit is None:
            return end
        return min(end, last_seen_at + self.idle_limit)


@dataclass(frozen=True)
class Session:
    """One signed-in browser. Deleting it signs that browser out, remember-me cookie included.

    Where it came from: the key of the `provider` signed in through, the identity
    (`namespace`, `subject`), the provider's own session and its logout hint (see
    VerifiedIdentity), so that a logout at the provider can end it and Logout here can end
    the sign-in there. Sessions opened before the site kept these have none of them.
    """

    token_hash: str
    user_id: int
    remember: bool
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    client_address: str | None = None
    provider: str | None = None
    namespace: str | None = None
    subject: str | None = None
    provider_session_id: str | None = None
    logout_hint: str | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        token: str,
        user_id: int,
        remember: bool,
        now: datetime,
        policy: SessionPolicy,
        device: "Device | None" = None,
        origin: VerifiedIdentity | None = None,
    ) -> "Session":
        """`origin`: the identity signed in with, as its provider vouched for it."""
        device = device or Device()
        return cls(
            token_hash=hash_token(token),
            user_id=user_id,
            remember=remember,
            created_at=now,
            last_seen_at=now,
            expires_at=policy.expiry(now, remember, now),
            user_agent=device.user_agent,
            client_address=device.client_address,
            provider=origin.provider if origin else None,
            namespace=origin.namespace if origin else None,
            subject=origin.subject if origin else None,
            provider_session_id=origin.provider_session_id if origin else None,
            logout_hint=origin.logout_hint if origin else None,
        )

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def is_idle(self, now: datetime, policy: SessionPolicy) -> bool:
        """Without remember-me, unused for the idle limit since last seen. Its expiry says
        so too, unless it was opened or last seen under a policy without that limit."""
        limit = policy.idle_limit
        return not self.remember and limit is not None and now - self.last_seen_at >= limit

    def needs_touch(self, now: datetime, policy: SessionPolicy) -> bool:
        return now - self.last_seen_at >= policy.touch_interval


MAX_USER_AGENT_LENGTH = 512
MAX_ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Device:
    """What the site knows of the browser a session was opened in, cut to fit."""

    user_agent: str | None = None
    client_address: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_agent", _cut(self.user_agent, MAX_USER_AGENT_LENGTH))
        object.__setattr__(self, "client_address", _cut(self.client_address, MAX_ADDRESS_LENGTH))


def _cut(text: str | None, length: int) -> str | None:
    return text[:length] if text else None


@dataclass(frozen=True)
class SignIn:
    """A sign-in in flight: what the provider adapter must remember between begin and complete.

    Its id is a secret the browser keeps in its session; it can be taken only once.
    `provider` is the key of the configured provider it was begun with. `connect_user_id`:
    the round trip connects another identity to this signed-in user instead of signing in.
    """

    id: str
    provider: str
    next_url: str | None
    remember: bool
    created_at: datetime
    expires_at: datetime
    provider_state: dict[str, str] = field(default_factory=dict)
    connect_user_id: int | None = None

    @property
    def key(self) -> str:
        return self.id

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class ProviderRedirect:
    """Where to send the browser to sign in, and what to keep until it comes back."""

    url: str
    state: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParkedAnswer:
    """A provider's answer that arrived without the browser's cookies (a cross-site POST),
    kept under a random single-use handle until the browser comes back with them."""

    handle: str
    provider: str
    params: dict[str, str]
    expires_at: datetime

    @property
    def key(self) -> str:
        return self.handle

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class WaitingIdentity:
    """A new identity whose verified email an existing account owns, from a provider not
    trusted for email: it waits, bound to one browser, until that account signs in there."""

    id: str
    owner_id: int
    provider: str
    namespace: str
    subject: str
    expires_at: datetime
    handle: str | None = None  # what the provider calls it (VerifiedIdentity.handle)

    @property
    def key(self) -> str:
        return self.id

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class LogoutNotice:
    """A provider's checked word that a person's sign-in there has ended: the sessions of
    its `provider_session_id` end, or without one every session of its `subject`.
    `notice_id` is acted on once; the provider could not make it count after `usable_until`."""

    provider_session_id: str | None
    subject: str | None
    notice_id: str
    usable_until: datetime


@dataclass(frozen=True)
class SeenLogoutNotice:
    """A logout notice already acted on, remembered (under a digest of its provider and id)
    for as long as it could still be accepted."""

    key: str
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class AuditEvent:
    """Something an operator may need to know happened; never holds a secret."""

    kind: str
    at: datetime
    user_id: int | None = None
    provider: str | None = None
    detail: str | None = None
    client_address: str | None = None
    user_agent: str | None = None
