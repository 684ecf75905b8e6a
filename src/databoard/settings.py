"""Django settings: wiring only. Every value comes from :mod:`databoard.config`."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from databoard.config import get_config

_config = get_config()

BASE_DIR = Path(__file__).resolve().parent
DATABOARD = _config

SECRET_KEY = _config.secret_key
DEBUG = _config.debug
ALLOWED_HOSTS = list(_config.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(_config.csrf_trusted_origins)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "databoard.accounts",
    "databoard.storage",
    "databoard.challenges",
    "databoard.web",
]

MIDDLEWARE = [
    "databoard.web.metrics.MetricsMiddleware",
    "databoard.web.middleware.RequestSizeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "databoard.accounts.middleware.ActiveUserMiddleware",
    "databoard.accounts.middleware.LocalClientMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "databoard.urls"
WSGI_APPLICATION = "databoard.wsgi.application"
ASGI_APPLICATION = "databoard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "databoard.web.context.site",
            ],
        },
    },
]


def _database(url: str, pool: bool) -> dict:
    db = dj_database_url.parse(url, conn_max_age=0)
    engine = db["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers work while a writer commits; the busy timeout makes writers wait
        # for each other instead of failing with "database is locked".
        db["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        }
    elif engine == "django.db.backends.postgresql" and pool:
        # A connection pool: opening a PostgreSQL connection per request costs ~5 ms.
        db["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 10, "timeout": 30}}
    elif engine == "django.db.backends.mysql":
        import pymysql

        pymysql.install_as_MySQLdb()
        db["OPTIONS"] = {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
    return db


DATABASES = {"default": _database(_config.effective_database_url, _config.database_pool)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["databoard.accounts.backends.ApprovedUserBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = _config.home / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = _config.max_request_bytes
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

EMAIL_BACKEND = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}.get(_config.email_backend, _config.email_backend)
EMAIL_HOST = _config.email_host
EMAIL_PORT = _config.email_port
EMAIL_HOST_USER = _config.email_host_user
EMAIL_HOST_PASSWORD = _config.email_host_password
EMAIL_USE_TLS = _config.email_use_tls
DEFAULT_FROM_EMAIL = _config.default_from_email

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"databoard": {"handlers": ["console"], "level": "INFO"}},
}
