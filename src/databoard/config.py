"""The one place that reads databoard's configuration.

Order, later wins: built-in defaults → ``databoard.toml`` in the data home (or the file
named by ``DATABOARD_CONFIG``) → environment (``DATABOARD_*`` and ``DATABASE_URL``).
Everything else asks :func:`get_config`; nothing else reads ``os.environ`` for settings.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

CONFIG_FILENAME = "databoard.toml"


class ConfigError(Exception):
    """The configuration file or environment holds a value databoard cannot use."""


@dataclass(frozen=True)
class Config:
    """Every setting of an installation. Built once by :func:`load_config`."""

    home: Path = Path(".databoard")
    database_url: str = ""  # empty: SQLite at <home>/databoard.sqlite3
    database_pool: bool = True  # PostgreSQL connection pool (psycopg_pool)
    secret_key: str = ""
    debug: bool = False
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]", "testserver")
    csrf_trusted_origins: tuple[str, ...] = ()
    base_url: str = "http://127.0.0.1:8000"
    # Artifact store: any fsspec URL; empty means <home>/artifacts.
    artifacts_url: str = ""
    max_upload_bytes: int = 100 * 1024 * 1024
    max_request_bytes: int = 10 * 1024 * 1024
    signed_url_ttl_seconds: int = 3600
    # Accounts.
    require_approval: bool = True
    require_email_verification: bool = False
    login_failures_per_minute: int = 10
    # Email: the console backend prints messages; set email_backend = "smtp" to send them.
    email_backend: str = "console"
    email_host: str = "localhost"
    email_port: int = 25
    email_host_user: str = ""
    email_host_password: str = ""
    email_use_tls: bool = False
    default_from_email: str = "databoard@localhost"
    # Challenges.
    max_kit_bytes: int = 2 * 1024 * 1024 * 1024  # a kit and its data, in all
    max_submission_file_bytes: int = 10 * 1024 * 1024  # one element file of a submission
    worker_poll_seconds: float = 0.2
    lease_seconds: int = 60  # a run whose worker sent no heartbeat for this long is given to another worker
    max_attempts: int = 3  # runs lost that many times end in error
    sandbox: str = "auto"  # "auto": bwrap when it works, else limits only (said loudly); "bwrap": required; "off"
    progress_seconds: float = 1.0  # how often a worker stores the progress of its runs (and sees cancels)
    max_output_mb: int = 20  # output a run may print before it is stopped
    max_file_mb: int = 1024  # largest file a run may write
    max_processes: int = 2048  # processes and threads of the worker's user while a run goes (RLIMIT_NPROC)
    # Files.
    config_file: Path | None = field(default=None, compare=False)

    @property
    def sqlite_path(self) -> Path:
        return self.home / "databoard.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def effective_artifacts_url(self) -> str:
        return self.artifacts_url or str((self.home / "artifacts").resolve())

    @property
    def cache_dir(self) -> Path:
        """Unpacked kits, shared by the workers of this machine (safe to delete)."""
        return (self.home / "cache").resolve()

    @property
    def work_dir(self) -> Path:
        """Private folders of the runs in progress."""
        return (self.home / "work").resolve()


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """Turn a value from TOML or the environment into the type the field declares."""
    kind_text = str(kind)
    try:
        if kind_text in ("bool", "<class 'bool'>"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _BOOL_TRUE:
                return True
            if text in _BOOL_FALSE:
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if kind_text in ("int", "<class 'int'>"):
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            return int(value)
        if kind_text in ("float", "<class 'float'>"):
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return float(value)
        if kind_text.startswith("tuple"):
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            if isinstance(value, (list, tuple)):
                return tuple(str(v) for v in value)
            raise ValueError("expected a list of strings")
        if "Path" in kind_text:
            return Path(str(value)).expanduser() if value not in (None, "") else None
        if not isinstance(value, (str, int, float)):
            raise ValueError("expected a string")
        return str(value)
    except ValueError as exc:
        raise ConfigError(f"Setting '{name}' is invalid: {exc}.") from exc


def _home_from(environ: dict[str, str]) -> Path:
    return Path(environ.get("DATABOARD_HOME", ".databoard")).expanduser()


def config_path(environ: dict[str, str] | None = None) -> Path:
    """Where the config file is read from: ``DATABOARD_CONFIG`` or ``<home>/databoard.toml``."""
    environ = dict(os.environ if environ is None else environ)
    explicit = environ.get("DATABOARD_CONFIG")
    return Path(explicit).expanduser() if explicit else _home_from(environ) / CONFIG_FILENAME


def load_config(environ: dict[str, str] | None = None) -> Config:
    """Read defaults, then the config file, then the environment, into a frozen Config.

    Raises ConfigError with the setting's name when a value has the wrong type or a key is unknown.
    """
    environ = dict(os.environ if environ is None else environ)
    known = {f.name: f for f in fields(Config) if f.name not in ("config_file",)}
    values: dict[str, Any] = {"home": _home_from(environ)}

    path = config_path(environ)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Config file '{path}' is not valid TOML: {exc}.") from exc
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"Config file '{path}' has an unknown setting '{key}'.")
            if key == "home":
                continue  # the home is where the file lives; only DATABOARD_HOME moves it
            values[key] = _coerce(key, known[key].type, value)
        values["config_file"] = path

    for name, spec in known.items():
        env_name = f"DATABOARD_{name.upper()}"
        if env_name in environ and name != "home":
            values[name] = _coerce(env_name, spec.type, environ[env_name])
    if environ.get("DATABASE_URL"):
        values["database_url"] = environ["DATABASE_URL"]

    config = Config(**values)
    if not config.secret_key:
        # No secret yet (before `databoard init`): a per-process random key keeps sessions
        # and signed links unforgeable; they simply do not survive a restart.
        config = dataclasses.replace(config, secret_key=secrets.token_urlsafe(50))
    return config


@lru_cache(maxsize=1)
def get_config() -> Config:
    """The installation's configuration, read once per process."""
    return load_config()


