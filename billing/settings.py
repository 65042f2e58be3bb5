"""Settings, read once from the environment (and `.env`) when the app starts.

Every setting is checked here, so a missing or malformed one stops the app at
start with a message naming it, instead of failing on the first button press.
Routes never read the environment: they get a `Settings` object.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import click
from email_validator import EmailNotValidError, validate_email

from billing.budget import default_rate
from billing.catalog import DEFAULT_PATH as DEFAULT_CATALOG

# Stripe's own API host; any other base (the stand-in) points the SDK elsewhere.
STRIPE_DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"

# Where Stripe sends this site's webhook events (the Stripe CLI forwards there too).
WEBHOOK_PATH = "/stripe/webhook"

# Relative paths in settings (CATALOG_PATH) are read from the project folder, not from
# wherever the process was started.
PROJECT = Path(__file__).resolve().parent.parent

# QUEUE_URL's value for running each background job at once, in the caller (the tests).
IMMEDIATE = "immediate"

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class ConfigError(click.ClickException):
    """A setting is missing or malformed; the message names it and says how to fix it.
    (A ClickException, so `flask ...` commands print it as one line, not a traceback.)"""


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server emails go through (MAIL_URL), and who they come from (MAIL_FROM)."""

    host: str
    port: int
    # "tls" from the first byte (smtps://), "starttls" (smtp://), "none" (smtp:// on loopback only).
    security: Literal["tls", "starttls", "none"]
    sender: str
    username: str | None = None
    # Out of the repr, so printing the settings never shows it.
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know about its environment, validated."""

    # "" until one is set: the site starts, and each Stripe call says billing is not set up.
    stripe_secret_key: str
    stripe_webhook_secret: str | None
    stripe_api_base: str
    stripe_portal_configuration: str | None
    app_base_url: str
    secret_key: str
    database_url: str
    # The plan catalog the pricing page, the buttons and `flask stripe setup` read.
    catalog_path: Path = DEFAULT_CATALOG
    # Seconds to wait for one answer from Stripe before giving up (then retried).
    stripe_timeout: float = 10.0
    # Where sign-in attempt counts live: "memory://" (per process) or e.g. "redis://host:6379".
    ratelimit_storage_uri: str = "memory://"
    # How many proxies in front of the app set X-Forwarded-For/-Proto (0: trust none, so a
    # client cannot pick its own address to dodge the sign-in limit).
    trusted_proxies: int = 0
    # Where the Stripe customers this site makes now are made ("live" or "test", from the
    # key): an id made under one does not exist under another (see BillingAccount.stripe_origin).
    stripe_origin: str = "test"
    # Where the background work's queue lives (billing.queue): "" a SQLite file in the instance
    # folder, worked by threads in one web process; "redis://..." Redis, worked by
    # `flask worker` processes; "immediate" each job runs at once, in the caller (tests).
    queue_url: str = ""
    # Stripe calls a second the background work may make, all processes together (billing.budget).
    stripe_background_rate: int = 12
    # None: no MAIL_URL, and emails are only logged (billing/email.py).
    mail: MailSettings | None = None

    @property
    def live_mode(self) -> bool:
        return self.stripe_secret_key.startswith(("sk_live_", "rk_live_"))

    def url(self, path: str) -> str:
        """An absolute URL on this site, always built from APP_BASE_URL.

        Redirect targets handed to Stripe are built here and never from the
        request's Host header, which a client controls.
        """
        return self.app_base_url + path


LIVE_ORIGIN = "live"


def key_origin(key: str) -> str:
    """ "live" or "test": the mode a Stripe key's objects live in."""
    return LIVE_ORIGIN if key.startswith(("sk_live_", "rk_live_")) else "test"


def origin(url: str) -> str:
    """ "http://host:port" of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 300:
        raise ConfigError(f"{name} must be a number of seconds between 0 and 300 (got {value!r}).")
    return seconds


def _count(env: Mapping[str, str], name: str, highest: int) -> int:
    value = env.get(name, "").strip() or "0"
    if not value.isdigit() or int(value) > highest:
        raise ConfigError(f"{name} must be a whole number from 0 to {highest} (got {value!r}).")
    return int(value)


def flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (got {value!r}).")


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an absolute http(s) URL such as {default!r} (got {value!r}).")
    if parts.query or parts.fragment:
        raise ConfigError(f"{name} must not have a query or fragment (got {value!r}).")
    return value.rstrip("/")


def _local_secret_key(instance_path: Path) -> str:
    """A random SECRET_KEY kept in the instance folder, for a site on a laptop with no
    Stripe key yet: sessions survive restarts, and no one has to make one up."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


# Where MAIL_URL's scheme says to connect when it names no port: submission with STARTTLS
# (RFC 6409), or TLS from the first byte (RFC 8314).
MAIL_PORTS = {"smtp": 587, "smtps": 465}
MAIL_URL_EXAMPLE = "smtp://user:password@smtp.example.com:587"
# A password's "/" or ":" reads as the URL's path or port: the likely cause of those messages.
ENCODE_HINT = " (in the password, write / as %2F, : as %3A, @ as %40)"


