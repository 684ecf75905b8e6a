"""Signed, expiring download links for stored blobs, served by :mod:`databoard.storage.views`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing
from django.urls import reverse

from databoard.config import get_config
from databoard.errors import DataboardError
from databoard.storage.store import check_sha256, safe_filename

SALT = "databoard.storage.download"


class LinkInvalid(DataboardError):
    status, code = 403, "link_invalid"


class LinkExpired(DataboardError):
    status, code = 410, "link_expired"


@dataclass(frozen=True)
class DownloadGrant:
    sha256: str
    filename: str
    content_type: str
    expires_at: int


def signed_download_path(*, sha256: str, filename: str, ttl_seconds: int | None = None,
                         content_type: str = "application/octet-stream") -> str:
    """A path like ``/storage/d/<token>`` that serves the blob as ``filename`` until it expires."""
    check_sha256(sha256)
    ttl = get_config().signed_url_ttl_seconds if ttl_seconds is None else ttl_seconds
    token = signing.dumps({"s": sha256, "n": safe_filename(filename), "t": content_type,
                           "e": int(time.time()) + ttl}, salt=SALT, compress=True)
    return reverse("storage:download", kwargs={"token": token})


def signed_download_url(**kwargs) -> str:
    """The same link as an absolute URL on the configured ``base_url``."""
    return get_config().base_url.rstrip("/") + signed_download_path(**kwargs)


def grant_from_token(token: str) -> DownloadGrant:
    """Check a link's signature and expiry. Raises LinkInvalid (403) or LinkExpired (410)."""
    try:
        payload = signing.loads(token, salt=SALT)
        grant = DownloadGrant(sha256=check_sha256(payload["s"]), filename=safe_filename(payload["n"]),
                              content_type=str(payload.get("t") or "application/octet-stream"),
                              expires_at=int(payload["e"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, DataboardError):
        raise LinkInvalid("This download link is not valid; ask for a new one.") from None
    if grant.expires_at <= time.time():
        raise LinkExpired("This download link has expired; ask for a new one.")
    return grant
