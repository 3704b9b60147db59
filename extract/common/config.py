"""Configuration: process settings from the environment, accounts from a YAML/TOML file, secrets
only from environment variables.

Accounts file (default `accounts.yaml`, or `CRMWH_ACCOUNTS_FILE`)::

    accounts:
      - name: b24-msk              # the `_account` tag in the warehouse
        system: bitrix24            # bitrix24 | amocrm
        base_url: https://msk.bitrix24.ru   # portal (cloud or on-premise); optional for webhooks
        auth: webhook               # bitrix24: webhook | oauth;  amocrm: oauth | long_lived
        plan: enterprise            # bitrix24: standard (2/s, burst 50) | enterprise (5/s, 250)
        # optional: rate_per_second, burst, operating_limit_seconds, client_id, oauth_server_url,
        # options: {...} (extractor-specific, e.g. payments: auto|per_object|sale)

Secrets never appear in the file. Their variables are named from the system and the account name
(upper-cased, every non-alphanumeric run turned into `_`)::

    BITRIX24_<ACCOUNT>_WEBHOOK_URL      webhook auth: https://portal/rest/<user>/<code>/
    BITRIX24_<ACCOUNT>_CLIENT_ID        oauth (may also be `client_id` in the file: it is not secret)
    BITRIX24_<ACCOUNT>_CLIENT_SECRET    oauth
    BITRIX24_<ACCOUNT>_REFRESH_TOKEN    oauth: the first refresh token; rotated ones live in the token store
    AMOCRM_<ACCOUNT>_CLIENT_ID / _CLIENT_SECRET / _REDIRECT_URI / _REFRESH_TOKEN / _AUTH_CODE
    AMOCRM_<ACCOUNT>_LONG_LIVED_TOKEN   long_lived auth

e.g. account `b24-msk` → `BITRIX24_B24_MSK_WEBHOOK_URL`. Every secret read is registered with
`extract.common.redact` so it is masked wherever it might later appear.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from extract.common.errors import ConfigError
from extract.common.redact import register_secret

# Bitrix24 plans: (requests per second drained, bucket size). [B24DOCS limits.md]
BITRIX24_PLANS: dict[str, tuple[float, int]] = {"standard": (2.0, 50), "enterprise": (5.0, 250)}
AMOCRM_RATE = (7.0, 7)  # 7 requests per second [KOMMO docs/limitations]


class Settings(BaseSettings):
    """Process-wide settings, from `CRMWH_*` environment variables or `.env`."""

    model_config = SettingsConfigDict(env_prefix="CRMWH_", env_file=".env", extra="ignore")

    accounts_file: Path = Path("accounts.yaml")
    warehouse_path: Path = Path("warehouse/crm.duckdb")
    token_dir: Path = Path(".tokens")  # token store (rotated OAuth tokens), mode 0700/0600
    http_connect_timeout: float = 5.0
    http_read_timeout: float = 65.0  # Bitrix24 cloud answers within 60 s or gives up
    http_retries: int = 6  # attempts for transient failures (reset, timeout, 5xx, truncated body)
    chunk_rows: int = 5000  # records per landing transaction
    overlap_seconds: int = 300  # incremental look-back window
    reconcile_hours: float = 24.0  # ID-only deletion scan at most this often per entity (0 = every run)


def env_slug(name: str) -> str:
    """`b24-msk` → `B24_MSK`: the account's part of its secret variables' names."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    if not slug:
        raise ConfigError("accounts[].name", f"cannot derive an environment variable name from {name!r}")
    return slug


class AccountConfig(BaseModel):
    """One CRM account (a Bitrix24 portal or an amoCRM subdomain)."""

    name: str
    system: Literal["bitrix24", "amocrm"]
    base_url: str | None = None
    auth: str = "webhook"
    plan: str | None = None
    rate_per_second: float | None = None
    burst: int | None = None
    operating_limit_seconds: float = 480.0  # Bitrix24 per-method budget per 10 min (configurable)
    client_id: str | None = None
    oauth_server_url: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        env_slug(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> "AccountConfig":
        allowed = {"bitrix24": {"webhook", "oauth"}, "amocrm": {"oauth", "long_lived"}}[self.system]
        if self.auth not in allowed:
            raise ValueError(f"auth must be one of {sorted(allowed)} for {self.system}")
        if self.system == "bitrix24" and self.plan and self.plan not in BITRIX24_PLANS and (
                self.rate_per_second is None or self.burst is None):
            raise ValueError(f"plan must be one of {sorted(BITRIX24_PLANS)} (or give rate_per_second and burst)")
        return self

    # ---------------------------------------------------------------- secrets
    def env_name(self, key: str) -> str:
        return f"{self.system.upper()}_{env_slug(self.name)}_{key}"

    def secret(self, key: str, required: bool = True) -> str | None:
        """Read `<SYSTEM>_<ACCOUNT>_<KEY>` from the environment; ConfigError names it if missing."""
        var = self.env_name(key)
        value = os.environ.get(var)
        if not value:
            if required:
                raise ConfigError(var, f"not set (needed by account {self.name!r}, auth {self.auth!r})")
            return None
        register_secret(value)
        return value

    def setting(self, key: str, file_value: str | None = None, required: bool = True) -> str | None:
        """A non-secret value from the file, else from `<SYSTEM>_<ACCOUNT>_<KEY>`."""
        if file_value:
            return file_value
        var = self.env_name(key)
        value = os.environ.get(var)
        if not value and required:
            raise ConfigError(var, f"not set (and no matching key in the accounts file for {self.name!r})")
        return value

    # ---------------------------------------------------------------- limits
    def rate_limit(self) -> tuple[float, int]:
        """(requests per second, burst) for the client-side limiter."""
        if self.system == "bitrix24":
            rate, burst = BITRIX24_PLANS.get(self.plan or "standard", BITRIX24_PLANS["standard"])
        else:
            rate, burst = AMOCRM_RATE
        return (self.rate_per_second or rate, self.burst or burst)


def load_accounts(path: str | Path) -> list[AccountConfig]:
    """Parse the accounts file (.yaml/.yml/.toml). Errors name the file and the key, not values."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("CRMWH_ACCOUNTS_FILE", f"{path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except Exception as exc:
        raise ConfigError(str(path), f"cannot parse: {type(exc).__name__}") from None
    items = (data or {}).get("accounts") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: accounts", "must be a non-empty list")
    accounts: list[AccountConfig] = []
    for i, item in enumerate(items):
        try:
            accounts.append(AccountConfig.model_validate(item))
        except ValidationError as exc:
            where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path}: accounts[{i}]", where) from None
    names = [(a.system, a.name) for a in accounts]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: accounts", "duplicate (system, name)")
    return accounts
