"""ASGI entry point, served by ``databoard serve`` (uvicorn)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "databoard.settings")
application = get_asgi_application()
