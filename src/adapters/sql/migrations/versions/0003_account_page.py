"""what the account page shows and does: identities' provider and times, sessions' devices,
logins that connect, pending links

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("provider", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("user_agent", sa.String(512), nullable=True))
        batch.add_column(sa.Column("client_address", sa.String(64), nullable=True))
    with op.batch_alter_table("login_transactions") as batch:
        batch.add_column(sa.Column("connect_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_login_transactions_connect_user_id_users"),
            "users",
            ["connect_user_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_table(
        "pending_links",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(2048), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_pending_links_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_links")),
    )
    op.create_index(op.f("ix_pending_links_expires_at"), "pending_links", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_links_expires_at"), table_name="pending_links")
    op.drop_table("pending_links")
    with op.batch_alter_table("login_transactions") as batch:
        batch.drop_constraint(op.f("fk_login_transactions_connect_user_id_users"), "foreignkey")
        batch.drop_column("connect_user_id")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_column("client_address")
        batch.drop_column("user_agent")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("created_at")
        batch.drop_column("provider")
