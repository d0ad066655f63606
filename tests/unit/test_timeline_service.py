"""The index page's service, `Timeline`, through the fakes."""

from datetime import UTC, datetime, timedelta

from domain.model import Post
from domain.services import Timeline
from tests.fakes import FakeTimelines


def test_the_timeline_shows_a_users_twenty_newest_posts_as_the_store_gives_them():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    posts = [Post(n, 7, f"post {n}", start - timedelta(minutes=n)) for n in range(25)]
    timelines = FakeTimelines(posts)
    shown = Timeline(timelines=timelines).recent_posts(7)
    assert timelines.asked == [(7, 20)]
    assert list(shown) == posts[:20]
