"""databoard against ramp-board 0.10.1: the same kit, the same 20 submissions, 2 workers each.

    bench/vs_rampboard/setup.sh                    # once: the ramp-board virtualenv
    .venv/bin/python bench/vs_rampboard/run.py [--n 20] [--workers 2] [--rounds 1] [--json FILE]
                                               [--rampboard-venv bench/vs_rampboard/.venv-rampboard]

One run measures four cases, per round, in the order bare (databoard venv), databoard, bare (ramp-board venv),
ramp-board (the next round, if any, in the reverse order), so that load drift on the machine hits every case
alike. The 20 submissions are the iris starting kit with the logistic regression's C from 0.5 by steps of 0.05.
Each case first runs one untimed warm-up submission per worker (what a long-running worker has behind it).

bare       ``ramp-test --submission bench_XX --save-output --ignore-warning`` on each of the 20 submissions,
           ``--workers`` (2) at a time, in a copy of the kit holding the submission folders: the command each
           platform's worker runs, by hand. Once with the ramp-test of the project's virtualenv and the
           environment databoard's worker gives it (databoard runs it under bwrap; not here), once with the
           ramp-test of the ramp-board virtualenv under ``nice -5``, as ramp-board's worker runs it. Each
           platform is compared with its own.
databoard  a fresh data home on a scratch PostgreSQL database; the kit imported, an event opened, the
           participant signed up (databoard_side.py setup, not timed). Two ``databoard worker`` processes
           are started and ready; then a submitter process (databoard_side.py submit: the REST API in-process)
           sends the submissions one after the other and stays alive until all are scored.
ramp-board a scratch PostgreSQL database with ramp-board's schema, the same kit as problem and event, a user
           signed up (rampboard_side.py setup, not timed). ``ramp-launch dispatcher`` is started with
           ``n_workers: 2`` and ``hunger_policy: sleep`` (the template's and the command's default) and its
           local ``conda`` worker; then a submitter process (rampboard_side.py submit: ramp-board's Flask
           front-end in-process, the sandbox form) sends the submissions and stays alive until all are
           scored. There is no conda here: a ``conda`` stand-in on the dispatcher's PATH answers
           ``conda info --envs --json`` with the ramp-board virtualenv as the base environment, so the worker
           runs that virtualenv's ramp-test.

While a case runs, this script polls its database every 20 ms (psycopg, one connection) and notes when each
submission is first seen ``scored``, and samples /proc every 50 ms: the RSS (and PSS) and CPU time of the
platform's processes (the engine, i.e. the 2 workers or the dispatcher, plus the submitter, plus their
children) *without* the ramp-test runs (a process running ramp-test, or bwrap or nice, and what it starts, is
left out); the lifetime and CPU time of every ramp-test process (start from /proc, end = last sample seen +
25 ms); and the PostgreSQL backends connected to the case's database (reported apart). The /proc sampling runs
during the bare cases too, so that every case pays for it.

Per submission: t0 = just before its POST; training start = the earlier of the platform's own timestamp
(databoard ``training_at``, ramp-board ``training_timestamp``) and the start of its ramp-test process;
scored = first seen ``scored``. Then
  busy time   = scored - training start (what the platform spends on it once a worker has it; no queueing)
  overhead    = busy time - bare ramp-test time of the same submission in the same round (same venv), split
                into: ramp-test inside the platform slower than bare + time outside ramp-test;
and per case: wall = last scored - first t0; overhead, wall = wall/20 - bare wall/20; throughput = 20/wall.
CPU times (platform processes, their PostgreSQL backends) cover the 20 timed submissions only.
Goals (from the issue): databoard's overhead <= 1/10 of ramp-board's; databoard's throughput >= 0.9 x bare
ramp-test 2 at a time.

Scratch databases are named ``bench_vs_rampboard_*`` and dropped at the end; the temporary folder is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PG = "postgresql://postgres@127.0.0.1:5432"
DB_DATABOARD = "bench_vs_rampboard_databoard"
DB_RAMPBOARD = "bench_vs_rampboard_rampboard"
SAMPLE_S = 0.05
OBSERVE_S = 0.02
CASE_TIMEOUT_S = 900
OVERHEAD_RATIO_GOAL = 0.1
THROUGHPUT_GOAL = 0.9
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- PostgreSQL


def pg_execute(sql: str, database: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(f"{PG}/{database}", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def pg_fresh(name: str) -> str:
    assert name.startswith("bench")
    pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_execute(f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


def pg_drop(name: str) -> None:
    assert name.startswith("bench")
    try:
        pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # noqa: BLE001
        print(f"Could not drop {name}: {exc}", file=sys.stderr)


# --------------------------------------------------------------------------- /proc sampling


def _read_stat(pid: str) -> tuple[int, int, int, int] | None:
    """(ppid, starttime in ticks, utime + stime in ticks, rss in pages), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2:].split()  # rest[k] is field k + 3 of proc(5)
    return int(rest[1]), int(rest[19]), int(rest[11]) + int(rest[12]), int(rest[21])


