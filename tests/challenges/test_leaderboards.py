"""Leaderboards through the API: what each kind shows, ranking ("lower is better", ties), sorting by every
column, pagination, CSV with the score precision, refusals, and a bounded number of queries.

Results are recorded by hand as the engine records them; no training happens here.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from databoard.challenges import selectors, services
from databoard.challenges.models import Event, Submission
from tests.challenges.fixtures import committed_problem, error, failed, make_event, scored, submit
from tests.conftest import ApiClient
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def board_iris(django_db_setup, django_db_blocker, kits_root):
    with committed_problem(kits_root / "iris", "iris-boards", django_db_blocker) as problem:
        yield problem


@pytest.fixture(scope="module")
def board_diabetes(django_db_setup, django_db_blocker, kits_root):
    with committed_problem(kits_root / "diabetes", "diabetes-boards", django_db_blocker) as problem:
        yield problem


@pytest.fixture
def iris(board_iris, db):
    return board_iris


@pytest.fixture
def diabetes(board_diabetes, db):
    return board_diabetes


@pytest.fixture
def people(admin_user):
    return {name: make_user(username=name) for name in ("alice", "bob", "carol")}


def board(api: ApiClient, event: Event, query: str = "", status: int = 200) -> dict:
    r = api.get(f"challenges/events/{event.slug}/leaderboard?{query}")
    assert r.status_code == status, r.content
    return r.json()


def names(body: dict) -> list[str]:
    return [row["submission"] for row in body["rows"]]


@pytest.fixture
def race(iris, admin_user, people):
    """An iris event (accuracy, higher is better) where:

    - alice: a-low (0.80), a-tie (0.90), a-broken (failed)
    - bob: b-tie (0.90, after a-tie), b-tie-later (0.90, later still), b-queued (not trained)
    - carol: c-low (0.50), c-best-test (0.70 valid, 0.99 test), c-broken (failed)
    """
    event = make_event(iris, admin_user)
    for person in people.values():
        services.signup_request(event=event, user=person)
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    start = timezone.now() - timedelta(days=1)

    def at(minutes):
        return start + timedelta(minutes=minutes)

    scored(event, alice, "a-low", valid=0.80, test=0.70, at=at(1), others={"nll": (0.6, 0.7), "bal_acc": (0.79, 0.69)},
           train_time=3.0)
    scored(event, alice, "a-tie", valid=0.90, test=0.60, at=at(2), others={"nll": (0.3, 0.9), "bal_acc": (0.88, 0.58)},
           train_time=1.0)
    failed(event, alice, "a-broken", step=Submission.Step.VALIDATING, summary="ValueError: shapes differ")
    scored(event, bob, "b-tie", valid=0.90, test=0.95, at=at(4), others={"nll": (0.2, 0.1), "bal_acc": (0.91, 0.94)},
           train_time=2.0)
    scored(event, bob, "b-tie-later", valid=0.90, test=0.50, at=at(5),
           others={"nll": (0.4, 0.5), "bal_acc": (0.89, 0.49)}, train_time=4.0)
    scored(event, carol, "c-low", valid=0.50, test=0.40, at=at(6), others={"nll": (1.2, 1.3), "bal_acc": (0.45, 0.35)},
           train_time=0.5)
    scored(event, carol, "c-best-test", valid=0.70, test=0.99, at=at(7),
           others={"nll": (0.9, 0.05), "bal_acc": (0.7, 0.98)}, train_time=5.0)
    failed(event, carol, "c-broken", summary="MemoryError", at=at(7.5))
    submit(event, bob, "b-queued", at=at(8))
    return event


@pytest.fixture
def apis(people, admin_user):
    return {"anonymous": ApiClient(), **{name: ApiClient(make_token(user)) for name, user in people.items()},
            "admin": ApiClient(make_token(admin_user, scope="admin"))}


# --------------------------------------------------------------------------- kinds


def test_public_shows_every_scored_submission_by_validation_score_ties_by_time(race, apis):
    body = board(apis["anonymous"], race)

    assert names(body) == ["a-tie", "b-tie", "b-tie-later", "a-low", "c-best-test", "c-low"]
    assert (body["kind"], body["step"], body["sort"], body["descending"], body["count"]) == (
        "public", "valid", "score:acc", True, 6)
    assert [row["rank"] for row in body["rows"]] == [1, 2, 3, 4, 5, 6]
    first = body["rows"][0]
    assert (first["team"], first["score:acc"], first["score:nll"], first["score:bal_acc"]) == ("alice", 0.9, 0.3, 0.88)
    assert first["train_seconds"] == 3.0 and first["test_seconds"] is None
    assert [c["key"] for c in body["columns"]] == ["rank", "team", "submission", "score:acc", "score:nll",
                                                   "score:bal_acc", "train_seconds", "valid_seconds", "submitted_at"]
    acc = next(c for c in body["columns"] if c["key"] == "score:acc")
    nll = next(c for c in body["columns"] if c["key"] == "score:nll")
    assert (acc["precision"], acc["lower_is_better"], nll["lower_is_better"]) == (3, False, True)
    assert not any(0.95 in row.values() or 0.99 in row.values() for row in body["rows"])  # no test score leaks


def test_competition_keeps_each_teams_best_by_validation_earliest_on_ties(race, apis):
    body = board(apis["bob"], race, "kind=competition")

    assert names(body) == ["a-tie", "b-tie", "c-best-test"]
    assert [row["team"] for row in body["rows"]] == ["alice", "bob", "carol"]
    assert body["count"] == 3 and body["step"] == "valid"


def test_private_boards_rank_by_test_scores_for_those_who_may_see_them(race, apis, admin_user):
    carol_admin = make_user(username="dora")
    services.event_admin_add(event=race, user=carol_admin, actor=admin_user)

    for api in (apis["admin"], ApiClient(make_token(carol_admin))):
        private = board(api, race, "kind=private")
        assert names(private) == ["c-best-test", "b-tie", "a-low", "a-tie", "b-tie-later", "c-low"]
        assert private["step"] == "test" and private["rows"][0]["score:acc"] == 0.99
        assert private["rows"][0]["test_seconds"] == pytest.approx(3.0)
        assert "test_seconds" in [c["key"] for c in private["columns"]]
        competition = board(api, race, "kind=private_competition")
        assert names(competition) == ["c-best-test", "b-tie", "a-tie"]  # the same three, ranked by test score
        assert [row["score:acc"] for row in competition["rows"]] == [0.99, 0.95, 0.60]

    for who in ("anonymous", "alice", "bob"):
        for kind in ("private", "private_competition"):
            err = error(apis[who].get(f"challenges/events/{race.slug}/leaderboard?kind={kind}"), 403, "forbidden")
            assert "after the event closes" in err["message"]


@pytest.mark.parametrize("show_private, allowed", [(True, True), (False, False)])
def test_private_boards_after_close_follow_the_events_choice(iris, admin_user, people, show_private, allowed):
    now = timezone.now()
    event = make_event(iris, admin_user, opens_at=now - timedelta(days=2), closes_at=now - timedelta(hours=1),
                       show_private_after_close=show_private)
    services.signup_request(event=event, user=people["alice"], at=now - timedelta(days=2))
    scored(event, people["alice"], "only", valid=0.9, test=0.77, at=now - timedelta(days=1))

    for api in (ApiClient(), ApiClient(make_token(people["alice"])), ApiClient(make_token(people["bob"]))):
        r = api.get(f"challenges/events/{event.slug}/leaderboard?kind=private")
        if allowed:
            assert r.status_code == 200 and [row["score:acc"] for row in r.json()["rows"]] == [0.77]
        else:
            err = error(r, 403, "forbidden")
            assert err["message"] == "Private scores are shown to the event's admins."
    assert board(ApiClient(make_token(admin_user, scope="admin")), event, "kind=private")["count"] == 1


def test_mine_shows_the_viewers_team_in_every_state(race, apis):
    body = board(apis["bob"], race, "kind=mine&sort=submitted_at&desc=false")

    assert names(body) == ["b-tie", "b-tie-later", "b-queued"]
    assert [row["state"] for row in body["rows"]] == ["scored", "scored", "queued"]
    assert "state" in [c["key"] for c in body["columns"]]
    assert names(board(apis["alice"], race, "kind=mine&sort=submitted_at&desc=false")) == [
        "a-low", "a-tie", "a-broken"]
    assert board(apis["admin"], race, "kind=mine")["count"] == 0  # staff have no team in it
    error(apis["anonymous"].get(f"challenges/events/{race.slug}/leaderboard?kind=mine"), 401, "unauthorized")


def test_failed_shows_the_failing_step_and_summary_newest_first(race, apis):
    body = board(apis["anonymous"], race, "kind=failed")

    assert names(body) == ["a-broken", "c-broken"]
    assert [(r["error_step"], r["error_summary"]) for r in body["rows"]] == [
        ("validating", "ValueError: shapes differ"), ("training", "MemoryError")]
    assert [c["key"] for c in body["columns"]] == ["submission", "team", "submitted_at", "error_step", "error_summary"]
    assert not any("error_output" in row for row in body["rows"])
    assert names(board(apis["anonymous"], race, "kind=failed&desc=false")) == ["c-broken", "a-broken"]


def test_lower_is_better_puts_the_smallest_error_first(diabetes, admin_user, people, apis):
    event = make_event(diabetes, admin_user)
    alice, bob = people["alice"], people["bob"]
    for person in (alice, bob):
        services.signup_request(event=event, user=person)
    start = timezone.now() - timedelta(hours=2)
    scored(event, alice, "a-60", valid=60.0, test=61.0, at=start)
    scored(event, alice, "a-52", valid=52.0, test=70.0, at=start + timedelta(minutes=1))
    scored(event, bob, "b-55", valid=55.0, test=50.0, at=start + timedelta(minutes=2))
    scored(event, bob, "b-52-later", valid=52.0, test=40.0, at=start + timedelta(minutes=3))

    public = board(apis["alice"], event)
    assert names(public) == ["a-52", "b-52-later", "b-55", "a-60"]
    assert (public["sort"], public["descending"]) == ("score:rmse", False)
    assert names(board(apis["alice"], event, "kind=competition")) == ["a-52", "b-52-later"]
    assert names(board(apis["admin"], event, "kind=private_competition")) == ["b-52-later", "a-52"]
    assert names(board(apis["admin"], event, "kind=private")) == ["b-52-later", "b-55", "a-60", "a-52"]
    assert names(board(apis["alice"], event, "desc=true")) == ["a-60", "b-55", "a-52", "b-52-later"]
    assert selectors.score_over_time(event=event, viewer=alice)["lower_is_better"] is True


# --------------------------------------------------------------------------- sorting and pages


def _key(row: dict, key: str):
    value = row[key]
    return parse_datetime(value) if key == "submitted_at" else value


@pytest.mark.parametrize("kind", ["public", "competition", "private", "mine"])
def test_every_column_sorts_both_ways_with_ties_by_time(race, apis, kind):
    api = apis["alice"] if kind == "mine" else apis["admin"]
    columns = [c["key"] for c in board(api, race, f"kind={kind}")["columns"] if c["key"] != "rank"]
    for key in columns:
        for desc in (False, True):
            body = board(api, race, f"kind={kind}&sort={key}&desc={str(desc).lower()}")
            assert (body["sort"], body["descending"]) == (key, desc)
            present = [row for row in body["rows"] if row.get(key) is not None]
            values = [_key(row, key) for row in present]
            assert values == sorted(values, reverse=desc), (key, desc, values)
            assert [row for row in body["rows"] if row.get(key) is None] == body["rows"][len(present):]  # nulls last
            for before, after in zip(body["rows"], body["rows"][1:]):
                if before.get(key) == after.get(key):
                    assert parse_datetime(before["submitted_at"]) <= parse_datetime(after["submitted_at"])
            assert [row["rank"] for row in body["rows"]] == list(range(1, len(body["rows"]) + 1))


def test_sort_by_a_score_defaults_to_best_first(race, apis):
    assert names(board(apis["bob"], race, "sort=score:nll"))[:3] == ["b-tie", "a-tie", "b-tie-later"]  # lower
    assert names(board(apis["bob"], race, "sort=score:bal_acc"))[:3] == ["b-tie", "b-tie-later", "a-tie"]  # higher
    assert names(board(apis["bob"], race, "sort=team&desc=false")) == [
        "a-low", "a-tie", "b-tie", "b-tie-later", "c-low", "c-best-test"]
    assert names(board(apis["bob"], race, "sort=submission"))[:2] == ["a-low", "a-tie"]
    assert names(board(apis["bob"], race, "sort=submitted_at"))[0] == "c-best-test"  # newest first
    assert names(board(apis["bob"], race, "sort=train_seconds"))[0] == "c-low"


def test_pages_keep_the_ranks_and_the_count(race, apis):
    whole = names(board(apis["bob"], race))
    page = board(apis["bob"], race, "limit=2&offset=2")
    assert names(page) == whole[2:4]
    assert [row["rank"] for row in page["rows"]] == [3, 4]
    assert (page["count"], page["limit"], page["offset"]) == (6, 2, 2)
    assert board(apis["bob"], race, "offset=6")["rows"] == []
    assert board(apis["bob"], race, "offset=1000")["count"] == 6


@pytest.mark.parametrize("query, field", [
    ("kind=everything", "kind"),
    ("kind=", "kind"),
    ("sort=colour", "sort"),
    ("sort=rank", "sort"),
    ("sort=score:unknown", "sort"),
    ("sort=state", "sort"),
    ("limit=0", "limit"),
    ("limit=20000", "limit"),
    ("offset=-3", "offset"),
    ("offset=100000000000000000000", "offset"),
    ("format=html", "format"),
    ("format=csv&kind=everything", "kind"),
])
def test_unknown_kinds_sorts_and_bounds_are_400(race, apis, query, field):
    err = error(apis["bob"].get(f"challenges/events/{race.slug}/leaderboard?{query}"), 400, "invalid")
    assert err["details"]["field"] == field


def _csv(api: ApiClient, event: Event, query: str = "") -> list[list[str]]:
    r = api.get(f"challenges/events/{event.slug}/leaderboard?format=csv&{query}")
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/csv")
    assert r["Content-Disposition"] == f'attachment; filename="{event.slug}-{query.split("=")[-1] or "public"}.csv"'
    return list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))


def test_csv_has_every_row_with_the_score_types_precision(race, apis, diabetes, admin_user, people):
    table = _csv(apis["bob"], race)
    assert table[0] == ["Rank", "Team", "Submission", "acc", "nll", "bal_acc", "Train time (s)", "Valid time (s)",
                        "Submitted"]
    assert [row[2] for row in table[1:]] == ["a-tie", "b-tie", "b-tie-later", "a-low", "c-best-test", "c-low"]
    assert table[1][:6] == ["1", "alice", "a-tie", "0.900", "0.300", "0.880"]
    assert table[1][6] == "3.0"

    event = make_event(diabetes, admin_user)
    services.signup_request(event=event, user=people["alice"])
    scored(event, people["alice"], "precise", valid=53.456789, test=50.0, others={"nrmse": (0.123456, 0.1)},
           at=timezone.now() - timedelta(days=2))  # queued before the race's b-queued, so claimed first
    rows = _csv(apis["alice"], event)
    assert rows[1][3:5] == ["53.46", "0.123"]

    failed_rows = _csv(apis["bob"], race, "kind=failed")
    assert failed_rows[0] == ["Submission", "Team", "Submitted", "Failed at", "Error"]
    assert failed_rows[1][:2] == ["a-broken", "alice"]
    assert failed_rows[1][3:] == ["validating", "ValueError: shapes differ"]


def test_csv_is_the_whole_board_not_a_page(iris, admin_user, people, apis):
    event = make_event(iris, admin_user)
    services.signup_request(event=event, user=people["alice"])
    start = timezone.now() - timedelta(days=1)
    for i in range(12):
        scored(event, people["alice"], f"s{i:02d}", valid=i / 100, test=0.1, at=start + timedelta(minutes=i))
    assert len(_csv(apis["alice"], event, "")) == 13
    assert board(apis["alice"], event, "limit=5")["count"] == 12


def test_score_over_time_lists_scored_submissions_by_time(race, apis):
    body = apis["anonymous"].get(f"challenges/events/{race.slug}/score-over-time").json()
    assert (body["score_name"], body["lower_is_better"]) == ("acc", False)
    assert [p["submission"] for p in body["points"]] == ["a-low", "a-tie", "b-tie", "b-tie-later", "c-low",
                                                         "c-best-test"]
    assert body["points"][0] == {"t": body["points"][0]["t"], "score": 0.8, "team": "alice", "submission": "a-low"}


# --------------------------------------------------------------------------- bounded queries

QUERY_BOUND = 8


def _fill(event: Event, people: dict, n: int) -> None:
    start = timezone.now() - timedelta(days=1)
    users = list(people.values())
    for i in range(n):
        scored(event, users[i % 3], f"q{i:02d}", valid=(i % 7) / 10, test=(i % 5) / 10,
               at=start + timedelta(minutes=i))
    failed(event, users[0], "q-failed")


@pytest.mark.parametrize("n", [3, 30])
def test_every_board_takes_a_bounded_number_of_queries(iris, admin_user, people, django_assert_max_num_queries, n):
    event = make_event(iris, admin_user)
    for person in people.values():
        services.signup_request(event=event, user=person)
    services.event_admin_add(event=event, user=people["alice"], actor=admin_user)
    _fill(event, people, n)
    api = ApiClient(make_token(people["alice"]))
    expected = {"public": n, "private": n, "competition": 3, "private_competition": 3, "failed": 1,
                "mine": len(range(0, n, 3)) + 1}

    for kind, count in expected.items():
        with django_assert_max_num_queries(QUERY_BOUND):
            body = board(api, event, f"kind={kind}&sort=score:nll" if kind != "failed" else f"kind={kind}")
        assert body["count"] == len(body["rows"]) == count
        with django_assert_max_num_queries(QUERY_BOUND):
            table = _csv(api, event, f"kind={kind}")
        assert len(table) == count + 1
