import time
from collections.abc import Callable

from openid.association import Association
from openid.store.interface import OpenIDStore
from sqlalchemy import (
    ColumnElement,
    Delete,
    Engine,
    Table,
    bindparam,
    delete,
    insert,
    select,
    tuple_,
)
from sqlalchemy.exc import IntegrityError

from adapters.sql.engine import autocommitting
from adapters.sql.errors import domain_errors
from adapters.sql.statements import CompiledStatements
from adapters.sql.tables import openid_associations, openid_nonces

# python3-openid's own stores allow 5 hours; an hour is plenty for honest clocks and keeps
# the nonce table (every nonce lives this long) five times smaller.
DEFAULT_NONCE_SKEW_SECONDS = 60 * 60
# How long a worker trusts the associations it has read: each login reads one twice.
DEFAULT_ASSOCIATION_MEMORY_SECONDS = 60
ASSOCIATION_MEMORY_SIZE = 1000


_associations = openid_associations.c
_IS_SERVERS = _associations.server_url == bindparam("server_url")
_IS_HANDLE = _associations.handle == bindparam("handle")
_IS_UNEXPIRED = _associations.expires > bindparam("now")
_NEWEST_FIRST = _associations.issued.desc()
_NEWEST_ASSOCIATION = (
    select(openid_associations).where(_IS_SERVERS, _IS_UNEXPIRED).order_by(_NEWEST_FIRST).limit(1)
)
_ASSOCIATION = select(openid_associations).where(_IS_SERVERS, _IS_HANDLE, _IS_UNEXPIRED)
_ADD_ASSOCIATION = insert(openid_associations)
_REMOVE_ASSOCIATION = delete(openid_associations).where(_IS_SERVERS, _IS_HANDLE)
_REMOVE_EXPIRED_ASSOCIATIONS = delete(openid_associations).where(
    _associations.expires <= bindparam("now")
)
_ADD_NONCE = insert(openid_nonces)
_REMOVE_OLD_NONCES = delete(openid_nonces).where(openid_nonces.c.timestamp < bindparam("cutoff"))


class SqlOpenIdStore(OpenIDStore):  # type: ignore[misc]
    """python3-openid's associations and nonces in the shared database.

    Every worker and host sees the same associations, and a nonce is accepted once across all
    of them: the nonce's primary key makes the second insert fail. Every call but
    storeAssociation is one statement, run without BEGIN and COMMIT.

    A worker remembers the associations it read for a minute. One another worker removed
    meanwhile (the provider said it no longer knows the handle) is still used here until then;
    the provider then says so again and the login is checked with it directly, as
    python3-openid does for any handle it invalidates.
    """

    def __init__(
        self,
        engine: Engine,
        nonce_skew_seconds: int = DEFAULT_NONCE_SKEW_SECONDS,
        now: Callable[[], float] = time.time,
        association_memory_seconds: float = DEFAULT_ASSOCIATION_MEMORY_SECONDS,
    ) -> None:
        self._engine = engine
        self._statements = autocommitting(engine)
        self._single = CompiledStatements(engine)
        self._skew = nonce_skew_seconds
        self._now = now
        self._memory_seconds = association_memory_seconds
        # (server_url, handle or None for the newest) -> (remembered until, association)
        self._remembered: dict[tuple[str, str | None], tuple[float, Association]] = {}

    def storeAssociation(self, server_url: str, association: Association) -> None:
        row = {
            "server_url": server_url,
            "handle": association.handle,
            "secret": association.secret,
            "issued": association.issued,
            "lifetime": association.lifetime,
            "assoc_type": association.assoc_type,
            "expires": _expires(association),
        }
        with domain_errors(), self._engine.begin() as connection:
            connection.execute(_REMOVE_ASSOCIATION, row)
            connection.execute(_ADD_ASSOCIATION, row)
        self._forget(server_url, association.handle)

    def getAssociation(self, server_url: str, handle: str | None = None) -> Association | None:
        """The newest unexpired association for `server_url` (and `handle`, when given)."""
        now = self._now()
        until, remembered = self._remembered.get((server_url, handle), (0.0, None))
        if remembered is not None and until > now and _expires(remembered) > now:
            return remembered
        found = self._read_association(server_url, handle, int(now))
        if found is not None:
            if len(self._remembered) >= ASSOCIATION_MEMORY_SIZE:
                self._remembered.clear()
            self._remembered[(server_url, handle)] = (now + self._memory_seconds, found)
        return found

    def _read_association(
        self, server_url: str, handle: str | None, now: int
    ) -> Association | None:
        statement = _NEWEST_ASSOCIATION if handle is None else _ASSOCIATION
        parameters = {"server_url": server_url, "handle": handle, "now": now}
        with domain_errors(), self._statements.connect() as connection:
            row = connection.execute(statement, parameters).first()
        if row is None:
            return None
        return Association(row.handle, bytes(row.secret), row.issued, row.lifetime, row.assoc_type)

    def removeAssociation(self, server_url: str, handle: str) -> bool:
        self._forget(server_url, handle)
        parameters = {"server_url": server_url, "handle": handle}
        with domain_errors(), self._statements.connect() as connection:
            return connection.execute(_REMOVE_ASSOCIATION, parameters).rowcount > 0

    def _forget(self, server_url: str, handle: str) -> None:
        self._remembered.pop((server_url, handle), None)
        self._remembered.pop((server_url, None), None)  # the newest may have changed

    def useNonce(self, server_url: str, timestamp: int, salt: str) -> bool:
        """True the first time a (server, timestamp, salt) is seen within the allowed skew."""
        if abs(timestamp - self._now()) > self._skew:
            return False
        nonce = {"server_url": server_url, "timestamp": timestamp, "salt": salt}
        with domain_errors():
            try:
                self._single.count(_ADD_NONCE, **nonce)
            except IntegrityError:
                return False  # seen before: a replay
        return True

    def cleanupNonces(self) -> int:
        cutoff = int(self._now()) - self._skew
        with domain_errors(), self._statements.connect() as connection:
            return connection.execute(_REMOVE_OLD_NONCES, {"cutoff": cutoff}).rowcount

    def sweep(self, limit: int) -> int:
        """Housekeeping: at most `limit` old nonces and `limit` expired associations."""
        parameters = {"cutoff": int(self._now()) - self._skew, "now": int(self._now())}
        with domain_errors(), self._statements.connect() as connection:
            nonces = connection.execute(_OLD_NONCES_BATCH, parameters | {"limit": limit})
            associations = connection.execute(
                _EXPIRED_ASSOCIATIONS_BATCH, parameters | {"limit": limit}
            )
            return nonces.rowcount + associations.rowcount

    def cleanupAssociations(self) -> int:
        with domain_errors(), self._statements.connect() as connection:
            now = int(self._now())
            return connection.execute(_REMOVE_EXPIRED_ASSOCIATIONS, {"now": now}).rowcount


def _expired_batch(table: Table, keys: list[str], expired: ColumnElement[bool]) -> Delete:
    picked = select(*(table.c[key] for key in keys)).where(expired).limit(bindparam("limit"))
    return delete(table).where(tuple_(*(table.c[key] for key in keys)).in_(picked))


_OLD_NONCES_BATCH = _expired_batch(
    openid_nonces,
    ["server_url", "timestamp", "salt"],
    openid_nonces.c.timestamp < bindparam("cutoff"),
)
_EXPIRED_ASSOCIATIONS_BATCH = _expired_batch(
    openid_associations, ["server_url", "handle"], openid_associations.c.expires < bindparam("now")
)


def _expires(association: Association) -> int:
    return int(association.issued + association.lifetime)
