"""The yardstick for the index page: plain Flask-Login and SQLAlchemy, the user loaded by its
primary key from a signed cookie, the same template. No revocable sessions, no OpenID."""

import os
from pathlib import Path

from flask import Blueprint, Flask, redirect, render_template, session
from flask_login import LoginManager, current_user, login_required, login_user
from flask_wtf.csrf import CSRFProtect, generate_csrf
from sqlalchemy import select

from adapters.sql.engine import create_database_engine
from adapters.sql.tables import posts, users
from entrypoints.web.i18n import set_up_languages

WEB = Path(__file__).resolve().parents[1] / "src" / "entrypoints" / "web"


class BaselineUser:
    is_authenticated, is_active, is_anonymous = True, True, False

    def __init__(self, row):
        self.id, self.nickname, self.language = row.id, row.nickname, row.language

    def get_id(self):
        return str(self.id)


def create_baseline_app():
    app = Flask(
        __name__,
        template_folder=str(WEB / "templates"),
        static_folder=str(WEB / "static"),
    )
    app.config["SECRET_KEY"] = os.environ.get("MICROBLOG_SECRET_KEY", "baseline")
    engine = create_database_engine(os.environ["MICROBLOG_DATABASE_URL"])
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(WEB / "translations")
    CSRFProtect(app)
    set_up_languages(app)  # the template is in the reader's language, as the app's is
    manager = LoginManager(app)

    @manager.user_loader
    def load_user(user_id):
        with engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.id == int(user_id))).first()
        return BaselineUser(row) if row else None

    @app.context_processor
    def navigation():
        # Flask-WTF's own token in the language menu (the app keeps a memo of its own).
        menu_token = generate_csrf if "csrf_token" in session else lambda: None
        return {"signed_in": current_user.is_authenticated, "menu_csrf_token": menu_token}

    pages, auth = Blueprint("pages", __name__), Blueprint("auth", __name__)
    # The layout links these; the baseline only needs them to exist.
    account = Blueprint("account", __name__)
    languages = Blueprint("languages", __name__)

    @languages.post("/language")
    def choose():
        return redirect("/index")

    @account.get("/account")
    def page():
        return redirect("/index")

    @pages.get("/index")
    @login_required
    def index():
        statement = (
            select(posts)
            .where(posts.c.user_id == current_user.id)
            .order_by(posts.c.created_at.desc(), posts.c.id.desc())
            .limit(20)
        )
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
        return render_template("index.html", title="Home", posts=rows)

    @auth.get("/bench-login/<int:user_id>")
    def bench_login(user_id):
        login_user(load_user(user_id))
        return redirect("/index")

    @auth.post("/logout")
    def logout():
        return redirect("/index")

    @auth.post("/logout/everywhere")
    def logout_everywhere():
        return redirect("/index")

    app.register_blueprint(pages)
    app.register_blueprint(auth)
    app.register_blueprint(account)
    app.register_blueprint(languages)
    return app
