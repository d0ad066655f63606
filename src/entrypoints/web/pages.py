from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from entrypoints.web.deps import container

bp = Blueprint("pages", __name__)


@bp.get("/")
@bp.get("/index")
@login_required
def index() -> ResponseReturnValue:
    posts = container().timeline().recent_posts(current_user.id)
    return render_template("index.html", title="Home", posts=posts)
