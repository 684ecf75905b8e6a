"""Writes of the storage app."""

from __future__ import annotations

from typing import IO

from django.db import IntegrityError, transaction

from databoard.storage.models import Artifact
from databoard.storage.store import ArtifactStore


def artifact_store(*, stream: IO[bytes], max_bytes: int | None = None,
                   store: ArtifactStore | None = None) -> Artifact:
    """Store a stream's bytes and return its Artifact row (the same row for the same content).

    The blob is written before the row, so a row never points at a missing blob; two processes
    storing the same content end with one blob and one row. Raises TooLarge or StorageError.
    """
    blob = (store or ArtifactStore.from_config()).put(stream, max_bytes=max_bytes)
    try:
        with transaction.atomic():
            artifact, _ = Artifact.objects.get_or_create(sha256=blob.sha256,
                                                         defaults={"size_bytes": blob.size_bytes})
    except IntegrityError:  # created by another process between our read and our insert
        artifact = Artifact.objects.get(sha256=blob.sha256)
    return artifact
