"""ramp-board's side of the comparison; runs with the python of the ramp-board virtualenv (setup.sh).

    python rampboard_side.py setup  DEPLOY_DIR   # schema, users, problem, event, sign-up (not timed)
    python rampboard_side.py submit DEPLOY_DIR   # the web front-end in this process: 2 warm-up submissions, then 20

DEPLOY_DIR holds ``config.yml`` (database + flask sections) and ``event.yml`` (ramp + worker + dispatcher
sections), written by run.py, and ``codes.json``: ``{"warm": [[name, classifier.py code], ...], "timed": [...]}``.

``setup`` does with ramp-board's own functions what ``ramp-setup deploy-event`` does, without cloning the kit
from GitHub (the kit is already there): tables, file types, an admin and an approved user, the problem and the
event (``add_problem``, ``add_event``), the kit's archive, and the user signed up to the event
(``sign_up_team``: the starting kit becomes the user's sandbox). The event's minimum time between two
submissions of a team (15 minutes by default) is set to 0.

``submit`` builds ramp-board's Flask front-end (``ramp_frontend.create_app``) in this process, logs the
participant in with the test client and, for each code, sends the sandbox form a participant sends: one
POST of ``/events/<event>/sandbox`` that saves the code in the sandbox and submits it under a new name
(``ramp_database.tools.submission.add_submission`` behind it). CSRF checks are off (the test client has no
browser session). It sends the warm-up codes, prints ``{"warm": [[name, t_start, t_end], ...]}``
(``time.time()`` around each POST) and waits for a line on its stdin (run.py sends one once they are scored);
then the same with the timed codes (``{"timed": ...}``), and it stays alive, idle, until its stdin is closed:
it stands for the running web server, whose memory run.py counts along with the dispatcher's.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time


def _configs(deploy: str):
    from ramp_utils import generate_ramp_config, read_config

    config = os.path.join(deploy, "config.yml")
    event_config = os.path.join(deploy, "event.yml")
    return config, event_config, read_config(config, filter_section="sqlalchemy"), \
        generate_ramp_config(event_config, config)


def setup(deploy: str) -> None:
    from ramp_database.testing import setup_files_extension_type
    from ramp_database.tools.event import add_event, add_problem, get_event
    from ramp_database.tools.team import sign_up_team
    from ramp_database.tools.user import add_user, approve_user
    from ramp_database.utils import session_scope, setup_db

    _, _, database, ramp = _configs(deploy)
    setup_db(database)  # creates the tables
    with session_scope(database) as session:
        setup_files_extension_type(session)
        add_user(session, name="bench_admin", password="bench-password", lastname="Admin", firstname="Bench",
                 email="admin@example.org", access_level="admin")
        add_user(session, name="bench_user", password="bench-password", lastname="User", firstname="Bench",
                 email="user@example.org", access_level="user")
        approve_user(session, "bench_user")
        add_problem(session, ramp["problem_name"], ramp["ramp_kit_dir"], ramp["ramp_data_dir"])
        add_event(session, ramp["problem_name"], ramp["event_name"], ramp["event_title"], ramp["sandbox_name"],
                  ramp["ramp_submissions_dir"], is_public=True)
        event = get_event(session, ramp["event_name"])
        # The default is 15 minutes between two submissions of a team (20 in a row would be refused).
        event.min_duration_between_submissions = 0
        session.commit()
        sign_up_team(session, ramp["event_name"], "bench_user")  # approved; its sandbox is the starting kit
    # What ``ramp-setup deploy-event`` also makes: the kit's archive, offered by the problem's page.
    archive = os.path.join(ramp["ramp_kit_dir"], "events_archived")
    os.makedirs(archive, exist_ok=True)
    shutil.make_archive(os.path.join(archive, ramp["event_name"]), "zip", ramp["ramp_kit_dir"], ".")
    os.makedirs(ramp["ramp_predictions_dir"], exist_ok=True)
    os.makedirs(ramp["ramp_logs_dir"], exist_ok=True)


def submit(deploy: str) -> None:
    from ramp_frontend import create_app
    from ramp_utils import generate_flask_config

    config, _, _, ramp = _configs(deploy)
    with open(os.path.join(deploy, "codes.json")) as f:
        codes = json.load(f)
    flask_config = generate_flask_config(config)
    flask_config.update(WTF_CSRF_ENABLED=False, TESTING=True)
    app = create_app(flask_config)
    client = app.test_client()
    answer = client.post("/login", data={"user_name": "bench_user", "password": "bench-password"})
    if answer.status_code not in (200, 302):
        raise RuntimeError(f"login refused: HTTP {answer.status_code}")
    url = f"/events/{ramp['event_name']}/sandbox"
    client.get(url)  # warm-up, as a running server would be
    for phase in ("warm", "timed"):
        submitted = []
        for name, code in codes[phase]:
            t0 = time.time()
            answer = client.post(url, data={
                "code-csrf_token": "-", "classifier": code,  # the code editor's form: saves the sandbox
                "submit-csrf_token": "-", "submit-submission_name": name, "submission": "Submit",  # submits
            })
            t1 = time.time()
            if answer.status_code not in (200, 302) or b"already exists" in answer.data:
                raise RuntimeError(f"submission {name} refused: HTTP {answer.status_code}")
            submitted.append([name, t0, t1])
        sys.stdout.write(json.dumps({phase: submitted}) + "\n")
        sys.stdout.flush()
        sys.stdin.readline()  # run.py says go (warm-up scored), then, at the end, closes our stdin


def main() -> None:
    command, deploy = sys.argv[1], sys.argv[2]
    os.chdir(deploy)  # ramp-board's loggers write their files in the current folder
    {"setup": setup, "submit": submit}[command](deploy)


if __name__ == "__main__":
    main()
