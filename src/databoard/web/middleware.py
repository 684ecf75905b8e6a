"""Refuse request bodies over the configured size before anything reads them, and malformed uploads."""

from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError

from databoard.config import get_config


class RequestSizeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        config = get_config()
        # File uploads stream to disk, so they get the larger upload limit.
        is_upload = request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data")
        limit = config.max_upload_bytes if is_upload else config.max_request_bytes
        if length > limit:
            message = f"The request body is {length} bytes; the limit is {limit} bytes."
            if request.path.startswith("/api/"):
                return JsonResponse({"error": {"code": "too_large", "message": message, "details": {
                    "limit_bytes": limit}}}, status=413)
            from databoard.web.views import error_page

            return error_page(request, status=413, message=message)
        return self.get_response(request)

    def process_exception(self, request, exception):
        # A malformed multipart body (no boundary, truncated) is the client's mistake: 400, not 500.
        if isinstance(exception, MultiPartParserError):
            message = f"The uploaded form cannot be read ({exception}); send it again."
            if request.path.startswith("/api/"):
                return JsonResponse({"error": {"code": "invalid", "message": message, "details": {}}}, status=400)
            from databoard.web.views import error_page

            return error_page(request, status=400, message=message)
        return None
