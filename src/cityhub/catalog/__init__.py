"""The catalog (编目): departments, datasets and fields with national-standard metadata,
profiles, semantic types, grades and Chinese full-text search."""

from cityhub.catalog.cache import CatalogCache
from cityhub.catalog.db import Database
from cityhub.catalog.models import Dataset, Department, FieldInfo, SchemaChange, SyncRun
from cityhub.catalog.search import SearchHit, SearchResult, search
from cityhub.catalog.service import Stats, stats

__all__ = [
    "CatalogCache",
    "Database",
    "Dataset",
    "Department",
    "FieldInfo",
    "SchemaChange",
    "SearchHit",
    "SearchResult",
    "Stats",
    "SyncRun",
    "search",
    "stats",
]
