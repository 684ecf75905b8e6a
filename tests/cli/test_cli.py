"""The `databoard` command: local in-process commands, usage errors, and installation commands."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from databoard.accounts.models import ApiToken, Team, User
from databoard.cli.main import main
from tests.factories import PASSWORD, make_user


def run(capsys, *argv, input_env=None):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.fixture(autouse=True)
def _local(monkeypatch):
    monkeypatch.delenv("DATABOARD_URL", raising=False)
    monkeypatch.delenv("DATABOARD_TOKEN", raising=False)
    monkeypatch.setenv("DATABOARD_CLIENT_CONFIG", "/nonexistent/client.toml")


def test_user_add_and_list_json(capsys, admin_user):
    code, out, err = run(capsys, "user", "add", "carol", "--email", "carol@example.org", "--password", PASSWORD,
                         "--approved")
    assert code == 0, err
    assert "carol" in out
    code, out, _ = run(capsys, "user", "list", "--json")
    assert code == 0
    assert {u["username"] for u in json.loads(out)} == {"admin", "carol"}
    assert User.objects.get(username="carol").is_approved


def test_user_add_weak_password_exits_1_and_writes_nothing(capsys, admin_user):
    code, _, err = run(capsys, "user", "add", "carol", "--email", "carol@example.org", "--password", "123")
    assert code == 1
    assert err.startswith("databoard: error: Password is too weak")
    assert not User.objects.filter(username="carol").exists()


def test_user_approve_pending_and_list_by_state(capsys, admin_user):
    make_user(username="pat", approved=False)
    code, out, _ = run(capsys, "user", "list", "--approval", "pending", "--json")
    assert [u["username"] for u in json.loads(out)] == ["pat"]
    code, out, err = run(capsys, "user", "approve", "pat")
    assert code == 0, err
    assert User.objects.get(username="pat").is_approved


def test_user_reject_needs_a_reason(capsys, admin_user):
    make_user(username="pat", approved=False)
    code, _, err = run(capsys, "user", "reject", "pat")
    assert code == 2 and "--reason" in err
    code, _, err = run(capsys, "user", "reject", "pat", "--reason", "Not in the class")
    assert code == 0, err
    assert User.objects.get(username="pat").approval_reason == "Not in the class"


def test_import_csv_writes_result_file(capsys, admin_user, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("username,email,first_name,team\nann,ann@example.org,Ann,Reds\nben,ben@example.org,Ben,Reds\n")
    result = tmp_path / "result.csv"
    code, _, err = run(capsys, "user", "import-csv", str(path), "--output", str(result))
    assert code == 0, err
    lines = result.read_text().splitlines()
    assert lines[0] == "username,email,team,password" and len(lines) == 3
    ann_password = lines[1].split(",")[3]
    assert User.objects.get(username="ann").check_password(ann_password)
    assert set(Team.objects.get(slug="reds").members.values_list("username", flat=True)) == {"ann", "ben"}


def test_import_csv_bad_rows_are_listed_and_nothing_written(capsys, admin_user, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("username,email\nann,ann@example.org\nann,other@example.org\nbad name,x@example.org\n"
                    "cid,not-an-email\n")
    code, _, err = run(capsys, "user", "import-csv", str(path))
    assert code == 1
    assert "line 3:" in err and "line 4:" in err and "line 5:" in err
    assert not User.objects.filter(username__in=["ann", "cid"]).exists()


def test_import_csv_missing_file_is_a_usage_error(capsys, admin_user, tmp_path):
    code, _, err = run(capsys, "user", "import-csv", str(tmp_path / "missing.csv"))
    assert code == 2 and "is not a file" in err


def test_token_create_json_then_revoke(capsys, admin_user, user):
    code, out, err = run(capsys, "token", "create", "--user", "alice", "--scope", "read", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["token"].startswith("dbk_") and data["user"] == "alice" and data["scope"] == "read"
    code, out, _ = run(capsys, "token", "list", "--user", "alice", "--json")
    assert [t["id"] for t in json.loads(out)] == [data["id"]] and "token" not in out
    code, _, err = run(capsys, "token", "revoke", str(data["id"]))
    assert code == 0, err
    assert ApiToken.objects.get(pk=data["id"]).revoked_at is not None


def test_token_create_plain_prints_only_the_token_on_stdout(capsys, admin_user):
    code, out, err = run(capsys, "token", "create")
    assert code == 0
    assert out.strip().startswith("dbk_") and len(out.strip().splitlines()) == 1
    assert "will not be shown again" in err


def test_admin_scope_for_a_non_staff_user_is_refused(capsys, admin_user, user):
    code, _, err = run(capsys, "token", "create", "--user", "alice", "--scope", "admin")
    assert code == 1 and "admin" in err
    assert not ApiToken.objects.filter(user=user).exists()


def test_acting_as_a_user_with_as(capsys, admin_user, user):
    code, out, _ = run(capsys, "--as", "alice", "whoami", "--json")
    assert code == 0 and json.loads(out)["username"] == "alice"
    code, _, err = run(capsys, "--as", "alice", "user", "list")
    assert code == 1 and "administrators" in err


def test_team_commands(capsys, admin_user, user, other_user):
    assert run(capsys, "--as", "alice", "team", "create", "Green")[0] == 0
    assert run(capsys, "--as", "alice", "team", "invite", "green", "bob")[0] == 0
    code, out, _ = run(capsys, "--as", "bob", "team", "invites", "--json")
    invite_id = json.loads(out)[0]["id"]
    assert run(capsys, "--as", "bob", "team", "accept", str(invite_id))[0] == 0
    code, out, _ = run(capsys, "--as", "alice", "team", "show", "green", "--json")
    assert {m["username"]: m["role"] for m in json.loads(out)["members"]} == {"alice": "owner", "bob": "member"}
    code, _, err = run(capsys, "--as", "alice", "team", "leave", "green", "--yes")
    assert code == 1 and "last owner" in err


@pytest.mark.parametrize("argv, fragment", [
    (["nope"], "No such command"),
    (["user", "add"], "Missing argument"),
    (["token", "create", "--scope", "root"], "--scope"),
    (["token", "revoke", "abc"], "valid integer"),
    (["user", "list", "--approval", "maybe"], "--approval"),
    (["serve", "--port", "99999"], "--port"),
])
def test_usage_errors_exit_2_with_one_line(capsys, db, argv, fragment):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("databoard: error:")


def test_audit_lists_token_creation(capsys, admin_user):
    run(capsys, "token", "create", "--name", "audit-me")
    code, out, _ = run(capsys, "audit", "--action", "token.create", "--json")
    assert code == 0
    assert [e["action"] for e in json.loads(out)] == ["token.create"]


# --------------------------------------------------------------------------- installation commands (subprocess)


def _cli(home, *argv, env_extra=None, check=True):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABOARD_SECRET_KEY", "DATABOARD_PASSWORD",
                                                            "DATABOARD_URL", "DATABOARD_TOKEN")}
    env.update({"DATABOARD_HOME": str(home), **(env_extra or {})})
    proc = subprocess.run([sys.executable, "-m", "databoard", *argv], env=env, capture_output=True, text=True,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_init_createadmin_and_a_token_in_a_fresh_home(tmp_path):
    home = tmp_path / "home"
    out = _cli(home, "init").stdout
    assert "migrated" in out
    config = (home / "databoard.toml").read_text()
    assert 'secret_key = "' in config and "# database_url" in config
    _cli(home, "createadmin", "--username", "root", "--email", "root@example.org",
         env_extra={"DATABOARD_PASSWORD": PASSWORD})
    token = _cli(home, "token", "create", "--json").stdout
    assert json.loads(token)["user"] == "root"
    again = _cli(home, "init").stdout
    assert "kept as it was" in again


def test_createadmin_without_terminal_or_password_fails_clearly(tmp_path):
    home = tmp_path / "home"
    _cli(home, "init")
    proc = _cli(home, "createadmin", "--username", "root", "--email", "root@example.org", check=False)
    assert proc.returncode == 2
    assert "DATABOARD_PASSWORD" in proc.stderr


def test_commands_before_init_say_to_run_init(tmp_path):
    proc = _cli(tmp_path / "empty", "user", "list", check=False)
    assert proc.returncode == 1
    assert "databoard init" in proc.stderr or "databoard createadmin" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_builds_a_home_and_serves_it(tmp_path):
    home = tmp_path / "demo"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABOARD_SECRET_KEY", "DATABOARD_HOME")}
    proc = subprocess.Popen([sys.executable, "-m", "databoard", "demo", "--home", str(home), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            pytest.fail("demo server did not start")
        assert r.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"
        # The worker it started trains the example submissions: they reach the public leaderboard.
        board_url = f"http://127.0.0.1:{port}/api/v1/challenges/events/iris-demo/leaderboard"
        failed_url = board_url + "?kind=failed"
        while time.monotonic() < deadline + 60 and (httpx.get(board_url).json()["count"] < 2
                                                     or httpx.get(failed_url).json()["count"] < 1):
            time.sleep(0.5)
        board = httpx.get(board_url).json()
        assert [row["submission"] for row in board["rows"]] == ["scaled-logreg", "starting-kit"]
        failed = httpx.get(board_url, params={"kind": "failed"}).json()
        assert failed["rows"][0]["error_summary"] == "ValueError: this submission fails on purpose"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "admin" in output and "alice" in output and "waiting for approval" in output
    assert (home / ".databoard-demo").exists()


def test_demo_refuses_a_folder_that_is_not_a_demo_home(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    proc = _cli(tmp_path, "demo", "--home", str(tmp_path), "--no-serve", check=False)
    assert proc.returncode == 2
    assert "not a demo data home" in proc.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_init_makes_sqlite_in_wal_mode(tmp_path):
    import sqlite3

    home = tmp_path / "home"
    _cli(home, "init")
    with sqlite3.connect(home / "databoard.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _mariadb_database() -> str | None:
    """A fresh database on the local MariaDB (127.0.0.1:3306, root), or None when it is not running."""
    try:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=2)
    except Exception:  # noqa: BLE001 - any failure to connect means "no MariaDB here"
        return None
    name = f"databoard_cli_{os.getpid()}"
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    conn.close()
    return name


def test_mysql_url_works_for_init_and_commands(tmp_path):
    name = _mariadb_database()
    if name is None:
        pytest.skip("no MariaDB at 127.0.0.1:3306")
    env = {"DATABASE_URL": f"mysql://root@127.0.0.1:3306/{name}", "DATABOARD_PASSWORD": PASSWORD}
    home = tmp_path / "home"
    assert f"/{name} (migrated)" in _cli(home, "init", env_extra=env).stdout
    _cli(home, "createadmin", "--username", "root", "--email", "root@example.org", env_extra=env)
    _cli(home, "user", "add", "mia", "--email", "mia@example.org", "--approved", env_extra=env)
    users = json.loads(_cli(home, "user", "list", "--json", env_extra=env).stdout)
    assert {u["username"] for u in users} == {"root", "mia"}
    assert not (home / "databoard.sqlite3").exists()
