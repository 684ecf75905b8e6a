"""Submission overhead: submit-to-`scored` time minus a bare `ramp-test` on the same kit and code.

    .venv/bin/python bench/submission_overhead.py [--n 10] [--database-url URL | --database-url postgres]
                                                  [--poll SECONDS] [--workers process,thread]

A fresh data home (removed at the end) gets the database migrated, an admin and a participant, the iris kit
(made with ``databoard.kits.make_kit``, imported with ``problem_import``), one event per worker kind (each
on its own queue) and the participant signed up to them. Then, interleaved, ``--n`` times each:

(a) bare: ``ramp-test --submission starting_kit --save-output`` (the console script next to
    sys.executable, ``--ramp-kit-dir/--ramp-data-dir/--ramp-submission-dir`` on a fresh copy of the kit,
    ``TERM=dumb``; ``--ignore-warning`` too when the worker passes it, so both run the same command);
(b) through databoard: the participant submits the starting kit's code (a new name and a new comment
    line each time: identical code is refused) through the API in-process (``databoard.client.Client``
    over the local WSGI transport, as the CLI does), and this script polls the database every 20 ms
    until the submission is ``scored``. Trained by
      process: a ``databoard worker`` subprocess polling every ``worker_poll_seconds`` (the realistic
               setup; databoard's default, 0.2 s, or ``--poll``);
      thread:  ``run_worker()`` in a thread of this process polling every 20 ms (what is left when the
               queue wait is almost gone).

Prints median / p90 / min of each, the overhead = median(b) - median(a) (goal <= 0.5 s), and (b) split into:
submit (POST until the row's created_at), queue wait (created_at -> training_at), worker outside ramp-test
(training_at -> scored_at minus the ramp-test time the worker stored in duration_seconds), ramp-test in the
worker, record + seen (scored_at -> this script sees ``scored``). Last, what one look at an empty queue
costs: the worker's read (``exists()`` of a queued submission, no lock) and a ``submission_claim``.

``--database-url postgres`` means ``postgresql://postgres@127.0.0.1:5432/bench_overhead``; a PostgreSQL
database whose name starts with ``bench`` is created fresh and dropped at the end (any other database
URL is used as it is, and must be empty).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GOAL_S = 0.5
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/bench_overhead"
OBSERVE_EVERY_S = 0.02
RUN_TIMEOUT_S = 600


# --------------------------------------------------------------------------- scratch PostgreSQL database


def _pg_scratch(url: str) -> tuple[str, str] | None:
    """(admin URL, database name) when ``url`` names a scratch PostgreSQL database this script owns."""
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    base, _, name = url.rpartition("/")
    name = name.split("?", 1)[0]
    if not name.startswith("bench"):
        return None
    return f"{base}/postgres", name


def _pg_execute(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


# --------------------------------------------------------------------------- the figures


def _stats(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]
    return statistics.median(ordered), p90, ordered[0]


class Bench:
    def __init__(self, args: argparse.Namespace, home: Path):
        self.args, self.home = args, home
        self.worker_proc: subprocess.Popen | None = None
        self.worker_log: Path = home / "worker.log"
        self.thread_stop = threading.Event()
        self.thread: threading.Thread | None = None

    # ----------------------------------------------------------------- set-up

    def setup(self) -> None:
        from databoard.cli.setup import django_setup

        django_setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        from databoard.accounts import services as accounts
        from databoard.challenges import services
        from databoard.kits import make_kit

        admin = accounts.user_create(username="admin", email="admin@example.org", password="bench-password-123",
                                     approved=True, is_superuser=True, email_verified=True)
        self.participant = accounts.user_create(username="participant", email="participant@example.org",
                                                password="bench-password-123", approved=True, email_verified=True)
        self.kit = make_kit("iris", self.home / "kits")
        problem = services.problem_import(source=self.kit, name="iris", actor=admin)
        for mode in self.args.workers:
            event = services.event_create(problem=problem, slug=f"overhead-{mode}", actor=admin, queue=mode)
            services.signup_request(event=event, user=self.participant)
        self.code = (self.kit / "submissions" / "starting_kit" / "classifier.py").read_text()
        from databoard.client import Client

        self.client = Client.from_env(as_user="participant")  # no DATABOARD_URL: in-process, as the CLI does

    def start_workers(self) -> None:
        if "process" in self.args.workers:
            cli = Path(sys.executable).parent / "databoard"
            command = [str(cli)] if cli.exists() else [sys.executable, "-m", "databoard"]
            with open(self.worker_log, "wb") as log:
                self.worker_proc = subprocess.Popen([*command, "worker", "--queue", "process"], stdout=log,
                                                    stderr=subprocess.STDOUT)
        if "thread" in self.args.workers:
            from django.db import connections

            from databoard.engine.worker import run_worker

            def work() -> None:
                try:
                    run_worker(worker_id="bench-thread", queues=["thread"], poll_seconds=OBSERVE_EVERY_S,
                               stop=self.thread_stop)
                finally:
                    connections.close_all()

            self.thread = threading.Thread(target=work, name="bench-worker", daemon=True)
            self.thread.start()

    def stop_workers(self) -> None:
        self.thread_stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        if self.worker_proc is not None and self.worker_proc.poll() is None:
            self.worker_proc.terminate()  # SIGTERM: the worker stops after its current wait
            try:
                self.worker_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker_proc.kill()
                self.worker_proc.wait()

    # ----------------------------------------------------------------- (a) bare ramp-test

    def bare(self, i: int) -> float:
        from databoard.engine import runner

        work = self.home / "bare" / f"run{i}"
        shutil.copytree(self.kit, work)
        command = [*runner._ramp_test_base(), "--submission", "starting_kit", "--ramp-kit-dir", str(work),
                   "--ramp-data-dir", str(work), "--ramp-submission-dir", str(work / "submissions"),
                   "--save-output"]
        if runner._has_ignore_warning():  # the worker passes it: same command on both sides
            command.append("--ignore-warning")
        start = time.perf_counter()
        done = subprocess.run(command, cwd=work, env={**os.environ, "TERM": "dumb"}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=RUN_TIMEOUT_S)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"bare ramp-test failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
        shutil.rmtree(work, ignore_errors=True)
        return elapsed

    # ----------------------------------------------------------------- (b) through databoard

    def submitted(self, i: int, mode: str) -> dict[str, float]:
        from databoard.challenges.models import Submission

        files = {"classifier.py": self.code + f"\n# overhead bench: {mode} run {i}\n"}
        t0 = time.time()
        answer = self.client.submissions.create(event=f"overhead-{mode}", name=f"{mode}-{i}", files=files)
        posted = time.time()
        pk = answer["id"]
        while True:
            state = Submission.objects.filter(pk=pk).values_list("state", flat=True).first()
            if state in (Submission.State.SCORED, Submission.State.ERROR):
                break
            if mode == "process" and self.worker_proc.poll() is not None:
                raise RuntimeError(f"the worker process stopped:\n{self.worker_log.read_text()[-2000:]}")
            if time.time() - t0 > RUN_TIMEOUT_S:
                raise RuntimeError(f"submission {pk} still '{state}' after {RUN_TIMEOUT_S} s; see {self.worker_log}")
            time.sleep(OBSERVE_EVERY_S)
        seen = time.time()
        sub = Submission.objects.get(pk=pk)
        if sub.state != Submission.State.SCORED:
            raise RuntimeError(f"submission {pk} failed at {sub.error_step}: {sub.error_summary}\n{sub.error_output}")
        created, training, scored = (sub.created_at.timestamp(), sub.training_at.timestamp(),
                                     sub.scored_at.timestamp())
        return {
            "total": seen - t0,
            "post": posted - t0,
            "submit": created - t0,
            "queue": training - created,
            "worker": scored - training - sub.duration_seconds,
            "ramp_test": sub.duration_seconds,
            "record": seen - scored,
        }

    # ----------------------------------------------------------------- the run

    def run(self) -> dict:
        from django.db import connection

        n, modes = self.args.n, self.args.workers
        load = os.getloadavg()
        self.setup()
        self.start_workers()
        try:
            self.bare(-1)  # warm-up: file caches; the first submission also unpacks the kit into the cache
            for mode in modes:
                self.submitted(-1, mode)
            bare: list[float] = []
            through: dict[str, list[dict]] = {mode: [] for mode in modes}
            steps = ["bare", *modes]
            for i in range(n):  # interleaved, the order rotating, so machine noise hits every kind alike
                order = steps[i % len(steps):] + steps[:i % len(steps)]
                for step in order:
                    if step == "bare":
                        bare.append(self.bare(i))
                    else:
                        through[step].append(self.submitted(i, step))
                print(f"  run {i + 1}/{n}: bare {bare[-1]:.2f} s, "
                      + ", ".join(f"{m} {through[m][-1]['total']:.2f} s" for m in modes), file=sys.stderr)
        finally:
            self.stop_workers()
            self.client.close()
        from databoard.challenges import services
        from databoard.config import get_config

        from databoard.challenges.models import Submission

        def probe(look) -> float:  # what one look at an empty queue costs (an idle worker's every poll)
            times = []
            for _ in range(200):
                start = time.perf_counter()
                assert not look()
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        empty_read = probe(lambda: Submission.objects.filter(state=Submission.State.QUEUED,
                                                             event__queue__in=["empty"]).exists())
        empty_claim = probe(lambda: services.submission_claim(worker="bench-probe", queues=["empty"]))
        return {"vendor": connection.vendor, "poll": get_config().worker_poll_seconds, "bare": bare,
                "through": through, "empty_read": empty_read, "empty_claim": empty_claim, "load": load}


def report(outcome: dict, args: argparse.Namespace) -> None:
    n, modes = args.n, args.workers
    names = {"process": f"worker process (poll {outcome['poll']:g} s)",
             "thread": f"worker thread (poll {OBSERVE_EVERY_S:g} s)"}
    database = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(outcome["vendor"], outcome["vendor"])
    print(f"\nSubmission overhead: iris starting kit, {n} runs of each, interleaved, {database}, "
          f"{os.cpu_count()} CPUs, load average {outcome['load'][0]:.1f} -> {os.getloadavg()[0]:.1f} (seconds)\n")
    header = f"{'':52}{'median':>9}{'p90':>9}{'min':>9}"
    print(header)
    print("-" * len(header))
    bare = _stats(outcome["bare"])
    print(f"{'(a) bare ramp-test':52}" + "".join(f"{v:>9.3f}" for v in bare))
    totals = {}
    for mode in modes:
        totals[mode] = _stats([r["total"] for r in outcome["through"][mode]])
        print(f"{'(b) submit -> scored, ' + names[mode]:52}" + "".join(f"{v:>9.3f}" for v in totals[mode]))
    print(f"\noverhead (goal <= {GOAL_S:g} s){'':34}" + "".join(f"{m:>12}" for m in modes))
    through = outcome["through"]
    rows = [
        ("median(b) - median(a)", [totals[m][0] - bare[0] for m in modes]),
        ("median of the paired differences b_i - a_i (same round)",
         [statistics.median(r["total"] - a for r, a in zip(through[m], outcome["bare"])) for m in modes]),
        ("median of b_i - its own ramp-test time (no ramp-test noise)",
         [statistics.median(r["total"] - r["ramp_test"] for r in through[m]) for m in modes]),
    ]
    for label, values in rows:
        print(f"  {label:64}" + "".join(f"{v:>12.3f}" for v in values))
    print("  goal, by median(b) - median(a): " + ", ".join(
        f"{m} {'meets it' if totals[m][0] - bare[0] <= GOAL_S else 'misses it'}" for m in modes))
    print(f"\nsplit of (b), median of each part (s){'':29}" + "".join(f"{m:>12}" for m in modes))
    parts = [
        ("submit: POST until the row's created_at", "submit"),
        ("queue wait: created_at -> training_at", "queue"),
        ("worker outside ramp-test (training_at -> scored_at)", "worker"),
        ("ramp-test in the worker (duration_seconds)", "ramp_test"),
        ("record + seen: scored_at -> seen `scored`", "record"),
    ]
    for label, key in parts:
        print(f"  {label:64}" + "".join(f"{statistics.median(r[key] for r in outcome['through'][m]):>12.3f}"
                                        for m in modes))
    print(f"  {'(the POST request itself)':64}"
          + "".join(f"{statistics.median(r['post'] for r in outcome['through'][m]):>12.3f}" for m in modes))
    print(f"  {'ramp-test in the worker - bare ramp-test (medians)':64}"
          + "".join(f"{statistics.median(r['ramp_test'] for r in outcome['through'][m]) - bare[0]:>12.3f}"
                    for m in modes))
    print(f"\none look at an empty queue, median of 200: the worker's read (exists(), no lock) "
          f"{outcome['empty_read'] * 1000:.2f} ms; a submission_claim {outcome['empty_claim'] * 1000:.2f} ms")
    print(f"(seen `scored` by polling the database every {OBSERVE_EVERY_S * 1000:.0f} ms: up to that much of "
          "'record + seen' is the observer's own delay.)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="Runs of each kind (default 10).")
    parser.add_argument("--database-url", default="",
                        help="Default: SQLite in the temporary data home. 'postgres' = " + PG_DEFAULT + ".")
    parser.add_argument("--poll", type=float, default=None,
                        help="worker_poll_seconds of the worker process (default: databoard's default).")
    parser.add_argument("--workers", default="process,thread",
                        help="Which workers to measure: process, thread or both (default process,thread).")
    args = parser.parse_args()
    args.workers = [w.strip() for w in args.workers.split(",") if w.strip()]
    if not args.workers or set(args.workers) - {"process", "thread"} or args.n < 1:
        parser.error("--workers takes process and/or thread; --n is at least 1")
    url = PG_DEFAULT if args.database_url == "postgres" else args.database_url

    home = Path(tempfile.mkdtemp(prefix="databoard-bench-overhead-"))
    (home / "static").mkdir()  # as `databoard init` makes it (else whitenoise warns)
    scratch = _pg_scratch(url)
    os.environ.update(DATABOARD_HOME=str(home), DATABOARD_SECRET_KEY="bench-overhead", DATABASE_URL=url,
                      DATABOARD_CLIENT_CONFIG=str(home / "no-client.toml"))
    for name in ("DATABOARD_URL", "DATABOARD_TOKEN", "DATABOARD_CONFIG", "DJANGO_SETTINGS_MODULE"):
        os.environ.pop(name, None)
    if args.poll is not None:
        os.environ["DATABOARD_WORKER_POLL_SECONDS"] = str(args.poll)
    else:
        os.environ.pop("DATABOARD_WORKER_POLL_SECONDS", None)
    try:
        if scratch:
            _pg_execute(scratch[0], f'DROP DATABASE IF EXISTS "{scratch[1]}" WITH (FORCE)')
            _pg_execute(scratch[0], f'CREATE DATABASE "{scratch[1]}"')
        bench = Bench(args, home)
        outcome = bench.run()
        report(outcome, args)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up yet
            pass
        if scratch:
            try:
                _pg_execute(scratch[0], f'DROP DATABASE IF EXISTS "{scratch[1]}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                print(f"Could not drop {scratch[1]}: {exc}", file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
