"""Gathering (汇聚): files into versioned datasets, with rejects kept and the catalog updated."""

from cityhub.ingest.manifest import Job, Manifest, apply_catalog, is_manifest, load_manifest
from cityhub.ingest.sync import Progress, SyncOptions, SyncResult, rollback_dataset, sync_file
from cityhub.ingest.versions import Version, history

__all__ = [
    "Job",
    "Manifest",
    "Progress",
    "SyncOptions",
    "SyncResult",
    "Version",
    "apply_catalog",
    "history",
    "is_manifest",
    "load_manifest",
    "rollback_dataset",
    "sync_file",
]