def _mail(env: Mapping[str, str]) -> MailSettings | None:
    """MAIL_URL and MAIL_FROM, checked. No message quotes MAIL_URL: it holds the password."""
    url = env.get("MAIL_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in MAIL_PORTS or not parts.hostname:
        raise ConfigError(f"MAIL_URL must be smtp://... (STARTTLS) or smtps://... (TLS), such as {MAIL_URL_EXAMPLE}.")
    try:
        port = parts.port or MAIL_PORTS[scheme]
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"MAIL_URL has a port that is not a number from 1 to 65535{ENCODE_HINT}.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"MAIL_URL must name only the server and its login, such as {MAIL_URL_EXAMPLE}{ENCODE_HINT}.")
    # Percent-encoded in the URL, so that a password may hold "@", ":" or "/".
    username, password = unquote(parts.username or ""), unquote(parts.password or "")
    if bool(username) != bool(password):
        raise ConfigError("MAIL_URL must give both a user name and a password, or neither.")
    # STARTTLS is required, never skipped when the server does not offer it (which an attacker
    # on the way could arrange, then read the password): only a server on this machine, such as
    # a development mail catcher, is spoken to in plain text.
    security: Literal["tls", "starttls", "none"] = "tls" if scheme == "smtps" else "starttls"
    if scheme == "smtp" and parts.hostname in LOOPBACK:
        security = "none"

    sender = env.get("MAIL_FROM", "").strip()
    if not sender:
        raise ConfigError(
            "MAIL_FROM is required when MAIL_URL is set: the address emails come from, "
            "such as 'Acme Cloud <billing@example.com>'."
        )
    name, address = parseaddr(sender)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as e:
        raise ConfigError(f"MAIL_FROM must be an email address, such as 'Acme <billing@example.com>' ({e})") from e
    return MailSettings(
        host=parts.hostname,
        port=port,
        security=security,
        sender=formataddr((name, address)),
        username=username or None,
        password=password or None,
    )


def load_settings(env: Mapping[str, str] | None = None, instance_path: Path | None = None) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    instance_path = instance_path or Path(__file__).parent / "instance"

    key = env.get("STRIPE_SECRET_KEY", "").strip()
    if key and not key.startswith(("sk_test_", "rk_test_", "sk_live_", "rk_live_")):
        raise ConfigError("STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_test_..., rk_test_...).")

    # Checked whatever the key; only this check needs it, so Settings does not keep it.
    allow_live = flag(env, "STRIPE_ALLOW_LIVE_MODE")
    if key.startswith(("sk_live_", "rk_live_")) and not allow_live:
        raise ConfigError(
            "STRIPE_SECRET_KEY is a live-mode key. This starter refuses to move real "
            "money by accident: use a test key, or set STRIPE_ALLOW_LIVE_MODE=true."
        )

    webhook_secret = env.get("STRIPE_WEBHOOK_SECRET", "").strip() or None
    if webhook_secret is not None and not webhook_secret.startswith("whsec_"):
        raise ConfigError("STRIPE_WEBHOOK_SECRET must start with whsec_.")

    portal_configuration = env.get("STRIPE_PORTAL_CONFIGURATION", "").strip() or None
    if portal_configuration is not None and not portal_configuration.startswith("bpc_"):
        raise ConfigError("STRIPE_PORTAL_CONFIGURATION must be a portal configuration id (bpc_...).")

    api_base = _base_url(env, "STRIPE_API_BASE", STRIPE_DEFAULT_API_BASE)
    app_base_url = _base_url(env, "APP_BASE_URL", DEFAULT_BASE_URL)

    secret_key = env.get("SECRET_KEY", "").strip()
    if not secret_key:
        if key:
            raise ConfigError(
                "SECRET_KEY is required when STRIPE_SECRET_KEY is set: it signs session "
                'cookies. Make one with: python -c "import secrets; print(secrets.token_hex(32))"'
            )
        secret_key = _local_secret_key(instance_path)
    elif len(secret_key) < 16:
        raise ConfigError("SECRET_KEY is too short: use at least 16 random characters.")

    database_url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{instance_path / 'app.sqlite'}"
    if "://" not in database_url:
        raise ConfigError(f"DATABASE_URL must be a SQLAlchemy URL such as sqlite:///app.sqlite (got {database_url!r}).")

    catalog_path = PROJECT / (env.get("CATALOG_PATH", "").strip() or DEFAULT_CATALOG)
    if not catalog_path.is_file():
        raise ConfigError(f"CATALOG_PATH names no file: {catalog_path} (the plan catalog, a TOML file).")

    live = key.startswith(("sk_live_", "rk_live_"))
    if live and urlsplit(app_base_url).scheme != "https" and urlsplit(app_base_url).hostname not in LOOPBACK:
        raise ConfigError(
            f"APP_BASE_URL must be https in live mode (got {app_base_url!r}): session cookies "
            "are only marked Secure, and card details only trusted, over https."
        )

    queue_url = env.get("QUEUE_URL", "").strip()
    if queue_url and queue_url != IMMEDIATE and urlsplit(queue_url).scheme not in ("redis", "rediss"):
        raise ConfigError(
            # Not the value: a Redis URL may hold a password.
            "QUEUE_URL must be empty (a SQLite file), or redis://host:port/db or rediss://host:port/db."
        )
    background_rate = _count(env, "STRIPE_BACKGROUND_RATE", 100) or default_rate(live)

    return Settings(
        stripe_secret_key=key,
        stripe_webhook_secret=webhook_secret,
        stripe_api_base=api_base,
        stripe_portal_configuration=portal_configuration,
        app_base_url=app_base_url,
        secret_key=secret_key,
        database_url=database_url,
        catalog_path=catalog_path,
        stripe_timeout=_seconds(env, "STRIPE_TIMEOUT", 10.0),
        ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://",
        trusted_proxies=_count(env, "TRUSTED_PROXIES", 5),
        stripe_origin=key_origin(key),
        queue_url=queue_url,
        stripe_background_rate=background_rate,
        mail=_mail(env),
    )
