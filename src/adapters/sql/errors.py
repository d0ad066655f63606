from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from domain.errors import Conflict, StoreUnavailable, ValueTooLong


def _is_lock_contention(error: OperationalError) -> bool:
    # SQLite: another writer holds the lock; PostgreSQL: serialization failure or deadlock.
    text = str(error.orig).lower()
    return "database is locked" in text or getattr(error.orig, "sqlstate", None) in (
        "40001",
        "40P01",
    )


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn database errors into the domain's: a lost race is a Conflict, the rest unavailable."""
    try:
        yield
    except IntegrityError as error:
        raise Conflict(str(error.orig)) from error
    except DataError as error:
        # PostgreSQL refuses a value longer than its column; SQLite keeps it.
        raise ValueTooLong() from error
    except OperationalError as error:
        if _is_lock_contention(error):
            raise Conflict(str(error.orig)) from error
        raise StoreUnavailable() from error
    except DBAPIError as error:
        if error.connection_invalidated:
            raise StoreUnavailable() from error
        raise
