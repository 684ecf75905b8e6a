"""Template filters and tags of the challenges pages: Markdown, scores, state badges, the home page's card."""

from __future__ import annotations

from django import template
from django.utils import timezone

from databoard.challenges import selectors
from databoard.challenges.markup import render_markdown

register = template.Library()

BADGES = {"scored": "ok", "approved": "ok", "open": "ok", "error": "bad", "rejected": "bad", "closed": "",
          "training": "info", "queued": "warn", "new": "warn", "pending": "warn", "upcoming": "info"}
HOME_EVENTS = 6


@register.filter(name="markdown")
def markdown_filter(text):
    """Organizer Markdown as sanitized HTML."""
    return render_markdown(text)


@register.filter
def score(value, precision=None):
    """A score with its score type's precision (``—`` when there is none)."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.{int(precision) if precision not in (None, '') else 3}f}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def seconds(value):
    if value is None:
        return "—"
    return f"{float(value):.2f}"


@register.filter
def get(mapping, key):
    """``mapping[key]``, or None (for dicts keyed by score names in templates)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def badge(state):
    """The badge class of a state (submission, sign-up or event)."""
    return BADGES.get(str(state), "")


@register.inclusion_tag("challenges/_open_events_card.html", takes_context=True)
def open_events_card(context):
    """The home page's card: events open for submissions that the visitor may see."""
    request = context.get("request")
    user = getattr(request, "user", None)
    now = timezone.now()
    events = [e for e in selectors.event_list(viewer=user)[:200] if e.is_open(at=now)]
    return {"events": events[:HOME_EVENTS], "more": len(events) > HOME_EVENTS, "user": user}


@register.filter
def get_index(sequence, index):
    """``sequence[index]``, or an empty dict when out of range."""
    try:
        return sequence[int(index)]
    except (TypeError, ValueError, IndexError, KeyError):
        return {}


@register.filter
def duration(value):
    """Seconds with their unit (``1.25 s``), or ``—``."""
    return "—" if value is None else f"{float(value):.2f} s"
