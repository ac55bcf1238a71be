"""catalog full-text search index

Revision ID: 0002
Revises: 0001

The index holds jieba tokens (see cityhub.catalog.search), one document per dataset:
- SQLite: an FTS5 table whose rowid is the dataset id (rowid lookups are indexed, an
  UNINDEXED column is not); a trigger drops the entry with its dataset. A later migration
  that rebuilds `datasets` with batch_alter_table (copy and rename) loses that trigger on
  SQLite and must create it again.
- PostgreSQL: a weighted tsvector per dataset under a GIN index, cascading with its dataset.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # unicode61 splits on the spaces we put between jieba tokens and folds case/diacritics;
        # CJK characters are token characters to it, so a jieba word stays one token.
        op.execute(
            "CREATE VIRTUAL TABLE catalog_fts USING fts5("
            "name, tags, fields, summary, tokenize = 'unicode61')"
        )
        op.execute(
            "CREATE TRIGGER catalog_fts_dataset_deleted AFTER DELETE ON datasets "
            "BEGIN DELETE FROM catalog_fts WHERE rowid = old.id; END"
        )
    elif dialect == "postgresql":
        op.create_table(
            "catalog_search",
            sa.Column(
                "dataset_id",
                sa.Integer(),
                sa.ForeignKey("datasets.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("document", postgresql.TSVECTOR(), nullable=False),
            sa.Column(
                "indexed_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.now(),
            ),
        )
        op.create_index(
            "ix_catalog_search_document",
            "catalog_search",
            ["document"],
            postgresql_using="gin",
        )
    # Other dialects get no index; cityhub.catalog.search refuses them with a clear error.


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS catalog_fts_dataset_deleted")
        op.execute("DROP TABLE IF EXISTS catalog_fts")
    elif dialect == "postgresql":
        op.drop_index("ix_catalog_search_document", table_name="catalog_search")
        op.drop_table("catalog_search")
