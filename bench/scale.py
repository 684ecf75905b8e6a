"""Throughput of the Dask backend against the number of Dask workers, on a CPU-bound kit.

    .venv/bin/python bench/scale.py [--workers 1,2,4,8,16] [--per-worker 4] [--work 40] [--rounds 2]

For each number of workers n (those above ``os.cpu_count()`` are skipped, and the script says so), in a
process of its own: a fresh data home (removed at the end) on SQLite, the database migrated, an admin and a
participant, the iris kit (made with ``databoard.kits.make_kit``, as ``databoard kits make`` makes it)
imported, an event without quotas, and ``per-worker × n`` submissions queued. Each submission is the starting
kit whose ``fit`` first spends a fixed amount of pure CPU (a Python loop of ``--work`` million additions, once
per CV fold: 3 folds), each with a unique comment line (identical code is refused). Then
``run_dask_worker(n_workers=n, burst=True)`` starts a LocalCluster of n single-threaded worker processes and
trains them all; OMP, BLAS and numexpr threads are set to 1.

The time measured runs from the first claim (the earliest ``training_at``) to the last result (the latest
``scored_at``), as the database recorded them, so the cluster's start is left out. Each n is measured
``--rounds`` times, the rounds interleaved (1, 2, 4 … then … 4, 2, 1) so that a change of the machine's load
weighs on every n alike; the median of the rounds is kept. Printed per n: that time, the throughput
(submissions per minute), the median ``ramp-test`` time of one run (it grows when runs compete for the
CPUs), the speed-up over the smallest n (times that n) and the efficiency (speed-up / n). Goal: efficiency
>= 0.8 (0.8 × linear) for every n measured.
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
from pathlib import Path

GOAL = 0.8
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")
BUSY_FIT = """    def fit(self, X, y):
        total = 0
        for i in range({iterations}):  # a fixed amount of pure CPU work
            total += i
