"""The `cityhub` command: a thin layer over the library. Listing commands take --json."""

from cityhub.cli import catalog, data, demo, serve, setup
from cityhub.cli.common import app

__all__ = ["app", "catalog", "data", "demo", "main", "serve", "setup"]


def main() -> None:
    app()
