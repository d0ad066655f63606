from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from domain.use_cases import recent_posts
from entrypoints.deps import container

bp = Blueprint("pages", __name__)


@bp.get("/")
@bp.get("/index")
@login_required
def index() -> ResponseReturnValue:
    posts = recent_posts(current_user.id, uow=container().unit_of_work())
    return render_template("index.html", title="Home", posts=posts)
