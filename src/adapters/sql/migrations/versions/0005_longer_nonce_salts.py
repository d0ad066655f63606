"""nonce salts up to 255 characters: a provider chooses them

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("openid_nonces") as batch:
        batch.alter_column(
            "salt", existing_type=sa.String(40), type_=sa.String(255), existing_nullable=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM openid_nonces")  # short-lived; longer salts would not fit
    with op.batch_alter_table("openid_nonces") as batch:
        batch.alter_column(
            "salt", existing_type=sa.String(255), type_=sa.String(40), existing_nullable=False
        )
