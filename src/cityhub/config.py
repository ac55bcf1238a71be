"""Settings, declared once: defaults < cityhub.toml < CITYHUB_* environment variables."""

from __future__ import annotations

import getpass
import os
from functools import cached_property
from pathlib import Path
from typing import Any

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
