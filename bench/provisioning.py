"""New users per second through complete_sign_in and the SQL adapters, in this process."""

import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from adapters.sql.engine import create_database_engine
from adapters.sql.stores import SqlSessions
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system import SecretsTokenSource, SystemClock
from domain.model import ProviderPolicy, SessionPolicy, VerifiedIdentity
from domain.provisioning import complete_sign_in

POLICY = ProviderPolicy("bench", trusted_for_email=True)


def sign_up(engine: Engine, verified: VerifiedIdentity) -> None:
    """One login through complete_sign_in and the SQL adapters, as the return view makes it."""
    complete_sign_in(
        verified,
        remember=False,
        uow=SqlAlchemyUnitOfWork(engine, writing=True),
        sessions=SqlSessions(engine),
        clock=SystemClock(),
        tokens=SecretsTokenSource(),
        policy=SessionPolicy(),
    )


def provisioning_rate(database_url: str, users: int, threads: int) -> float:
    engine = create_database_engine(database_url, pool_size=threads + 1)

    def provision(names: list[str]) -> None:
        for name in names:
            verified = VerifiedIdentity(
                POLICY, "openid", f"https://id.example/{name}", name, f"{name}@example.com", True
            )
            sign_up(engine, verified)

    names = [f"user{i}" for i in range(users)]
    try:
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            list(pool.map(provision, [names[i::threads] for i in range(threads)]))
            return users / (time.perf_counter() - started)
    finally:
        engine.dispose()