def _read_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _read_pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _is_ramp_test(cmd: list[str]) -> bool:
    return any(os.path.basename(a) == "ramp-test" for a in cmd[:2])


def _is_run(cmd: list[str]) -> bool:
    """A process that belongs to a ramp-test run (left out of the platform's figures, with its subtree)."""
    return bool(cmd) and (_is_ramp_test(cmd) or os.path.basename(cmd[0]) in ("bwrap", "nice"))


class Sampler(threading.Thread):
    """Samples /proc every SAMPLE_S: the platform's processes (trees under ``roots``, ramp-test runs left out),
    the ramp-test processes (lifetimes) and the PostgreSQL backends in ``backends``."""

    def __init__(self) -> None:
        super().__init__(name="sampler", daemon=True)
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.cmd_cache: dict[tuple[int, int], list[str]] = {}
        self.boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
        self.runs: dict[tuple[int, int], dict] = {}  # every ramp-test process ever seen
        self.begin({})

    def begin(self, roots: dict[int, str]) -> None:
        """Start measuring a case: ``roots`` maps a pid to its group ("engine", "web")."""
        with self.lock:
            self.roots = dict(roots)
            self.backends: set[int] = set()
            self.peak = {"rss": 0, "pss": 0, "rss_engine": 0, "rss_web": 0, "pss_engine": 0, "pss_web": 0,
                         "pg_rss": 0, "pg_pss": 0}
            self.cpu: dict[tuple[int, int], int] = {}
            self.pg_cpu: dict[tuple[int, int], int] = {}
            self.samples = 0

    def add_root(self, pid: int, group: str) -> None:
        with self.lock:
            self.roots[pid] = group

    def set_backends(self, pids: set[int]) -> None:
        with self.lock:
            self.backends = set(pids)

    def cpu_snapshot(self) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
        """CPU ticks so far of the platform's processes and of the PostgreSQL backends, per (pid, start)."""
        with self.lock:
            return dict(self.cpu), dict(self.pg_cpu)

    def end(self) -> dict:
        with self.lock:
            figures = dict(self.peak)
            figures["cpu_s"] = sum(self.cpu.values()) / CLK_TCK
            figures["samples"] = self.samples
            self.roots = {}
            self.backends = set()
        return figures

    def _age(self, start: int, now: float) -> float:
        return now - (self.boot + start / CLK_TCK)

    def _cmd(self, pid: int, start: int, now: float) -> list[str]:
        key = (pid, start)
        cmd = self.cmd_cache.get(key)
        if cmd is None:
            cmd = _read_cmdline(pid)
            # A young process may not have exec'd yet (it shows its parent's command line, and nice or bwrap
            # exec the next program): read it again at the next sample until it is 1 s old.
            if cmd and self._age(start, now) > 1.0:
                self.cmd_cache[key] = cmd
        return cmd

    def sample(self) -> None:
        now = time.time()
        procs: dict[int, tuple[int, int, int, int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                stat = _read_stat(name)
                if stat is not None:
                    procs[int(name)] = stat
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        for pid, (_, start, cpu, _) in procs.items():
            cmd = self._cmd(pid, start, now)
            if _is_ramp_test(cmd):
                run = self.runs.get((pid, start))
                if run is None:
                    run = self.runs[(pid, start)] = {"cmd": cmd, "start": self.boot + start / CLK_TCK}
                run["last"], run["cpu"] = now, cpu
        with self.lock:
            self.samples += 1
            totals = {"rss_engine": 0, "rss_web": 0, "pss_engine": 0, "pss_web": 0}
            for root, group in self.roots.items():
                stack = [root] if root in procs else []
                while stack:
                    pid = stack.pop()
                    ppid, start, cpu, rss = procs[pid]
                    if pid != root:
                        cmd = self._cmd(pid, start, now)
                        if _is_run(cmd):
                            continue  # a ramp-test run and its subtree: not the platform's
                        if self._age(start, now) < 1.0 and (not cmd or (
                                ppid in procs and cmd == self._cmd(ppid, procs[ppid][1], now))):
                            continue  # forked, not (or not yet fully) exec'd: it shows its parent's memory
                    totals[f"rss_{group}"] += rss * PAGE
                    totals[f"pss_{group}"] += _read_pss(pid)
                    self.cpu[(pid, start)] = cpu
                    stack.extend(children.get(pid, ()))
            totals["rss"] = totals["rss_engine"] + totals["rss_web"]
            totals["pss"] = totals["pss_engine"] + totals["pss_web"]
            totals["pg_rss"] = sum(procs[p][3] * PAGE for p in self.backends if p in procs)
            totals["pg_pss"] = sum(_read_pss(p) for p in self.backends if p in procs)
            for p in self.backends:
                if p in procs:
                    self.pg_cpu[(p, procs[p][1])] = procs[p][2]
            for key, value in totals.items():
                self.peak[key] = max(self.peak[key], value)

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.monotonic()
            self.sample()
            self.halt.wait(max(0.0, SAMPLE_S - (time.monotonic() - started)))

    def ramp_test_runs(self, since: float) -> list[dict]:
        """The ramp-test processes started after ``since``: cmd, start, end (last seen + half a period)."""
        with self.lock:
            return [{"cmd": r["cmd"], "start": r["start"], "end": r["last"] + SAMPLE_S / 2, "cpu": r["cpu"] / CLK_TCK}
                    for r in self.runs.values() if r["start"] >= since - 1]


def _arg(cmd: list[str], flag: str) -> str | None:
    return cmd[cmd.index(flag) + 1] if flag in cmd[:-1] else None


# --------------------------------------------------------------------------- database observer


class Observer(threading.Thread):
    """Polls a case's database every OBSERVE_S: notes when each submission is first seen in each state, and
    tells the sampler which PostgreSQL backends serve that database."""

    def __init__(self, database: str, query: str, sampler: Sampler) -> None:
        super().__init__(name="observer", daemon=True)
        import psycopg

        self.conn = psycopg.connect(f"{PG}/{database}", autocommit=True)
        self.database, self.query, self.sampler = database, query, sampler
        self.halt = threading.Event()
        self.first_seen: dict[tuple[str, str], float] = {}
        self.rows: dict[str, tuple] = {}
        self.error: str | None = None

    def run(self) -> None:
        last_backends = 0.0
        try:
            while not self.halt.is_set():
                rows = self.conn.execute(self.query).fetchall()
                now = time.time()
                for row in rows:  # (id, name, state, training start epoch, ...)
                    self.rows[row[1]] = row
                    self.first_seen.setdefault((row[1], row[2]), now)
                if now - last_backends > 0.5:
                    pids = {r[0] for r in self.conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        (self.database,)).fetchall()}
                    self.sampler.set_backends(pids)
                    last_backends = now
                self.halt.wait(OBSERVE_S)
        except Exception as exc:  # noqa: BLE001 - reported by the case
            self.error = repr(exc)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)
        self.conn.close()

    def scored(self, names: list[str]) -> bool:
        return all((name, "scored") in self.first_seen for name in names)

    def failed(self) -> list[str]:
        return [f"{name}: {row[2]}" for name, row in self.rows.items() if "error" in row[2]]


