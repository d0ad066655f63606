import time
from collections.abc import Callable

from openid.association import Association
from openid.store.interface import OpenIDStore
from sqlalchemy import Engine, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from adapters.sql.engine import autocommitting
from adapters.sql.tables import openid_associations, openid_nonces

# python3-openid's own stores allow 5 hours; an hour is plenty for honest clocks and keeps
# the nonce table (every nonce lives this long) five times smaller.
DEFAULT_NONCE_SKEW_SECONDS = 60 * 60


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
    """

    def __init__(
        self,
        engine: Engine,
        nonce_skew_seconds: int = DEFAULT_NONCE_SKEW_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._statements = autocommitting(engine)
        self._skew = nonce_skew_seconds
        self._now = now

    def storeAssociation(self, server_url: str, association: Association) -> None:
        row = {
            "server_url": server_url,
            "handle": association.handle,
            "secret": association.secret,
            "issued": association.issued,
            "lifetime": association.lifetime,
            "assoc_type": association.assoc_type,
            "expires": association.issued + association.lifetime,
        }
        with self._engine.begin() as connection:
            connection.execute(_REMOVE_ASSOCIATION, row)
            connection.execute(_ADD_ASSOCIATION, row)

    def getAssociation(self, server_url: str, handle: str | None = None) -> Association | None:
        """The newest unexpired association for `server_url` (and `handle`, when given)."""
        now = int(self._now())
        with self._statements.connect() as connection:
            if handle is None:
                parameters = {"server_url": server_url, "now": now}
                row = connection.execute(_NEWEST_ASSOCIATION, parameters).first()
            else:
                parameters = {"server_url": server_url, "handle": handle, "now": now}
                row = connection.execute(_ASSOCIATION, parameters).first()
        if row is None:
            return None
        return Association(row.handle, bytes(row.secret), row.issued, row.lifetime, row.assoc_type)

    def removeAssociation(self, server_url: str, handle: str) -> bool:
        parameters = {"server_url": server_url, "handle": handle}
        with self._statements.connect() as connection:
            return connection.execute(_REMOVE_ASSOCIATION, parameters).rowcount > 0

    def useNonce(self, server_url: str, timestamp: int, salt: str) -> bool:
        """True the first time a (server, timestamp, salt) is seen within the allowed skew."""
        if abs(timestamp - self._now()) > self._skew:
            return False
        nonce = {"server_url": server_url, "timestamp": timestamp, "salt": salt}
        try:
            with self._statements.connect() as connection:
                connection.execute(_ADD_NONCE, nonce)
        except IntegrityError:
            return False
        return True

    def cleanupNonces(self) -> int:
        cutoff = int(self._now()) - self._skew
        with self._statements.connect() as connection:
            return connection.execute(_REMOVE_OLD_NONCES, {"cutoff": cutoff}).rowcount

    def cleanupAssociations(self) -> int:
        with self._statements.connect() as connection:
            now = int(self._now())
            return connection.execute(_REMOVE_EXPIRED_ASSOCIATIONS, {"now": now}).rowcount
