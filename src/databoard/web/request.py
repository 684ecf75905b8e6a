"""Helpers about the incoming request shared by web views and the API."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The peer address of the request (a proxy in front sets REMOTE_ADDR through the server)."""
    return request.META.get("REMOTE_ADDR") or None
