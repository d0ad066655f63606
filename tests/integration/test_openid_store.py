import time

import pytest
from openid.association import Association

from adapters.openid.store import SqlOpenIdStore
from adapters.sql.engine import create_database_engine
from tests.fakes import FakeSeconds

SERVER = "https://op.example/server"
# The shape python3-openid gives its handles: it embeds a bytes repr.
HANDLE = "{HMAC-SHA1}{6612f2c4}{b'OeJrXw=='}"


@pytest.fixture
def clock():
    return FakeSeconds(1_800_000_000.0)


@pytest.fixture
def store(engine, clock):
    return SqlOpenIdStore(engine, now=clock)


def association(handle=HANDLE, issued=1_800_000_000, lifetime=600):
    return Association(handle, b"\x00secret\xff" * 2, issued, lifetime, "HMAC-SHA1")


def test_a_stored_association_reads_back_by_handle_and_by_server(store):
    store.storeAssociation(SERVER, association())
    assert store.getAssociation(SERVER, HANDLE) == association()
    assert store.getAssociation(SERVER) == association()
    assert store.getAssociation("https://other.example/", HANDLE) is None
    assert store.getAssociation(SERVER, "other-handle") is None


def test_the_newest_association_of_a_server_wins(store):
    store.storeAssociation(SERVER, association("old", issued=1_800_000_000 - 100))
    store.storeAssociation(SERVER, association("new"))
    assert store.getAssociation(SERVER).handle == "new"


def test_storing_an_association_again_replaces_it(store):
    store.storeAssociation(SERVER, association(lifetime=600))
    store.storeAssociation(SERVER, association(lifetime=900))
    assert store.getAssociation(SERVER, HANDLE).lifetime == 900


def test_an_expired_association_is_not_returned_and_is_cleaned_up(store, clock):
    store.storeAssociation(SERVER, association(lifetime=600))
    clock.now += 601
    assert store.getAssociation(SERVER, HANDLE) is None
    assert store.cleanupAssociations() == 1


def test_removing_an_association_says_whether_it_existed(store):
    store.storeAssociation(SERVER, association())
    assert store.removeAssociation(SERVER, HANDLE) is True
    assert store.removeAssociation(SERVER, HANDLE) is False
    assert store.getAssociation(SERVER) is None


def test_a_worker_remembers_an_association_it_read_for_a_minute(engine, store, clock):
    store.storeAssociation(SERVER, association())
    assert store.getAssociation(SERVER, HANDLE) == association()
    other_worker = SqlOpenIdStore(engine, now=clock)
    assert other_worker.removeAssociation(SERVER, HANDLE) is True
    assert store.getAssociation(SERVER, HANDLE) == association()
    clock.now += 61
    assert store.getAssociation(SERVER, HANDLE) is None


def test_a_remembered_association_is_not_used_past_its_lifetime(store, clock):
    store.storeAssociation(SERVER, association(lifetime=30))
    assert store.getAssociation(SERVER) == association(lifetime=30)
    clock.now += 31
    assert store.getAssociation(SERVER) is None


def test_a_worker_forgets_the_association_it_removes(store):
    store.storeAssociation(SERVER, association())
    assert store.getAssociation(SERVER) == association()
    store.removeAssociation(SERVER, HANDLE)
    assert store.getAssociation(SERVER) is None


def test_a_nonce_is_accepted_once(store, clock):
    timestamp = int(clock.now)
    assert store.useNonce(SERVER, timestamp, "salt01") is True
    assert store.useNonce(SERVER, timestamp, "salt01") is False
    assert store.useNonce(SERVER, timestamp, "salt02") is True
    assert store.useNonce("https://other.example/", timestamp, "salt01") is True


def test_a_replayed_nonce_is_refused_by_another_worker(database_url, engine, clock):
    other_worker = create_database_engine(database_url)
    try:
        first = SqlOpenIdStore(engine, now=clock)
        second = SqlOpenIdStore(other_worker, now=clock)
        assert first.useNonce(SERVER, int(clock.now), "salt01") is True
        assert second.useNonce(SERVER, int(clock.now), "salt01") is False
    finally:
        other_worker.dispose()


def test_a_nonce_outside_the_allowed_skew_is_refused(store, clock):
    assert store.useNonce(SERVER, int(clock.now) - 3601, "old") is False
    assert store.useNonce(SERVER, int(clock.now) + 3601, "future") is False
    assert store.useNonce(SERVER, int(clock.now) - 3500, "recent") is True


def test_nonces_older_than_the_skew_are_cleaned_up(store, clock):
    store.useNonce(SERVER, int(clock.now) - 3000, "a")
    store.useNonce(SERVER, int(clock.now), "b")
    clock.now += 1000
    assert store.cleanupNonces() == 1
    assert store.useNonce(SERVER, int(clock.now) - 1000, "b") is False


def test_the_store_works_with_the_real_clock(engine):
    store = SqlOpenIdStore(engine)
    assert store.useNonce(SERVER, int(time.time()), "now") is True


def test_a_nonce_salt_may_be_255_characters_long(store, clock):
    salt = "s" * 255
    assert store.useNonce("https://op.example/", int(clock()), salt)
    assert not store.useNonce("https://op.example/", int(clock()), salt)


def test_a_sweep_removes_at_most_its_batch_of_old_nonces_and_expired_associations(
    store, clock, engine
):
    for n in range(5):
        assert store.useNonce("https://op.example/", int(clock()), f"salt-{n}")
        store.storeAssociation("https://op.example/", association(f"h{n}", int(clock()), 60))
    clock.now += 4 * 3600  # nonces past the skew, associations past their lifetime
    assert store.sweep(limit=3) == 6
    assert store.sweep(limit=3) == 4
    assert store.sweep(limit=3) == 0
