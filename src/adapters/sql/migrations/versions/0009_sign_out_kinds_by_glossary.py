"""signing out in the glossary's words: session.ended, account.signed_out_everywhere

Revision ID: 0009
Revises: 0008

The last audit kinds without a `<thing>.<what happened>` shape (docs/design.md, Glossary).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# old kind -> new kind
RENAMED = {
    "sign_out": "session.ended",
    "sign_out.everywhere": "account.signed_out_everywhere",
}

audit_events = sa.table("audit_events", sa.column("kind", sa.String))


def _rename(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(audit_events.update().where(audit_events.c.kind == old).values(kind=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
