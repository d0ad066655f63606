"""The index page reads the user's posts from the `Timelines` port: a read that needs no rule
(moved from a unit test of `Timeline`, the forwarding service that is gone)."""

from datetime import UTC, datetime, timedelta

import pytest
from dependency_injector import providers

from domain.model import Post
from tests.entrypoints.conftest import log_in
from tests.fakes import FakeTimelines


def test_the_index_shows_a_users_twenty_newest_posts_as_the_store_gives_them(app, client):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    posts = [Post(n, 7, f"post {n}", start - timedelta(minutes=n)) for n in range(25)]
    timelines = FakeTimelines(posts)
    log_in(client)
    container = app.extensions["container"]
    with container.unit_of_work() as uow:
        [user] = uow.users.list()
    with container.timelines.override(providers.Object(timelines)):
        page = client.get("/").get_data(as_text=True)
    assert timelines.asked == [(user.id, 20)]
    shown = [post for post in posts if f"post {post.id}<" in page]
    assert shown == posts[:20]


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_posts_author_is_bold_and_what_they_wrote_is_escaped(app, client, language):
    client.set_cookie("language", language)
    log_in(client, nickname="mallory")
    post = Post(1, 7, "<script>alert(1)</script> & more", datetime(2026, 1, 1, tzinfo=UTC))
    with app.extensions["container"].timelines.override(providers.Object(FakeTimelines([post]))):
        page = client.get("/").get_data(as_text=True)
    assert "<b>mallory</b>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page and "<script>" not in page
