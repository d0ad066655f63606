from flask_login import UserMixin

from domain.model import User


class SessionUser(UserMixin):  # type: ignore[misc]
    """Flask-Login's view of a signed-in browser: its id is the revocable session token."""

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self.token = token

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def nickname(self) -> str:
        return self.user.nickname

    @property
    def language(self) -> str | None:
        return self.user.language

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        return self.token
