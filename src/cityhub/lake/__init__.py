"""Versioned table storage (Delta Lake): atomic versions, history, time travel, rollback."""

from cityhub.lake.table import Lake, Mode, VersionInfo

__all__ = ["Lake", "Mode", "VersionInfo"]
