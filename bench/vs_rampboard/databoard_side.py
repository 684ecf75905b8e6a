"""databoard's side of the comparison; runs with the python of the project's virtualenv.

    python databoard_side.py setup  KIT_DIR      # migrate, users, import the kit, open the event (not timed)
    python databoard_side.py submit CODES_JSON   # the API in this process: 2 warm-up submissions, then 20

The data home and the database come from the environment run.py sets (``DATABOARD_HOME``, ``DATABASE_URL``,
``DATABOARD_SECRET_KEY``, ``DATABOARD_CLIENT_CONFIG``). CODES_JSON holds ``{"warm": [[name, classifier.py
code], ...], "timed": [...]}``.

``submit`` sends each code as the participant through the REST API in this process
(``databoard.client.Client`` over the local WSGI transport, as the CLI does without ``DATABOARD_URL``),
after one warm-up read of the event and of the participant's submissions. It sends the warm-up codes, prints
``{"warm": [[name, t_start, t_end], ...]}`` (``time.time()`` around each POST) and waits for a line on its
stdin (run.py sends one once they are scored); then the same with the timed codes (``{"timed": ...}``), and
it stays alive, idle, until its stdin is closed: it stands for the running API server, whose memory run.py
counts along with the workers'.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

EVENT = "iris-bench"


def setup(kit: str) -> None:
    from databoard.cli.setup import django_setup

    django_setup()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for the shared set-up
    from _challenge import challenge_setup

    from databoard.challenges.models import Submission

    challenge_setup(Path(kit), EVENT)
    sys.stdout.write(json.dumps({"table": Submission._meta.db_table, "event": EVENT}) + "\n")


def submit(codes_json: str) -> None:
    from databoard.cli.setup import django_setup

    django_setup()
    from databoard.client import Client

    codes = json.loads(Path(codes_json).read_text())
    client = Client.from_env(as_user="participant")  # no DATABOARD_URL: in-process, as the CLI does
    client.events.get(EVENT)  # warm-up, as a running server would be
    client.submissions.list(event=EVENT, mine=True)
    for phase in ("warm", "timed"):
        submitted = []
        for name, code in codes[phase]:
            t0 = time.time()
            client.submissions.create(event=EVENT, name=name, files={"classifier.py": code})
            submitted.append([name, t0, time.time()])
        sys.stdout.write(json.dumps({phase: submitted}) + "\n")
        sys.stdout.flush()
        sys.stdin.readline()  # run.py says go (warm-up scored), then, at the end, closes our stdin
    client.close()


def main() -> None:
    command, argument = sys.argv[1], sys.argv[2]
    {"setup": setup, "submit": submit}[command](argument)


if __name__ == "__main__":
    main()
