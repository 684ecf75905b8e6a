"""Home page, error pages, health check and metrics."""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from databoard.web.metrics import REGISTRY


@require_GET
def home(request):
    context = {}
    if request.user.is_authenticated and request.user.is_staff:
        from databoard.accounts.selectors import approval_queue

        context["pending_count"] = approval_queue(viewer=request.user).count()
    return render(request, "web/home.html", context)


def error_page(request, *, status: int, message: str):
    """The error page every web view shows for a refused request (same words as the API)."""
    return render(request, "web/error.html", {"status": status, "message": message}, status=status)


def not_found(request, exception=None):
    return error_page(request, status=404, message="There is no page at this address, or you may not see it.")


def forbidden(request, exception=None):
    message = str(exception) if exception and str(exception) else "You may not see this page."
    return error_page(request, status=403, message=message)


@require_GET
def healthz(request):
    """200 with ``{"status": "ok"}`` when the database answers; 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure means "unhealthy", whatever the driver raises
        return JsonResponse({"status": "error", "database": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})


@require_GET
def metrics(request):
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
