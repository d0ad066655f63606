"""What only the Redis stores must show: every key expires, the per-user index stays bounded,
and a Redis that does not answer is a clear refusal."""

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.redis.stores import (
    ACCOUNT_TRUSTED_MS,
    ACCOUNT_VERSION_KEPT_MS,
    BROUGHT_ALONG_SECONDS,
    PARKED_ANSWERS,
    SESSION_STORE_DOWN,
    SIGN_INS,
    TIMELINE_KEPT_MS,
    RedisSessions,
    RedisSingleUse,
    RedisTimelines,
    redis_client,
)
from devtools.servers import free_port
from domain.errors import StoreUnavailable
from domain.model import NewUser, ParkedAnswer, Post, Session, SignIn, User
from entrypoints.container import Container
from entrypoints.settings import load_settings

NOW = datetime.now(UTC).replace(microsecond=0)
ALICE = User(1, "alice", None, True, NOW)


@pytest.fixture
def client(redis_server):
    client = redis_client(redis_server.url)
    client.flushdb()
    yield client
    client.close()


def a_session(token_hash, created_at=NOW, hours=1):
    return Session(
        token_hash, ALICE.id, False, created_at, created_at, created_at + timedelta(hours=hours)
    )


def test_every_key_expires_by_itself_at_the_latest_expiry(client):
    # Now, not at import: a parked answer lives 5 minutes, and a long suite gets here later.
    now = datetime.now(UTC).replace(microsecond=0)
    sessions = RedisSessions(client, {1: ALICE}.get)
    sessions.add(a_session("a" * 64, created_at=now, hours=1))
    sessions.add(a_session("b" * 64, created_at=now, hours=30 * 24))
    RedisSingleUse(client, SIGN_INS).put(
        SignIn("tx", "dev", None, False, now, now + timedelta(minutes=10))
    )
    RedisSingleUse(client, PARKED_ANSWERS).put(
        ParkedAnswer("p", "dev", {}, now + timedelta(minutes=5))
    )
    keys = client.keys("*")
    assert len(keys) == 6
    expiries = {key: client.pexpiretime(key) for key in keys}
    no_expiry = [key for key, at in expiries.items() if at < 0 and key != "microblog:sessions"]
    assert no_expiry == []
    latest = int((now + timedelta(hours=30 * 24)).timestamp() * 1000)
    assert expiries["microblog:user-sessions:1"] == latest
    assert expiries["microblog:session:" + "a" * 64] == latest - (30 * 24 - 1) * 3600 * 1000


def test_a_touch_moves_the_session_keys_expiry_and_its_users_index_keeps_up(client):
    sessions = RedisSessions(client, {1: ALICE}.get)
    sessions.add(a_session("a" * 64, hours=1))
    later = NOW + timedelta(hours=5)
    sessions.touch("a" * 64, NOW + timedelta(minutes=10), later)
    at = int(later.timestamp() * 1000)
    assert client.pexpiretime("microblog:session:" + "a" * 64) == at
    assert client.pexpiretime("microblog:user-sessions:1") == at
    assert client.zscore("microblog:sessions", "a" * 64) == at
    assert client.zscore("microblog:user-sessions:1", "a" * 64) == at


def test_the_indexes_of_where_sessions_came_from_expire_with_their_last_session(client):
    now = datetime.now(UTC).replace(microsecond=0)
    sessions = RedisSessions(client, {1: ALICE}.get)
    origin = {"provider": "corp", "subject": "alice-sub", "provider_session_id": "sid-1"}
    short = replace(a_session("a" * 64, created_at=now, hours=1), **origin)
    long = replace(a_session("b" * 64, created_at=now, hours=5), **origin)
    sessions.add(short)
    sessions.add(long)
    indexes = ["microblog:provider-session:corp:sid-1", "microblog:provider-subject:corp:alice-sub"]
    at = int(long.expires_at.timestamp() * 1000)
    assert [client.pexpiretime(index) for index in indexes] == [at, at]
    later = now + timedelta(hours=8)
    sessions.touch("a" * 64, now + timedelta(minutes=10), later)
    moved = int(later.timestamp() * 1000)
    assert [client.pexpiretime(index) for index in indexes] == [moved, moved]
    assert [client.zscore(index, "a" * 64) for index in indexes] == [moved, moved]
    sessions.remove("a" * 64)
    assert [client.zrange(index, 0, -1) for index in indexes] == [["b" * 64], ["b" * 64]]
    assert sessions.remove_by_subject("corp", "alice-sub") == [ALICE.id]
    assert client.keys("microblog:provider-*") == []


