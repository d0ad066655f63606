from typing import cast

from flask import current_app

from entrypoints.container import Container


def container() -> Container:
    """The running app's composition root (set by create_app)."""
    return cast(Container, current_app.extensions["container"])
