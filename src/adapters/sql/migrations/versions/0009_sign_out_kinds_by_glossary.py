"""signing out and refusals in the glossary's words

Revision ID: 0009
Revises: 0008

The last audit kinds without a `<thing>.<what happened>` shape (docs/design.md, Glossary):
session.ended, account.signed_out_everywhere; and a refused sign-in's detail, the error's
name, says "SignIn" where it said "Login" (SignInCancelled...).
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

# a refused sign-in's detail (the error's name): old -> new
REFUSALS = {
    f"Login{name}": f"SignIn{name}"
    for name in ("Expired", "Refused", "Cancelled", "Mismatch", "Failed")
}

audit_events = sa.table(
    "audit_events", sa.column("kind", sa.String), sa.column("detail", sa.String)
)


def _rename(kinds: dict[str, str], refusals: dict[str, str]) -> None:
    for old, new in kinds.items():
        op.execute(audit_events.update().where(audit_events.c.kind == old).values(kind=new))
    refused = audit_events.c.kind == "sign_in.refused"
    for old, new in refusals.items():
        op.execute(
            audit_events.update().where(refused, audit_events.c.detail == old).values(detail=new)
        )


def upgrade() -> None:
    _rename(RENAMED, REFUSALS)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()}, {new: old for old, new in REFUSALS.items()})
