"""Factories that build test data through the services, so fixtures obey the same rules."""

from __future__ import annotations

import itertools

from databoard.accounts import services
from databoard.accounts.models import User

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


def make_user(*, username: str | None = None, approved: bool = True, is_superuser: bool = False,
              is_staff: bool = False, **fields) -> User:
    n = next(_seq)
    username = username or f"user{n}"
    fields.setdefault("email", f"{username}@example.org")
    fields.setdefault("first_name", username.capitalize())
    return services.user_create(username=username, password=fields.pop("password", PASSWORD), approved=approved,
                                is_superuser=is_superuser, is_staff=is_staff or is_superuser,
                                email_verified=True, **fields)


def make_token(user: User, *, scope: str = "write", **fields) -> str:
    _, raw = services.token_create(user=user, actor=user, scope=scope, **fields)
    return raw
