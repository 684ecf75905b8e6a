"""Leaderboard latency with 10,000 scored submissions, on SQLite and PostgreSQL side by side.

    .venv/bin/python bench/leaderboard.py [--teams 500] [--per-team 20] [--requests 50] [--sqlite-only]
                                          [--proposed]

One event on the iris problem (the real kit, imported once, so the Problem row and its score types are
real) gets ``teams x per-team`` scored submissions (bulk-inserted Submission + SubmissionScore rows, one
score row per score type) plus one failed submission per team. Then every leaderboard of the API (each
kind, first page and a deep page, a sort by a non-official score, the whole board as CSV), the
score-over-time endpoint and the web leaderboard page are requested ``--requests`` times each after a
warm-up, through Django's test Client in-process (the full middleware/ninja stack, no network): the API
with an admin token (``Authorization: Bearer``), the web page signed in as that admin (force_login).

Each database runs in its own subprocess (Django settings are per process) on a fresh data home, removed
at the end; PostgreSQL uses a scratch database ``bench_leaderboard`` on 127.0.0.1:5432, created and dropped
here (skipped if unreachable). Prints p50 / p95 in milliseconds and the SQL queries of one request; a
request that does not answer 200 (e.g. a web page not written yet) is shown as skipped.
Goal: p50 < 50 ms on both databases.

``--proposed`` also measures a prototype of the fixes proposed for ``src/`` (section "PROPOSED FIXES"
below, monkeypatched into this process only, never into databoard): current and proposed code run in
alternating blocks of 10 requests per endpoint, and the API's answers of both are checked to be identical.
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
        (f"API public, format=csv (whole board)", "api", api(kind="public", format="csv")),
        ("API competition, format=csv", "api", api(kind="competition", format="csv")),
        ("API score-over-time", "api", f"/api/v1/challenges/events/{SLUG}/score-over-time"),
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


def run_one(teams: int, per_team: int, requests: int, proposed: bool) -> dict:
    os.environ["DJANGO_SETTINGS_MODULE"] = "databoard.settings"
    from databoard.cli.setup import django_setup

    django_setup()
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

    def check(label, url, client) -> tuple[dict, object]:
        """One request: its status, size, SQL query count, and its decoded answer (API only)."""
        queries = []  # (the test Client resets connection.queries at each request: count with a wrapper)
        with connection.execute_wrapper(lambda execute, sql, params, many, context: (
                queries.append(sql), execute(sql, params, many, context))[1]):
            status, body = get(client, url)
        if status != 200:
            return {"skipped": f"HTTP {status}"}, None
        answer = None
        if url.startswith("/api/"):
            answer = body.decode() if "format=csv" in url else json.loads(body)
            if "leaderboard" in url and "format=csv" not in url:
                assert answer["rows"] and answer["count"] > 0, (label, answer["count"])  # deep pages not empty
        return {"queries": len(queries), "bytes": len(body)}, answer

    def summary(info: dict, samples: list[float]) -> dict:
        samples = sorted(samples)
        return {**info, "p50": statistics.median(samples), "p95": samples[max(0, int(len(samples) * 0.95) - 1)]}

    fixes = ProposedFixes() if proposed else None
    results, after, mismatch = {}, {}, []
    for label, who, url in _endpoints(teams * per_team, teams):
        client = clients[who]
        info, answer = check(label, url, client)
        if "skipped" in info:
            results[label] = after[label] = info
            continue
        sample(client, url, 5)  # warm-up
        if fixes is None:
            results[label] = summary(info, sample(client, url, requests))
            continue
        fixes.enable()
        info_after, answer_after = check(label, url, client)
        fixes.disable()
        if answer_after != answer:  # the prototype must answer the same JSON / CSV
            mismatch.append(label)
        # Interleaved blocks of 10 requests, current then proposed, so machine noise hits both alike.
        current, proposed_samples = [], []
        for block in range(max(1, requests // 10)):
            n = 10 if block < requests // 10 - 1 else requests - 10 * block
            sample(client, url, 2)
            current += sample(client, url, n)
            fixes.enable()
            sample(client, url, 2)
            proposed_samples += sample(client, url, n)
            fixes.disable()
        results[label] = summary(info, current)
        after[label] = summary(info_after, proposed_samples)

    out = {"vendor": connection.vendor, "populate_s": populate_s, "results": results}
    if proposed:
        out.update(proposed=after, mismatch=mismatch)
    return out


# --------------------------------------------------------------------------- PROPOSED FIXES (prototype)
# Not databoard's code: a prototype of the changes proposed for src/ (see bench/README.md), applied by
# monkeypatching only when the script runs with --proposed, to measure their effect side by side.

_ROW_FIELDS = ("pk", "name", "created_at", "state", "team__slug", "team__name", "train_seconds", "valid_seconds",
               "test_seconds", "error_step", "error_summary")


def _proposed_leaderboard(*, event, viewer, kind="public", sort=None, descending=None, limit=100, offset=0, at=None):
    """selectors.leaderboard with: (1) narrow rows (``values()`` of the shown columns; no ``owner`` join, no
    error_output/password columns carried through the sort: on PostgreSQL the deep pages' sort spilled to
    disk), (2) the competition's best-per-team query without the model's default ordering (one sort less),
    (3) the scores of a whole board (CSV) by a subquery instead of a 10,000-parameter IN list. Same
    validation, same rows."""
    from django.db.models import F, FilteredRelation, Q, Window
    from django.db.models.functions import RowNumber
    from django.utils import timezone

    from databoard.challenges import selectors as sel
    from databoard.challenges.models import Submission, SubmissionScore
    from databoard.errors import NotAuthenticated, PermissionDenied, ValidationFailed

    State, Column = Submission.State, sel.Column
    at = at or timezone.now()
    if kind not in sel.BOARD_KINDS:
        raise ValidationFailed(f"'{str(kind)[:30]}' is not a leaderboard: use one of {', '.join(sel.BOARD_KINDS)}.",
                               field="kind")
    if kind in sel.PRIVATE_KINDS and not sel.can_see_private(event=event, viewer=viewer, at=at):
        raise PermissionDenied("Private scores are shown to the event's admins"
                               + (" and to everyone after the event closes." if event.show_private_after_close
                                  else "."))
    if kind == "mine" and not sel._authenticated(viewer):
        raise NotAuthenticated("Sign in to see your submissions.")
    if not 0 <= offset <= 10_000_000 or (limit is not None and not 1 <= limit <= 10_000):
        raise ValidationFailed("Use an offset between 0 and 10000000 and a limit between 1 and 10000.", field="limit")
    problem = event.problem
    official = problem.score_types[0]
    step = "test" if kind in sel.PRIVATE_KINDS else "valid"
    official_field = "official_test" if step == "test" else "official_valid"

    qs = Submission.objects.filter(event=event)  # (1) no select_related: values() below joins team only
    if kind == "failed":
        qs = qs.filter(state=State.ERROR)
        columns = [Column("submission", "Submission"), Column("team", "Team"), Column("submitted_at", "Submitted"),
                   Column("error_step", "Failed at"), Column("error_summary", "Error")]
        sort_key, desc = "submitted_at", True if descending is None else descending
        qs = qs.order_by(("-" if desc else "") + "created_at", "-id")
    else:
        if kind == "mine":
            qs = qs.filter(team_id__in=sel._viewer_team_ids(event=event, viewer=viewer))
        else:
            qs = qs.filter(state=State.SCORED)
        if kind in ("competition", "private_competition"):
            order = F("official_valid").desc() if sel._best_first(official) else F("official_valid").asc()
            ranked = qs.filter(official_valid__isnull=False).order_by().annotate(  # (2) no default ordering
                team_rank=Window(RowNumber(), partition_by=[F("team_id")],
                                 order_by=[order, F("created_at").asc(), F("id").asc()]))
            best_ids = list(ranked.filter(team_rank=1).values_list("pk", flat=True))  # (a subquery instead
            qs = Submission.objects.filter(pk__in=best_ids)  # runs the window twice, count + page: slower)
        columns = [Column("rank", "Rank"), Column("team", "Team"), Column("submission", "Submission"),
                   *sel._score_columns(problem), Column("train_seconds", "Train time (s)"),
                   Column(f"{'test' if step == 'test' else 'valid'}_seconds",
                          "Test time (s)" if step == "test" else "Valid time (s)"),
                   Column("submitted_at", "Submitted")]
        if kind == "mine":
            columns.insert(3, Column("state", "State"))
        sort_key = sort or f"score:{official['name']}"
        keys = {c.key for c in columns} - {"rank"}
        if sort_key not in keys:
            raise ValidationFailed(f"Cannot sort by '{str(sort_key)[:50]}': use one of {', '.join(sorted(keys))}.",
                                   field="sort")
        if sort_key.startswith("score:"):
            name = sort_key.split(":", 1)[1]
            score_type = next(s for s in problem.score_types if s["name"] == name)
            desc = sel._best_first(score_type) if descending is None else descending
            if name == official["name"]:
                expr = F(official_field)
            else:
                qs = qs.annotate(sort_score=FilteredRelation("scores", condition=Q(scores__name=name)))
                expr = F(f"sort_score__{step}")
        else:
            desc = (sort_key == "submitted_at") if descending is None else descending
            expr = F({"team": "team__slug", "submission": "name", "submitted_at": "created_at",
                      "state": "state"}.get(sort_key, sort_key))
        qs = qs.order_by(expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True), "created_at", "id")

    count = qs.count()
    page = list((qs[offset: offset + limit] if limit is not None else qs).values(*_ROW_FIELDS))  # (1)
    scores: dict[int, dict] = {}
    if kind != "failed":
        wanted = (qs.order_by().values("pk") if limit is None or len(page) > 1000  # (3)
                  else [r["pk"] for r in page])
        for pk, name, value in SubmissionScore.objects.filter(submission__in=wanted).values_list(
                "submission_id", "name", step):
            scores.setdefault(pk, {})[name] = value
    rows = []
    for i, sub in enumerate(page):
        row = {"rank": offset + i + 1, "id": sub["pk"], "submission": sub["name"], "team": sub["team__slug"],
               "team_name": sub["team__name"], "submitted_at": sub["created_at"], "state": sub["state"]}
        if kind == "failed":
            row.update(error_step=sub["error_step"], error_summary=sub["error_summary"])
        else:
            row.update({f"score:{n}": v for n, v in scores.get(sub["pk"], {}).items()})
            row.update(train_seconds=sub["train_seconds"], valid_seconds=sub["valid_seconds"],
                       test_seconds=sub["test_seconds"] if step == "test" else None)
        rows.append(row)
    return sel.Board(kind=kind, event=event, columns=columns, rows=rows, count=count, sort=sort_key,
                     descending=desc, step=step)


def _proposed_csv_response(board):
    """api.leaderboard_csv_response writing 500 rows per chunk (one chunk per row is 10,000 ASGI sends)."""
    import csv
    import io

    from django.http import StreamingHttpResponse

    from databoard.challenges.api import _cell

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([c.label for c in board.columns])
        for i, row in enumerate(board.rows, 1):
            writer.writerow([_cell(row.get(c.key), c) for c in board.columns])
            if i % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{board.event.slug}-{board.kind}.csv"'
    return response


class ProposedFixes:
    """Switches the prototype on and off (so that current and proposed code are measured interleaved):

    (a) ``selectors.leaderboard`` -> :func:`_proposed_leaderboard` (API, CSV and web page all call it);
        ``api.leaderboard_csv_response`` -> :func:`_proposed_csv_response`;
    (b) an index (event, state, official_test) for the private boards, like ``submission_board`` for
        official_valid;
    (c) the score-over-time API returns its JSON itself (an HttpResponse), skipping ninja's per-point
        response validation (ninja's Schema wraps each of the 10,000 points in a DjangoGetter); the schema
        stays declared for OpenAPI; and (e) caches that JSON per event until a submission is scored;
    (d) the web leaderboard page embeds no score-over-time points (the chart would fetch (c) instead);
        measured as the page with an empty series, i.e. a lower bound of that change.
    """

    INDEX = "submission_board_test"

    def __init__(self) -> None:
        import gc

        from django.core.cache import cache
        from django.core.serializers.json import DjangoJSONEncoder
        from django.db.models import Count, Max
        from django.http import HttpResponse
        from ninja.operation import Operation

        from databoard.challenges.models import Submission

        import databoard.urls  # noqa: F401 - the URLconf first (databoard.api <-> challenges.api import order)
        from databoard.challenges import api, selectors, views

        self.api, self.selectors, self.views = api, selectors, views
        self.current = {"leaderboard": selectors.leaderboard, "csv": api.leaderboard_csv_response}
        # (ninja clones a router's operations when it mounts it: patch every copy)
        self.operations = [obj for obj in gc.get_objects() if isinstance(obj, Operation)
                           and getattr(obj.view_func, "__name__", "") == "score_over_time_api"]
        self.current_view = self.operations[0].view_func

        def score_over_time_json(request, slug):
            event = selectors.event_get(slug=slug, viewer=request.user)
            # (e) the encoded answer cached per event, keyed by what changes it: the number of scored
            # submissions and the latest scored_at (a re-run re-stamps it); one aggregate query per request.
            stamp = Submission.objects.filter(event=event, state=Submission.State.SCORED).aggregate(
                n=Count("id"), last=Max("scored_at"))
            key = f"score-over-time:{event.pk}:{stamp['n']}:{stamp['last'].isoformat() if stamp['last'] else ''}"
            body = cache.get(key)
            if body is None:
                body = json.dumps(selectors.score_over_time(event=event, viewer=request.user), cls=DjangoJSONEncoder)
                cache.set(key, body, 3600)
            return HttpResponse(body, content_type="application/json; charset=utf-8")

        self.proposed_view = score_over_time_json

        class ViewSelectors:  # what the web view sees as `selectors`: an empty series for the chart
            def __getattr__(self, name):
                if name == "score_over_time":
                    return lambda *, event, viewer: {
                        "score_name": event.problem.score_types[0]["name"], "points": [],
                        "lower_is_better": bool(event.problem.score_types[0].get("lower_is_better"))}
                return getattr(selectors, name)

        self.view_selectors = ViewSelectors()

    def _index(self, add: bool) -> None:
        from django.db import connection, models

        from databoard.challenges.models import Submission

        index = models.Index(fields=["event", "state", "official_test"], name=self.INDEX)
        with connection.schema_editor() as editor:
            (editor.add_index if add else editor.remove_index)(Submission, index)
        if add and connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("ANALYZE challenges_submission")

    def enable(self) -> None:
        self.selectors.leaderboard = _proposed_leaderboard
        self.api.leaderboard_csv_response = _proposed_csv_response
        self._index(add=True)
        for operation in self.operations:
            operation.view_func = self.proposed_view
        self.views.selectors = self.view_selectors

    def disable(self) -> None:
        self.selectors.leaderboard = self.current["leaderboard"]
        self.api.leaderboard_csv_response = self.current["csv"]
        self._index(add=False)
        for operation in self.operations:
            operation.view_func = self.current_view
        self.views.selectors = self.selectors


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
                               str(args.per_team), "--requests", str(args.requests)]
                              + (["--proposed"] if args.proposed else []),
                              env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if proc.returncode != 0:
        print(f"[{name}] failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(outcome: dict, names: list[str], key: str, labels: list[str]) -> list[str]:
    header = f"{'request':44}" + "".join(f"{k:>24}" for k in names) + "     KB"
    print(header)
    print("-" * len(header))
    slow = []
    for label in labels:
        cells, size = "", ""
        for k in names:
            r = outcome[k][key].get(label)
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
    parser.add_argument("--proposed", action="store_true",
                        help="Also measure the prototype of the proposed fixes (monkeypatched; see README).")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.teams, args.per_team, args.requests, args.proposed)))
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
          f"{args.requests} requests each, in-process (ms p50 / p95; q = SQL queries of one request);\n"
          f"{os.cpu_count()} CPUs, load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print("populate: " + ", ".join(f"{k} {outcome[k]['populate_s']:.1f} s" for k in names) + "\n")
    _table(outcome, names, "results", labels)
    if args.proposed:
        print("\nWith the PROPOSED fixes (prototype, monkeypatched in this script; not databoard's code):\n"
              "  leaderboard selector on narrow rows, CSV in 500-row chunks, index (event, state,\n"
              "  official_test), score-over-time API without per-point validation and cached per event,\n"
              "  web page without the embedded score-over-time points\n")
        _table(outcome, names, "proposed", labels)
        for k in names:
            mismatch = outcome[k].get("mismatch")
            print(f"{k}: the prototype's API answers are " + (f"DIFFERENT for: {', '.join(mismatch)}" if mismatch
                                                              else "identical to the current ones."))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
