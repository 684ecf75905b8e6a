"""Content-addressed artifact store on any fsspec filesystem.

Blobs live at ``<root>/sha256/ab/cd/<sha256>``. Writes stream through a temporary object in the
same filesystem while hashing, so a file is never held whole in memory, a size limit stops the
copy as soon as it is passed, and nothing half-written is ever visible under its hash.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from fsspec.core import url_to_fs

from databoard.config import get_config
from databoard.errors import DataboardError, NotFound, TooLarge, ValidationFailed

CHUNK_BYTES = 1024 * 1024
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class StorageError(DataboardError):
    """The artifact store could not read or write (disk full, bucket unreachable…)."""

    status, code = 503, "storage_unavailable"


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size_bytes: int


def human_size(size: float) -> str:
    """``1536`` → ``"2 KB"``: sizes in messages people read."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.0f} {unit}"
        size /= 1024
    return f"{size} GB"  # pragma: no cover


def check_sha256(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lower-case hex digits; raise ValidationFailed otherwise."""
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise ValidationFailed("Not a sha256 digest: expected 64 lower-case hexadecimal characters.")
    return sha256


class ArtifactStore:
    """Blobs addressed by sha256 under an fsspec URL (a local folder, ``memory://``, ``s3://…``)."""

    def __init__(self, url: str):
        try:
            self.fs, self.root = url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise StorageError(f"The artifact store URL '{url}' cannot be used: {exc}.") from exc
        self.root = self.root.rstrip("/")
        self.url = url

    @classmethod
    def from_config(cls) -> ArtifactStore:
        return cls(get_config().effective_artifacts_url)

    def path(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.root}/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, stream: IO[bytes], *, max_bytes: int | None = None) -> StoredBlob:
        """Copy ``stream`` into the store; returns its digest and size. Existing content is kept once.

        Raises TooLarge (nothing kept) past ``max_bytes`` (default: config ``max_upload_bytes``),
        StorageError when the filesystem fails.
        """
        limit = get_config().max_upload_bytes if max_bytes is None else max_bytes
        digest = hashlib.sha256()
        size = 0
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        try:
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            with self.fs.open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"The file is over the {human_size(limit)} limit.", limit_bytes=limit)
                    digest.update(chunk)
                    out.write(chunk)
            sha256 = digest.hexdigest()
            final = self.path(sha256)
            if self.fs.exists(final):
                self.fs.rm(tmp)
            else:
                self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                self.fs.mv(tmp, final)
        except TooLarge:
            self._discard(tmp)
            raise
        except OSError as exc:
            self._discard(tmp)
            raise StorageError(f"The artifact store could not write the file: {exc}.") from exc
        return StoredBlob(sha256=sha256, size_bytes=size)

    def _discard(self, path: str) -> None:
        try:
            if self.fs.exists(path):
                self.fs.rm(path)
        except OSError:  # the original error matters more than a failed clean-up
            pass

    def exists(self, sha256: str) -> bool:
        return self.fs.exists(self.path(sha256))

    def size(self, sha256: str) -> int:
        try:
            return int(self.fs.size(self.path(sha256)))
        except FileNotFoundError:
            raise NotFound(f"No stored file {sha256[:12]}….") from None

    def open(self, sha256: str) -> IO[bytes]:
        """A binary stream of the blob. Raises NotFound when it is missing."""
        try:
            return self.fs.open(self.path(sha256), "rb")
        except FileNotFoundError:
            raise NotFound(f"No stored file {sha256[:12]}….") from None
        except OSError as exc:
            raise StorageError(f"The artifact store could not read the file: {exc}.") from exc

    def iter_chunks(self, sha256: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The blob's bytes, a chunk at a time (for streaming responses)."""
        with self.open(sha256) as handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk

    def delete(self, sha256: str) -> bool:
        """Remove a blob; True when it existed."""
        path = self.path(sha256)
        if not self.fs.exists(path):
            return False
        self.fs.rm(path)
        return True


def safe_filename(name: str) -> str:
    """A file name safe to store and to send back: no paths, no control characters, ≤ 255 bytes.

    Raises ValidationFailed with what is wrong, e.g. for ``..``, ``/etc/passwd`` or ``a/b``.
    """
    if not isinstance(name, str):
        raise ValidationFailed("A file name must be text.")
    cleaned = name.strip()
    if not cleaned:
        raise ValidationFailed("The file name is empty.")
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise ValidationFailed("The file name contains control characters.")
    if "/" in cleaned or "\\" in cleaned:
        raise ValidationFailed(f"'{cleaned[:80]}' is a path; give a plain file name without '/' or '\\'.")
    if cleaned in (".", ".."):
        raise ValidationFailed(f"'{cleaned}' is not a file name.")
    if len(cleaned.encode("utf-8")) > 255:
        raise ValidationFailed("The file name is longer than 255 bytes.")
    return cleaned


__all__ = ["ArtifactStore", "StorageError", "StoredBlob", "check_sha256", "human_size", "safe_filename"]
