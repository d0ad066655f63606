"""One contract for reading a user's newest posts, run against each adapter: SQL (SQLite and
PostgreSQL), and Redis keeping what it read from SQL (a real redis-server)."""

from datetime import UTC, datetime, timedelta

import pytest

from adapters.redis.stores import RedisSessions, RedisTimelines, redis_client
from adapters.sql.stores import SqlTimelines, SqlUserDirectory
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.model import NewUser

NOW = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC)


class Site:
    """The timelines and a unit of work as the container makes them."""

    def __init__(self, engine, timelines, accounts_changed=None):
        self.engine, self.timelines, self._changed = engine, timelines, accounts_changed

    def uow(self):
        return SqlAlchemyUnitOfWork(self.engine, accounts_changed=self._changed)

    def add_user(self, nickname):
        with self.uow() as uow:
            user = uow.users.add(NewUser(nickname, None, NOW))
            uow.commit()
        return user

    def write(self, user_id, body, days=0, commit=True):
        with self.uow() as uow:
            post = uow.posts.add(user_id, body, NOW + timedelta(days=days))
            if commit:
                uow.commit()
        return post


@pytest.fixture(params=["sql", "redis"])
def site(request, engine):
    if request.param == "sql":
        yield Site(engine, SqlTimelines(engine))
        return
    client = redis_client(request.getfixturevalue("redis_server").url)
    client.flushdb()
    sessions = RedisSessions(client, SqlUserDirectory(engine).get)
    timelines = RedisTimelines(sessions, SqlTimelines(engine).recent_by)
    yield Site(engine, timelines, sessions.accounts_changed)
    client.close()


def test_a_users_newest_posts_come_newest_first_and_no_one_elses(site):
    alice, bob = site.add_user("alice"), site.add_user("bob")
    first = site.write(alice.id, "Beautiful day in Portland!")
    second = site.write(alice.id, "The Avengers movie was so cool!", days=1)
    site.write(bob.id, "Not Alice's")
    for _ in range(2):  # as read, and as kept
        assert site.timelines.recent_by(alice.id, 20) == [second, first]
        assert site.timelines.recent_by(alice.id, 1) == [second]
    assert [post.body for post in site.timelines.recent_by(bob.id, 20)] == ["Not Alice's"]


def test_a_post_written_after_a_read_shows_on_the_next(site):
    alice = site.add_user("alice")
    assert site.timelines.recent_by(alice.id, 20) == []
    post = site.write(alice.id, "Hello")
    assert site.timelines.recent_by(alice.id, 20) == [post]


def test_a_post_rolled_back_never_shows(site):
    alice = site.add_user("alice")
    site.timelines.recent_by(alice.id, 20)
    site.write(alice.id, "Never sent", commit=False)
    assert site.timelines.recent_by(alice.id, 20) == []


def test_a_longer_timeline_than_was_read_comes_whole(site):
    alice = site.add_user("alice")
    posts = [site.write(alice.id, f"post {day}", days=day) for day in range(3)]
    assert site.timelines.recent_by(alice.id, 1) == posts[-1:]
    assert site.timelines.recent_by(alice.id, 3) == posts[::-1]
