"""Leaderboard latency with 10,000 scored submissions, on SQLite and PostgreSQL side by side.

    .venv/bin/python bench/leaderboard.py [--teams 500] [--per-team 20] [--requests 50] [--sqlite-only]

One event on the iris problem (the real kit, imported once, so the Problem row and its score types are
real) gets ``teams x per-team`` scored submissions (bulk-inserted Submission + SubmissionScore rows, one
score row per score type) plus one failed submission per team. Then every leaderboard of the API (each
kind, first page and a deep page, a sort by a non-official score, the whole board as CSV), the
score-over-time endpoint (every point, and thinned with ``max_points=500`` as the web page's chart is) and
the web leaderboard page are requested ``--requests`` times each after a warm-up, through Django's test
Client in-process (the full middleware/ninja stack, no network): the API with an admin token
(``Authorization: Bearer``), the web page signed in as that admin (force_login). The score-over-time data
is cached per event (Django's cache, per process): the timed requests read it from the cache, and the
first request after the warm-up, made with the cache cleared, is shown apart for the requests that use it.

Each database runs in its own subprocess (Django settings are per process) on a fresh data home, removed
at the end; PostgreSQL uses a scratch database ``bench_leaderboard`` on 127.0.0.1:5432, created and dropped
here (skipped if unreachable). Prints p50 / p95 in milliseconds and the SQL queries of one request; a
request that does not answer 200 (e.g. a web page not written yet) is shown as skipped.
Goal: p50 < 50 ms on both databases.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

GOAL_MS = 50.0
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "bench_leaderboard"
SLUG = "bench"


def _endpoints(n_rows: int, n_teams: int) -> list[tuple[str, str, str]]:
    """(label, who, url); who is "api" (admin token), "user" (a participant's token) or "web" (signed in)."""
    deep = min(5000, max(0, n_rows // 2))
    deep_team = max(0, n_teams - 100)
    board = f"/api/v1/challenges/events/{SLUG}/leaderboard?"

    def api(**params) -> str:
        return board + urlencode(params)

    def web(**params) -> str:
        return f"/events/{SLUG}/leaderboard/?" + urlencode(params)

    return [
        ("API public, page 1", "api", api(kind="public")),
        (f"API public, offset {deep}", "api", api(kind="public", offset=deep)),
        ("API public, sort score:nll", "api", api(kind="public", sort="score:nll")),
        (f"API public, sort score:nll, offset {deep}", "api", api(kind="public", sort="score:nll", offset=deep)),
        ("API public, sort team", "api", api(kind="public", sort="team")),
        ("API competition, page 1", "api", api(kind="competition")),
        (f"API competition, offset {deep_team}", "api", api(kind="competition", offset=deep_team)),
        ("API competition, sort score:nll", "api", api(kind="competition", sort="score:nll")),
        ("API private, page 1", "api", api(kind="private")),
        (f"API private, offset {deep}", "api", api(kind="private", offset=deep)),
        ("API private_competition, page 1", "api", api(kind="private_competition")),
        ("API failed, page 1", "api", api(kind="failed")),
        (f"API failed, offset {deep_team}", "api", api(kind="failed", offset=deep_team)),
        ("API mine (participant token)", "user", api(kind="mine")),
        ("API public, format=csv (whole board)", "api", api(kind="public", format="csv")),
        ("API competition, format=csv", "api", api(kind="competition", format="csv")),
        ("API score-over-time (every point)", "api", f"/api/v1/challenges/events/{SLUG}/score-over-time"),
        ("API score-over-time, max_points=500", "api",
         f"/api/v1/challenges/events/{SLUG}/score-over-time?max_points=500"),
        ("web public, page 1", "web", web(kind="public")),
        (f"web public, page {deep // 50 + 1}", "web", web(kind="public", page=deep // 50 + 1)),
        ("web competition, page 1", "web", web(kind="competition")),
        ("web private, page 1", "web", web(kind="private")),
        ("web failed, page 1", "web", web(kind="failed")),
    ]


# --------------------------------------------------------------------------- one database (subprocess)


def _populate(teams: int, per_team: int):
    import random
    from datetime import timedelta

    from django.utils import timezone

    from databoard.accounts import services as accounts
    from databoard.accounts.models import Membership, Team, User
    from databoard.challenges import services
    from databoard.challenges.models import Signup, Submission, SubmissionScore
    from databoard.config import get_config
    from databoard.kits import make_kit

    admin = accounts.user_create(username="admin", email="admin@example.org", password="bench-password-123",
                                 approved=True, is_superuser=True, email_verified=True)
    kit = make_kit("iris", get_config().home / "kits")
    problem = services.problem_import(source=kit, name="iris", actor=admin)
    event = services.event_create(problem=problem, slug=SLUG, actor=admin)
    names = [s["name"] for s in problem.score_types]

    now = timezone.now()
    User.objects.bulk_create([User(username=f"user{i}", email=f"user{i}@example.org", approval="approved",
                                   password="!", date_joined=now) for i in range(teams)], batch_size=1000)
    team_rows = Team.objects.bulk_create([Team(name=f"Team {i}", slug=f"user{i}", is_personal=True)
                                          for i in range(teams)], batch_size=1000)
    uid = dict(User.objects.filter(username__startswith="user").values_list("username", "id"))
    Membership.objects.bulk_create([Membership(team=t, user_id=uid[t.slug], role="owner") for t in team_rows],
                                   batch_size=1000)
    Signup.objects.bulk_create([Signup(event=event, user_id=uid[t.slug], team=t, state="approved", decided_at=now)
                                for t in team_rows], batch_size=1000)

    rng = random.Random(57)
    start = now - timedelta(days=30)
    total = teams * per_team
    subs, score_values = [], []
    for k in range(total):
        team = team_rows[k % teams]
        at = start + timedelta(seconds=k * 30 * 86400 / total)
        acc = round(rng.uniform(0.55, 0.99), 4)
        nll = round(rng.uniform(0.05, 1.5), 4)
        bal = round(min(1.0, acc + rng.uniform(-0.03, 0.03)), 4)
        test = {"acc": round(acc + rng.uniform(-0.05, 0.05), 4), "nll": round(nll * rng.uniform(0.9, 1.2), 4),
                "bal_acc": round(bal + rng.uniform(-0.05, 0.05), 4)}
        valid = {"acc": acc, "nll": nll, "bal_acc": bal}
        subs.append(Submission(
            event=event, team=team, owner_id=uid[team.slug], name=f"sub{k // teams}", code_sha256=f"{k:064x}",
            state="scored", created_at=at, queued_at=at, training_at=at, scored_at=at + timedelta(seconds=5),
            duration_seconds=4.0, train_seconds=rng.uniform(0.1, 3), valid_seconds=rng.uniform(0.01, 0.3),
            test_seconds=rng.uniform(0.01, 0.3), official_valid=valid[names[0]], official_test=test[names[0]],
            worker="bench", attempts=1))
        score_values.append((valid, test))
    for i, team in enumerate(team_rows):  # one failed submission per team, for the "failed" board
        at = start + timedelta(seconds=i * 30 * 86400 / teams + 7)
        subs.append(Submission(
            event=event, team=team, owner_id=uid[team.slug], name="broken", code_sha256=f"f{i:063x}",
            state="error", created_at=at, queued_at=at, training_at=at, error_at=at, error_step="training",
            error_summary="ValueError: Input contains NaN", error_output="Traceback ...\nValueError: ...",
            exit_code=1, worker="bench", attempts=1))
    created = Submission.objects.bulk_create(subs, batch_size=1000)
    if any(s.pk is None for s in created):  # backends without RETURNING: read the ids back
        ids = dict(Submission.objects.filter(event=event).values_list("code_sha256", "id"))
        for s in created:
            s.pk = ids[s.code_sha256]
    SubmissionScore.objects.bulk_create([
        SubmissionScore(submission_id=sub.pk, name=name, position=p, valid=valid[name], test=test[name])
        for sub, (valid, test) in zip(created[:total], score_values) for p, name in enumerate(names)
    ], batch_size=2000)
    participant = User.objects.get(username="user0")
    return admin, participant, event


def run_one(teams: int, per_team: int, requests: int) -> dict:
    os.environ["DJANGO_SETTINGS_MODULE"] = "databoard.settings"
    from databoard.cli.setup import django_setup

    django_setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    t0 = time.perf_counter()
    admin, participant, event = _populate(teams, per_team)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    populate_s = time.perf_counter() - t0

    from databoard.accounts import services as accounts

    _, admin_token = accounts.token_create(user=admin, actor=admin, scope="admin")
    _, user_token = accounts.token_create(user=participant, actor=participant, scope="read")
    clients = {"api": Client(HTTP_AUTHORIZATION=f"Bearer {admin_token}"),
               "user": Client(HTTP_AUTHORIZATION=f"Bearer {user_token}"), "web": Client()}
    clients["web"].force_login(admin)

    def get(client, url) -> tuple[int, bytes]:
        response = client.get(url)  # a streamed body (CSV) is read whole: its writing is part of the request
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, body

    def sample(client, url, n: int) -> list[float]:
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            status, _ = get(client, url)
            samples.append((time.perf_counter() - start) * 1000)
            assert status == 200, (url, status)
        return samples

    def check(label, url, client) -> dict:
        """One request with the cache cleared: its status, time, size and SQL query count; an API
        leaderboard's page must not be empty."""
        cache.clear()
        queries = []  # (the test Client resets connection.queries at each request: count with a wrapper)
        with connection.execute_wrapper(lambda execute, sql, params, many, context: (
                queries.append(sql), execute(sql, params, many, context))[1]):
            start = time.perf_counter()
            status, body = get(client, url)
            first = (time.perf_counter() - start) * 1000
        if status != 200:
            return {"skipped": f"HTTP {status}"}
        if url.startswith("/api/") and "format=csv" not in url:
            answer = json.loads(body)
            if "leaderboard" in url:
                assert answer["rows"] and answer["count"] > 0, (label, answer["count"])  # deep pages not empty
            else:
                assert answer["points"], label
        return {"queries": len(queries), "bytes": len(body), "first": first}

    def summary(info: dict, samples: list[float]) -> dict:
        samples = sorted(samples)
        return {**info, "p50": statistics.median(samples), "p95": samples[max(0, int(len(samples) * 0.95) - 1)]}

    results = {}
    for label, who, url in _endpoints(teams * per_team, teams):
        client = clients[who]
        for _ in range(5):  # warm-up (templates, connections, query plans)
            get(client, url)
        info = check(label, url, client)
        if "skipped" in info:
            results[label] = info
            continue
        results[label] = summary(info, sample(client, url, requests))
    return {"vendor": connection.vendor, "populate_s": populate_s, "results": results}


# --------------------------------------------------------------------------- driver


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def _postgres_url() -> str | None:
    try:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        _pg_admin(f"CREATE DATABASE {PG_DB}")
    except Exception as exc:  # noqa: BLE001 - report and skip the backend
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"


def run_backend(name: str, database_url: str, args: argparse.Namespace) -> dict | None:
    home = tempfile.mkdtemp(prefix=f"databoard-bench-board-{name.lower()}-")
    os.makedirs(os.path.join(home, "static"))  # as `databoard init` makes it (else whitenoise warns)
    env = {**os.environ, "DATABOARD_HOME": home, "DATABOARD_SECRET_KEY": "bench", "DATABASE_URL": database_url}
    env.pop("DATABOARD_CONFIG", None)
    try:
        proc = subprocess.run([sys.executable, __file__, "--one", "--teams", str(args.teams), "--per-team",
                               str(args.per_team), "--requests", str(args.requests)],
                              env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if proc.returncode != 0:
        print(f"[{name}] failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(outcome: dict, names: list[str], labels: list[str]) -> list[str]:
    header = f"{'request':44}" + "".join(f"{k:>24}" for k in names) + "     KB"
    print(header)
    print("-" * len(header))
    slow = []
    for label in labels:
        cells, size = "", ""
        for k in names:
            r = outcome[k]["results"].get(label)
            if r is None or "skipped" in r:
                cells += f"{'skipped (' + (r or {}).get('skipped', '?') + ')':>24}"
                continue
            mark = "!" if r["p50"] >= GOAL_MS else " "
            cells += f"{r['p50']:>9.1f}{mark}/{r['p95']:>7.1f}  q={r['queries']:<3}"
            size = f"{r['bytes'] / 1024:>7.0f}"
            if r["p50"] >= GOAL_MS:
                slow.append(f"{label} on {k}")
        print(f"{label:44}{cells}{size}")
    print(f"\n! = p50 at or over the {GOAL_MS:.0f} ms goal: " + (f"{len(slow)} request(s)." if slow else "none."))
    return slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=500)
    parser.add_argument("--per-team", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--sqlite-only", action="store_true", help="Skip PostgreSQL.")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.teams, args.per_team, args.requests)))
        return

    started, load = time.perf_counter(), os.getloadavg()[0]
    outcome = {"SQLite": run_backend("SQLite", "", args)}
    if not args.sqlite_only:
        pg = _postgres_url()
        if pg:
            try:
                outcome["PostgreSQL"] = run_backend("PostgreSQL", pg, args)
            finally:
                try:
                    _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
                except Exception as exc:  # noqa: BLE001
                    print(f"Could not drop {PG_DB}: {exc}", file=sys.stderr)
    names = [n for n, o in outcome.items() if o]
    if not names:
        sys.exit(1)
    n = args.teams * args.per_team
    labels = [label for label, _, _ in _endpoints(n, args.teams)]
    print(f"\nLeaderboards, {n} scored + {args.teams} failed submissions ({args.teams} teams x {args.per_team}), "
          f"{args.requests} requests each, in-process (ms p50 / p95; q = SQL queries of the first request, cache cleared);\n"
          f"{os.cpu_count()} CPUs, load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print("populate: " + ", ".join(f"{k} {outcome[k]['populate_s']:.1f} s" for k in names) + "\n")
    _table(outcome, names, labels)
    cached = [label for label in labels if "score-over-time" in label
              or label.startswith(("web public", "web competition"))]  # the pages that draw the chart
    print("\nfirst request with the cache cleared (score-over-time computed), ms:")
    for label in cached:
        cells = [outcome[k]["results"].get(label, {}).get("first") for k in names]
        print(f"  {label:42}" + "   ".join(f"{k} {v:>7.1f}" if v is not None else f"{k} skipped"
                                           for k, v in zip(names, cells)))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
