"""The bench's yardstick apps still serve the page they are measured on: the baseline renders
the app's own templates, so a template change can break it."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import upgrade_database
from adapters.sql.stores import SqlSessions
from adapters.sql.tables import posts, users
from bench.baseline_app import (
    USER_ID_KEY,
    create_baseline_app,
    create_signed_in_floor_app,
    create_template_floor_app,
)
from domain.model import Session, SessionPolicy, hash_token
from entrypoints.web.session_cookies import SessionCookies

SECRET_KEY = "the-app-s-secret-key"
TOKEN = "a-session-token"


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """A database holding ann and her post, which the yardsticks read."""
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = create_database_engine(url)
    upgrade_database(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(users).values(
                id=1, nickname="ann", nickname_key="ann", active=True, created_at=now
            )
        )
        connection.execute(insert(posts).values(user_id=1, body="Hello there", created_at=now))
    monkeypatch.setenv("MICROBLOG_DATABASE_URL", url)
    monkeypatch.setenv("MICROBLOG_SECRET_KEY", SECRET_KEY)
    return engine


def test_the_baseline_serves_a_signed_in_index_with_its_posts(engine):
    client = create_baseline_app().test_client()
    client.get("/bench-login/1")
    page = client.get("/index", headers={"Accept-Language": "de"})
    assert page.status_code == 200
    assert "Hallo, ann!" in page.get_data(as_text=True)  # in the reader's language, as ours
    assert "Hello there" in page.get_data(as_text=True)


def test_the_signed_in_floor_reads_the_session_on_every_page(engine):
    """Signed in by this app's cookie, as the bench reads it; a session ended between two
    pages signs the next one out, so the floor does read the session each time."""
    sessions = SqlSessions(engine)
    sessions.add(Session.open(TOKEN, 1, False, datetime.now(UTC), SessionPolicy()))
    app = create_signed_in_floor_app()
    assert app.secret_key == SECRET_KEY, "the app's key, from the environment: its cookies"
    client = app.test_client()
    cookie = SessionCookies().get_signing_serializer(app).dumps({USER_ID_KEY: TOKEN})
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    page = client.get("/index", headers={"Accept-Language": "de"})
    text = page.get_data(as_text=True)
    assert "Hallo, ann!" in text and "Hello there" in text and 'name="csrf_token"' in text
    sessions.remove(hash_token(TOKEN))
    assert client.get("/index").status_code == 302


def test_the_template_floor_serves_the_same_page_to_nobody_in_particular():
    client = create_template_floor_app().test_client()
    page = client.get("/index", headers={"Accept-Language": "de"})
    text = page.get_data(as_text=True)
    assert "Hallo, reader!" in text and 'name="csrf_token"' in text
    assert "Set-Cookie" not in page.headers, "no session"
