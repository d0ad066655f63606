"""identities keyed by (namespace, subject); parked provider answers

Revision ID: 0002
Revises: 0001

Identities were keyed by the configured provider's key, so one OpenID claimed identifier
reached through two buttons made two accounts. Every identity so far is OpenID 2.0: its
namespace becomes "openid". Where one claimed identifier belonged to several accounts, the
oldest account keeps it; the others keep theirs under "legacy:<provider key>", which no login
reaches, so nothing is deleted and an operator can see what happened.
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
LEGACY_PREFIX = "legacy:"
# Rows move through a name no row has yet, so no step of the renaming breaks the primary key.
MOVING_PREFIX = "moving:"

identities = sa.table(
    "identities",
    sa.column("provider", sa.String),
    sa.column("subject", sa.String),
    sa.column("user_id", sa.Integer),
)


def upgrade() -> None:
    _set_namespaces()
    with op.batch_alter_table("identities") as batch:
        batch.alter_column(
            "provider",
            new_column_name="namespace",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
    op.create_table(
        "parked_callbacks",
        sa.Column("handle", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("handle", name=op.f("pk_parked_callbacks")),
    )
    op.create_index(op.f("ix_parked_callbacks_expires_at"), "parked_callbacks", ["expires_at"])


def _set_namespaces() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(identities.c.provider, identities.c.subject, identities.c.user_id).order_by(
            identities.c.subject, identities.c.user_id
        )
    ).all()
    connection.execute(
        identities.update().values(provider=sa.literal(MOVING_PREFIX) + identities.c.provider)
    )
    kept_subjects: set[str] = set()
    for provider, subject, user_id in rows:
        if subject in kept_subjects:
            namespace = f"{LEGACY_PREFIX}{provider}"
            log.warning(
                "identity %s of user %s also belongs to an older account: kept as %s",
                subject,
                user_id,
                namespace,
            )
        else:
            namespace = "openid"
            kept_subjects.add(subject)
        connection.execute(
            identities.update()
            .where(
                identities.c.provider == MOVING_PREFIX + provider, identities.c.subject == subject
            )
            .values(provider=namespace)
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_parked_callbacks_expires_at"), table_name="parked_callbacks")
    op.drop_table("parked_callbacks")
    namespaced = sa.table("identities", sa.column("namespace", sa.String))
    op.get_bind().execute(
        namespaced.update()
        .where(namespaced.c.namespace.startswith(LEGACY_PREFIX))
        .values(namespace=sa.func.substr(namespaced.c.namespace, len(LEGACY_PREFIX) + 1))
    )
    with op.batch_alter_table("identities") as batch:
        batch.alter_column(
            "namespace",
            new_column_name="provider",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