# --------------------------------------------------------------------------- helpers


def make_codes(kit: Path, n: int, warm: int) -> dict[str, list[list[str]]]:
    """Variants of the starting kit: ``timed``, n of them, the logistic regression's C from 0.5 by steps of 0.05
    (bench_00, bench_01, ...); ``warm``, one per worker, C from 5 by steps of 1 (warm_0, warm_1, ...)."""
    base = (kit / "submissions" / "starting_kit" / "classifier.py").read_text()
    anchor = "LogisticRegression(max_iter=1000)"
    if anchor not in base:
        raise RuntimeError(f"the iris starting kit no longer contains {anchor!r}")
    def variant(label: str, c: float) -> str:
        code = base.replace(anchor, f"LogisticRegression(max_iter=1000, C={c})")
        return f"# vs_rampboard bench, {label}: C={c}\n" + code

    return {"warm": [[f"warm_{i}", variant(f"warm-up {i}", 5.0 + i)] for i in range(warm)],
            "timed": [[f"bench_{i:02d}", variant(f"submission {i}", round(0.5 + 0.05 * i, 2))] for i in range(n)]}


def wait_for_text(path: Path, text: str, count: int, procs: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        content = path.read_text(errors="replace") if path.exists() else ""
        if content.count(text) >= count:
            return
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"process {proc.args} stopped:\n{content[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{text!r} did not appear in {path} within {timeout} s")


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def venv_versions(python: Path) -> dict[str, str]:
    code = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
            "['ramp-workflow', 'numpy', 'pandas', 'scikit-learn', 'scipy']}))")
    return json.loads(subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                                     check=True).stdout)


