"""identities.handle, pending_links.handle: what a provider called an identity

Revision ID: 0011
Revises: 0010

A GitHub identity's subject is its numeric id; the account page shows its login, which its
owner may rename, so each sign-in records it; a waiting identity keeps it for the page that
asks to connect it. Existing identities have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("handle", sa.String(255), nullable=True))
    with op.batch_alter_table("pending_links") as batch:
        batch.add_column(sa.Column("handle", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_links") as batch:
        batch.drop_column("handle")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("handle")
