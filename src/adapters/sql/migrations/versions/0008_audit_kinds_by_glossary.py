"""audit event kinds in the glossary's words: <thing>.<what happened>

Revision ID: 0008
Revises: 0007

Stored audit events keep what happened; only their kind is renamed, both ways: a linked
identity's events say "identity", an account's say "account" (docs/design.md, Glossary).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# old kind -> new kind
RENAMED = {
    "login.pending": "identity.waiting",
    "login.joined": "identity.confirmed",
    "login.discarded": "identity.discarded",
    "login.connected": "identity.connected",
    "login.disconnected": "identity.disconnected",
    "user.disabled": "account.disabled",
    "user.enabled": "account.enabled",
}

audit_events = sa.table("audit_events", sa.column("kind", sa.String))


def _rename(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(audit_events.update().where(audit_events.c.kind == old).values(kind=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
