"""What every command shares: the Typer apps, consoles, JSON output and error handling."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from cityhub.config import load_settings
from cityhub.errors import CityhubError
from cityhub.hub import Hub

app = typer.Typer(
    help="cityhub: the city's big data center (城市大数据中心)",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The metadata database", no_args_is_help=True)
dept_app = typer.Typer(help="Departments (委办局)", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets (信息资源) in the catalog", no_args_is_help=True)
field_app = typer.Typer(help="Fields (信息项)", no_args_is_help=True)
catalog_app = typer.Typer(help="Browse and search the catalog", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (dept_app, "department"),
    (dataset_app, "dataset"),
    (field_app, "field"),
    (catalog_app, "catalog"),
):
    app.add_typer(sub, name=name)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False, indent=2) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


def command(group: typer.Typer, name: str | None = None) -> Callable[[F], F]:
    """Register a command whose cityhub errors end as a one-line message and exit code 2."""

    def register(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except CityhubError as exc:
                err.print(f"[red]error:[/] {exc.message}")
                raise typer.Exit(2) from exc

        group.command(name)(run)
        return fn

    return register


def open_hub() -> Hub:
    return Hub.open(load_settings())
