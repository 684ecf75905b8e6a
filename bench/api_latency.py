"""API latency of the accounts endpoints on SQLite and PostgreSQL, side by side.

    .venv/bin/python bench/api_latency.py [--users 2000] [--requests 300]

Each database runs in its own subprocess (Django settings are per process) on a fresh data home;
PostgreSQL uses a scratch database `databoard_bench` on 127.0.0.1:5432 (skipped if unreachable).
Requests go through the full Django/ninja stack in-process (httpx WSGI transport), so the figures
are server time without network. Prints p50 / p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ENDPOINTS = [
    ("GET /accounts/me (token)", "GET", "accounts/me"),
    ("GET /accounts/users?limit=50", "GET", "accounts/users?limit=50"),
    ("GET /accounts/users?limit=50&offset=1000", "GET", "accounts/users?limit=50&offset=1000"),
    ("GET /accounts/users?q=user1", "GET", "accounts/users?q=user1"),
    ("GET /accounts/audit?limit=50", "GET", "accounts/audit?limit=50"),
    ("GET /accounts/teams", "GET", "accounts/teams"),
    ("GET /healthz", "GET", "/healthz"),
]


def worker(users: int, requests: int) -> dict:
    os.environ["DJANGO_SETTINGS_MODULE"] = "databoard.settings"
    import django

    django.setup()
    import httpx
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from databoard.accounts import services
    from databoard.accounts.models import AuditEvent, Membership, Team, User
    from databoard.wsgi import application

    admin = services.user_create(username="admin", email="admin@example.org", password="bench-password-123",
                                 approved=True, is_superuser=True, email_verified=True)
    # Bulk rows for the lists (the per-user service path is measured by the tests, not here).
    now = django.utils.timezone.now()
    rows = [User(username=f"user{i}", email=f"user{i}@example.org", approval="approved", password="!",
                 date_joined=now) for i in range(users)]
    User.objects.bulk_create(rows, batch_size=1000)
    teams = Team.objects.bulk_create([Team(name=f"user{i}", slug=f"user{i}", is_personal=True)
                                      for i in range(users)], batch_size=1000)
    ids = dict(User.objects.filter(username__startswith="user").values_list("username", "id"))
    Membership.objects.bulk_create([Membership(team=t, user_id=ids[t.slug], role="owner") for t in teams],
                                   batch_size=1000)
    AuditEvent.objects.bulk_create([AuditEvent(action="login.ok", actor_username=f"user{i % users}",
                                               ip="127.0.0.1") for i in range(users * 5)], batch_size=1000)
    _, token = services.token_create(user=admin, actor=admin, scope="admin")
    client = httpx.Client(transport=httpx.WSGITransport(app=application), base_url="http://localhost/api/v1/",
                          headers={"Authorization": f"Bearer {token}"})
    results = {}
    for label, method, path in ENDPOINTS:
        url = path if path.startswith("/") else path
        for _ in range(10):  # warm-up
            client.request(method, url if not url.startswith("/") else "http://localhost" + url)
        samples = []
        for _ in range(requests):
            start = time.perf_counter()
            r = client.request(method, url if not url.startswith("/") else "http://localhost" + url)
            samples.append((time.perf_counter() - start) * 1000)
            assert r.status_code == 200, (label, r.status_code, r.text[:200])
        samples.sort()
        results[label] = (statistics.median(samples), samples[int(len(samples) * 0.95) - 1])
    from django.db import connection

    return {"vendor": connection.vendor, "results": results}


def run_backend(name: str, database_url: str, users: int, requests: int) -> dict | None:
    with tempfile.TemporaryDirectory(prefix=f"databoard-bench-{name}-") as home:
        env = {**os.environ, "DATABOARD_HOME": home, "DATABOARD_SECRET_KEY": "bench", "DATABASE_URL": database_url}
        proc = subprocess.run([sys.executable, __file__, "--worker", "--users", str(users), "--requests",
                               str(requests)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"[{name}] failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _postgres_url() -> str | None:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=3) as c:
            c.execute("DROP DATABASE IF EXISTS databoard_bench")
            c.execute("CREATE DATABASE databoard_bench")
        return "postgresql://postgres@127.0.0.1:5432/databoard_bench"
    except Exception as exc:  # noqa: BLE001 - report and skip the backend
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.users, args.requests)))
        return
    backends = {"SQLite": ""}
    pg = _postgres_url()
    if pg:
        backends["PostgreSQL"] = pg
    outcome = {name: run_backend(name, url, args.users, args.requests) for name, url in backends.items()}
    names = [n for n, o in outcome.items() if o]
    print(f"\nAPI latency, {args.users} users, {args.requests} requests per endpoint, in-process (ms, p50 / p95)\n")
    header = f"{'endpoint':45}" + "".join(f"{n:>22}" for n in names)
    print(header)
    print("-" * len(header))
    for label, _, _ in ENDPOINTS:
        cells = "".join(f"{outcome[n]['results'][label][0]:>10.2f} / {outcome[n]['results'][label][1]:>7.2f} "
                        for n in names)
        print(f"{label:45}{cells}")


if __name__ == "__main__":
    main()
