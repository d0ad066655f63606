from typing import TYPE_CHECKING, cast

from flask import current_app

if TYPE_CHECKING:  # the container imports the web layer: only the type comes from it
    from entrypoints.container import Container


def container() -> "Container":
    """The running app's composition root (set by create_app)."""
    return cast("Container", current_app.extensions["container"])
