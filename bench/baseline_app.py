"""Yardsticks for the index page, rendering the app's own templates in the reader's language:

- `create_baseline_app()`: plain Flask-Login and SQLAlchemy, the user loaded by its primary key
  from a signed cookie, its posts read. No revocable sessions, no OpenID.
- `create_page_floor_app()`: the floor under this page: Flask, Flask-Login (a fixed user from
  the signed cookie), Flask-Babel and Flask-WTF's CSRF rendering the same template, with no
  database at all. No app serving this page on these packages can cost less."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, redirect, render_template, session
from flask_login import LoginManager, current_user, login_required, login_user
from flask_wtf.csrf import CSRFProtect, generate_csrf
from sqlalchemy import select

from adapters.sql.engine import create_database_engine
from adapters.sql.tables import posts, users
from entrypoints.web.i18n import set_up_languages
from entrypoints.web.page_templates import PageTemplates

WEB = Path(__file__).resolve().parents[1] / "src" / "entrypoints" / "web"


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


def create_page_floor_app() -> Flask:
    return _template_app(lambda user_id: BaselineUser(int(user_id), "reader"), lambda _: [])


def _template_app(
    load_user: Callable[[str], BaselineUser | None], recent_posts: Callable[[int], list[Any]]
) -> Flask:
    app = Flask(__name__, template_folder=str(WEB / "templates"), static_folder=str(WEB / "static"))
    app.jinja_environment = PageTemplates  # compiled once per language, as the app's are
    app.config["SECRET_KEY"] = os.environ.get("MICROBLOG_SECRET_KEY", "baseline")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(WEB / "translations")
    CSRFProtect(app)
    set_up_languages(app)  # the template is in the reader's language, as the app's is
    LoginManager(app).user_loader(load_user)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        # Flask-WTF's own token in the language menu (the app keeps a memo of its own).
        menu_token = generate_csrf if "csrf_token" in session else lambda: None
        return {"signed_in": current_user.is_authenticated, "menu_csrf_token": menu_token}

    pages, auth = Blueprint("pages", __name__), Blueprint("auth", __name__)
    # The layout links these; the yardsticks only need them to exist.
    account, languages = Blueprint("account", __name__), Blueprint("languages", __name__)
    account.add_url_rule("/account", "page", lambda: redirect("/index"))
    languages.add_url_rule("/language", "choose", lambda: redirect("/index"), methods=["POST"])
    auth.add_url_rule("/logout", "logout", lambda: redirect("/index"), methods=["POST"])
    auth.add_url_rule(
        "/logout/everywhere", "logout_everywhere", lambda: redirect("/index"), methods=["POST"]
    )

    @pages.get("/index")
    @login_required
    def index() -> str:
        return render_template("index.html", title="Home", posts=recent_posts(current_user.id))

    @auth.get("/bench-login/<int:user_id>")
    def bench_login(user_id: int) -> Any:
        login_user(load_user(str(user_id)))
        return redirect("/index")

    for blueprint in (pages, auth, account, languages):
        app.register_blueprint(blueprint)
    return app
