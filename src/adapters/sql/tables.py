from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from domain.inputs import MAX_HANDLE_LENGTH, MAX_PROVIDER_SESSION_LENGTH
from domain.model import MAX_ADDRESS_LENGTH, MAX_USER_AGENT_LENGTH
from domain.nicknames import MAX_NICKNAME_KEY_LENGTH

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, stored as naive UTC everywhere."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the domain works in aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def row_of(record: Any) -> dict[str, Any]:
    """A domain dataclass as a row of its table, whose columns bear the fields' names.

    Shallow, unlike dataclasses.asdict, which deep-copies every value on the hot path."""
    return {field.name: getattr(record, field.name) for field in fields(record)}


# Casefolding and confusable prototypes lengthen a key ("ß" -> "ss", "m" -> "rn"): the
# domain cuts nicknames so that their keys fit.
NICKNAME_KEY_LENGTH = MAX_NICKNAME_KEY_LENGTH
# An OpenID claimed identifier or a server URL; stays below PostgreSQL's btree entry limit.
URL_LENGTH = 2048
# "openid", or an OpenID Connect issuer; with a subject, still below that limit.
NAMESPACE_LENGTH = 255
TOKEN_LENGTH = 128
HANDLE_LENGTH = MAX_HANDLE_LENGTH

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("nickname", String(64), nullable=False),
    Column("nickname_key", String(NICKNAME_KEY_LENGTH), nullable=False, unique=True),
    Column("email", String(254), unique=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("language", String(16)),
)

# The last number handed out after each taken nickname ("gamer" -> 41: the next is gamer42),
# so that finding a free nickname takes the same few statements however many came before.
nickname_suffixes = Table(
    "nickname_suffixes",
    metadata,
    Column("base_key", String(NICKNAME_KEY_LENGTH), primary_key=True),
    Column("last_suffix", Integer, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("namespace", String(NAMESPACE_LENGTH), primary_key=True),
    Column("subject", String(URL_LENGTH), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    # The configured provider that added it; when it was added and last signed in with.
    Column("provider", String(64), nullable=False, server_default=""),
    Column("created_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
    # What its provider called it at its last sign-in (a GitHub login): only ever shown.
    Column("handle", String(HANDLE_LENGTH)),
)

login_sessions = Table(
    "login_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("remember", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("user_agent", String(MAX_USER_AGENT_LENGTH)),
    Column("client_address", String(MAX_ADDRESS_LENGTH)),
    # Where it came from (none for sessions from before migration 0010): a provider's logout
    # finds its sessions by its own session id, or by subject.
    Column("provider", String(64)),
    Column("namespace", String(NAMESPACE_LENGTH)),
    Column("subject", String(URL_LENGTH)),
    Column("provider_session_id", String(MAX_PROVIDER_SESSION_LENGTH)),
    Column("logout_hint", Text),
    Index(None, "provider", "provider_session_id"),
    Index(None, "provider", "subject"),
)

# Logout notices acted on, kept until they could no longer be accepted: each counts once.
seen_logout_notices = Table(
    "seen_logout_notices",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

login_transactions = Table(
    "login_transactions",
    metadata,
    Column("id", String(TOKEN_LENGTH), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("next_url", String(URL_LENGTH)),
    Column("remember", Boolean, nullable=False),
    Column("provider_state", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("connect_user_id", ForeignKey("users.id", ondelete="CASCADE")),
)

parked_callbacks = Table(
    "parked_callbacks",
    metadata,
    Column("handle", String(TOKEN_LENGTH), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

pending_links = Table(
    "pending_links",
    metadata,
    Column("id", String(TOKEN_LENGTH), primary_key=True),
    Column("owner_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("namespace", String(NAMESPACE_LENGTH), nullable=False),
    Column("subject", String(URL_LENGTH), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("handle", String(HANDLE_LENGTH), nullable=True),
)

openid_associations = Table(
    "openid_associations",
    metadata,
    Column("server_url", String(URL_LENGTH), primary_key=True),
    # python3-openid's handles carry a bytes repr: "{HMAC-SHA1}{...}{b'...'}".
    Column("handle", String(255), primary_key=True),
    Column("secret", LargeBinary(128), nullable=False),
    Column("issued", Integer, nullable=False),
    Column("lifetime", Integer, nullable=False),
    Column("assoc_type", String(64), nullable=False),
    Column("expires", Integer, nullable=False, index=True),
)

openid_nonces = Table(
    "openid_nonces",
    metadata,
    Column("server_url", String(URL_LENGTH), primary_key=True),
    Column("timestamp", Integer, primary_key=True, autoincrement=False, index=True),
    Column("salt", String(255), primary_key=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    # No foreign key: what happened to an account stays when the account goes.
    Column("user_id", Integer, index=True),
    Column("provider", String(64)),
    Column("detail", String(255)),
    Column("client_address", String(MAX_ADDRESS_LENGTH)),
    Column("user_agent", String(MAX_USER_AGENT_LENGTH)),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(140), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
)