"""


# --------------------------------------------------------------------------- one n, in a process of its own


def measure(n: int, per_worker: int, work: float, home: Path) -> dict:
    """Trains ``per_worker * n`` CPU-bound submissions on a LocalCluster of ``n`` workers; the figures."""
    from databoard.cli.setup import django_setup

    django_setup()
    from _challenge import challenge_setup

    from databoard.challenges import services
    from databoard.challenges.models import Submission
    from databoard.engine.dask_backend import run_dask_worker
    from databoard.kits import make_kit

    kit = make_kit("iris", home / "kits")
    _, participant, event = challenge_setup(kit, "scale", max_train_seconds=3600)
    code = (kit / "submissions" / "starting_kit" / "classifier.py").read_text()
    fit = "    def fit(self, X, y):\n"
    assert fit in code, "the iris starting kit changed: update BUSY_FIT"
    busy = code.replace(fit, BUSY_FIT.format(iterations=int(work * 1_000_000)))
    count = per_worker * n
    for i in range(count):
        services.submission_create(event=event, user=participant, name=f"busy-{i}",
                                   files={"classifier.py": f"{busy}# {i}\n".encode()})

    stats = run_dask_worker(worker_id=f"bench-scale-{n}", n_workers=n, burst=True, dashboard_address=None)
    rows = list(Submission.objects.filter(event=event).values("state", "training_at", "scored_at",
                                                               "duration_seconds", "error_summary"))
    failed = [r for r in rows if r["state"] != "scored"]
    if failed or stats.scored != count:
        raise SystemExit(f"{len(failed)} of {count} submissions did not score: {failed[0]['error_summary']!r}")
    first = min(r["training_at"] for r in rows)
    last = max(r["scored_at"] for r in rows)
    return {"n": n, "submissions": count, "seconds": (last - first).total_seconds(),
            "run_median_s": statistics.median(r["duration_seconds"] for r in rows)}


def child(args: argparse.Namespace) -> None:
    home = Path(args.home)
    result = measure(args.one, args.per_worker, args.work, home)
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- the figures


def run_one(n: int, args: argparse.Namespace) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"databoard-bench-scale-{n}-"))
    (home / "static").mkdir()  # as `databoard init` makes it (else whitenoise warns)
    env = {k: v for k, v in os.environ.items() if k not in (
        "DATABASE_URL", "DATABOARD_URL", "DATABOARD_TOKEN", "DATABOARD_CONFIG", "DJANGO_SETTINGS_MODULE")}
    env.update(DATABOARD_HOME=str(home), DATABOARD_SECRET_KEY="bench-scale",
               DATABOARD_CLIENT_CONFIG=str(home / "no-client.toml"), **{name: "1" for name in THREAD_VARIABLES})
    try:
        done = subprocess.run([sys.executable, __file__, "--one", str(n), "--home", str(home),
                               "--per-worker", str(args.per_worker), "--work", str(args.work)],
                              env=env, capture_output=True, text=True)
        results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not results:
            raise SystemExit(f"n = {n} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return json.loads(results[-1][len("RESULT "):])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def report(results: list[dict], skipped: list[int], load: tuple[float, float], args) -> None:
    first = results[0]
    per_worker = first["submissions"] / first["seconds"] / first["n"]  # throughput of one worker, at the smallest n
    print(f"\nDask backend, CPU-bound iris submissions ({args.work:g} M additions per fold, 3 folds), "
          f"{args.per_worker} per worker; {os.cpu_count()} CPUs, load average {load[0]:.1f} -> {load[1]:.1f}\n")
    print(f"{'workers':>7} {'subs':>5} {'time (s)':>9} {'subs/min':>9} {'run median (s)':>15} {'speed-up':>9} "
          f"{'efficiency':>11}   each round: time; efficiency against the same round's smallest n")
    for r in results:
        throughput = r["submissions"] / r["seconds"]
        speed_up = throughput / per_worker
        r["efficiency"] = speed_up / r["n"]
        by_round = [(r["submissions"] / t) / (first["submissions"] / first["rounds"][i] / first["n"]) / r["n"]
                    for i, t in enumerate(r["rounds"])]
        print(f"{r['n']:>7} {r['submissions']:>5} {r['seconds']:>9.1f} {throughput * 60:>9.1f} "
              f"{r['run_median_s']:>15.1f} {speed_up:>9.2f} {r['efficiency']:>11.2f}   "
              f"{', '.join(f'{t:.1f}' for t in r['rounds'])} s; {', '.join(f'{e:.2f}' for e in by_round)}")
    if skipped:
        print(f"\nSkipped (more workers than the {os.cpu_count()} CPUs): {', '.join(map(str, skipped))}")
    if len(results) < 2:
        print("\nOnly one number of workers measured: no speed-up to judge.")
        return
    worst = min(results[1:], key=lambda r: r["efficiency"])
    met = worst["efficiency"] >= GOAL
    print(f"\nGoal >= {GOAL} x linear: {'met' if met else 'NOT met'} (lowest efficiency {worst['efficiency']:.2f} "
          f"at {worst['n']} workers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4,8,16", help="Numbers of Dask workers (default 1,2,4,8,16).")
    parser.add_argument("--per-worker", type=int, default=4, help="Submissions per worker (default 4).")
    parser.add_argument("--work", type=float, default=40,
                        help="Millions of additions in each fold's fit (default 40: a second or two a fold).")
    parser.add_argument("--rounds", type=int, default=2, help="Measures of each n, interleaved (default 2).")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        child(args)
        return
    wanted = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    if not wanted or wanted[0] < 1 or args.per_worker < 1 or args.work <= 0 or args.rounds < 1:
        parser.error("--workers takes whole numbers from 1; --per-worker, --work and --rounds must be positive")
    cpus = os.cpu_count() or 1
    measured, skipped = [n for n in wanted if n <= cpus], [n for n in wanted if n > cpus]
    load_start = os.getloadavg()[0]
    print(f"{cpus} CPUs, load average {load_start:.1f}; measuring {', '.join(map(str, measured))} worker(s)"
          + (f", skipping {', '.join(map(str, skipped))} (more than the CPUs)" if skipped else ""), flush=True)
    runs: dict[int, list[dict]] = {n: [] for n in measured}
    for round_ in range(args.rounds):
        for n in (measured if round_ % 2 == 0 else measured[::-1]):
            started = time.monotonic()
            r = run_one(n, args)
            runs[n].append(r)
            print(f"  round {round_ + 1}, n = {n}: {r['submissions']} submissions in {r['seconds']:.1f} s "
                  f"({time.monotonic() - started:.0f} s with the set-up; load average {os.getloadavg()[0]:.1f})",
                  flush=True)
    results = [{"n": n, "submissions": runs[n][0]["submissions"],
                "seconds": statistics.median(r["seconds"] for r in runs[n]),
                "run_median_s": statistics.median(r["run_median_s"] for r in runs[n]),
                "rounds": [r["seconds"] for r in runs[n]]} for n in measured]
    report(results, skipped, (load_start, os.getloadavg()[0]), args)


if __name__ == "__main__":
    main()
