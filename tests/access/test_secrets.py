"""Source credentials: sealed with AES-256-GCM or SM4-GCM, bound to their name, never shown."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

import cityhub.cli.credential  # noqa: F401  (registers `cityhub credential`)
from cityhub.access import secrets
from cityhub.access.models import SourceCredential
from cityhub.access.secrets import Vault
from cityhub.catalog.db import Database
from cityhub.cli.common import app
from cityhub.config import Settings
from cityhub.errors import InvalidInput, NotFound

SECRET = "Pa55-w0rd_ÜÖ-口令-7f3a9c"
CIPHERS: list[secrets.CipherName] = ["aes-gcm", "sm4-gcm"]


def vault(cipher: secrets.CipherName) -> Vault:
    return Vault(os.urandom(secrets.KEY_BYTES[cipher]), cipher)


def row(db: Database, name: str) -> SourceCredential:
    with db.session() as s:
        found = s.scalars(select(SourceCredential).where(SourceCredential.name == name)).one()
        s.expunge(found)
    return found


def set_row(db: Database, name: str, **values: bytes) -> None:
    with db.session() as s:
        found = s.scalars(select(SourceCredential).where(SourceCredential.name == name)).one()
        for attr, value in values.items():
            setattr(found, attr, value)


# -- the vault alone ------------------------------------------------------------------------------
@pytest.mark.parametrize("cipher", CIPHERS)
def test_seal_and_open(cipher: secrets.CipherName) -> None:
    v = vault(cipher)
    nonce, sealed = v.seal("ga-oracle", SecretStr(SECRET))
    assert len(nonce) == 12
    assert len(sealed) == len(SECRET.encode()) + 16  # the tag
    assert v.open("ga-oracle", cipher, nonce, sealed).get_secret_value() == SECRET
    again, _ = v.seal("ga-oracle", SECRET)
    assert again != nonce  # a fresh nonce each time


def test_the_ciphers_differ_and_do_not_open_each_other() -> None:
    aes, sm4 = vault("aes-gcm"), vault("sm4-gcm")
    nonce, sealed = sm4.seal("x", SECRET)
    with pytest.raises(InvalidInput, match="stored with sm4-gcm"):
        aes.open("x", "sm4-gcm", nonce, sealed)


def test_vault_keys_must_fit_the_cipher() -> None:
    with pytest.raises(InvalidInput, match="aes-gcm needs 32"):
        Vault(os.urandom(16), "aes-gcm")
    with pytest.raises(InvalidInput, match="sm4-gcm needs 16"):
        Vault(os.urandom(32), "sm4-gcm")


def test_the_key_is_never_shown() -> None:
    key = os.urandom(32)
    v = Vault(key, "aes-gcm")
    assert "**********" in repr(v)
    for form in (key.hex(), base64.b64encode(key).decode(), repr(key)):
        assert form not in repr(v) and form not in str(v)


@pytest.mark.parametrize("cipher", CIPHERS)
def test_from_settings(cipher: secrets.CipherName) -> None:
    key = Vault.new_key(cipher)
    assert len(base64.b64decode(key)) == secrets.KEY_BYTES[cipher]
    v = Vault.from_settings(Settings(secret_key=SecretStr(key), credential_cipher=cipher))
    assert v.cipher == cipher
    nonce, sealed = v.seal("n", SECRET)
    again = Vault.from_settings(Settings(secret_key=SecretStr(key), credential_cipher=cipher))
    assert again.open("n", cipher, nonce, sealed).get_secret_value() == SECRET


def test_from_settings_says_what_is_wrong() -> None:
    with pytest.raises(InvalidInput) as missing:
        Vault.from_settings(Settings(secret_key=None))
    assert missing.value.message == (
        "no secret key: set CITYHUB_SECRET_KEY to a base64 key of 32 bytes (aes-gcm) or 16 "
        "bytes (sm4-gcm), e.g. from `cityhub credential new-key`"
    )
    with pytest.raises(InvalidInput, match="not valid base64") as garbled:
        Vault.from_settings(Settings(secret_key=SecretStr("not base64 at all!")))
    assert "not base64 at all" not in str(garbled.value)
    short = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(InvalidInput, match="decodes to 16 bytes; aes-gcm needs 32") as wrong:
        Vault.from_settings(Settings(secret_key=SecretStr(short), credential_cipher="aes-gcm"))
    assert short not in str(wrong.value)


# -- stored in the metadata DB (SQLite and PostgreSQL) ---------------------------------------------
@pytest.mark.parametrize("cipher", CIPHERS)
def test_store_and_reveal(db: Database, cipher: secrets.CipherName) -> None:
    v = vault(cipher)
    with db.session() as s:
        info = secrets.store(s, v, "ga-oracle", SecretStr(SECRET), note="公安 Oracle")
    assert (info.name, info.algorithm, info.note) == ("ga-oracle", cipher, "公安 Oracle")
    with db.session() as s:
        assert secrets.reveal(s, v, "ga-oracle") == SECRET
    stored = row(db, "ga-oracle")
    assert stored.algorithm == cipher
    for text in (SECRET.encode(), SECRET.encode("utf-16-le"), SECRET[:8].encode()):
        assert text not in stored.ciphertext and text not in stored.nonce


def test_replace_list_and_delete(db: Database) -> None:
    v = vault("aes-gcm")
    with db.session() as s:
        secrets.store(s, v, "b-api", "first", note="the traffic API")
        secrets.store(s, v, "a-db", "other")
    with db.session() as s:
        secrets.store(s, v, "b-api", "second")  # a rotation: the note stays
        assert secrets.reveal(s, v, "b-api") == "second"
        listed = secrets.names(s)
    assert [(i.name, i.algorithm, i.note) for i in listed] == [
        ("a-db", "aes-gcm", None),
        ("b-api", "aes-gcm", "the traffic API"),
    ]
    assert all(i.updated_at is not None for i in listed)
    with db.session() as s:
        secrets.delete(s, "b-api")
        assert [i.name for i in secrets.names(s)] == ["a-db"]
        with pytest.raises(NotFound, match="no credential b-api"):
            secrets.reveal(s, v, "b-api")
        with pytest.raises(NotFound):
            secrets.delete(s, "b-api")


def test_empty_names_and_values_are_refused(db: Database) -> None:
    v = vault("aes-gcm")
    with db.session() as s:
        with pytest.raises(InvalidInput):
            secrets.store(s, v, "  ", SECRET)
        with pytest.raises(InvalidInput):
            secrets.store(s, v, "x" * 101, SECRET)
        with pytest.raises(InvalidInput, match="empty"):
            secrets.store(s, v, "ok", SecretStr(""))


UNDECRYPTABLE = (
    "credential {} cannot be decrypted: wrong CITYHUB_SECRET_KEY or the stored value was altered"
)


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_wrong_key_fails_clearly(db: Database, cipher: secrets.CipherName) -> None:
    with db.session() as s:
        secrets.store(s, vault(cipher), "k", SECRET)
    with db.session() as s, pytest.raises(InvalidInput) as exc:
        secrets.reveal(s, vault(cipher), "k")
    assert exc.value.message == UNDECRYPTABLE.format("k")
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("where", ["ciphertext", "tag", "nonce"])
def test_an_altered_row_fails(db: Database, cipher: secrets.CipherName, where: str) -> None:
    v = vault(cipher)
    with db.session() as s:
        secrets.store(s, v, "k", SECRET)
    stored = row(db, "k")
    if where == "nonce":
        altered = bytearray(stored.nonce)
        altered[0] ^= 0x01
        set_row(db, "k", nonce=bytes(altered))
    else:
        altered = bytearray(stored.ciphertext)
        altered[0 if where == "ciphertext" else -1] ^= 0x01
        set_row(db, "k", ciphertext=bytes(altered))
    with db.session() as s, pytest.raises(InvalidInput) as exc:
        secrets.reveal(s, v, "k")
    assert exc.value.message == UNDECRYPTABLE.format("k")


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_value_copied_to_another_name_fails(db: Database, cipher: secrets.CipherName) -> None:
    v = vault(cipher)
    with db.session() as s:
        secrets.store(s, v, "ga-oracle", SECRET)
        secrets.store(s, v, "open-api", "harmless")
    source = row(db, "ga-oracle")
    set_row(db, "open-api", nonce=source.nonce, ciphertext=source.ciphertext)
    with db.session() as s:
        with pytest.raises(InvalidInput, match="credential open-api cannot be decrypted"):
            secrets.reveal(s, v, "open-api")
        assert secrets.reveal(s, v, "ga-oracle") == SECRET


def test_nothing_logged_holds_the_secret(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the SQL engine's parameter logging included
    v = vault("sm4-gcm")
    with db.session() as s:
        secrets.store(s, v, "k", SecretStr(SECRET), note="n")
        assert secrets.reveal(s, v, "k") == SECRET
        secrets.names(s)
        secrets.delete(s, "k")
    assert any("credential k stored" in r.getMessage() for r in caplog.records)
    assert_no_secret(caplog, SECRET)


def assert_no_secret(caplog: pytest.LogCaptureFixture, secret: str) -> None:
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in repr(record.args)
    assert secret not in caplog.text


# -- the CLI ---------------------------------------------------------------------------------------
Run = Callable[..., str]


@pytest.fixture
def cli(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("CITYHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CITYHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("CITYHUB_SECRET_KEY", Vault.new_key("sm4-gcm"))
    monkeypatch.setenv("CITYHUB_CREDENTIAL_CIPHER", "sm4-gcm")
    runner = CliRunner()

    def run(*args: str, input: str | None = None, code: int = 0) -> str:
        result = runner.invoke(app, ["credential", *args], input=input)
        assert result.exit_code == code, result.output
        assert SECRET not in result.output and SECRET not in result.stdout
        return result.output

    return run


def test_cli_set_list_delete(
    cli: Run, db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    said = cli("set", "ga-oracle", "--note", "公安 Oracle", input=f"{SECRET}\n{SECRET}\n")
    assert "credential ga-oracle stored (sm4-gcm)" in said
    monkeypatch.setenv("TRAFFIC_KEY", "api-key-0042")
    cli("set", "traffic-api", "--from-env", "TRAFFIC_KEY")
    listed = cli("list")
    assert "ga-oracle" in listed and "公安 Oracle" in listed and "sm4-gcm" in listed
    assert "api-key-0042" not in listed
    rows = json.loads(cli("list", "--json"))
    assert [r["name"] for r in rows] == ["ga-oracle", "traffic-api"]
    assert set(rows[0]) == {"name", "algorithm", "note", "updated_at"}
    assert "api-key-0042" not in json.dumps(rows)
    with db.session() as s:
        v = Vault.from_settings(Settings())
        assert secrets.reveal(s, v, "ga-oracle") == SECRET
        assert secrets.reveal(s, v, "traffic-api") == "api-key-0042"
    assert "deleted" in cli("delete", "ga-oracle")
    assert [r["name"] for r in json.loads(cli("list", "--json"))] == ["traffic-api"]
    assert "no credential ga-oracle" in cli("delete", "ga-oracle", code=2)
    assert_no_secret(caplog, SECRET)
    assert_no_secret(caplog, "api-key-0042")


def test_cli_set_refuses_what_it_cannot_store(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    # The two entries differ: asked again.
    said = cli("set", "k", input=f"{SECRET}\n{SECRET}x\n{SECRET}\n{SECRET}\n")
    assert "do not match" in said and "credential k stored" in said
    assert "TRAFFIC_KEY" in cli("set", "t", "--from-env", "TRAFFIC_KEY", code=2)
    monkeypatch.delenv("CITYHUB_SECRET_KEY")
    said = cli("set", "k", input=f"{SECRET}\n{SECRET}\n", code=2)
    assert "no secret key: set CITYHUB_SECRET_KEY" in said


@pytest.mark.parametrize(("cipher", "size"), [("aes-gcm", 32), ("sm4-gcm", 16)])
def test_cli_new_key(cli: Run, cipher: str, size: int) -> None:
    first = cli("new-key", "--cipher", cipher)
    keys = [line for line in first.splitlines() if line and " " not in line]
    assert len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == size
    assert keys[0] not in cli("new-key", "--cipher", cipher)
    assert "unknown cipher" in cli("new-key", "--cipher", "des", code=2)
