from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from entrypoints.web.deps import container
from entrypoints.web.i18n import _

bp = Blueprint("pages", __name__)

# The index shows this many of the user's newest posts: a read that needs no rule.
INDEX_POSTS = 20


@bp.get("/")
@bp.get("/index")
@login_required
def index() -> ResponseReturnValue:
    posts = container().timelines().recent_by(current_user.id, INDEX_POSTS)
    return render_template("index.html", title=_("Home"), posts=posts)
