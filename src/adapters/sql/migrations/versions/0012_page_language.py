"""each account may keep the language its person chose for pages

Revision ID: 0012
Revises: 0011

A nullable column: accounts made before it have no choice, and their pages follow the
browser's language as before. Undone, the accounts and everything that refers to them stay.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    # In place, not by batch: SQLite would copy and drop `users`, and dropping it deletes
    # every row that refers to it (ON DELETE CASCADE). SQLite has had DROP COLUMN since 3.35.
    op.drop_column("users", "language")
