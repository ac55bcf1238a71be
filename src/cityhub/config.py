"""Settings, declared once: defaults < cityhub.toml < CITYHUB_* environment variables."""

from __future__ import annotations

import getpass
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path:
    return Path(os.environ.get("CITYHUB_CONFIG", "cityhub.toml"))


class Settings(BaseSettings):
    """Everything cityhub can be told; each field documents itself in `cityhub config`."""

    model_config = SettingsConfigDict(env_prefix="CITYHUB_", extra="forbid")

    home: Path = Field(Path("cityhub-data"), description="Folder holding the metadata DB and lake")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata DB; default SQLite in the home folder"
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "normal",
        description="SQLite metadata DB: 'full' syncs every commit to disk, 'normal' at "
        "checkpoints (a crash of cityhub loses nothing either way; with 'normal' a power cut "
        "may undo the last commits, audit records of the last reads included)",
    )
    lake_dir: Path | None = Field(None, description="Folder of the Delta tables; default home/lake")
    max_reject_ratio: float = Field(
        0.01, ge=0, le=1, description="A sync fails when more than this share of rows is rejected"
    )
    operator: str = Field(
        default_factory=lambda: os.environ.get("USER") or getpass.getuser(),
        description="Name recorded on syncs and catalog changes",
    )
    infer_rows: int = Field(
        5_000, ge=100, description="First rows of a source read to infer its column types"
    )
    profile_rows: int = Field(
        20_000, ge=100, description="Rows sampled per sync for top values and semantic types"
    )
    batch_rows: int = Field(
        131_072, ge=1024, description="Rows per Arrow batch on the ingest path (bounds memory)"
    )
    duckdb_memory_limit: str = Field("1GB", description="Memory cap of the embedded DuckDB engine")
    duckdb_threads: int = Field(0, ge=0, description="DuckDB threads; 0 means one per core")
    host: str = Field("127.0.0.1", description="Address `cityhub serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="Port `cityhub serve` listens on")
    workers: int = Field(1, ge=1, description="Server processes of `cityhub serve`")
    public_url: str | None = Field(
        None,
        description="The URL the service is reached at (links in DCAT); default from host:port",
    )
    sql_max_rows: int = Field(
        10_000, ge=1, description="Rows an SQL query returns at most (the answer says truncated)"
    )
    sql_timeout_seconds: float = Field(
        30.0, gt=0, description="An SQL query running longer is stopped"
    )
    sql_max_length: int = Field(20_000, ge=100, description="Characters an SQL query may have")
    audit_hash: Literal["sm3", "sha256"] = Field(
        "sm3", description="Hash chaining the audit log: sm3 (国密 SM3) or sha256"
    )
    answer_working_days: int = Field(
        10, ge=1, description="Working days a steward has to answer a sharing request"
    )
    grant_max_days: int = Field(366 * 3, ge=1, description="The longest a grant may run, in days")
    session_hours: float = Field(12.0, gt=0, description="How long a login's session lasts")
    masking_rules: Literal["A", "B"] = Field(
        "A", description="Masking rule set per semantic type: A (common) or B (stricter)"
    )
    masking_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Masking rules replacing the rule set's, by semantic type "
        '(e.g. {"mobile": "keep:3:2"})',
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="Key of the keyed pseudonyms (HMAC-SM3); default: one made at init and "
        "kept in the home's secrets folder",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Base64 key encrypting source credentials (32 bytes for aes-gcm, 16 for "
        "sm4-gcm); unset: credentials cannot be stored",
    )
    credential_cipher: Literal["aes-gcm", "sm4-gcm"] = Field(
        "aes-gcm", description="Cipher of stored source credentials"
    )
    redis_url: str | None = Field(
        None, description="Redis URL for rate limits shared by all server processes"
    )
    rate_limit_token: int = Field(600, ge=1, description="Requests per minute one token may make")
    rate_limit_anonymous: int = Field(
        120, ge=1, description="Requests per minute one address may make without a token"
    )
    max_request_bytes: int = Field(
        1 << 20, ge=1024, description="Largest request body accepted (bytes)"
    )
    operator_token: SecretStr | None = Field(
        None,
        description="Bearer token that reads everything (the operator); unset: no operator access "
        "over HTTP",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @field_validator("database_url")
    @classmethod
    def _normalise_pg(cls, url: str | None) -> str | None:
        # Plain postgresql:// URLs go through psycopg 3, the driver we ship.
        if url and url.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @cached_property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'catalog.db').resolve()}"

    @cached_property
    def lake_path(self) -> Path:
        return (self.lake_dir or self.home / "lake").resolve()

    def describe(self) -> list[dict[str, Any]]:
        """Each setting with its value and its documentation, for `cityhub config`."""
        return [
            {
                "name": name,
                "env": f"CITYHUB_{name.upper()}",
                "value": str(getattr(self, name)),  # secrets print as **********
                "description": field.description or "",
            }
            for name, field in type(self).model_fields.items()
        ]


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
