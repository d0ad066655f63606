"""Yardsticks for the index page, rendering the app's own templates in the reader's language:

- `create_baseline_app()`: plain Flask-Login and SQLAlchemy, the user loaded by its primary key
  from a signed cookie, its posts read. No revocable sessions, no OpenID.
- `create_template_floor_app()`: the page's template alone, on Flask and Flask-Babel, for a
  fixed reader in the language of their browser: no session, no sign-in, no CSRF token made.
  What the page costs before anything tells who reads it.
- `create_signed_in_floor_app()`: the template floor, after the reads a page for someone
  signed in with a revocable session makes, as this app makes them: the token from its session
  cookie, then one read of the session and account and one of the posts (the domain's
  `current_user`, under the default session policy, on the SQL stores). No Flask-Login,
  CSRF token signing, rate limits, security headers, request ids or metrics."""

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from flask import Flask, redirect, render_template, request, session
from flask_login import LoginManager, current_user, login_required, login_user
from flask_wtf.csrf import CSRFProtect, generate_csrf
from sqlalchemy import select

from adapters.sql.engine import create_database_engine
from adapters.sql.stores import SqlSessions, SqlTimelines
from adapters.sql.tables import posts, users
from adapters.system import SystemClock
from domain.model import SessionPolicy
from domain.sessions import current_user as signed_in_user
from entrypoints.web.i18n import ENGLISH, best_match, set_up_languages
from entrypoints.web.page_templates import PageTemplates
from entrypoints.web.pages import INDEX_POSTS
from entrypoints.web.session_cookies import SessionCookies

WEB = Path(__file__).resolve().parents[1] / "src" / "entrypoints" / "web"
INDEX = "index.html"
# The pages the layout and the index page link to, besides the index itself, as the app has them.
LINKED = {
    "account.page": "/account",
    "languages.choose": "/language",
    "auth.logout": "/logout",
    "auth.logout_everywhere": "/logout/everywhere",
}
FIRST_READER_ID = 1
FIXED_TOKEN = "t" * 91  # as long as Flask-WTF's
USER_ID_KEY = "_user_id"  # where Flask-Login keeps the id it is given: this app's token


class BaselineUser:
    is_authenticated, is_active, is_anonymous = True, True, False

    def __init__(self, user_id: int, nickname: str, language: str | None = None) -> None:
        self.id, self.nickname, self.language = user_id, nickname, language

    def get_id(self) -> str:
        return str(self.id)


def create_baseline_app() -> Flask:
    engine = create_database_engine(os.environ["MICROBLOG_DATABASE_URL"])

    def load_user(user_id: str) -> BaselineUser | None:
        with engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.id == int(user_id))).first()
        return BaselineUser(row.id, row.nickname, row.language) if row else None

    def recent_posts(user_id: int) -> list[Any]:
        statement = (
            select(posts)
            .where(posts.c.user_id == user_id)
            .order_by(posts.c.created_at.desc(), posts.c.id.desc())
            .limit(20)
        )
        with engine.connect() as connection:
            return list(connection.execute(statement).all())

    return _template_app(load_user, recent_posts)


def create_template_floor_app() -> Flask:
    reader = BaselineUser(FIRST_READER_ID, "reader")
    app = _page_app(_browsers_language)

    @app.context_processor
    def a_fixed_reader() -> dict[str, Any]:
        return {"signed_in": True, "current_user": reader, "csrf_token": _fixed_token,
                "menu_csrf_token": _fixed_token}  # fmt: skip

    app.add_url_rule("/index", "pages.index", lambda: render_template(INDEX, **_page([])))
    return app


def create_signed_in_floor_app(
    database_url: str | None = None, secret_key: str | None = None
) -> Flask:
    """On this app's database and secret key (its cookies): the environment's unless given."""
    engine = create_database_engine(database_url or os.environ["MICROBLOG_DATABASE_URL"])
    sessions, timelines, clock = SqlSessions(engine), SqlTimelines(engine), SystemClock()
    app = _page_app(_browsers_language)
    app.config["SECRET_KEY"] = secret_key or os.environ["MICROBLOG_SECRET_KEY"]
    app.session_interface = SessionCookies()

    def index() -> Any:
        user = signed_in_user(
            session.get(USER_ID_KEY), sessions=sessions, clock=clock, policy=SessionPolicy()
        )
        if user is None:
            return redirect("/login")
        posts = timelines.recent_by(user.id, INDEX_POSTS)
        return render_template(INDEX, **_page(posts), signed_in=True, current_user=user,
                               csrf_token=_fixed_token, menu_csrf_token=_fixed_token)  # fmt: skip

    app.add_url_rule("/index", "pages.index", index)
    return app


def _template_app(
    load_user: Callable[[str], BaselineUser | None], recent_posts: Callable[[int], list[Any]]
) -> Flask:
    app = _page_app()
    app.config["SECRET_KEY"] = os.environ.get("MICROBLOG_SECRET_KEY", "baseline")
    CSRFProtect(app)
    LoginManager(app).user_loader(load_user)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        # Flask-WTF's own token in the language menu (the app keeps a memo of its own).
        menu_token = generate_csrf if "csrf_token" in session else lambda: None
        return {"signed_in": current_user.is_authenticated, "menu_csrf_token": menu_token}

    @login_required
    def index() -> str:
        return render_template(INDEX, **_page(recent_posts(current_user.id)))

    def bench_login(user_id: int) -> Any:
        login_user(load_user(str(user_id)))
        return redirect("/index")

    app.add_url_rule("/index", "pages.index", index)
    app.add_url_rule("/bench-login/<int:user_id>", "auth.bench_login", bench_login)
    return app


def _page_app(choose: Callable[[], Locale] | None = None) -> Flask:
    """Flask rendering the app's templates in the reader's language (`choose`, if given, picks
    it), with the endpoints the layout links to."""
    app = Flask(__name__, template_folder=str(WEB / "templates"), static_folder=str(WEB / "static"))
    app.jinja_environment = PageTemplates  # compiled once per language, as the app's are
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(WEB / "translations")
    if choose is None:
        set_up_languages(app)
    else:
        set_up_languages(app, choose)
    for endpoint, path in LINKED.items():  # the yardsticks only need them to exist
        app.add_url_rule(path, endpoint, lambda: redirect("/index"), methods=["GET", "POST"])
    return app


def _fixed_token() -> str:
    return FIXED_TOKEN


def _browsers_language() -> Locale:
    return _locale(best_match(request.headers.get("Accept-Language")) or ENGLISH)


@lru_cache(maxsize=8)  # a Locale made once per language, as the app's are
def _locale(key: str) -> Locale:
    return Locale.parse(key)


def _page(posts: list[Any]) -> dict[str, Any]:
    return {"title": "Home", "posts": posts}