def test_the_per_user_index_drops_expired_entries_whenever_a_session_is_added(client):
    sessions = RedisSessions(client, {1: ALICE}.get)
    for n in range(50):  # sessions that expired a while ago, as a year of logins leaves
        sessions.add(a_session(f"{n:064}", created_at=NOW - timedelta(hours=2)))
    sessions.add(a_session("n" * 64))
    assert client.zrange("microblog:user-sessions:1", 0, -1) == ["n" * 64]
    assert client.zcard("microblog:sessions") == 1
    assert [s.token_hash for s in sessions.of_user(ALICE.id)] == ["n" * 64]


def test_a_redis_that_does_not_answer_is_a_clear_refusal_for_every_store():
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2)
    sessions = RedisSessions(client, {1: ALICE}.get)
    calls = [
        lambda: sessions.add(a_session("a" * 64)),
        lambda: sessions.get_with_user("a" * 64),
        lambda: sessions.remove_all_of(ALICE.id),
        lambda: sessions.remove_by_provider_session("corp", "sid-1"),
        lambda: sessions.remove_by_subject("corp", "alice-sub"),
        lambda: RedisSingleUse(client, SIGN_INS).take("tx"),
        lambda: RedisSingleUse(client, PARKED_ANSWERS).take("p"),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as refused:
            call()
        assert refused.value.message == SESSION_STORE_DOWN


class Accounts:
    """The accounts a Redis session store reads, counted; `meanwhile` runs during a read, as
    another instance's change would."""

    def __init__(self, *users: User) -> None:
        self.users = {user.id: user for user in users}
        self.reads = 0
        self.meanwhile = lambda: None

    def get(self, user_id: int) -> User | None:
        self.reads += 1
        user = self.users.get(user_id)
        self.meanwhile()
        return user


def test_a_signed_in_page_reads_its_account_from_the_database_once(client):
    accounts = Accounts(ALICE)
    sessions = RedisSessions(client, accounts.get)
    sessions.add(a_session("a" * 64))
    for _ in range(3):
        assert sessions.get_with_user("a" * 64) == (sessions.get("a" * 64), ALICE)
    assert accounts.reads == 1


def test_a_change_drops_the_account_from_every_session_of_it_and_no_other(client):
    bob = User(2, "bob", "bob@example.com", True, NOW)
    accounts = Accounts(ALICE, bob)
    sessions = RedisSessions(client, accounts.get)
    sessions.add(a_session("a" * 64))
    sessions.add(a_session("b" * 64))
    sessions.add(replace(a_session("c" * 64), user_id=bob.id))
    for token_hash in ("a", "b", "c"):
        sessions.get_with_user(token_hash * 64)
    renamed = replace(ALICE, nickname="alicia")
    accounts.users[ALICE.id] = renamed
    sessions.accounts_changed({ALICE.id})
    assert sessions.get_with_user("a" * 64)[1] == renamed
    assert sessions.get_with_user("b" * 64)[1] == renamed
    assert sessions.get_with_user("c" * 64)[1] == bob
    assert accounts.reads == 3 + 2


def test_an_account_that_changed_while_it_was_read_is_not_kept(client):
    accounts = Accounts(ALICE)
    sessions = RedisSessions(client, accounts.get)
    sessions.add(a_session("a" * 64))
    renamed = replace(ALICE, nickname="alicia")

    def renamed_elsewhere() -> None:  # the old account was read; the rename commits now
        accounts.users[ALICE.id] = renamed
        sessions.accounts_changed({ALICE.id})
        accounts.meanwhile = lambda: None

    accounts.meanwhile = renamed_elsewhere
    assert sessions.get_with_user("a" * 64)[1] == ALICE  # that page was already under way
    assert sessions.get_with_user("a" * 64)[1] == renamed
    assert sessions.get_with_user("a" * 64)[1] == renamed
    assert accounts.reads == 2


def test_a_session_that_ended_while_its_account_was_read_stays_ended(client):
    accounts = Accounts(ALICE)
    sessions = RedisSessions(client, accounts.get)
    sessions.add(a_session("a" * 64))
    accounts.meanwhile = lambda: sessions.remove("a" * 64)
    sessions.get_with_user("a" * 64)
    assert client.exists("microblog:session:" + "a" * 64) == 0
    assert sessions.get_with_user("a" * 64) is None


def test_an_accounts_version_expires_by_itself(client):
    sessions = RedisSessions(client, Accounts(ALICE).get)
    sessions.accounts_changed({ALICE.id})
    assert 0 < client.pttl("microblog:account-version:1") <= ACCOUNT_VERSION_KEPT_MS


class Posts:
    """The posts a Redis timeline reads, counted; `meanwhile` runs during a read, as another
    instance's new post would."""

    def __init__(self, *posts: Post) -> None:
        self.posts = list(posts)
        self.reads = 0
        self.meanwhile = lambda: None

    def recent_by(self, user_id: int, limit: int) -> list[Post]:
        self.reads += 1
        found = [post for post in reversed(self.posts) if post.user_id == user_id][:limit]
        self.meanwhile()
        return found


def test_a_timeline_is_read_from_the_database_once_and_kept_an_hour_at_most(client):
    posts = Posts(Post(1, ALICE.id, "Hello", NOW))
    timelines = RedisTimelines(RedisSessions(client, Accounts(ALICE).get), posts.recent_by)
    for _ in range(3):
        assert timelines.recent_by(ALICE.id, 20) == posts.posts
    assert posts.reads == 1
    assert 0 < client.pttl(f"microblog:timeline:{ALICE.id}") <= TIMELINE_KEPT_MS


def test_posts_written_while_a_timeline_was_read_are_not_missed(client):
    sessions = RedisSessions(client, Accounts(ALICE).get)
    posts = Posts(Post(1, ALICE.id, "Hello", NOW))
    timelines = RedisTimelines(sessions, posts.recent_by)
    later = Post(2, ALICE.id, "Again", NOW + timedelta(minutes=1))

    def written_elsewhere() -> None:  # the old posts were read; the new one commits now
        posts.posts.append(later)
        sessions.accounts_changed({ALICE.id})
        posts.meanwhile = lambda: None

    posts.meanwhile = written_elsewhere
    assert timelines.recent_by(ALICE.id, 20) == [posts.posts[0]]  # that page was under way
    assert timelines.recent_by(ALICE.id, 20) == [later, posts.posts[0]]
    assert timelines.recent_by(ALICE.id, 20) == [later, posts.posts[0]]
    assert posts.reads == 2


def counting_commands(client):
    """How many commands `client` sends from now on (a script is one)."""
    sent = [0]
    send = client.execute_command

    def counted(*args, **options):
        sent[0] += 1
        return send(*args, **options)

    client.execute_command = counted
    return sent


def first_page_read(client, *token_hashes):
    """Alice's sessions and posts in Redis after a first page of her first session, which
    kept her account and her posts there."""
    sessions = RedisSessions(client, Accounts(ALICE).get)
    posts = Posts(Post(1, ALICE.id, "Hello", NOW))
    timelines = RedisTimelines(sessions, posts.recent_by)
    for token_hash in token_hashes:
        sessions.add(a_session(token_hash))
    sessions.get_with_user(token_hashes[0])
    timelines.recent_by(ALICE.id, 20)
    return sessions, posts, timelines


def test_a_signed_in_page_with_kept_posts_is_one_round_trip_to_redis(client):
    sessions, posts, timelines = first_page_read(client, "a" * 64)
    sent = counting_commands(client)
    for _ in range(3):
        assert sessions.get_with_user("a" * 64)[1] == ALICE
        assert timelines.recent_by(ALICE.id, 20) == posts.posts
    assert sent[0] == 3 and posts.reads == 1


def test_a_post_added_between_two_pages_shows_on_the_second(client):
    sessions, posts, timelines = first_page_read(client, "a" * 64)
    sessions.get_with_user("a" * 64)  # the second page's session read brings the posts along
    assert timelines.recent_by(ALICE.id, 20) == posts.posts
    sessions.get_with_user("a" * 64)
    later = Post(2, ALICE.id, "Again", NOW + timedelta(minutes=1))
    posts.posts.append(later)
    sessions.accounts_changed({ALICE.id})
    sessions.get_with_user("a" * 64)  # the next page: its session read brings nothing now
    assert timelines.recent_by(ALICE.id, 20) == [later, posts.posts[0]]


def test_posts_brought_along_are_used_once_and_within_a_second_only(client, monkeypatch):
    sessions, _, _ = first_page_read(client, "a" * 64)
    sessions.get_with_user("a" * 64)
    assert sessions.timeline_brought_along(ALICE.id) is not None
    assert sessions.timeline_brought_along(ALICE.id) is None, "handed out once"
    sessions.get_with_user("a" * 64)
    clock = time.monotonic() + BROUGHT_ALONG_SECONDS + 0.1
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    assert sessions.timeline_brought_along(ALICE.id) is None, "a second later it is not used"


def test_a_page_is_not_served_posts_another_thread_brought_along(client):
    sessions, posts, timelines = first_page_read(client, "a" * 64, "b" * 64)  # two tabs
    # Thread A (the account page, say) has its session read's answer and waits there...
    answered, resume = threading.Event(), threading.Event()
    read = sessions._read

    def read_then_wait(*args, **options):
        result = read(*args, **options)
        if threading.current_thread().name == "A":
            answered.set()
            resume.wait()
        return result

    sessions._read = read_then_wait
    a = threading.Thread(target=sessions.get_with_user, args=("a" * 64,), name="A")
    a.start()
    answered.wait()
    later = Post(2, ALICE.id, "Again", NOW + timedelta(minutes=1))
    posts.posts.append(later)
    sessions.accounts_changed({ALICE.id})  # a post written, on any instance
    # ...while thread B reads the other tab's index page, its session bringing nothing along.
    assert sessions.get_with_user("b" * 64) is not None
    resume.set()
    a.join()  # thread A notes the posts its earlier read brought along
    assert timelines.recent_by(ALICE.id, 20) == [later, posts.posts[0]]


def test_posts_brought_along_are_dropped_when_their_account_changes(client):
    sessions, posts, timelines = first_page_read(client, "a" * 64)
    sessions.get_with_user("a" * 64)  # brings the posts along
    later = Post(2, ALICE.id, "Again", NOW + timedelta(minutes=1))
    posts.posts.append(later)
    sessions.accounts_changed({ALICE.id})  # a post written by this same request
    assert timelines.recent_by(ALICE.id, 20) == [later, posts.posts[0]]


def test_a_timeline_sees_the_changes_its_sessions_hear_of_under_any_prefix(client):
    sessions = RedisSessions(client, Accounts(ALICE).get, prefix="site-a:")
    posts = Posts(Post(1, ALICE.id, "Hello", NOW))
    timelines = RedisTimelines(sessions, posts.recent_by)  # no prefix of its own to differ
    assert timelines.recent_by(ALICE.id, 20) == posts.posts
    later = Post(2, ALICE.id, "Again", NOW + timedelta(minutes=1))
    posts.posts.append(later)
    sessions.accounts_changed({ALICE.id})
    assert timelines.recent_by(ALICE.id, 20) == [later, posts.posts[0]]


def test_the_containers_timelines_see_the_changes_its_sessions_hear_of(
    engine, database_url, redis_server, client, tmp_path
):
    container = Container()
    settings = {"instance_path": str(tmp_path), "database_url": database_url}
    settings |= {"session_store": "redis", "redis_url": redis_server.url}
    container.config.from_dict(load_settings(settings, {}))
    with container.writing_unit_of_work() as uow:
        alice = uow.users.add(NewUser("alice", None, NOW))
        uow.commit()
    assert container.timelines().recent_by(alice.id, 20) == []
    with container.writing_unit_of_work() as uow:
        post = uow.posts.add(alice.id, "Hello", NOW)
        uow.commit()
    assert container.timelines().recent_by(alice.id, 20) == [post]
    container.shutdown_resources()


def test_a_change_redis_cannot_hear_of_is_not_committed(engine):
    from adapters.sql.stores import SqlUserDirectory
    from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
    from domain.model import NewUser

    with SqlAlchemyUnitOfWork(engine) as uow:
        user = uow.users.add(NewUser("alice", None, NOW))
        uow.commit()
    away = redis_client(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2)
    sessions = RedisSessions(away, SqlUserDirectory(engine).get)
    with (
        pytest.raises(StoreUnavailable),
        SqlAlchemyUnitOfWork(engine, accounts_changed=sessions.accounts_changed) as uow,
    ):
        uow.users.set_active(user.id, False)
        uow.commit()
    assert SqlUserDirectory(engine).get(user.id).active  # nothing half-written


def test_a_kept_account_is_trusted_five_minutes_or_not_at_all_when_older(client):
    accounts = Accounts(replace(ALICE, language="de"))
    sessions = RedisSessions(client, accounts.get)
    sessions.add(a_session("a" * 64))
    sessions.get_with_user("a" * 64)
    key = "microblog:session:" + "a" * 64
    until = int(client.hget(key, "account_until")) - datetime.now(UTC).timestamp() * 1000
    assert ACCOUNT_TRUSTED_MS - 60_000 < until <= ACCOUNT_TRUSTED_MS
    client.hset(key, "account_until", "0")  # five minutes later
    assert sessions.get_with_user("a" * 64)[1].language == "de"
    client.hdel(key, "account_until", "account_language")  # as an older release kept it
    assert sessions.get_with_user("a" * 64)[1].language == "de"
    assert accounts.reads == 3
