"""Start Django inside a command-line process."""

from __future__ import annotations

import os

_ready = False


def django_setup() -> None:
    """Configure Django from databoard's config once per process."""
    global _ready
    if _ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "databoard.settings")
    import django

    django.setup()
    _ready = True
