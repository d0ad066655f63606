"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_transactions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("next_url", sa.String(length=2048), nullable=True),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("provider_state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_transactions")),
    )
    op.create_index(op.f("ix_login_transactions_expires_at"), "login_transactions", ["expires_at"])

    op.create_table(
        "openid_associations",
        sa.Column("server_url", sa.String(length=2048), nullable=False),
        sa.Column("handle", sa.String(length=255), nullable=False),
        sa.Column("secret", sa.LargeBinary(length=128), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("lifetime", sa.Integer(), nullable=False),
        sa.Column("assoc_type", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("server_url", "handle", name=op.f("pk_openid_associations")),
    )
    op.create_index(op.f("ix_openid_associations_expires"), "openid_associations", ["expires"])

    op.create_table(
        "openid_nonces",
        sa.Column("server_url", sa.String(length=2048), nullable=False),
        sa.Column("timestamp", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("salt", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("server_url", "timestamp", "salt", name=op.f("pk_openid_nonces")),
    )
    op.create_index(op.f("ix_openid_nonces_timestamp"), "openid_nonces", ["timestamp"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nickname", sa.String(length=64), nullable=False),
        sa.Column("nickname_key", sa.String(length=256), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("nickname_key", name=op.f("uq_users_nickname_key")),
    )
    op.create_table(
        "identities",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("provider", "subject", name=op.f("pk_identities")),
    )
    op.create_index(op.f("ix_identities_user_id"), "identities", ["user_id"])

    op.create_table(
        "login_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_expires_at"), "login_sessions", ["expires_at"])
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"])

    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=140), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_posts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
    )
    op.create_index(op.f("ix_posts_created_at"), "posts", ["created_at"])
    op.create_index(op.f("ix_posts_user_id"), "posts", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_posts_user_id"), table_name="posts")
    op.drop_index(op.f("ix_posts_created_at"), table_name="posts")

    op.drop_table("posts")
    op.drop_index(op.f("ix_login_sessions_user_id"), table_name="login_sessions")
    op.drop_index(op.f("ix_login_sessions_expires_at"), table_name="login_sessions")

    op.drop_table("login_sessions")
    op.drop_index(op.f("ix_identities_user_id"), table_name="identities")

    op.drop_table("identities")
    op.drop_table("users")
    op.drop_index(op.f("ix_openid_nonces_timestamp"), table_name="openid_nonces")

    op.drop_table("openid_nonces")
    op.drop_index(op.f("ix_openid_associations_expires"), table_name="openid_associations")

    op.drop_table("openid_associations")
    op.drop_index(op.f("ix_login_transactions_expires_at"), table_name="login_transactions")

    op.drop_table("login_transactions")
