"""each account may keep the language its person chose for pages

Revision ID: 0009_language
Revises: 0008

A nullable column: accounts made before it have no choice, and their pages follow the
browser's language as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_language"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
