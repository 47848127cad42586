"""Settings, validated once at start-up and passed down (never read at import time)."""

from __future__ import annotations

import logging
import re
import sys
from datetime import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,}$")
# Telegram's rule for setWebhook's secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -
WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
WEBHOOK_SECRET_MIN = 32  # shorter secrets can be guessed; `openssl rand -hex 32` gives 64
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Configuration from environment variables (prefix ``UNITBOT_``) or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="UNITBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    token: SecretStr = Field(description="Bot token from @BotFather")
    database: str = Field(
        default="unitbot.sqlite3",
        description="SQLite file path (or ':memory:' for throw-away runs), or a PostgreSQL URL "
        "postgresql://user[:password]@host[:port]/dbname",
    )
    api_base_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API server URL; the token is appended (self-hosted or test servers)",
    )
    timezone: str = Field(default="Asia/Shanghai", description="Default timezone of new communities")
    country: str = Field(default="CN", description="Default holiday calendar of new communities")
    language: str = Field(default="zh", description="Default language of new communities: zh, en, ru")
    sweep_interval: float = Field(default=30.0, gt=0, le=3600, description="Seconds between deadline sweeps")
    report_day: int = Field(
        default=1, ge=0, le=28, description="Day of the month the monthly statistics report goes out (0: never)"
    )
    work_start: time = Field(default=time(9, 0), description="Start of working hours (local)")
    work_end: time = Field(default=time(18, 0), description="End of working hours (local)")
    log_level: str = Field(default="INFO")
    instance_name: str = Field(default="", description="Name of this process in logs (several may share a DB)")
    clock_file: Path | None = Field(
        default=None,
        description="drills and end-to-end tests only: read the current time from this file",
    )
    card_font: Path | None = Field(
        default=None,
        description="TrueType/OpenType font (with CJK glyphs) for ID card images; unset: a common system "
        "CJK font (WenQuanYi, Noto CJK), else DejaVu Sans with a warning (see bot.fonts.find_font)",
    )

    # --- operations (webhook mode, the HTTP server, monitoring, logs); see deploy/README.md --------
    http_listen: str = Field(
        default="127.0.0.1:8080",
        description="host:port of the bot's HTTP server (webhook, /healthz, /readyz, /metrics), in both modes",
    )
    webhook_url: str | None = Field(
        default=None,
        description="public URL Telegram posts updates to; set: webhook mode (its path is served), unset: polling",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="required with UNITBOT_WEBHOOK_URL, the same on every instance: Telegram's secret_token",
    )
    operator_chat: int | None = Field(
        default=None, description="chat id that gets a short report of every bug (no personal data)"
    )
    operator_report_minutes: float = Field(
        default=60.0, gt=0, le=7 * 24 * 60, description="the same bug is reported at most once per this many minutes"
    )
    log_format: Literal["text", "json"] = Field(default="text", description="text, or json (one object a line)")
    ready_outbox_age: float = Field(
        default=600.0,
        gt=0,
        description="/readyz fails when a due message has waited longer than this many seconds (outbox stuck)",
    )

    # --- the staff dashboard (a Telegram Mini App served at /app/ by the same HTTP server) --------
    public_url: str | None = Field(
        default=None,
        description="the public https:// address of the bot's HTTP server that Telegram opens the "
        "dashboard Mini App at (its /app/ page); unset: no dashboard button or menu",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = urlsplit(value.strip())
        if url.scheme != "https" or not url.hostname:
            raise ValueError("must be the https:// address Telegram opens (Mini Apps need HTTPS)")
        if url.query or url.fragment or any(c.isspace() for c in value.strip()):
            raise ValueError("must not have a query, a fragment or spaces")
        try:
            url.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value.strip().rstrip("/")

    @property
    def dashboard_url(self) -> str | None:
        """The Mini App's page: UNITBOT_PUBLIC_URL + /app/ (None when the address is not set)."""
        return f"{self.public_url}/app/" if self.public_url else None

    @field_validator("http_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("expected host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080")
        return value.strip()

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = urlsplit(value.strip())
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ValueError("expected the public https:// URL Telegram posts updates to")
        if url.query or url.fragment:
            raise ValueError("must not have a query or fragment")
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # never echo the value
        if info.data.get("webhook_url") is None:
            return value
        if value is None or not value.get_secret_value().strip():
            raise ValueError("is required when UNITBOT_WEBHOOK_URL is set (e.g. `openssl rand -hex 32`)")
        secret = value.get_secret_value().strip()
        if not WEBHOOK_SECRET_RE.match(secret):
            raise ValueError("may contain only A-Z, a-z, 0-9, _ and - (at most 256 characters)")
        if len(secret) < WEBHOOK_SECRET_MIN or len(set(secret)) < 8:
            raise ValueError(f"is too weak: use at least {WEBHOOK_SECRET_MIN} random characters (openssl rand -hex 32)")
        return SecretStr(secret)

    @property
    def http_host(self) -> str:
        return self.http_listen.rpartition(":")[0].strip("[]")

    @property
    def http_port(self) -> int:
        return int(self.http_listen.rpartition(":")[2])

    @property
    def webhook_path(self) -> str:
        """The path of UNITBOT_WEBHOOK_URL, which the HTTP server serves the webhook at."""
        return urlsplit(self.webhook_url or "").path or "/"

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not TOKEN_RE.match(value.get_secret_value().strip()):
            # never echo the value: it is a secret even when malformed
            raise ValueError("does not look like a bot token (expected digits, a colon and a key from @BotFather)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("api_base_url")
    @classmethod
    def _api_base_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("must be an http:// or https:// URL such as https://api.telegram.org/bot")
        try:
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS or not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("work_end")
    @classmethod
    def _work_end(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("work_start")
        if isinstance(start, time) and value <= start:
            raise ValueError(f"must be later than UNITBOT_WORK_START ({start:%H:%M})")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("language")
    @classmethod
    def _lang(cls, value: str) -> str:
        if value not in ("zh", "en", "ru"):
            raise ValueError("language must be one of zh, en, ru")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        import holidays

        value = value.upper()
        if value not in holidays.list_supported_countries():
            raise ValueError(f"no holiday calendar for country {value!r}")
        return value

    @field_validator("clock_file")
    @classmethod
    def _clock_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        from bot.clock import ClockFileError, FileClock

        try:
            FileClock(value).now()
        except ClockFileError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_database_setting(value)

    def database_url(self) -> str:
        return database_url(self.database)

    def database_path(self) -> str:
        """The SQLite file (``:memory:`` as it is); not for a PostgreSQL URL (see ``uses_postgres``)."""
        return database_path(self.database)

    @property
    def uses_postgres(self) -> bool:
        return is_postgres_url(self.database)


class StorageSettings(BaseSettings):
    """Only the database setting, for the subcommands that need no token (``backup``, ``restore``)."""

    model_config = Settings.model_config
    database: str = Field(default=Settings.model_fields["database"].default)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_database_setting(value)

    def database_url(self) -> str:
        return database_url(self.database)

    def database_path(self) -> str:
        return database_path(self.database)

    @property
    def uses_postgres(self) -> bool:
        return is_postgres_url(self.database)


def is_postgres_url(value: str) -> bool:
    return value.strip().lower().startswith(("postgresql://", "postgres://"))


def check_database_setting(value: str) -> str:
    """A SQLite path, or a PostgreSQL URL with a host and a database name. Never echoes the value
    (a URL may hold a password)."""
    value = value.strip()
    if not value:
        raise ValueError("is empty: a SQLite file path or a postgresql:// URL")
    if is_postgres_url(value):
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise ValueError("is not a valid postgresql:// URL (check the port)") from None
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("postgresql:// URL has no host (postgresql://user@host:5432/dbname)")
        if not parts.path.strip("/"):
            raise ValueError("postgresql:// URL has no database name (postgresql://user@host:5432/dbname)")
        return value
    scheme = urlsplit(value).scheme if "://" in value else ""
    if scheme:
        raise ValueError(f"{scheme}:// is not supported: a SQLite file path or a postgresql:// URL")
    return value


def database_url(value: str) -> str:
    return value.strip() if is_postgres_url(value) else database_path(value)


def database_path(value: str) -> str:
    if is_postgres_url(value):
        raise ValueError("UNITBOT_DATABASE is a PostgreSQL URL, not a SQLite file")
    if value == ":memory:":
        return value
    return str(Path(value).expanduser())


# --- loading at start: one clear line per bad setting ---------------------------------------------
def settings_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        message = "is required" if err["type"] == "missing" else str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"  UNITBOT_{field.upper()}: {message}")
    return lines


def load_settings(cls: type[BaseSettings]) -> BaseSettings | None:
    """Settings from the environment / .env; on a mistake, say which variable and return None."""
    try:
        return cls()
    except ValidationError as exc:
        print("unitbot: configuration error:", file=sys.stderr)
        for line in settings_errors(exc):
            print(line, file=sys.stderr)
        print("See .env.example and README.md (Configuration).", file=sys.stderr)
        return None
