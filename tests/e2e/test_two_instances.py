"""Two instances of the app sharing PostgreSQL and Redis, as behind a load balancer (served
in this process, each with its own container, engine and Redis client): what a page shows of
the account is never older than the last change, made on either instance. Sessions in
PostgreSQL and in Redis, where each session keeps its account (adapters/redis/stores.py)."""

import itertools

import pytest

from adapters.redis.stores import redis_client
from tests.e2e.site import Site, Visitor, served_app

pytestmark = pytest.mark.postgres
_databases = (f"two_instances_{n}" for n in itertools.count())


@pytest.fixture(params=["sql", "redis"])
def instances(request, op, tmp_path, postgres, redis_server):
    client = redis_client(redis_server.url)
    client.flushdb()
    client.close()
    config = {
        "instance_path": str(tmp_path / "instance"),
        "database_url": postgres.create_database(next(_databases)),
        "secret_key": "e2e-secret-key",
        "providers": [{"key": "openid", "name": "OpenID"}],
        "session_store": request.param,
        "redis_url": redis_server.url,
    }
    with served_app(config) as (one_url, one), served_app(config) as (two_url, two):
        yield Site(one_url, one, op), Site(two_url, two, op)


def at(visitor: Visitor, site: Site) -> Visitor:
    """The same browser (cookie jar) on another instance."""
    other = Visitor(site)
    other.http = visitor.http
    return other


def signed_in(site: Site, name: str) -> Visitor:
    visitor = site.visitor()
    visitor.approve(visitor.start_sign_in(provider="openid", identifier=f"{site.op}/id/{name}"))
    assert visitor.greeting() == name
    return visitor


def test_a_rename_on_one_instance_shows_on_the_next_page_of_the_other(instances):
    one, two = instances
    alice = signed_in(one, "alice")
    on_two = at(alice, two)
    assert on_two.greeting() == "alice"
    assert on_two.greeting() == "alice"  # the account kept with the session, if anywhere
    renamed = alice.account_action("/account/nickname", nickname="Alicia")
    assert "Your nickname is now Alicia." in renamed.text
    assert on_two.greeting() == "Alicia"
    assert alice.greeting() == "Alicia"


def test_an_account_disabled_on_one_instance_is_served_no_page_by_the_other(instances):
    one, two = instances
    bob = signed_in(one, "bob")
    on_two = at(bob, two)
    assert on_two.greeting() == "bob"
    assert one.cli("users", "disable", "bob").exit_code == 0
    assert on_two.greeting() is None
    assert bob.greeting() is None


def test_an_account_disabled_with_its_sessions_left_open_is_served_no_page(instances):
    """The account's status alone, as a unit of work changes it (the CLI also ends every
    session): no instance serves it from what a session kept."""
    one, two = instances
    carol = signed_in(one, "carol")
    on_two = at(carol, two)
    assert on_two.greeting() == "carol"
    with one.services.writing_unit_of_work() as uow:
        user = uow.users.by_nickname("carol")
        uow.users.set_active(user.id, False)
        uow.commit()
    assert on_two.greeting() is None
    assert carol.greeting() is None
    with one.services.writing_unit_of_work() as uow:
        uow.users.set_active(user.id, True)
        uow.commit()
    assert on_two.greeting() == "carol"


def test_a_post_written_on_one_instance_shows_on_the_next_index_of_the_other(instances):
    one, two = instances
    dave = signed_in(one, "dave")
    on_two = at(dave, two)
    assert "No posts yet." in on_two.get("/index").text
    assert "No posts yet." in on_two.get("/index").text  # the timeline kept, if anywhere
    with one.services.unit_of_work() as uow:
        user = uow.users.by_nickname("dave")
        uow.posts.add(user.id, "Beautiful day in Portland!", user.created_at)
        uow.commit()
    assert "Beautiful day in Portland!" in on_two.get("/index").text
    assert "Beautiful day in Portland!" in dave.get("/index").text
