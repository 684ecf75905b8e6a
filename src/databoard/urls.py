"""URL wiring: web pages, the API under /api/v1, admin, health and metrics."""

from django.contrib import admin
from django.urls import include, path

from databoard.api import api
from databoard.web import views as web_views

urlpatterns = [
    path("", include("databoard.web.urls")),
    path("accounts/", include("databoard.accounts.urls")),
    path("", include("databoard.challenges.urls")),
    path("storage/", include("databoard.storage.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("healthz", web_views.healthz, name="healthz"),
    path("metrics", web_views.metrics, name="metrics"),
]

handler404 = "databoard.web.views.not_found"
handler403 = "databoard.web.views.forbidden"
