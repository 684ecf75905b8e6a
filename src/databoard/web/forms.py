"""Helpers every app's web views share: running a form through a service, and paging a list."""

from __future__ import annotations

from django.core.paginator import Page, Paginator

from databoard.errors import DataboardError

PAGE_SIZE = 50


class Outcome:
    """What :func:`submit_form` did: ``done`` with the service's ``result``, or not, with the page's status."""

    def __init__(self, *, done: bool = False, result=None, status: int = 200):
        self.done, self.result, self.status = done, result, status


def submit_form(request, form, action, *, error_field: dict[str, str] | None = None) -> Outcome:
    """For a POSTed valid form, run ``action(cleaned_data)``; a refusal goes onto the form, next to its field
    when the service names one the form has (``error_field`` maps a service's field name to the form's).

    Returns done with the result, or the status to render the form with: 200 (GET), 400 (invalid form) or
    the service error's own status.
    """
    if request.method != "POST":
        return Outcome()
    if not form.is_valid():
        return Outcome(status=400)
    try:
        return Outcome(done=True, result=action(form.cleaned_data))
    except DataboardError as exc:
        field = exc.details.get("field")
        field = (error_field or {}).get(field, field)
        form.add_error(field if field in form.fields else None, str(exc))
        return Outcome(status=exc.status)


def page_of(request, items, *, param: str = "page", size: int = PAGE_SIZE) -> Page:
    """One page of a list; a missing or bad page number gives the first or last page."""
    return Paginator(items, size).get_page(request.GET.get(param))
