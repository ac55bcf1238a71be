"""Metadata DB models: department → dataset (信息资源) → field (信息项), syncs and schema changes.

Portable across SQLite and PostgreSQL; the schema itself is owned by the Alembic migrations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[Any]: JSON,
    }


class Department(Base):
    """A provider (委办局 or enterprise); maps to a CKAN organization."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="government")
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    datasets: Mapped[list[Dataset]] = relationship(back_populates="department")


class Dataset(Base):
    """An information resource (信息资源) with its national catalog metadata (STANDARDS.md §1)."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # 资源代码
    name: Mapped[str] = mapped_column(String(300))  # 资源名称
    name_en: Mapped[str | None] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)  # 资源摘要
    summary_en: Mapped[str | None] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    classification: Mapped[str | None] = mapped_column(String(32))  # 资源分类: 类/项/目/细目
    format: Mapped[str | None] = mapped_column(String(64))  # 资源格式
    share_type: Mapped[str] = mapped_column(String(32), default="conditional")
    share_condition: Mapped[str | None] = mapped_column(Text)
    share_method: Mapped[str | None] = mapped_column(String(200))
    open_type: Mapped[str] = mapped_column(String(32), default="not_open")
    open_condition: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)  # required for 不予共享 / 不予开放
    data_level: Mapped[str] = mapped_column(String(16), default="general")
    update_cycle: Mapped[str | None] = mapped_column(String(32))
    publish_date: Mapped[date | None] = mapped_column(Date)
    related_codes: Mapped[list[str]] = mapped_column(default=list)
    themes: Mapped[list[str]] = mapped_column(default=list)
    tags: Mapped[list[str]] = mapped_column(default=list)
    key_fields: Mapped[list[str]] = mapped_column(default=list)  # upsert and lookup keys
    current_version: Mapped[int | None] = mapped_column(Integer)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(  # indexed for the catalog's stamp
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True
    )

    department: Mapped[Department] = relationship(back_populates="datasets")
    fields: Mapped[list[FieldInfo]] = relationship(
        back_populates="dataset", order_by="FieldInfo.position", cascade="all, delete-orphan"
    )

    @property
    def connected(self) -> bool:
        """Has data in the lake (the seed's 'connected' as opposed to merely 'cataloged')."""
        return self.current_version is not None


class FieldInfo(Base):
    """An information item (信息项): one column of a dataset, with its profile and grade."""

    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))  # machine name, stable across syncs
    title: Mapped[str] = mapped_column(String(300))  # the source's own (often Chinese) name
    description: Mapped[str | None] = mapped_column(Text)
    data_type: Mapped[str] = mapped_column(String(32), default="string")
    semantic_type: Mapped[str | None] = mapped_column(String(64))
    grade: Mapped[str] = mapped_column(String(8), default="L1")  # effective grade
    grade_override: Mapped[str | None] = mapped_column(String(8))  # a steward's decision
    # a steward's masking rule for this field, overriding its semantic type's (access.masking)
    masking: Mapped[str | None] = mapped_column(String(32))
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    present: Mapped[bool] = mapped_column(Boolean, default=True)  # False once dropped by a sync
    added_version: Mapped[int | None] = mapped_column(Integer)

    dataset: Mapped[Dataset] = relationship(back_populates="fields")


class SyncRun(Base):
    """One attempt to load a source into a dataset, successful or not."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="running")
    mode: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str | None] = mapped_column(String(80))
    source_bytes: Mapped[int | None] = mapped_column(BigInteger)
    operator: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    table_rows: Mapped[int | None] = mapped_column(BigInteger)  # rows at the new version
    version: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[str]] = mapped_column(default=list)


class SchemaChange(Base):
    """Drift between two syncs: a field added, removed, renamed or retyped."""

    __tablename__ = "schema_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    sync_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # added / removed / renamed / retyped
    field: Mapped[str] = mapped_column(String(300))
    old: Mapped[str | None] = mapped_column(String(300))
    new: Mapped[str | None] = mapped_column(String(300))
    breaking: Mapped[bool] = mapped_column(Boolean, default=False)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@event.listens_for(Session, "before_flush")
def _touch_datasets(session: Session, _context: Any, _instances: Any) -> None:
    """A change to a field is a change to its dataset: move the dataset's `updated_at`, which
    readers (the access door's cache) watch to know their copy is stale."""
    now = utcnow()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, FieldInfo):
            continue
        ds = obj.dataset if obj.dataset is not None else session.get(Dataset, obj.dataset_id)
        if ds is not None and ds not in session.new and ds not in session.deleted:
            ds.updated_at = now
