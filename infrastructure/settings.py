"""Settings read from the environment, and the eventsourcing configuration they imply."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from application.system_texts import SystemTexts
from infrastructure.private_files import private_database, restrict, write_private

DEFAULT_DATABASE_URL = "sqlite:///./var/atende.db"
MiB = 1024 * 1024


# What tickets and articles arrive in unless ATENDE_LANGUAGES says otherwise.
DEFAULT_LANGUAGES = ("es", "pt", "en")

@dataclass(frozen=True)
class Settings:
    """Everything configurable, with production-sensible defaults."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: bytes | None = None
    max_body_bytes: int = MiB
    db_pool_size: int = 5
    db_max_overflow: int = 10
    projector_batch_size: int = 500
    projector_pace_ms: int = 50
    # Languages tickets arrive in (ISO 639-1); detection picks among them.
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    default_language: str | None = "es"
    language_threshold: float = 0.7
    max_email_bytes: int = 10 * MiB
    # Follow-up (issue 6): a survey link's life; resolved tickets close by themselves
    # after auto_close_after; pending tickets nobody answers get a reminder, then are
    # resolved (both off unless set). None means off.
    survey_ttl: timedelta = timedelta(days=7)
    auto_close_after: timedelta | None = timedelta(days=4)
    pending_reminder_after: timedelta | None = None
    pending_resolve_after: timedelta | None = None
    follow_up_interval: timedelta = timedelta(seconds=60)
    # Audit (issue 7): signed checkpoints of the hash chain's head, also appended to a file
    # outside the database (default: beside a SQLite file; none on PostgreSQL unless set).
    checkpoint_file: str | None = None
    checkpoint_interval: timedelta = timedelta(seconds=60)
    # Verify walks logs of verify_parallel_from positions or more in ranges, one process
    # each, up to verify_workers of them (infrastructure/verify_workers.py).
    verify_workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    verify_parallel_from: int = 200_000
    # Erasure (issue 16): epoch keys live in a directory outside the database (default:
    # beside a SQLite file; required on PostgreSQL); after an erasure, the next rotation
    # (at most key_rotation_interval later) destroys the epoch that wrapped the erased key.
    keystore_dir: str | None = None
    key_rotation_interval: timedelta = timedelta(hours=1)
    # Retention (issue 16): idempotency keys are answered and kept this long; access-log
    # rows this long (a year and a month: a yearly audit still finds the previous one).
    idempotency_retention: timedelta = timedelta(hours=24)
    access_log_retention: timedelta = timedelta(days=400)
    # Operations (issue 8): a scrape token for /metrics besides admin tokens; the lag (in
    # events) beyond which /v1/health says "degraded"; request budgets per token and, on
    # public routes, per client address (None means unlimited).
    metrics_token: str | None = field(default=None, repr=False)
    health_max_lag: int = 1000
    # Health says "degraded" when no projector beat this recently (infrastructure/heartbeat.py).
    health_max_heartbeat_age: timedelta = timedelta(seconds=30)
    rate_limit: Rate | None = None
    public_rate_limit: Rate | None = None
    # Issue 23: how often each API worker records the help centre's counts (views,
    # searches, suggestions shown) as one event; a worker also records them as it stops.
    kb_usage_interval: timedelta = timedelta(seconds=60)
    # Issue 20: how long a new API token lives when its creator does not say (None: until
    # revoked).
    token_default_expiry: timedelta | None = None
    # Refused credentials a client address may send before it gets 429 (issue 20;
    # from_env's default is 20/60s).
    auth_failure_limit: Rate | None = None
    # Issue 22: every event published to a NATS JetStream stream (None: off). The stream's
    # name and the subjects' first token are settings so that two deployments (or two
    # test runs) can share one NATS server: JetStream refuses streams whose subjects overlap.
    nats_url: str | None = None
    nats_stream: str = "ATENDE"
    nats_subject_prefix: str = "atende"
    # Webhooks (issue 22): whether subscriptions may point at loopback, private or
    # link-local addresses (off: a subscriber could make Atende probe the internal
    # network); how long a delivery is retried, the first wait doubling to an hour.
    webhook_allow_private: bool = False
    webhook_retry_for: timedelta = timedelta(hours=24)
    webhook_first_retry: timedelta = timedelta(seconds=10)
    # Operators' wording of what Atende writes to customers (application/system_texts.py).
    templates_dir: str | None = None
    # Email out (issue 22): agents' replies and notices, over SMTP (None: not sent).
    smtp: SmtpServer | None = field(default=None, repr=False)
    mail_from: str | None = None
    # Where customers reach Atende (survey links in emails): https://help.example.com.
    public_url: str | None = None
    mail_first_retry: timedelta = timedelta(seconds=30)
    mail_retry_for: timedelta = timedelta(hours=24)
    environ: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        secret = env.get("ATENDE_SECRET_KEY")
        return cls(
            database_url=env.get("ATENDE_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=decode_secret_key(secret) if secret else None,
            max_body_bytes=int(env.get("ATENDE_MAX_BODY_BYTES", MiB)),
            db_pool_size=int(env.get("ATENDE_DB_POOL_SIZE", 5)),
            db_max_overflow=int(env.get("ATENDE_DB_MAX_OVERFLOW", 10)),
            projector_batch_size=int(env.get("ATENDE_PROJECTOR_BATCH_SIZE", 500)),
            projector_pace_ms=int(env.get("ATENDE_PROJECTOR_PACE_MS", 50)),
            languages=tuple(
                code.strip().lower()
                for code in env.get("ATENDE_LANGUAGES", ",".join(DEFAULT_LANGUAGES)).split(",")
                if code.strip()
            ),
            default_language=env.get("ATENDE_DEFAULT_LANGUAGE", "es") or None,
            language_threshold=float(env.get("ATENDE_LANGUAGE_THRESHOLD", 0.7)),
            max_email_bytes=int(env.get("ATENDE_MAX_EMAIL_BYTES", 10 * MiB)),
            survey_ttl=parse_duration(env.get("ATENDE_SURVEY_TTL", "7d"), "ATENDE_SURVEY_TTL"),
            auto_close_after=optional_duration(env, "ATENDE_AUTO_CLOSE_AFTER", "4d"),
            pending_reminder_after=optional_duration(env, "ATENDE_PENDING_REMINDER_AFTER"),
            pending_resolve_after=optional_duration(env, "ATENDE_PENDING_RESOLVE_AFTER"),
            follow_up_interval=parse_duration(
                env.get("ATENDE_FOLLOW_UP_INTERVAL", "60s"), "ATENDE_FOLLOW_UP_INTERVAL"
            ),
            checkpoint_file=env.get("ATENDE_CHECKPOINT_FILE") or None,
            checkpoint_interval=parse_duration(
                env.get("ATENDE_CHECKPOINT_INTERVAL", "60s"), "ATENDE_CHECKPOINT_INTERVAL"
            ),
            verify_workers=int(env.get("ATENDE_VERIFY_WORKERS", min(4, os.cpu_count() or 1))),
            verify_parallel_from=int(env.get("ATENDE_VERIFY_PARALLEL_FROM", 200_000)),
            keystore_dir=env.get("ATENDE_KEYSTORE_DIR") or None,
            key_rotation_interval=parse_duration(
                env.get("ATENDE_KEY_ROTATION_INTERVAL", "1h"), "ATENDE_KEY_ROTATION_INTERVAL"
            ),
            idempotency_retention=parse_duration(
                env.get("ATENDE_IDEMPOTENCY_RETENTION", "24h"), "ATENDE_IDEMPOTENCY_RETENTION"
            ),
            access_log_retention=parse_duration(
                env.get("ATENDE_ACCESS_LOG_RETENTION", "400d"), "ATENDE_ACCESS_LOG_RETENTION"
            ),
            metrics_token=env.get("ATENDE_METRICS_TOKEN", "").strip() or None,
            health_max_lag=int(env.get("ATENDE_HEALTH_MAX_LAG", 1000)),
            health_max_heartbeat_age=parse_duration(
                env.get("ATENDE_HEALTH_MAX_HEARTBEAT_AGE", "30s"), "ATENDE_HEALTH_MAX_HEARTBEAT_AGE"
            ),
            rate_limit=optional_rate(env, "ATENDE_RATE_LIMIT"),
            public_rate_limit=optional_rate(env, "ATENDE_PUBLIC_RATE_LIMIT"),
            kb_usage_interval=parse_duration(
                env.get("ATENDE_KB_USAGE_INTERVAL", "60s"), "ATENDE_KB_USAGE_INTERVAL"
            ),
            token_default_expiry=optional_duration(env, "ATENDE_TOKEN_DEFAULT_EXPIRY"),
            auth_failure_limit=optional_rate(env, "ATENDE_AUTH_FAILURE_LIMIT", "20/60s"),
            nats_url=nats_url(env.get("ATENDE_NATS_URL", "")),
            nats_stream=matching(
                env.get("ATENDE_NATS_STREAM", "ATENDE"),
                _STREAM_NAME,
                "ATENDE_NATS_STREAM",
                "letters, digits, - and _",
            ),
            nats_subject_prefix=matching(
                env.get("ATENDE_NATS_SUBJECT_PREFIX", "atende"),
                _SUBJECT_PREFIX,
                "ATENDE_NATS_SUBJECT_PREFIX",
                "dot-separated tokens of letters, digits, - and _",
            ),
            webhook_allow_private=flag(env, "ATENDE_WEBHOOK_ALLOW_PRIVATE"),
            webhook_retry_for=parse_duration(
                env.get("ATENDE_WEBHOOK_RETRY_FOR", "24h"), "ATENDE_WEBHOOK_RETRY_FOR"
            ),
            webhook_first_retry=parse_duration(
                env.get("ATENDE_WEBHOOK_FIRST_RETRY", "10s"), "ATENDE_WEBHOOK_FIRST_RETRY"
            ),
            templates_dir=env.get("ATENDE_TEMPLATES_DIR") or None,
            smtp=smtp_server(env.get("ATENDE_SMTP_URL", "")),
            mail_from=mail_from(env),
            public_url=public_url(env.get("ATENDE_PUBLIC_URL", "")),
            mail_first_retry=parse_duration(
                env.get("ATENDE_MAIL_FIRST_RETRY", "30s"), "ATENDE_MAIL_FIRST_RETRY"
            ),
            mail_retry_for=parse_duration(
                env.get("ATENDE_MAIL_RETRY_FOR", "24h"), "ATENDE_MAIL_RETRY_FOR"
            ),
            environ=env,
        )

    def system_texts(self) -> SystemTexts:
        """Built-in wording with the operator's templates on top; raises ValueError
        naming the file for one Atende cannot use."""
        folder = Path(self.templates_dir) if self.templates_dir else None
        return SystemTexts(self.default_language, folder)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def sqlite_path(self) -> Path:
        # SQLAlchemy's convention: sqlite:///relative/path, sqlite:////absolute/path.
        return Path(self.database_url[len("sqlite:///") :])

    def checkpoint_path(self) -> Path:
        if self.checkpoint_file:
            return Path(self.checkpoint_file)
        if self.is_sqlite:
            return self.sqlite_path().with_name(self.sqlite_path().name + ".checkpoints.jsonl")
        raise RuntimeError(
            "ATENDE_CHECKPOINT_FILE is not set: on PostgreSQL the audit anchors must live "
            "outside the database (another volume, a WORM mount), or someone with database "
            "access could rewrite history unseen; see README, 'Tamper evidence'."
        )

    def keystore_path(self) -> Path:
        if self.keystore_dir:
            return Path(self.keystore_dir)
        if self.is_sqlite:
            return self.sqlite_path().with_name(self.sqlite_path().name + ".keys")
        raise RuntimeError(
            "ATENDE_KEYSTORE_DIR is not set: on PostgreSQL, set it to a directory outside the "
            "database (shared by every host, backed up apart from the database) that holds "
            "the epoch keys; see README, 'Personal data and erasure'."
        )

    def eventsourcing_env(self) -> dict[str, str]:
        if self.is_sqlite:
            path = self.sqlite_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            private_database(path)  # before SQLite creates it with the umask's mode
            return {
                "PERSISTENCE_MODULE": "infrastructure.recorders:AtendeSQLiteFactory",
                "SQLITE_DBNAME": str(path),
                "SQLITE_LOCK_TIMEOUT": "10",
                "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:SQLiteTicketRecorder",
                "CREATE_TABLE": "no",
            }
        return {**postgres_env(self.database_url), **self._pool_env()}

    def _pool_env(self) -> dict[str, str]:
        return {
            "POSTGRES_POOL_SIZE": str(self.db_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.db_max_overflow),
        }


# ASCII digits only (\d would take any script's, which the document's pattern does not).
_DURATION = re.compile(r"^\s*([0-9]+)\s*([dhms]?)\s*$")
# At most six digits, in any unit (999999d is some 2,700 years): bounded, so no
# timedelta overflows, and stated as a pattern the OpenAPI document can carry.
LARGEST_DURATION_COUNT = 999_999
DURATION_PATTERN = r"^\s*0*[1-9][0-9]{0,5}\s*[dhms]?\s*$"
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}


