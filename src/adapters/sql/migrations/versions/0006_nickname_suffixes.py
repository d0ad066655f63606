"""nickname_suffixes: the last number handed out after each taken nickname

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty: the first time a nickname is taken again, the store counts what exists.
    op.create_table(
        "nickname_suffixes",
        sa.Column("base_key", sa.String(256), primary_key=True),
        sa.Column("last_suffix", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nickname_suffixes")
