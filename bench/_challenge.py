"""Set-up shared by the benchmarks that train submissions: a migrated database, an admin and a participant,
a kit imported as problem ``iris`` and an event the participant is signed up to. Call it after
``django_setup()``, in a process whose data home and database are the benchmark's own."""

from __future__ import annotations

from pathlib import Path


def challenge_setup(kit: Path, slug: str, **event_options):
    """``(admin, participant, event)`` on a fresh database (``event_options`` go to ``event_create``)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from databoard.accounts import services as accounts
    from databoard.challenges import services

    admin = accounts.user_create(username="admin", email="admin@example.org", password="bench-password-123",
                                 approved=True, is_superuser=True, email_verified=True)
    participant = accounts.user_create(username="participant", email="participant@example.org",
                                       password="bench-password-123", approved=True, email_verified=True)
    problem = services.problem_import(source=Path(kit), name="iris", actor=admin)
    event = services.event_create(problem=problem, slug=slug, actor=admin, **event_options)
    services.signup_request(event=event, user=participant)
    return admin, participant, event
