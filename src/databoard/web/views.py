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
    from databoard.accounts.selectors import approval_queue, invite_list_for

    context = {}
    if request.user.is_authenticated:
        context["invite_count"] = invite_list_for(user=request.user).count()
        if request.user.is_staff:
            context["pending_count"] = approval_queue(viewer=request.user).count()
    return render(request, "web/home.html", context)


def error_page(request, *, status: int, message: str):
    """The error page every web view shows for a refused request (same words as the API)."""
    template = ERROR_TEMPLATES.get(status, "web/error.html")
    return render(request, template, {"status": status, "message": message}, status=status)


ERROR_TEMPLATES = {403: "403.html", 404: "404.html"}


def not_found(request, exception=None):
    """handler404: our page, with the default words (Django's exception text is for developers)."""
    return error_page(request, status=404, message="")


def forbidden(request, exception=None):
    """handler403: the reason given by the view that refused, else the default words."""
    return error_page(request, status=403, message=str(exception) if exception else "")


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
