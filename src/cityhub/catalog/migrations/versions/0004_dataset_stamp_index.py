"""an index on datasets.updated_at

Revision ID: 0004
Revises: 0003

The catalog's stamp (cityhub.catalog.cache), asked before every cached answer, reads the
latest `updated_at` of all datasets: with this index, the last entry of an index rather than a
scan of every dataset's row.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_datasets_updated_at", "datasets", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_datasets_updated_at", table_name="datasets")
