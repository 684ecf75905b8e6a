"""pytest plugin for databoard's own test suite (loaded with ``-p databoard.testing``).

It runs before Django's settings are read, so it can give every test session a private data
home, a fixed secret key and an in-memory email outbox. ``DATABASE_URL`` passes through, so
the same suite runs on SQLite (default) and PostgreSQL.
"""

from __future__ import annotations

import os
import tempfile

_home = tempfile.mkdtemp(prefix="databoard-test-")
os.makedirs(os.path.join(_home, "static"), exist_ok=True)
os.environ.setdefault("DATABOARD_HOME", _home)
os.environ.setdefault("DATABOARD_SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DATABOARD_EMAIL_BACKEND", "locmem")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "databoard.settings")

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by browser
# tests' fixtures in that same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
