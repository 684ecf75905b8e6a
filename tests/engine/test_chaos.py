"""Chaos: while 30 submissions train, workers are killed with SIGKILL again and again (20 times and more)
and replaced; in the end every submission is scored exactly once, none is stuck or lost.

Real ``databoard worker`` processes train with real ramp-test runs (in the sandbox where bwrap works) on a
data home built by the CLI, whose config gives short leases, so that the run of a killed worker is reaped
and requeued within seconds, and enough attempts that no run fails for having been killed. Each worker
runs in its own session and is killed with its process group, as a crash or an OOM kill would end it; its
ramp-test, in a session of its own, must die with it. The home's database is the suite's vendor: SQLite
(2 workers) or a fresh PostgreSQL database (3 workers).

The killer looks every 0.3 to 1 s and cuts each run short at a random moment: of its first seconds after the
claim (kit unpacking, ramp-test starting) or of its ramp-test; when no kill is due for a while, it kills any
worker holding no run (starting, polling, reaping). Its random seed is in every failure message.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.db import connection

from databoard.kits import make_kit
from tests.challenges.fixtures import slow_iris_code
from tests.homes import (
    HomeRows,
    cli_home,
    die_with_parent,
    kill_group,
    parent_of,
    postgres_database,
    processes_of,
    submission_folder,
    wait_until,
)

pytestmark = pytest.mark.chaos

SUBMISSIONS = 30
KILLS = 20
WORKERS = {"sqlite": 2, "postgresql": 3}
SETTINGS = {"lease_seconds": 2, "worker_poll_seconds": 0.1, "max_attempts": 50}
FIT_SLEEP = 0.1  # seconds in each fold's fit (3 folds): the runs last a little longer without costing CPU
KILL_EVERY = (0.3, 1.0)  # seconds between two looks of the killer
PHASES = {"claimed": 2.0, "ramp-test": 1.5}  # a run is killed in one of these, within its first seconds
IDLE_KILL_AFTER = 3.0  # seconds without a kill after which a worker holding no run is killed
ORPHAN_GRACE = 1.0  # seconds a killed worker's ramp-test may take to die (in the sandbox: a few ms)
DEADLINE = 300  # seconds for the queue to be done once the kills are over (it takes a few tens)
RESULTS = {"challenges_foldresult": ("fold", 3), "challenges_submissionscore": ("name", 3)}  # iris: 3 folds, 3 scores

#: The timeline of a submission scored after any number of lost runs.
TIMELINE = re.compile(r"new queued (training queued )*training scored")


@pytest.fixture
def database_url():
    """Empty for SQLite (the home's own file), else the URL of a fresh PostgreSQL database."""
    if connection.vendor == "postgresql":
        with postgres_database() as url:
            yield url
    elif connection.vendor == "sqlite":
        yield ""
    else:
        pytest.skip(f"no chaos run on {connection.vendor}")


class Fleet:
    """The workers of a home: started, killed and replaced; watched for crashes of their own and for runs
    that outlive their worker."""

    def __init__(self, home: Path, env: dict[str, str], logs: Path):
        self.home, self.env, self.logs = home, {**env, "PYTHONUNBUFFERED": "1"}, logs
        self.live: list[subprocess.Popen] = []
        self.ended: list[subprocess.Popen] = []
        self.log_paths: dict[int, Path] = {}
        self.doomed: dict[int, float] = {}  # pid of a killed worker's run → when its worker was killed
        logs.mkdir()

    def start(self) -> subprocess.Popen:
        path = self.logs / f"worker-{len(self.log_paths)}.log"
        with open(path, "wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "databoard", "worker"], env=self.env,
                                      start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
                                      stdout=log, stderr=subprocess.STDOUT)
        self.log_paths[worker.pid] = path
        self.live.append(worker)
        return worker

    def log(self, worker: subprocess.Popen) -> str:
        return self.log_paths[worker.pid].read_text(errors="replace")

    def runs(self) -> dict[int, set[int]]:
        """The processes each live worker started (its ramp-test, or bwrap and the ramp-test inside), by
        worker pid."""
        workers = {worker.pid: set() for worker in self.live}
        for pid in processes_of(self.home):
            ancestor = parent_of(pid)
            while ancestor not in (None, 0, 1) and ancestor not in workers:
                ancestor = parent_of(ancestor)
            if ancestor in workers:
                workers[ancestor].add(pid)
        return workers

    def kill(self, worker: subprocess.Popen) -> bool:
        """SIGKILL ``worker`` with its process group (its runs must die with it: see :meth:`check`);
        True when a ramp-test of it was running."""
        runs = self.runs()[worker.pid]
        kill_group(worker)
        self.doomed.update(dict.fromkeys(runs, time.monotonic()))
        self.live.remove(worker)
        self.ended.append(worker)
        return bool(runs)

    def check(self) -> None:
        """Fail when a worker ended by itself, or a run outlived its killed worker by ORPHAN_GRACE."""
        for worker in self.live:
            assert worker.poll() is None, (f"worker {worker.pid} stopped by itself (exit code {worker.returncode})"
                                           f":\n{self.log(worker)[-3000:]}")
        alive, now = processes_of(self.home), time.monotonic()
        self.doomed = {pid: since for pid, since in self.doomed.items() if pid in alive}
        lasting = {pid: alive[pid] for pid, since in self.doomed.items() if now - since > ORPHAN_GRACE}
        assert not lasting, f"runs outlived their killed worker by more than {ORPHAN_GRACE} s: {lasting}"

    def stop(self) -> None:
        """SIGTERM to every live worker (idle by now): each must end at once, cleanly."""
        for worker in self.live:
            worker.send_signal(signal.SIGTERM)
        for worker in list(self.live):
            worker.wait(timeout=30)
            assert worker.returncode == 0, f"worker {worker.pid} ended with {worker.returncode}:\n{self.log(worker)}"
            self.live.remove(worker)
            self.ended.append(worker)

    def kill_all(self) -> None:
        for worker in list(self.live):
            self.kill(worker)
        for pid in processes_of(self.home):  # what they left behind (nothing, unless the test failed there)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Killer:
    """Chooses whom to kill: each run is cut short in a phase drawn at random (after its claim, or once its
    ramp-test runs), at a random moment of that phase's first seconds; when no kill was due for
    IDLE_KILL_AFTER, a worker holding no run (starting, polling, reaping) is killed."""

    def __init__(self, rng: random.Random, hostname: str):
        self.rng, self.hostname = rng, hostname
        self.doom: dict[tuple[str, int], tuple[str, float]] = {}  # run → (its fatal phase, how long into it)
        self.seen: dict[tuple[tuple[str, int], str], float] = {}  # (run, phase) → when the phase was first seen
        self.last_kill = time.monotonic()

    def choose(self, live: list[subprocess.Popen], held: dict[str, int],
               running: dict[int, set[int]]) -> tuple[subprocess.Popen | None, tuple[str, int] | None]:
        """The worker to kill now (None: nobody), and the run it holds (worker name, submission id) if any.
        ``held``: worker name → submission id; ``running``: worker pid → its ramp-test processes."""
        now = time.monotonic()
        holding, due = {}, []
        for worker in live:
            name = f"{self.hostname}:{worker.pid}"
            if name not in held:
                continue
            run = holding[worker] = (name, held[name])
            if run not in self.doom:
                phase = self.rng.choice(list(PHASES))
                self.doom[run] = phase, self.rng.uniform(0, PHASES[phase])
            phase, delay = self.doom[run]
            self.seen.setdefault((run, "claimed"), now)
            if running[worker.pid]:
                self.seen.setdefault((run, "ramp-test"), now)
            if (run, phase) in self.seen and now - self.seen[run, phase] >= delay:
                due.append(worker)
        idle = [worker for worker in live if worker not in holding]
        if due:
            victim = self.rng.choice(due)
        elif idle and now - self.last_kill > IDLE_KILL_AFTER:
            victim = self.rng.choice(idle)
        else:
            return None, None
        self.last_kill = now
        return victim, holding.get(victim)


def runs_held(rows: HomeRows) -> dict[str, int]:
    """The runs in progress: worker name → submission id."""
    return dict(rows("SELECT worker, id FROM challenges_submission WHERE state = 'training'"))


def finished(rows: HomeRows) -> int:
    return rows("SELECT COUNT(*) FROM challenges_submission WHERE state IN ('scored', 'error')")[0][0]


def test_workers_killed_at_random_lose_no_submission_and_score_none_twice(tmp_path, database_url):
    began = time.monotonic()
    kit = make_kit("iris", tmp_path / "kits")
    code = tmp_path / "code"
    code.mkdir()
    names = [f"s{i:02d}" for i in range(SUBMISSIONS)]
    folders = {name: submission_folder(code, name, slow_iris_code(FIT_SLEEP, name)) for name in names}
    home, env = cli_home(tmp_path, kit, folders, database_url=database_url, **SETTINGS)
    rows = HomeRows(home, database_url)
    assert finished(rows) == 0 and len(rows("SELECT id FROM challenges_submission")) == SUBMISSIONS
    built = time.monotonic()

    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    hostname = socket.gethostname()
    size = WORKERS[connection.vendor]
    fleet = Fleet(home, env, tmp_path / "logs")
    kills = running_kills = 0
    killed_runs = []  # (worker name, submission id) of the runs whose worker was killed
    try:
        for _ in range(size):
            fleet.start()
        killer = Killer(rng, hostname)
        while kills < KILLS:
            time.sleep(rng.uniform(*KILL_EVERY))
            fleet.check()
            assert finished(rows) < SUBMISSIONS, f"the queue was done after only {kills} kills (seed {seed})"
            victim, run = killer.choose(fleet.live, runs_held(rows), fleet.runs())
            if victim is None:
                continue
            killed_runs += [run] if run else []
            running_kills += fleet.kill(victim)
            kills += 1
            fleet.start()
        killed = time.monotonic()

        def done() -> bool:
            fleet.check()
            return finished(rows) == SUBMISSIONS

        wait_until(done, DEADLINE, f"the queue is not done {DEADLINE} s after the kills (seed {seed})", step=0.25)
        fleet.stop()
        wait_until(lambda: not processes_of(home), ORPHAN_GRACE, f"processes left behind: {processes_of(home)}")
    finally:
        fleet.kill_all()

    logs = {worker.pid: fleet.log(worker) for worker in fleet.ended}
    errors = {pid: text[-3000:] for pid, text in logs.items() if "Traceback" in text}
    assert not errors, f"errors in the workers' logs (seed {seed}): {errors}"

    submissions = rows("SELECT id, name, state, attempts, worker, error_summary FROM challenges_submission")
    assert sorted(name for _, name, *_ in submissions) == names
    unscored = [s for s in submissions if s[2] != "scored"]
    assert not unscored, f"not scored (seed {seed}): {unscored}"
    timelines, notes = defaultdict(list), defaultdict(list)
    for submission_id, state, note in rows("SELECT submission_id, state, note FROM challenges_statechange "
                                           "ORDER BY at, id"):
        timelines[submission_id].append(state)
        notes[submission_id].append(note)
    worker_of = {submission_id: worker for submission_id, _, _, _, worker, _ in submissions}
    for submission_id, name, _, attempts, worker, _ in submissions:
        timeline = " ".join(timelines[submission_id])
        assert TIMELINE.fullmatch(timeline), f"{name}: {timeline} (seed {seed})"  # scored once, after its runs
        assert attempts == timelines[submission_id].count("training") >= 1, f"{name}: {attempts}, {timeline}"
        assert notes[submission_id][-2] == worker, f"{name} was scored by {worker}, not by its last claimer"
    for table, (column, expected) in RESULTS.items():
        counts = rows(f"SELECT submission_id, {column}, COUNT(*) FROM {table} GROUP BY submission_id, {column}")
        assert all(count == 1 for *_, count in counts), f"{table} holds a result twice"
        assert Counter(submission_id for submission_id, *_ in counts) == {s[0]: expected for s in submissions}

    # A killed run was requeued as lost by its worker, or it had just been scored by it before the kill.
    lost = [(name, submission_id) for name, submission_id in killed_runs
            if any(note.startswith(f"requeued: {name} ") for note in notes[submission_id])]
    finished_first = [(name, submission_id) for name, submission_id in killed_runs if worker_of[submission_id] == name]
    assert len(lost) + len(finished_first) == len(killed_runs), f"killed runs left no trace (seed {seed})"
    assert kills >= KILLS and lost, f"no kill landed mid-training ({kills} kills, seed {seed})"
    requeues = sum(attempts - 1 for *_, attempts, _, _ in submissions)
    taken = sum(text.count("taken from this worker") for text in logs.values())  # leases lost by live workers
    ended = time.monotonic()
    print(f"\nchaos on {connection.vendor}, {size} workers, seed {seed}: {kills} kills, {len(killed_runs)} of "
          f"workers holding a run ({running_kills} while its ramp-test ran): {len(lost)} runs lost and requeued, "
          f"{len(finished_first)} just scored; {requeues} requeues in all ({taken} by live workers whose lease ran "
          f"out); home built in {built - began:.1f} s, kills over {killed - built:.1f} s, queue done "
          f"{ended - killed:.1f} s later; {ended - began:.1f} s in all")
