"""Shared fixtures: users of each kind, API clients acting as them, and config overrides."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client as DjangoClient

from databoard.config import reset_config_cache
from tests.factories import PASSWORD, make_token, make_user


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Requests made in-process (httpx WSGI transport) run inside the test's transaction, as with
    Django's own test client, which also stops closing the connection at each request's end."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Argon2 costs ~0.1 s a hash and the suite hashes hundreds of passwords. Tests marked
    ``real_hasher`` keep the production hashers (one checks that argon2 is what is used)."""
    if "real_hasher" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test's database is rolled back, so ids and counters repeat: cached views must not outlive it."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_config():
    reset_config_cache()
    yield
    reset_config_cache()


@pytest.fixture
def override_config(monkeypatch):
    """Change settings for one test: ``override_config(require_approval=False)``."""

    def apply(**values):
        for name, value in values.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            monkeypatch.setenv(f"DATABOARD_{name.upper()}", str(value))
        reset_config_cache()

    return apply


@pytest.fixture
def outbox():
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def admin_user(db):
    return make_user(username="admin", is_superuser=True)


@pytest.fixture
def user(db):
    return make_user(username="alice")


@pytest.fixture
def other_user(db):
    return make_user(username="bob")


class ApiClient:
    """Django's test client speaking JSON to /api/v1 with a bearer token (or none)."""

    def __init__(self, token: str | None = None):
        self._client = DjangoClient()
        self._headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, json=None, **kwargs):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        if json is not None:
            import json as _json

            kwargs.setdefault("data", _json.dumps(json))
            kwargs.setdefault("content_type", "application/json")
        return getattr(self._client, method)(url, **{**self._headers, **kwargs})

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, json=None, **kw):
        return self._call("post", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self._call("put", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self._call("patch", path, json=json, **kw)

    def delete(self, path, json=None, **kw):
        return self._call("delete", path, json=json, **kw)


@pytest.fixture
def anon_api(db):
    return ApiClient()


@pytest.fixture
def user_api(user):
    return ApiClient(make_token(user))


@pytest.fixture
def other_api(other_user):
    return ApiClient(make_token(other_user))


@pytest.fixture
def admin_api(admin_user):
    return ApiClient(make_token(admin_user, scope="admin"))


@pytest.fixture
def password():
    return PASSWORD
