import time
from collections.abc import Callable

from openid.association import Association
from openid.store.interface import OpenIDStore
from sqlalchemy import Engine, and_, delete, insert, select
from sqlalchemy.exc import IntegrityError

from adapters.sql.tables import openid_associations, openid_nonces

# python3-openid's own stores allow 5 hours; an hour is plenty for honest clocks and keeps
# the nonce table (every nonce lives this long) five times smaller.
DEFAULT_NONCE_SKEW_SECONDS = 60 * 60


class SqlOpenIdStore(OpenIDStore):  # type: ignore[misc]
    """python3-openid's associations and nonces in the shared database.

    Every worker and host sees the same associations, and a nonce is accepted once across all
    of them: the nonce's primary key makes the second insert fail.
    """

    def __init__(
        self,
        engine: Engine,
        nonce_skew_seconds: int = DEFAULT_NONCE_SKEW_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._skew = nonce_skew_seconds
        self._now = now

    def storeAssociation(self, server_url: str, association: Association) -> None:
        key = _association_key(server_url, association.handle)
        with self._engine.begin() as connection:
            connection.execute(delete(openid_associations).where(key))
            connection.execute(
                insert(openid_associations).values(
                    server_url=server_url,
                    handle=association.handle,
                    secret=association.secret,
                    issued=association.issued,
                    lifetime=association.lifetime,
                    assoc_type=association.assoc_type,
                    expires=association.issued + association.lifetime,
                )
            )

    def getAssociation(self, server_url: str, handle: str | None = None) -> Association | None:
        """The newest unexpired association for `server_url` (and `handle`, when given)."""
        condition = (
            openid_associations.c.server_url == server_url
            if handle is None
            else _association_key(server_url, handle)
        )
        statement = (
            select(openid_associations)
            .where(condition, openid_associations.c.expires > int(self._now()))
            .order_by(openid_associations.c.issued.desc())
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(statement).first()
        if row is None:
            return None
        return Association(row.handle, bytes(row.secret), row.issued, row.lifetime, row.assoc_type)

    def removeAssociation(self, server_url: str, handle: str) -> bool:
        statement = delete(openid_associations).where(_association_key(server_url, handle))
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount > 0

    def useNonce(self, server_url: str, timestamp: int, salt: str) -> bool:
        """True the first time a (server, timestamp, salt) is seen within the allowed skew."""
        if abs(timestamp - self._now()) > self._skew:
            return False
        statement = insert(openid_nonces).values(
            server_url=server_url, timestamp=timestamp, salt=salt
        )
        try:
            with self._engine.begin() as connection:
                connection.execute(statement)
        except IntegrityError:
            return False
        return True

    def cleanupNonces(self) -> int:
        cutoff = int(self._now()) - self._skew
        statement = delete(openid_nonces).where(openid_nonces.c.timestamp < cutoff)
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount

    def cleanupAssociations(self) -> int:
        statement = delete(openid_associations).where(
            openid_associations.c.expires <= int(self._now())
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount


def _association_key(server_url: str, handle: str):  # type: ignore[no-untyped-def]
    return and_(
        openid_associations.c.server_url == server_url, openid_associations.c.handle == handle
    )
