"""Template filters and tags of the challenges pages: Markdown, scores, state badges, the home page's card,
the progress bar of a run."""

from __future__ import annotations

from django import template
from django.utils import timezone

from databoard.challenges import selectors
from databoard.challenges.markup import render_markdown

register = template.Library()

BADGES = {"scored": "ok", "approved": "ok", "open": "ok", "error": "bad", "rejected": "bad", "closed": "",
          "training": "info", "queued": "warn", "new": "warn", "pending": "warn", "upcoming": "info",
          "idle": "ok", "busy": "info", "lost": "bad", "stopped": ""}
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


@register.filter
def elapsed(value):
    """Seconds as a short duration (``45 s``, ``3 min 05 s``, ``2 h 03 min``), or ``—``."""
    try:
        total = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return "—"
    total = max(total, 0)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


PHASES = {"starting": "starting", "checking": "checking the code and the data", "training": "training a fold",
          "averaging": "averaging the folds' scores", "bagging": "bagging the folds' predictions"}
MAX_SEGMENTS = 30  # more folds than this: one continuous bar


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def run_progress(submission, *, now=None) -> dict | None:
    """Where a run in training is, for the progress bar: phase, fold (from 1), folds, elapsed seconds,
    the bar's percentage and segments (one a fold: ``done``, ``current`` or ``todo``). None unless training."""
    if submission.state != "training":
        return None
    raw = submission.progress if isinstance(submission.progress, dict) else {}
    phase = raw.get("phase") if raw.get("phase") in PHASES else "starting"
    fold, n_folds = _whole(raw.get("fold")), _whole(raw.get("n_folds")) or None
    elapsed_s = raw.get("elapsed_s")
    if not isinstance(elapsed_s, (int, float)) or isinstance(elapsed_s, bool) or elapsed_s < 0:
        elapsed_s = None
    if elapsed_s is None and submission.training_at:
        elapsed_s = ((now or timezone.now()) - submission.training_at).total_seconds()
    done = 0
    if n_folds:
        if phase in ("averaging", "bagging"):
            done = n_folds
        elif phase == "training" and fold:
            done = min(fold - 1, n_folds)
    if fold and n_folds and fold > n_folds:
        fold = n_folds
    label = PHASES[phase]
    if phase == "training" and fold:
        label = f"fold {fold} of {n_folds}" if n_folds else f"fold {fold}"
    elif phase in ("averaging", "bagging") and n_folds:
        label = f"all {n_folds} folds trained"
    segments = []
    if n_folds and n_folds <= MAX_SEGMENTS:
        segments = ["done" if i < done else "current" if i == done and phase == "training" else "todo"
                    for i in range(n_folds)]
    return {"phase": phase, "phase_text": PHASES[phase], "label": label, "fold": fold, "n_folds": n_folds,
            "done": done, "percent": round(100 * done / n_folds) if n_folds else 0, "segments": segments,
            "elapsed_s": elapsed_s}


@register.inclusion_tag("challenges/_progress.html")
def progress_bar(submission, compact=False):
    """The progress bar of a run in training (nothing otherwise); ``compact`` for table cells."""
    return {"p": run_progress(submission), "submission": submission, "compact": compact}
