"""The bench's yardstick apps still serve the page they are measured on: the baseline renders
the app's own templates, so a template change can break it."""

from datetime import UTC, datetime

from sqlalchemy import insert

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import upgrade_database
from adapters.sql.tables import posts, users
from bench.baseline_app import (
    create_baseline_app,
    create_page_floor_app,
    create_template_floor_app,
)


def test_the_baseline_serves_a_signed_in_index_with_its_posts(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'baseline.db'}"
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
    client = create_baseline_app().test_client()
    client.get("/bench-login/1")
    page = client.get("/index", headers={"Accept-Language": "de"})
    assert page.status_code == 200
    assert "Hallo, ann!" in page.get_data(as_text=True)  # in the reader's language, as ours
    assert "Hello there" in page.get_data(as_text=True)


def test_the_page_floor_serves_the_same_page_without_a_database():
    client = create_page_floor_app().test_client()
    client.get("/bench-login/1")
    page = client.get("/index", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Hallo, reader!" in page and 'name="csrf_token"' in page


def test_the_template_floor_serves_the_same_page_to_nobody_in_particular():
    client = create_template_floor_app().test_client()
    page = client.get("/index", headers={"Accept-Language": "de"})
    text = page.get_data(as_text=True)
    assert "Hallo, reader!" in text and 'name="csrf_token"' in text
    assert "Set-Cookie" not in page.headers, "no session"
