"""WSGI entry point (used by the in-process client transport and tests)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "databoard.settings")
application = get_wsgi_application()
