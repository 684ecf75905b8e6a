"""Template context shared by every page."""

from databoard import __version__


def site(request):
    return {"databoard_version": __version__}
