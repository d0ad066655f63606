"""The floor under a login on this stack: the tutorial's requests with only what Flask,
Flask-Login and python3-openid must do. No templates (fixed strings), no forms library, no
CSRF, no database (users in a dict), no audit, no metrics, no logs; python3-openid's memory
store and a dict for its per-login state, so one process only: `python -m bench.steps floor`
(or `all`) times it in process, the way it times the two real apps, and `make bench` serves
it with one gunicorn worker beside them, so that "how far under the tutorial can a login on
Flask and python3-openid go" has a figure. Not an app: nothing here is safe to deploy."""

import secrets
from typing import Any

from flask import Flask, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from openid.consumer.consumer import SUCCESS, Consumer
from openid.extensions import sreg
from openid.store.memstore import MemoryStore

app = Flask(__name__)
app.config["SECRET_KEY"] = "bench-floor-secret-key"
manager = LoginManager(app)
manager.login_view = "login"
store = MemoryStore()
logins_in_flight: dict[str, dict[str, Any]] = {}


class Person(UserMixin):  # type: ignore[misc]
    def __init__(self, number: int, nickname: str) -> None:
        self.id, self.nickname = number, nickname


people: dict[str, Person] = {}
by_number: dict[int, Person] = {}


@manager.user_loader
def load_person(number: str) -> Person | None:
    return by_number.get(int(number))


@app.get("/index")
@login_required
def index() -> str:
    return f"<h1>Hi, {current_user.nickname}!</h1><a href='/logout'>Logout</a>"


@app.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return '<form method="post"><input name="csrf_token" value="-"><input name="openid"></form>'
    key = secrets.token_urlsafe(16)
    logins_in_flight[key] = {}
    session["login"] = key
    begun = Consumer(logins_in_flight[key], store).begin(request.form["openid"])
    begun.addExtension(sreg.SRegRequest(required=["nickname", "email"]))
    return_to = url_for("came_back", _external=True)
    return redirect(begun.redirectURL(request.host_url, return_to))


@app.get("/came-back")
def came_back() -> ResponseReturnValue:
    answer = Consumer(logins_in_flight.pop(session.pop("login")), store).complete(
        request.args.to_dict(), request.base_url
    )
    if answer.status != SUCCESS:
        return "refused", 403
    person = people.get(answer.identity_url)
    if person is None:
        nickname = sreg.SRegResponse.fromSuccessResponse(answer).get("nickname", "someone")
        person = people[answer.identity_url] = Person(len(people) + 1, nickname)
        by_number[person.id] = person
    login_user(person)
    return redirect(url_for("index"))


@app.get("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("index"))