def parse_duration(text: str, name: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``90s`` or plain seconds (1 to 999999 of the unit)."""
    match = _DURATION.match(text)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{name} must be a positive duration like 7d, 12h, 30m or 90s")
    if int(match[1]) > LARGEST_DURATION_COUNT:
        raise ValueError(f"{name} must be at most {LARGEST_DURATION_COUNT} of its unit")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


def optional_duration(env: dict[str, str], name: str, default: str = "off") -> timedelta | None:
    text = env.get(name, default).strip().lower()
    return None if text in ("", "off", "0", "none") else parse_duration(text, name)


@dataclass(frozen=True)
class Rate:
    """A request budget: ``requests`` per ``per``, which may all come at once (the burst)."""

    requests: int
    per: timedelta

    @property
    def per_second(self) -> float:
        return self.requests / self.per.total_seconds()


def optional_rate(env: dict[str, str], name: str, default: str = "off") -> Rate | None:
    """``600/60s`` (600 requests a minute, all of them at once if need be), or off."""
    text = env.get(name, default).strip().lower()
    if text in ("", "off", "0", "none"):
        return None
    requests, slash, period = text.partition("/")
    if not slash or not requests.strip().isdigit() or int(requests) == 0:
        raise ValueError(f"{name} must look like 600/60s (requests/duration) or be off")
    return Rate(int(requests), parse_duration(period, name))


_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUBJECT_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
NATS_SCHEMES = ("nats", "tls")


@dataclass(frozen=True)
class SmtpServer:
    """Where email goes out: ``smtp://user:pass@host:587?starttls=true`` or ``smtps://``."""

    host: str
    port: int
    ssl: bool  # smtps: TLS from the first byte
    starttls: bool
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def smtp_server(text: str) -> SmtpServer | None:
    text = text.strip()
    if not text:
        return None
    parsed = urlparse(text)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    query = parse_qs(parsed.query)
    starttls = query.get("starttls", ["false"])[0].lower()
    if (
        parsed.scheme not in ("smtp", "smtps")
        or not parsed.hostname
        or port == -1
        or starttls not in ("true", "false")
        or set(query) - {"starttls"}
    ):
        raise ValueError(
            "ATENDE_SMTP_URL must look like smtp://user:password@host:587?starttls=true "
            f"or smtps://host:465, got {_without_password(text)!r}"
        )
    ssl = parsed.scheme == "smtps"
    return SmtpServer(
        host=parsed.hostname,
        port=port or (465 if ssl else 25),
        ssl=ssl,
        starttls=starttls == "true",
        user=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return url.replace(f":{parsed.password}@", ":***@", 1)


def public_url(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query:
        raise ValueError(f"ATENDE_PUBLIC_URL must look like https://help.example.com, got {text!r}")
    return text.rstrip("/")


def mail_from(env: dict[str, str]) -> str | None:
    """ATENDE_MAIL_FROM (``Soporte <soporte@example.com>``); required with ATENDE_SMTP_URL."""
    text = env.get("ATENDE_MAIL_FROM", "").strip()
    if not text:
        if env.get("ATENDE_SMTP_URL", "").strip():
            raise ValueError("ATENDE_MAIL_FROM is required with ATENDE_SMTP_URL")
        return None
    _, address = parseaddr(text)
    if "@" not in address or any(ch in text for ch in "\r\n"):
        raise ValueError(
            f"ATENDE_MAIL_FROM must be an address like soporte@example.com, got {text!r}"
        )
    return text


def flag(env: dict[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be true or false, got {text!r}")


def matching(text: str, pattern: re.Pattern[str], name: str, what: str) -> str:
    if pattern.match(text.strip()) is None:
        raise ValueError(f"{name} must be {what}, got {text!r}")
    return text.strip()


def nats_url(text: str) -> str | None:
    """``nats://[user:pass@]host[:port]`` or ``tls://...``, several comma-separated for a
    cluster; empty is off. Checked at start, so a typo stops the server with a message
    rather than leaving a projector that retries a connection forever."""
    text = text.strip()
    if not text:
        return None
    for server in text.split(","):
        parsed = urlparse(server.strip())
        try:
            parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            parsed = parsed._replace(netloc="")
        if parsed.scheme not in NATS_SCHEMES or not parsed.hostname:
            raise ValueError(
                f"ATENDE_NATS_URL must look like nats://host:4222 (or tls://), got {server!r}"
            )
    return text


def postgres_env(url: str) -> dict[str, str]:
    """eventsourcing's PostgreSQL settings from postgresql://user:pw@host:port/db?schema=s."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError(
            f"ATENDE_DATABASE_URL must start with sqlite:/// or postgresql://, got {url!r}"
        )
    query = parse_qs(parsed.query)
    return {
        "PERSISTENCE_MODULE": "infrastructure.recorders:AtendePostgresFactory",
        "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": unquote(parsed.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parsed.password or ""),
        "POSTGRES_SCHEMA": query.get("schema", [""])[0],
        # Fail fast when the database is unreachable or the pool is exhausted: the
        # HTTP layer answers 503 + Retry-After instead of hanging a worker.
        "POSTGRES_CONNECT_TIMEOUT": "3",
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:PostgresTicketRecorder",
        "CREATE_TABLE": "no",
    }


def decode_secret_key(text: str) -> bytes:
    key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    if len(key) != 32:
        raise ValueError("ATENDE_SECRET_KEY must be 32 bytes, base64url-encoded")
    return key


def new_secret_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def secret_key_for(settings: Settings) -> bytes:
    """The deployment secret that wraps customer keys.

    PostgreSQL deployments must set ATENDE_SECRET_KEY (every host needs the same one).
    The embedded SQLite default keeps one in a file beside the database, created once.
    """
    if settings.secret_key is not None:
        return settings.secret_key
    if not settings.is_sqlite:
        raise RuntimeError(
            "ATENDE_SECRET_KEY is not set; generate one with `atende secret` and give "
            "the same value to every Atende process"
        )
    path = settings.sqlite_path().with_suffix(".key")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write aside, then link into place: link fails if another process won the
        # race, and nobody ever reads a half-written key.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        write_private(tmp, new_secret_key())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    restrict(path)  # an older Atende wrote it with the umask's mode first
    return decode_secret_key(path.read_text())
