"""Stored blobs of the artifact store."""

from django.db import models
from django.utils import timezone


class Artifact(models.Model):
    """One blob in the artifact store, addressed by its sha256. Rows of other apps point here."""

    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sha256[:12]}… ({self.size_bytes} bytes)"