# --------------------------------------------------------------------------- the cases


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        from databoard.engine.runner import _child_env
        from databoard.kits import make_kit

        self.args, self.tmp = args, tmp
        self.n, self.workers = args.n, args.workers
        self.db_bin = Path(sys.executable).parent
        self.rb_venv = Path(args.rampboard_venv).resolve()
        self.rb_bin = self.rb_venv / "bin"
        self.kit = make_kit("iris", tmp / "kit")
        self.codes = make_codes(self.kit, self.n, self.workers)
        self.names = [name for name, _ in self.codes["timed"]]
        self.warm_names = [name for name, _ in self.codes["warm"]]
        self.codes_json = tmp / "codes.json"
        self.codes_json.write_text(json.dumps(self.codes))
        self.child_env = _child_env(None)  # what databoard's worker gives ramp-test
        self.sampler = Sampler()
        self.procs: list[subprocess.Popen] = []  # to stop on the way out
        self.sandbox_line = ""

    def spawn(self, cmd: list, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen([str(c) for c in cmd], **kwargs)
        self.procs.append(proc)
        return proc

    # ----------------------------------------------------------------- bare

    def bare(self, venv_bin: Path, label: str, prefix: list[str], env: dict) -> dict:
        work = self.tmp / f"bare-{label}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(self.kit, work)
        for name, code in self.codes["warm"] + self.codes["timed"]:
            (work / "submissions" / name).mkdir()
            (work / "submissions" / name / "classifier.py").write_text(code)
        todo: deque[str] = deque()
        times: dict[str, tuple[float, float]] = {}
        failures: list[str] = []

        def one_at_a_time() -> None:
            while True:
                try:
                    name = todo.popleft()
                except IndexError:
                    return
                cmd = [*prefix, str(venv_bin / "ramp-test"), "--submission", name, "--ramp-kit-dir", str(work),
                       "--ramp-data-dir", str(work), "--ramp-submission-dir", str(work / "submissions"),
                       "--save-output", "--ignore-warning"]
                t0 = time.time()
                done = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
                t1 = time.time()
                if done.returncode != 0:
                    failures.append(f"{name}: {done.stderr.decode(errors='replace')[-1500:]}")
                times[name] = (t0, t1)

        self.sampler.begin({})
        started = time.time()
        for batch in (self.warm_names, self.names):  # as for the platforms: one warm-up run per slot first
            todo.extend(batch)
            threads = [threading.Thread(target=one_at_a_time) for _ in range(self.workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self.sampler.end()
        shutil.rmtree(work, ignore_errors=True)
        if failures:
            raise RuntimeError("bare ramp-test failed:\n" + "\n".join(failures))
        timed = {name: times[name] for name in self.names}
        cpu = {_arg(r["cmd"], "--submission"): r["cpu"] for r in self.sampler.ramp_test_runs(started)
               if _arg(r["cmd"], "--ramp-submission-dir") == str(work / "submissions")}
        return {"per": {name: t1 - t0 for name, (t0, t1) in timed.items()},
                "warm": [times[name][1] - times[name][0] for name in self.warm_names],
                "cpu": {name: cpu.get(name, float("nan")) for name in self.names},
                "wall": max(t1 for _, t1 in timed.values()) - min(t0 for t0, _ in timed.values())}

    # ----------------------------------------------------------------- the platforms

    def _measure(self, database: str, query: str, engine: list[subprocess.Popen], submitter_cmd: list,
                 submitter_env: dict, submitter_log: Path, cwd: Path) -> dict:
        """Shared by both platforms: start the submitter, observe until the 20 are scored."""
        observer = Observer(database, query, self.sampler)
        self.sampler.begin({proc.pid: "engine" for proc in engine})
        observer.start()
        started = time.time()
        with open(submitter_log, "wb") as errors:
            submitter = self.spawn(submitter_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                   env=submitter_env, cwd=cwd)
        self.sampler.add_root(submitter.pid, "web")
        submitted: dict[str, tuple[float, float]] = {}

        def read(phase: str) -> None:
            line = submitter.stdout.readline()
            if not line:
                submitter.wait(timeout=30)
                raise RuntimeError(f"the submitter stopped:\n{submitter_log.read_text(errors='replace')[-3000:]}")
            submitted.update({name: (t0, t1) for name, t0, t1 in json.loads(line)[phase]})

        def wait_scored(names: list[str]) -> None:
            deadline = time.time() + CASE_TIMEOUT_S
            while not observer.scored(names):
                if observer.failed() or observer.error:
                    raise RuntimeError(f"failed: {observer.failed() or observer.error}")
                for proc in engine:
                    if proc.poll() is not None:
                        raise RuntimeError(f"engine process {proc.args} stopped")
                if time.time() > deadline:
                    raise RuntimeError(f"not all scored after {CASE_TIMEOUT_S} s: {observer.rows}")
                time.sleep(OBSERVE_S)

        try:
            read("warm")  # one warm-up submission per worker: the workers' first runs are not timed
            wait_scored(self.warm_names)
            time.sleep(1.0)
            cpu_before, pg_before = self.sampler.cpu_snapshot()
            submitter.stdin.write(b"go\n")
            submitter.stdin.flush()
            read("timed")
            wait_scored(self.names)
            time.sleep(2 * SAMPLE_S)  # one more sample of the settled platform
            cpu_after, pg_after = self.sampler.cpu_snapshot()
        finally:
            memory = self.sampler.end()
            observer.stop()
            if submitter.stdin:
                submitter.stdin.close()
            try:
                submitter.wait(timeout=30)
            except subprocess.TimeoutExpired:
                submitter.kill()
        memory["cpu_s"] = sum(v - cpu_before.get(k, 0) for k, v in cpu_after.items()) / CLK_TCK  # timed part
        memory["pg_cpu_s"] = sum(v - pg_before.get(k, 0) for k, v in pg_after.items()) / CLK_TCK
        return {"submitted": submitted, "rows": dict(observer.rows), "first_seen": dict(observer.first_seen),
                "runs": self.sampler.ramp_test_runs(started), "memory": memory}

    def databoard(self, label: str) -> dict:
        home = self.tmp / f"databoard-{label}"
        home.mkdir()
        (home / "static").mkdir()  # as `databoard init` makes it
        url = pg_fresh(DB_DATABOARD)
        env = {k: v for k, v in os.environ.items() if k not in (
            "DATABOARD_URL", "DATABOARD_TOKEN", "DATABOARD_CONFIG", "DJANGO_SETTINGS_MODULE",
            "DATABOARD_WORKER_POLL_SECONDS")}
        env.update(DATABOARD_HOME=str(home), DATABOARD_SECRET_KEY="bench-vs-rampboard", DATABASE_URL=url,
                   DATABOARD_CLIENT_CONFIG=str(home / "no-client.toml"))
        side = HERE / "databoard_side.py"
        done = subprocess.run([sys.executable, str(side), "setup", str(self.kit)], env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise RuntimeError(f"databoard setup failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        table = json.loads(done.stdout.strip().splitlines()[-1])["table"]
        logs = [home / f"worker-{i}.log" for i in range(self.workers)]
        engine = []
        try:
            for path in logs:
                with open(path, "wb") as out:
                    engine.append(self.spawn([self.db_bin / "databoard", "worker"], stdout=out,
                                             stderr=subprocess.STDOUT, env=env, cwd=home))
            for path in logs:
                wait_for_text(path, "waiting for submissions", 1, engine, 120)
            self.sandbox_line = logs[0].read_text(errors="replace").splitlines()[0].strip()
            query = (f"SELECT id, name, state, extract(epoch FROM training_at)::float8, duration_seconds "
                     f"FROM {table}")
            outcome = self._measure(DB_DATABOARD, query, engine,
                                    [sys.executable, side, "submit", self.codes_json], env, home / "submit.log",
                                    home)
        finally:
            for proc in engine:
                stop_process(proc)  # SIGTERM: a databoard worker stops after its current wait
            pg_drop(DB_DATABOARD)
        ids = {name: row[0] for name, row in outcome["rows"].items()}
        runs = {}
        for run in outcome["runs"]:  # only this data home's runs: other ramp-tests may run on the machine
            folder = _arg(run["cmd"], "--ramp-submission-dir") or ""
            found = re.search(r"submission-(\d+)-", folder)
            if found and folder.startswith(str(home.resolve())):
                runs[int(found.group(1))] = run
        outcome["run_of"] = {name: runs.get(ids[name]) for name in self.warm_names + self.names}
        outcome["training"] = {name: outcome["rows"][name][3] for name in self.warm_names + self.names}
        return outcome

    def rampboard(self, label: str) -> dict:
        deploy = self.tmp / f"rampboard-{label}"
        (deploy / "kits").mkdir(parents=True)
        kit = deploy / "kits" / "iris"
        shutil.copytree(self.kit, kit)
        url = pg_fresh(DB_RAMPBOARD)
        (deploy / "config.yml").write_text(
            "flask:\n    secret_key: bench-vs-rampboard\n    mail_server: localhost\n    mail_port: 8025\n"
            "    mail_default_sender: ['RAMP admin', 'rampmailer@localhost.com']\n"
            "sqlalchemy:\n    drivername: postgresql\n    username: postgres\n    password: ''\n"
            f"    host: 127.0.0.1\n    port: 5432\n    database: {DB_RAMPBOARD}\n")
        (deploy / "event.yml").write_text(
            "ramp:\n    problem_name: iris\n    event_name: iris_bench\n    event_title: Iris bench\n"
            f"    event_is_public: true\n    kit_dir: {kit}\n    data_dir: {kit}\n"
            f"    submissions_dir: {deploy / 'submissions'}\n    predictions_dir: {deploy / 'predictions'}\n"
            f"    logs_dir: {deploy / 'logs'}\n    sandbox_dir: starting_kit\n"
            "worker:\n    worker_type: conda\n    conda_env: base\n"
            f"dispatcher:\n    n_workers: {self.workers}\n    hunger_policy: sleep\n")
        (deploy / "codes.json").write_text(json.dumps(self.codes))
        fakebin = deploy / "fakebin"
        fakebin.mkdir()
        (fakebin / "conda").write_text(f"#!/bin/sh\necho '{json.dumps({'envs': [str(self.rb_venv)]})}'\n")
        (fakebin / "conda").chmod(0o755)
        env = {**os.environ, "PATH": f"{fakebin}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.pop("VIRTUAL_ENV", None)
        python, side = self.rb_bin / "python", HERE / "rampboard_side.py"
        done = subprocess.run([str(python), str(side), "setup", str(deploy)], env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ramp-board setup failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        dispatcher_log = deploy / "dispatcher.out"
        dispatcher = None
        try:
            with open(dispatcher_log, "wb") as out:
                dispatcher = self.spawn([self.rb_bin / "ramp-launch", "dispatcher", "--config", "config.yml",
                                         "--event-config", "event.yml"], stdout=out, stderr=subprocess.STDOUT,
                                        env=env, cwd=deploy)
            wait_for_text(dispatcher_log, "Reset unfinished trained submission", 1, [dispatcher], 120)
            query = ("SELECT id, name, state, extract(epoch FROM training_timestamp)::float8 "
                     "FROM submissions WHERE name <> 'starting_kit'")
            outcome = self._measure(DB_RAMPBOARD, query, [dispatcher], [python, side, "submit", deploy], env,
                                    deploy / "submit.log", deploy)
        finally:
            stop_process(dispatcher)  # SIGTERM: ramp-board's dispatcher just ends
            pg_drop(DB_RAMPBOARD)
        by_basename = {}
        for run in outcome["runs"]:  # only this deployment's runs: other ramp-tests may run on the machine
            submission = _arg(run["cmd"], "--submission") or ""
            folder = _arg(run["cmd"], "--ramp-submission-dir") or ""
            if submission.startswith("submission_") and folder == str(deploy / "submissions"):
                by_basename[int(submission.rsplit("_", 1)[1])] = run
        outcome["run_of"] = {name: by_basename.get(outcome["rows"][name][0]) for name in self.warm_names + self.names}
        outcome["training"] = {name: outcome["rows"][name][3] for name in self.warm_names + self.names}
        return outcome

    # ----------------------------------------------------------------- one round

    def figures(self, outcome: dict, bare: dict) -> dict:
        """Per submission and per case figures of a platform case, against the bare case of its venv."""

        def busy_of(name: str) -> tuple[float, float, dict | None]:
            run = outcome["run_of"][name]
            start = min(s for s in (outcome["training"][name], run and run["start"]) if s)
            return start, outcome["first_seen"][(name, "scored")] - start, run

        per = []
        for name in self.names:
            t0, t1 = outcome["submitted"][name]
            start, busy, run = busy_of(name)
            inside = (run["end"] - run["start"]) if run else float("nan")
            per.append({"name": name, "t0": t0, "start": start, "scored": start + busy, "bare": bare["per"][name],
                        "own_duration": (outcome["rows"][name][4:5] or [None])[0], "run": run,
                        "post": t1 - t0, "to_scored": start + busy - t0, "busy": busy, "inside": inside,
                        "overhead": busy - bare["per"][name], "slower": inside - bare["per"][name],
                        "outside": busy - inside, "cpu": run["cpu"] if run else float("nan"),
                        "bare_cpu": bare["cpu"][name]})
        first_t0 = min(p["t0"] for p in per)
        wall = max(p["scored"] for p in per) - first_t0
        return {"per": per, "wall": wall, "bare_wall": bare["wall"], "pickup": min(p["start"] for p in per) - first_t0,
                "memory": outcome["memory"], "inside_sum": sum(p["inside"] for p in per),
                "bare_sum": sum(bare["per"].values()), "warm": [busy_of(name)[1] for name in self.warm_names],
                "bare_warm": bare["warm"]}

    def run(self) -> dict:
        self.sampler.start()
        cases = ["bare-databoard", "databoard", "bare-rampboard", "rampboard"]
        results: dict[str, list] = {"databoard": [], "rampboard": []}
        bares: dict[str, list] = {"databoard": [], "rampboard": []}
        for rnd in range(self.args.rounds):
            order = cases if rnd % 2 == 0 else cases[::-1]
            done: dict[str, dict] = {}
            for case in order:
                log(f"round {rnd + 1}/{self.args.rounds}: {case}")
                label = f"{rnd}"
                # Each bare case runs the command its platform's worker runs (databoard: without bwrap).
                if case == "bare-databoard":
                    done[case] = self.bare(self.db_bin, f"databoard-{label}", [], self.child_env)
                elif case == "bare-rampboard":
                    done[case] = self.bare(self.rb_bin, f"rampboard-{label}", ["nice", "-5"], dict(os.environ))
                elif case == "databoard":
                    done[case] = self.databoard(label)
                else:
                    done[case] = self.rampboard(label)
                if case.startswith("bare"):
                    median = statistics.median(done[case]["per"].values())
                    log(f"  wall {done[case]['wall']:.1f} s, median {median:.2f} s")
                else:
                    first = min(done[case]["submitted"][n][0] for n in self.names)
                    last = max(done[case]["first_seen"][(n, "scored")] for n in self.names)
                    log(f"  wall {last - first:.1f} s")
            for platform in ("databoard", "rampboard"):
                bares[platform].append(done[f"bare-{platform}"])
                results[platform].append(self.figures(done[platform], done[f"bare-{platform}"]))
        self.sampler.halt.set()
        return {"results": results, "bares": bares}


# --------------------------------------------------------------------------- the report


def report(outcome: dict, bench: Bench, load: tuple[float, float, float], versions: dict) -> None:
    n, rounds = bench.n, bench.args.rounds
    res = outcome["results"]
    med = statistics.median

    def pooled(platform: str, key: str) -> list[float]:
        return [p[key] for r in res[platform] for p in r["per"]]

    def total(platform: str, key: str) -> float:
        return sum(r[key] for r in res[platform])

    def peak(platform: str, key: str) -> float:
        return max(r["memory"][key] for r in res[platform]) / MB

    def mean_of(platform: str, key: str) -> float:
        return statistics.mean(r["memory"][key] for r in res[platform])

    rows: list[tuple[str, str, str]] = []

    def row(label: str, fmt: str, values: dict[str, float] | None = None, *, text: tuple[str, str] | None = None):
        if text is not None:
            rows.append((label, *text))
        else:
            rows.append((label, fmt.format(values["databoard"]), fmt.format(values["rampboard"])))

    both = ("databoard", "rampboard")
    bare_med = {p: med([b["per"][name] for b in outcome["bares"][p] for name in bench.names]) for p in both}
    bare_wall = {p: total(p, "bare_wall") / rounds for p in both}
    wall = {p: total(p, "wall") / rounds for p in both}
    overhead = {p: med(pooled(p, "overhead")) for p in both}
    overhead_wall = {p: (total(p, "wall") - total(p, "bare_wall")) / (rounds * n) for p in both}
    throughput = {p: 60 * n * rounds / total(p, "wall") for p in both}
    bare_throughput = {p: 60 * n * rounds / total(p, "bare_wall") for p in both}
    ratio = {p: throughput[p] / bare_throughput[p] for p in both}
    overhead_cpu = {p: (mean_of(p, "cpu_s") + mean_of(p, "pg_cpu_s")) / n for p in both}

    row("bare ramp-test (same venv), median per submission (s)", "{:.2f}", bare_med)
    row(f"bare wall for {n}, {bench.workers} at a time (s)", "{:.1f}", bare_wall)
    row(f"bare throughput, {bench.workers} at a time (submissions/min)", "{:.1f}", bare_throughput)
    row("submit: the POST, median (s)", "{:.3f}", {p: med(pooled(p, "post")) for p in both})
    row("submit -> scored, median (s)", "{:.1f}", {p: med(pooled(p, "to_scored")) for p in both})
    row("submit -> scored, max (s)", "{:.1f}", {p: max(pooled(p, "to_scored")) for p in both})
    row("warm-up, one run per worker before timing: busy, mean (s)", "{:.2f}",
        {p: statistics.mean(w for r in res[p] for w in r["warm"]) for p in both})
    row("  bare: its warm-up runs, mean (s)", "{:.2f}",
        {p: statistics.mean(w for r in res[p] for w in r["bare_warm"]) for p in both})
    row("first submit -> first training start (s)", "{:.2f}",
        {p: statistics.mean(r["pickup"] for r in res[p]) for p in both})
    row("busy: training start -> scored, median (s)", "{:.2f}", {p: med(pooled(p, "busy")) for p in both})
    row("  ramp-test inside the platform, median (s)", "{:.2f}", {p: med(pooled(p, "inside")) for p in both})
    row("OVERHEAD per submission: busy - bare, median (s)", "{:.2f}", overhead)
    row("  of which ramp-test slower than bare, median (s)", "{:.2f}", {p: med(pooled(p, "slower")) for p in both})
    row("  of which outside ramp-test, median (s)", "{:.2f}", {p: med(pooled(p, "outside")) for p in both})
    row(f"OVERHEAD, wall: wall/{n} - bare wall/{n} (s)", "{:.2f}", overhead_wall)
    row(f"total wall for {n}: first submit -> last scored (s)", "{:.1f}", wall)
    row("THROUGHPUT (submissions/min)", "{:.1f}", throughput)
    row(f"throughput / bare {bench.workers} at a time", "{:.2f}", ratio)
    slots = bench.workers
    row(f"bare: {slots} slots running ramp-test, % of {slots} x wall", "{:.0f}",
        {p: 100 * total(p, "bare_sum") / (slots * total(p, "bare_wall")) for p in both})
    row(f"platform: {slots} slots running ramp-test, % of {slots} x wall", "{:.0f}",
        {p: 100 * total(p, "inside_sum") / (slots * total(p, "wall")) for p in both})
    row("PEAK RSS, platform processes summed (MB)", "{:.0f}", {p: peak(p, "rss") for p in both})
    row(f"  engine: {bench.workers} workers / dispatcher (MB)", "{:.0f}", {p: peak(p, "rss_engine") for p in both})
    row("  submitter: API / web front-end process (MB)", "{:.0f}", {p: peak(p, "rss_web") for p in both})
    row("peak PSS, platform processes summed (MB)", "{:.0f}", {p: peak(p, "pss") for p in both})
    row("ramp-test CPU time, bare, median (s)", "{:.2f}", {p: med(pooled(p, "bare_cpu")) for p in both})
    row("ramp-test CPU time, inside the platform, median (s)", "{:.2f}", {p: med(pooled(p, "cpu")) for p in both})
    row("CPU time of the platform processes, per submission (s)", "{:.2f}",
        {p: mean_of(p, "cpu_s") / n for p in both})
    row("CPU time of its PostgreSQL backends, per submission (s)", "{:.2f}",
        {p: mean_of(p, "pg_cpu_s") / n for p in both})
    row("OVERHEAD, CPU: the two above (s)", "{:.2f}", overhead_cpu)
    row("PostgreSQL backends of its database, peak RSS (MB)", "{:.0f}", {p: peak(p, "pg_rss") for p in both})
    row("PostgreSQL backends of its database, peak PSS (MB)", "{:.0f}", {p: peak(p, "pg_pss") for p in both})
    row("wall per round (s)", "", text=tuple(", ".join(f"{r['wall']:.1f}" for r in res[p]) for p in both))
    row("bare wall per round (s)", "", text=tuple(", ".join(f"{r['bare_wall']:.1f}" for r in res[p]) for p in both))

    print(f"\ndataboard vs ramp-board 0.10.1: iris kit, {n} submissions, {bench.workers} workers each, "
          f"{rounds} round(s), PostgreSQL for both, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"databoard venv: {', '.join(f'{k} {v}' for k, v in versions['databoard'].items())}")
    print(f"ramp-board venv: {', '.join(f'{k} {v}' for k, v in versions['rampboard'].items())}")
    print(f"databoard worker: {bench.sandbox_line}")
    print("per-submission medians pool every round; walls, throughput and CPU are means over the rounds; "
          "memory is the peak over the rounds\n")
    width = max(len(r[0]) for r in rows) + 2
    print(f"| {'':{width}}| {'databoard':>11} | {'ramp-board':>11} |")
    print(f"|{'-' * (width + 1)}|{'-' * 13}|{'-' * 13}|")
    for label, a, b in rows:
        print(f"| {label:{width}}| {a:>11} | {b:>11} |")
    print()
    for label, values in (("per submission (busy - bare)", overhead), (f"wall/{n} - bare wall/{n}", overhead_wall),
                          ("CPU time per submission, platform + PostgreSQL", overhead_cpu)):
        limit = OVERHEAD_RATIO_GOAL * values["rampboard"]
        met = values["databoard"] <= limit
        print(f"goal: databoard's overhead <= 1/10 of ramp-board's, {label}: {values['databoard']:.2f} s vs "
              f"{values['rampboard']:.2f} s / 10 = {limit:.2f} s -> {'MET' if met else 'NOT MET'}")
    print(f"goal: databoard's throughput >= {THROUGHPUT_GOAL} x bare ramp-test {bench.workers} at a time: "
          f"{ratio['databoard']:.2f} x -> {'MET' if ratio['databoard'] >= THROUGHPUT_GOAL else 'NOT MET'}")
    busiest = max(load[0], os.getloadavg()[0])
    if busiest > os.cpu_count():
        print(f"NOTE: load average up to {busiest:.1f} on {os.cpu_count()} CPUs: other work shared the machine. Wall "
              "times (and the overheads and throughputs made of them) mix that load in and compare cases run at "
              "different moments; CPU times hardly depend on it.")
    missing = sum(1 for r in res["rampboard"] + res["databoard"] for p in r["per"] if p["inside"] != p["inside"])
    if missing:
        print(f"({missing} submissions had no ramp-test process seen by the sampler: their split is NaN)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="Submissions per case (default 20).")
    parser.add_argument("--workers", type=int, default=2, help="Workers per platform, and bare runs at a time.")
    parser.add_argument("--rounds", type=int, default=1,
                        help="Rounds of the four cases (default 1; the next round runs them in reverse order).")
    parser.add_argument("--json", default="", help="Also write every figure, per submission, to this file.")
    parser.add_argument("--rampboard-venv", default=str(HERE / ".venv-rampboard"),
                        help="The virtualenv made by setup.sh.")
    args = parser.parse_args()
    if args.n < 1 or args.n > 100 or args.workers < 1 or args.rounds < 1:
        parser.error("--n from 1 to 100, --workers and --rounds at least 1")
    rb_python = Path(args.rampboard_venv) / "bin" / "python"
    if not (Path(args.rampboard_venv) / "bin" / "ramp-launch").exists():
        parser.error(f"no ramp-board virtualenv at {args.rampboard_venv}: run bench/vs_rampboard/setup.sh first")
    try:
        pg_execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001
        parser.error(f"PostgreSQL is needed at {PG}: {exc}")
    for name in ("DATABOARD_URL", "DATABOARD_TOKEN", "DATABOARD_CONFIG", "DJANGO_SETTINGS_MODULE"):
        os.environ.pop(name, None)

    load = os.getloadavg()
    versions = {"databoard": venv_versions(Path(sys.executable)), "rampboard": venv_versions(rb_python)}
    tmp = Path(tempfile.mkdtemp(prefix="databoard-bench-vs-rampboard-"))
    bench = None
    try:
        bench = Bench(args, tmp)
        outcome = bench.run()
        report(outcome, bench, load, versions)
        if args.json:
            Path(args.json).write_text(json.dumps({"versions": versions, "load_start": load, **outcome}, indent=1,
                                                  default=str))
    finally:
        if bench is not None:
            bench.sampler.halt.set()
            for proc in bench.procs:
                stop_process(proc, signal.SIGKILL)
        pg_drop(DB_DATABOARD)
        pg_drop(DB_RAMPBOARD)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
