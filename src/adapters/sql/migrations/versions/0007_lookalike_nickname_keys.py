"""nickname keys compare look-alikes: the UTS #39 skeleton of the case-folded form

Revision ID: 0007
Revises: 0006

Every user's nickname_key is computed anew with domain.nicknames.nickname_key, in the order
of the accounts' ids. Accounts keep their nicknames. Where two nicknames now share a key
("admin" and "\u0430dmin", Cyrillic a), the older account keeps the key; each later one gets
its key, cut to fit, followed by U+001F and its id: no nickname can hold U+001F (a control
character), so no lookup or new nickname ever reaches that key, and the unique constraint
holds. The same happens to a key too long for the column. Each such account is logged with
the id of the account that kept the key. The suffix counters are emptied: their keys
changed, and the store counts anew the first time a nickname is taken again.

Emails are not touched: they were stored lower-cased with str.lower(), and every stored
address is already in the form the new rule (ASCII lower-cased, non-ASCII local parts kept
as given) gives it, so recomputing would change nothing; which originals str.lower() merged
cannot be told from what was stored.
"""

import logging
import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from domain.nicknames import nickname_key

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
KEY_LENGTH = 256
SEPARATOR = "\x1f"
# Rows move through keys no nickname can have, so no step breaks the unique constraint.
MOVING = "\x1e"

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("nickname", sa.String),
    sa.column("nickname_key", sa.String),
)
_SET_KEY = (
    users.update()
    .where(users.c.id == sa.bindparam("user_id"))
    .values(nickname_key=sa.bindparam("key"))
)


def _old_key(nickname: str) -> str:
    return unicodedata.normalize("NFKC", nickname.casefold())


def _rekey(key_of: Callable[[str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.nickname).order_by(users.c.id)).all()
    if not rows:
        return
    connection.execute(_SET_KEY, [{"user_id": id_, "key": f"{MOVING}{id_}"} for id_, _ in rows])
    holders: dict[str, int] = {}
    new_keys = []
    for user_id, nickname in rows:
        key = key_of(nickname)
        holder = holders.get(key)
        if holder is None and len(key) <= KEY_LENGTH:
            holders[key] = user_id
        else:
            marker = f"{SEPARATOR}{user_id}"
            distinct = key[: KEY_LENGTH - len(marker)] + marker
            if holder is None:
                log.warning(
                    "user %s: the key of nickname %r is too long; kept under key %r",
                    user_id,
                    nickname,
                    distinct,
                )
            else:
                log.warning(
                    "user %s: nickname %r looks like the nickname of user %s; "
                    "both keep their nicknames, user %s under key %r",
                    user_id,
                    nickname,
                    holder,
                    user_id,
                    distinct,
                )
            key = distinct
        new_keys.append({"user_id": user_id, "key": key})
    connection.execute(_SET_KEY, new_keys)


def upgrade() -> None:
    _rekey(nickname_key)
    op.execute("DELETE FROM nickname_suffixes")


def downgrade() -> None:
    _rekey(_old_key)
    op.execute("DELETE FROM nickname_suffixes")
