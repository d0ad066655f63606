"""Part V of the Flask Mega-Tutorial ("User Logins") as written: Flask-OpenID 1.3.1 with its
file store, Flask-SQLAlchemy, Flask-WTF, Flask-Login; users looked up by email, `next`
honoured as the tutorial does (unchecked). The yardstick `make bench` compares logins and pages
with. Never serve it: it is the dated code the project replaces.

Only what today's libraries force differs from the chapter: one module instead of the `app`
package; Flask-Login's `is_authenticated`, `is_active` and `is_anonymous` are properties;
`WTF_CSRF_ENABLED` for `CSRF_ENABLED`; `FlaskForm` for `Form`; the database made at start
(by one worker at a time) instead of by `db_create.py`; settings from the environment instead
of `config.py`.
"""

import fcntl
import os
from pathlib import Path

from flask import Flask, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_openid import OpenID
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired

WORKDIR = Path(os.environ.get("TUTORIAL_WORKDIR", "tutorial-tmp")).absolute()

app = Flask(__name__, template_folder="tutorial_templates")
app.config.update(
    WTF_CSRF_ENABLED=True,
    SECRET_KEY=os.environ.get("MICROBLOG_SECRET_KEY", "you-will-never-guess"),
    SQLALCHEMY_DATABASE_URI=f"sqlite:///{WORKDIR / 'app.db'}",
    SQLALCHEMY_TRACK_MODIFICATIONS=False,
    OPENID_PROVIDERS=[
        {"name": "Google", "url": "https://www.google.com/accounts/o8/id"},
        {"name": "Yahoo", "url": "https://me.yahoo.com"},
        {"name": "AOL", "url": "http://openid.aol.com/<username>"},
        {"name": "Flickr", "url": "http://www.flickr.com/<username>"},
        {"name": "MyOpenID", "url": "https://www.myopenid.com"},
    ],
)
db = SQLAlchemy(app)
lm = LoginManager()
lm.init_app(app)
lm.login_view = "login"
oid = OpenID(app, str(WORKDIR / "tmp"))


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    nickname = db.Column(db.String(64), index=True, unique=True)
    email = db.Column(db.String(120), index=True, unique=True)
    posts = db.relationship("Post", backref="author", lazy="dynamic")

    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return str(self.id)

    def __repr__(self):
        return f"<User {self.nickname!r}>"


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.String(140))
    timestamp = db.Column(db.DateTime)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))


class LoginForm(FlaskForm):
    openid = StringField("openid", validators=[DataRequired()])
    remember_me = BooleanField("remember_me", default=False)


@lm.user_loader
def load_user(id):
    return db.session.get(User, int(id))


@app.before_request
def before_request():
    g.user = current_user


@app.route("/")
@app.route("/index")
@login_required
def index():
    user = g.user
    posts = [
        {"author": {"nickname": "John"}, "body": "Beautiful day in Portland!"},
        {"author": {"nickname": "Susan"}, "body": "The Avengers movie was so cool!"},
    ]
    return render_template("index.html", title="Home", user=user, posts=posts)


@app.route("/login", methods=["GET", "POST"])
@oid.loginhandler
def login():
    if g.user is not None and g.user.is_authenticated:
        return redirect(url_for("index"))
    form = LoginForm()
    if form.validate_on_submit():
        session["remember_me"] = form.remember_me.data
        return oid.try_login(form.openid.data, ask_for=["nickname", "email"])
    return render_template(
        "login.html", title="Sign In", form=form, providers=app.config["OPENID_PROVIDERS"]
    )


@oid.after_login
def after_login(resp):
    if resp.email is None or resp.email == "":
        flash("Invalid login. Please try again.")
        return redirect(url_for("login"))
    user = User.query.filter_by(email=resp.email).first()
    if user is None:
        nickname = resp.nickname
        if nickname is None or nickname == "":
            nickname = resp.email.split("@")[0]
        user = User(nickname=nickname, email=resp.email)
        db.session.add(user)
        db.session.commit()
    remember_me = False
    if "remember_me" in session:
        remember_me = session["remember_me"]
        session.pop("remember_me", None)
    login_user(user, remember=remember_me)
    return redirect(request.args.get("next") or url_for("index"))


@app.route("/logout")
def logout():
    logout_user()
    return redirect(url_for("index"))


(WORKDIR / "tmp").mkdir(parents=True, exist_ok=True)
# gunicorn's workers each import this module: one at a time, or two CREATE TABLEs race and
# the loser's worker fails to boot ("table post already exists").
with app.app_context(), (WORKDIR / "create.lock").open("w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    db.create_all()
