"""File downloads of the challenges, streamed from the artifact store."""

from __future__ import annotations

import shutil
import tempfile
import zipfile

from django.http import FileResponse

from databoard.challenges.models import KitFile, Problem
from databoard.storage.store import ArtifactStore


def starting_kit_paths(problem: Problem) -> list[KitFile]:
    """The kit files participants get: everything in the kit (not the private data) except example
    submissions other than ``starting_kit``."""
    files = []
    for kit_file in problem.files.filter(kind=KitFile.Kind.KIT).select_related("artifact"):
        parts = kit_file.path.split("/")
        if parts[0] == "submissions" and len(parts) > 2 and parts[1] != "starting_kit":
            continue
        files.append(kit_file)
    return files


def starting_kit_zip(problem: Problem, *, actor=None, ip: str | None = None) -> FileResponse:
    """A .zip of the starting kit, built on disk (never whole in memory) and streamed. The download is
    recorded in the audit log."""
    from databoard.accounts.services import audit_record

    audit_record(action="problem.download", actor=actor if actor is not None and actor.is_authenticated else None,
                 target=problem, ip=ip)
    store = ArtifactStore.from_config()
    spool = tempfile.TemporaryFile()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for kit_file in starting_kit_paths(problem):
            with store.open(kit_file.artifact.sha256) as src, zf.open(f"{problem.name}/{kit_file.path}", "w") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=f"{problem.name}-starting-kit.zip",
                        content_type="application/zip")