def reset_config_cache() -> None:
    """Forget the cached configuration (tests and `databoard init` change the environment)."""
    get_config.cache_clear()


CONFIG_TEMPLATE = """\
# databoard configuration. Environment variables DATABOARD_<NAME> (and DATABASE_URL)
# override any value here. Remove the '#' in front of a line to change a default.

# Keep this secret: it signs sessions, password-reset and download links.
secret_key = "{secret_key}"

# Database. Empty: SQLite in this folder. Examples:
#   postgresql://user:password@127.0.0.1:5432/databoard
#   mysql://root@127.0.0.1:3306/databoard
# database_url = ""
# PostgreSQL only: keep a pool of open connections (saves ~5 ms a request).
# database_pool = true

# Public address of the web site (used in emails and download links).
# base_url = "http://127.0.0.1:8000"
# allowed_hosts = ["127.0.0.1", "localhost"]

# Artifact store: any fsspec URL, e.g. "s3://bucket/prefix". Empty: ./artifacts in this folder.
# artifacts_url = ""
# max_upload_bytes = 104857600
# signed_url_ttl_seconds = 3600

# Accounts: new users wait for an admin's approval; email verification is optional.
# require_approval = true
# require_email_verification = false
# login_failures_per_minute = 10

# Challenges: size limits of imported kits and of each submitted file; how often idle workers look.
# max_kit_bytes = 2147483648
# max_submission_file_bytes = 10485760
# worker_poll_seconds = 0.2
# A run whose worker is silent for lease_seconds is requeued; after max_attempts lost runs it fails.
# lease_seconds = 60
# max_attempts = 3
# Sandbox of submission runs: "auto" (bwrap when installed and working), "bwrap" (refuse to run without), "off".
# sandbox = "auto"
# Every run is limited: output it may print (MB), largest file it may write (MB), processes and threads of the
# worker's user (not enforced for root: run workers as a dedicated user). Time and memory are set per event.
# max_output_mb = 20
# max_file_mb = 1024
# max_processes = 2048
# How often a worker stores its runs' progress and log tail, and notices a cancel.
# progress_seconds = 1.0

# Email: "console" prints messages to the server log; "smtp" sends them.
# email_backend = "console"
# email_host = "localhost"
# email_port = 25
# email_host_user = ""
# email_host_password = ""
# email_use_tls = false
# default_from_email = "databoard@localhost"
"""


def write_config_file(path: Path) -> bool:
    """Write a commented config file with a fresh secret key; never overwrite. True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG_TEMPLATE.format(secret_key=secrets.token_urlsafe(50)), encoding="utf-8")
    path.chmod(0o600)
    return True
