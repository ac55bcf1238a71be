"""Source credentials: set, list, delete, and make a key. A value is never printed."""

from __future__ import annotations

import os
from typing import Annotated, cast

import typer
from pydantic import SecretStr
from rich.markup import escape

from cityhub.access import secrets
from cityhub.cli.common import JsonOpt, app, command, err, open_hub, out, print_json, table
from cityhub.config import load_settings
from cityhub.errors import InvalidInput

credential_app = typer.Typer(
    help="Source credentials, stored encrypted (加密存储)", no_args_is_help=True
)
app.add_typer(credential_app, name="credential")


@command(credential_app, "set")
def credential_set(
    name: Annotated[str, typer.Argument(help="e.g. ga-oracle (what a source's config names)")],
    note: Annotated[str | None, typer.Option(help="What it is for; kept when omitted")] = None,
    from_env: Annotated[
        str | None,
        typer.Option(help="Read the value from this environment variable instead of a prompt"),
    ] = None,
) -> None:
    """Store (or replace) a credential, encrypted with CITYHUB_SECRET_KEY. The value is asked
    for twice without echo, or read from --from-env for scripts; it is never an argument, which
    would land in the shell's history and the process list."""
    hub = open_hub()
    vault = secrets.Vault.from_settings(hub.settings)  # before asking: a missing key fails now
    if from_env is not None:
        value = os.environ.get(from_env, "")
        if not value:
            raise InvalidInput(f"the environment variable {from_env} is not set or is empty")
    else:
        value = typer.prompt("Value", hide_input=True, confirmation_prompt=True)
    secret = SecretStr(value)
    with hub.db.session() as s:
        info = secrets.store(s, vault, name, secret, note=note)
    out.print(f"credential {escape(info.name)} stored ({info.algorithm})")


@command(credential_app, "list")
def credential_list(as_json: JsonOpt = False) -> None:
    """Every credential's name, cipher, note and last change; never the value."""
    with open_hub().db.session() as s:
        rows = [info._asdict() for info in secrets.names(s)]
    if as_json:
        return print_json(rows)
    table(
        "source credentials",
        ["name", "cipher", "note", "updated"],
        [[r["name"], r["algorithm"], r["note"], f"{r['updated_at']:%Y-%m-%d %H:%M}"] for r in rows],
    )


@command(credential_app, "delete")
def credential_delete(name: str) -> None:
    """Remove a credential."""
    with open_hub().db.session() as s:
        secrets.delete(s, name)
    out.print(f"credential {escape(name)} deleted")


@command(credential_app, "new-key")
def credential_new_key(
    cipher: Annotated[
        str | None,
        typer.Option(help="aes-gcm (32 bytes) or sm4-gcm (16 bytes); default the configured one"),
    ] = None,
) -> None:
    """Print a fresh random key (base64) for CITYHUB_SECRET_KEY. Keep it outside the metadata
    DB and its backups: without it the stored credentials cannot be read, with it they can."""
    chosen = cipher or load_settings().credential_cipher
    if chosen not in secrets.KEY_BYTES:
        raise InvalidInput(f"unknown cipher {chosen!r}; use one of {', '.join(secrets.CIPHERS)}")
    key = secrets.Vault.new_key(cast(secrets.CipherName, chosen))
    # The key alone on stdout, so `export CITYHUB_SECRET_KEY=$(cityhub credential new-key)` works.
    typer.echo(key)
    err.print(
        f"a {chosen} key: set it as CITYHUB_SECRET_KEY (and CITYHUB_CREDENTIAL_CIPHER={chosen})"
    )
