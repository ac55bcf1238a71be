"""The `cityhub` command: a thin layer over the library. Listing commands take --json."""

from cityhub.cli import access, audit, catalog, credential, data, demo, serve, setup
from cityhub.cli.common import app

__all__ = [
    "access",
    "app",
    "audit",
    "catalog",
    "credential",
    "data",
    "demo",
    "main",
    "serve",
    "setup",
]


def main() -> None:
    app()
