"""Fixtures of the accounts tests: session clients, teams and emails."""

from __future__ import annotations

import pytest
from django.test import Client as DjangoClient

from databoard.accounts import services
from tests.factories import PASSWORD


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what services schedule after commit (emails) inside the test's transaction."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def team(user):
    """A team owned by ``user`` (alice)."""
    return services.team_create(name="Lab One", owner=user)


def session_client(user, *, csrf: bool = True) -> DjangoClient:
    """A browser-like client signed in as ``user`` through the login API; CSRF enforced."""
    client = DjangoClient(enforce_csrf_checks=csrf)
    r = client.post("/api/v1/accounts/login", {"username": user.username, "password": PASSWORD},
                    content_type="application/json")
    assert r.status_code == 200, r.content
    return client


def csrf_headers(client: DjangoClient) -> dict[str, str]:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}
