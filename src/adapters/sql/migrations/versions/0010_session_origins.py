"""sessions remember where they came from; logout notices acted on

Revision ID: 0010
Revises: 0009

The provider, identity, provider's session id and logout hint of each session, so that a
provider's logout can end it (OpenID Connect back-channel logout) and Logout can end the
sign-in at the provider; sessions from before have none and keep working.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("provider", sa.String(64), nullable=True))
        batch.add_column(sa.Column("namespace", sa.String(255), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("provider_session_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("logout_hint", sa.Text(), nullable=True))
        batch.create_index(
            op.f("ix_login_sessions_provider_provider_session_id"),
            ["provider", "provider_session_id"],
        )
        batch.create_index(op.f("ix_login_sessions_provider_subject"), ["provider", "subject"])
    op.create_table(
        "seen_logout_notices",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_seen_logout_notices")),
    )
    op.create_index(
        op.f("ix_seen_logout_notices_expires_at"), "seen_logout_notices", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_seen_logout_notices_expires_at"), table_name="seen_logout_notices")
    op.drop_table("seen_logout_notices")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_index(op.f("ix_login_sessions_provider_subject"))
        batch.drop_index(op.f("ix_login_sessions_provider_provider_session_id"))
        batch.drop_column("logout_hint")
        batch.drop_column("provider_session_id")
        batch.drop_column("subject")
        batch.drop_column("namespace")
        batch.drop_column("provider")
