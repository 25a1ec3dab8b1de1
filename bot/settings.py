"""Typed settings from a TOML file plus environment secrets, validated once at start and passed in.

A wrong value stops the bot with one line naming the key and what is allowed (`ConfigError`), never a
traceback. Secrets (IMAP and relay passwords, Slack tokens) are read only from environment variables.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "bot.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSection(_Section):
    data_dir: Path = Path("data")
    policy: str = "hos-code-2024"
    region: Literal["ENG", "WLS", "SCT", "NIR"] | None = None
    homes: int = Field(default=1000, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    review_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    lease_seconds: float = Field(default=60.0, ge=5.0)  # a dead worker's mailboxes are taken over after this


class DatabaseSection(_Section):
    url: str = ""  # empty: SQLite file under data_dir

    @field_validator("url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if v and not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


class SmtpListener(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=0, le=65535)
    lmtp: bool = False
    recipients: list[str] = ["complaints@localhost"]
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    auth_user: str = ""  # password from BOT_SMTP_AUTH_PASSWORD
    policy: str | None = None

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if "@" not in a]
        if bad:
            raise ValueError(f"must be email addresses (got {bad})")
        return [a.lower() for a in v]

    @model_validator(mode="after")
    def _tls_pair(self) -> "SmtpListener":
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("smtp.tls_cert and smtp.tls_key go together: set both (STARTTLS) or neither")
        for name, path in (("tls_cert", self.tls_cert), ("tls_key", self.tls_key)):
            if path is not None and not (path if path.is_absolute() else ROOT / path).is_file():
                raise ValueError(f"smtp.{name}: no such file {path}")
        return self


class OAuth2(_Section):
    """OAuth2 for a hosted mailbox (XOAUTH2). Microsoft 365 app-only access: the client-credentials grant
    with scope https://outlook.office365.com/.default. Google Workspace, or a delegated Microsoft mailbox:
    the refresh-token grant (set refresh_token_env)."""

    token_url: str
    client_id: str
    client_secret_env: str = "BOT_IMAP_CLIENT_SECRET"  # "": a public client (refresh-token grant, no secret)
    scope: str = ""
    refresh_token_env: str = ""  # set: refresh-token grant; empty: client-credentials grant

    @field_validator("token_url")
    @classmethod
    def _https(cls, value: str) -> str:
        from urllib.parse import urlsplit
        url = urlsplit(value)
        loopback = url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost", "::1")
        if not (url.scheme == "https" and url.hostname) and not loopback:
            raise ValueError("must be an https:// URL (plain http only on loopback, for tests)")
        return value

    @property
    def grant(self) -> str:
        return "refresh_token" if self.refresh_token_env else "client_credentials"

    def client_secret(self) -> str:
        return os.environ.get(self.client_secret_env, "") if self.client_secret_env else ""

    def refresh_token(self) -> str:
        return os.environ.get(self.refresh_token_env, "") if self.refresh_token_env else ""


class Mailbox(_Section):
    name: str
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    tls: bool = True
    username: str
    auth: Literal["password", "oauth2"] = "password"
    password_env: str = "BOT_IMAP_PASSWORD"
    oauth2: OAuth2 | None = None
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    processed_keyword: str = "$ComplaintsBotProcessed"
    policy: str | None = None
    idle: bool = True
    poll_seconds: float = Field(default=60.0, gt=0)
    idle_renew_seconds: float = Field(default=25 * 60, gt=0, le=29 * 60)

    @model_validator(mode="after")
    def _auth_complete(self) -> "Mailbox":
        if self.auth == "oauth2" and self.oauth2 is None:
            raise ValueError(f"imap mailbox {self.name!r}: auth = \"oauth2\" needs an [imap.mailboxes.oauth2] table "
                             "(token_url, client_id, client_secret_env)")
        return self

    def password(self) -> str:
        return os.environ.get(self.password_env, "")

    def secrets_needed(self) -> list[str]:
        """The environment variables this mailbox needs."""
        if self.auth == "password":
            return [self.password_env]
        assert self.oauth2 is not None
        return [env for env in (self.oauth2.client_secret_env, self.oauth2.refresh_token_env) if env]


class ImapSection(_Section):
    mailboxes: list[Mailbox] = []


class Relay(_Section):
    host: str = ""  # empty: letters stay in the outbox
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: str = ""
    password_env: str = "BOT_RELAY_PASSWORD"
    from_address: str = "complaints@localhost"
    from_name: str = "Complaints Team"
    max_letters_per_sender: int = Field(default=3, ge=1)
    rate_window_hours: int = Field(default=24, ge=1)
    retry_max_seconds: float = Field(default=900.0, gt=0)
    claim_seconds: float = Field(default=120.0, ge=5.0)  # a letter claimed by a worker that died is retried after this

    def password(self) -> str:
        return os.environ.get(self.password_env, "")


class SlackSection(_Section):
    triage_channel: str = ""
    intake_channels: list[str] = []
    team_leads: list[str] = []
    team_lead_group: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=3000, ge=0, le=65535)
    excerpt_chars: int = Field(default=400, ge=0)
    digest_time: dt.time = dt.time(9, 0)
    api_base_url: str = ""  # empty: Slack's own (a local mock in tests)

    @staticmethod
    def bot_token() -> str:
        return os.environ.get("SLACK_BOT_TOKEN", "")

    @staticmethod
    def signing_secret() -> str:
        return os.environ.get("SLACK_SIGNING_SECRET", "")

    @staticmethod
    def app_token() -> str:
        return os.environ.get("SLACK_APP_TOKEN", "")

    @property
    def configured(self) -> bool:
        return bool(self.bot_token() and (self.signing_secret() or self.app_token()) and self.triage_channel)


class ClassifierSection(_Section):
    model_dir: Path = Path("classifiers/model")


class AttachmentsSection(_Section):
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)


class MetricsSection(_Section):
    port: int = Field(default=0, ge=0, le=65535)  # Prometheus /metrics on this port; 0: off
    host: str = "127.0.0.1"


class RetentionSection(_Section):
    closed_case_days: int = Field(default=6 * 365, ge=30)  # anonymise closed cases this long after closure
    enabled: bool = True


class Settings(_Section):
    bot: BotSection = BotSection()
    database: DatabaseSection = DatabaseSection()
    smtp: SmtpListener = SmtpListener()
    imap: ImapSection = ImapSection()
    relay: Relay = Relay()
    slack: SlackSection = SlackSection()
    classifier: ClassifierSection = ClassifierSection()
    attachments: AttachmentsSection = AttachmentsSection()
    retention: RetentionSection = RetentionSection()
    metrics: MetricsSection = MetricsSection()
    source: Path | None = None

    @model_validator(mode="after")
    def _known_policies(self) -> "Settings":
        from .policies import available
        names = available()
        for where, name in [("bot.policy", self.bot.policy), ("smtp.policy", self.smtp.policy)] + [
                (f"imap.mailboxes[{i}].policy", m.policy) for i, m in enumerate(self.imap.mailboxes)]:
            if name is not None and name not in names:
                raise ValueError(f"{where}: no policy profile {name!r} (available: {', '.join(names)})")
        return self

    # -- derived -----------------------------------------------------------------------------------
    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else ROOT / path

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.bot.data_dir)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_dir / 'complaints.db'}"

    @property
    def model_dir(self) -> Path:
        return self.resolve(self.classifier.model_dir)

    def missing_secrets(self) -> list[str]:
        """Environment variables that what is configured needs but that are not set (checked at start)."""
        needed = [(f"imap mailbox {mb.name}", env) for mb in self.imap.mailboxes for env in mb.secrets_needed()]
        if self.relay.host and self.relay.username:
            needed.append(("relay", self.relay.password_env))
        if self.smtp.enabled and self.smtp.auth_user:
            needed.append(("smtp.auth_user", "BOT_SMTP_AUTH_PASSWORD"))
        return [f"{env} ({what})" for what, env in needed if not os.environ.get(env)]

    @property
    def our_addresses(self) -> set[str]:
        """Addresses the bot receives or sends from: never written to (no mail loops)."""
        return {*self.smtp.recipients, self.relay.from_address.lower(), *(m.username.lower() for m in self.imap.mailboxes)}


def _format(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    where = f"{loc}: " if loc else ""
    shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    more = f" [+{len(exc.errors()) - 1} more]" if len(exc.errors()) > 1 else ""
    return f"{where}{msg}{shown}{more}"


def load_settings(path: str | Path | None = None, overrides: dict | None = None) -> Settings:
    """Settings from `path`, else $BOT_CONFIG, else config/bot.toml (missing default file: built-in defaults)."""
    chosen = path or os.environ.get("BOT_CONFIG")
    file = Path(chosen) if chosen else DEFAULT_CONFIG
    data: dict = {}
    if file.is_file():
        try:
            with file.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    elif chosen:
        raise ConfigError(f"settings file not found: {file}")
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings(**data, source=file if file.is_file() else None)
    except ValidationError as exc:
        raise ConfigError(f"config error in {file.name if file.is_file() else 'defaults'}: {_format(exc)}") from None
