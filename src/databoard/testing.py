"""pytest plugin for databoard's own test suite (loaded with ``-p databoard.testing``).

It runs before Django's settings are read, so it can give every test session a private data
home, a fixed secret key and an in-memory email outbox. ``DATABASE_URL`` passes through, so
the same suite runs on SQLite (default) and PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Never the user's own data home: a fresh one per run, shared by the xdist workers (they inherit it).
if "DATABOARD_TEST_HOME" not in os.environ:
    os.environ["DATABOARD_TEST_HOME"] = tempfile.mkdtemp(prefix="databoard-test-")
    atexit.register(shutil.rmtree, os.environ["DATABOARD_TEST_HOME"], True)
os.makedirs(os.path.join(os.environ["DATABOARD_TEST_HOME"], "static"), exist_ok=True)
os.environ["DATABOARD_HOME"] = os.environ["DATABOARD_TEST_HOME"]
os.environ.setdefault("DATABOARD_SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DATABOARD_EMAIL_BACKEND", "locmem")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "databoard.settings")

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by browser
# tests' fixtures in that same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
