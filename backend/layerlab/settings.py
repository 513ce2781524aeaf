"""Deployment settings, read from LAYERLAB_* environment variables (nested limits with "__").

Examples: LAYERLAB_PORT=8080, LAYERLAB_EXECUTOR=ray, LAYERLAB_AUTH_TOKENS=tok1,tok2,
LAYERLAB_LIMITS__MAX_NODES=32. Constructor arguments win over the environment (the CLI passes flags that way).
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .catalogue.limits import Limits
from .jobs.config import JobSettings

REPO_FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_csv(value: object) -> object:
    """Accept "a,b" (what people type in an env var) as well as a JSON list or a Python list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LAYERLAB_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    host: str = Field(default="127.0.0.1", description="bind address; non-loopback needs auth_tokens")
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Field(default=Path("data"), description="job store, artifacts and logs live here")
    database_url: str = Field(default="", description="default: sqlite:///<data_dir>/layerlab.sqlite3")
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(default=None, description="Ray cluster to join (e.g. 10.0.0.5:6379); None: auto")
    auth_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="bearer tokens; required when host is not loopback"
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="extra browser origins allowed besides the server's own"
    )
    frontend_dir: Path = Field(default=REPO_FRONTEND, description="served at / when it has an index.html")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    limits: Limits = Field(default_factory=Limits)
    jobs: JobSettings = Field(default_factory=JobSettings, description="job slots and workers (LAYERLAB_JOBS__*)")

    @field_validator("auth_tokens", "allowed_origins", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("auth_tokens")
    @classmethod
    def _strong_tokens(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        for token in tokens:
            text = token.get_secret_value()
            if len(text) < 16 or not TOKEN_CHARS.fullmatch(text):
                raise ValueError("each auth token needs at least 16 characters from A-Z a-z 0-9 - . _ ~")
        return tokens

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise ValueError(f"origin {origin!r} must look like https://host[:port] with no trailing slash")
        return origins

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'layerlab.sqlite3').as_posix()}"
        return self

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_tokens)

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)
