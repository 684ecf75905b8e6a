"""Serve signed download links as streaming responses."""

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from databoard.errors import DataboardError
from databoard.storage.links import grant_from_token
from databoard.storage.store import ArtifactStore


@require_GET
def download(request, token: str):
    try:
        grant = grant_from_token(token)
        store = ArtifactStore.from_config()
        size = store.size(grant.sha256)
        chunks = store.iter_chunks(grant.sha256)
    except DataboardError as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(chunks, content_type=grant.content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(True, grant.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
