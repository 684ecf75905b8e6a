"""The Python client: in-process locally, over HTTP to a server, errors mirroring the API."""

import httpx
import pytest

import databoard.client as client_module
from databoard.accounts.models import ApiToken, User
from databoard.client import Client, ClientError, Conflict, ConnectionFailed, Forbidden, NotFound, Unauthorized
from databoard.wsgi import application
from tests.factories import PASSWORD, make_token, make_user


def test_all_names_exist_and_are_exported():
    for name in client_module.__all__:
        assert hasattr(client_module, name), name
    public = {n for n in dir(client_module) if not n.startswith("_") and isinstance(getattr(client_module, n), type)
              and getattr(client_module, n).__module__ == client_module.__name__}
    helpers = {"Users", "Teams", "Invites", "Tokens", "Audit"}
    assert public - helpers == set(client_module.__all__)


def test_local_client_acts_as_the_first_administrator(admin_user, user):
    with Client() as client:
        assert client.is_local
        assert client.me()["username"] == "admin"
        assert {u["username"] for u in client.users.list()} == {"admin", "alice"}


def test_local_client_acts_as_another_user(admin_user, user):
    with Client(as_user="alice") as client:
        assert client.me()["username"] == "alice"
        with pytest.raises(Forbidden, match="administrators"):
            client.users.list()


def test_local_client_without_an_administrator_says_what_to_do(db):
    with pytest.raises(ClientError, match="databoard createadmin"):
        Client()


def test_local_client_as_unknown_user_fails_clearly(admin_user):
    with pytest.raises(ClientError, match="No active local user 'ghost'"):
        Client(as_user="ghost")


def _remote(token: str | None) -> Client:
    # The remote code path (base URL, bearer header) through a WSGI transport: no network needed.
    return Client("http://testserver", token, transport=httpx.WSGITransport(app=application))


def test_remote_client_sends_the_bearer_token(user):
    with _remote(make_token(user)) as client:
        assert not client.is_local
        assert client.me()["username"] == "alice"


@pytest.mark.parametrize("token, message", [
    (None, "Authentication required"),
    ("dbk_nothing", "malformed"),
    ("dbk_00000000_secret", "not valid"),
])
def test_remote_client_bad_token_raises_unauthorized(db, token, message):
    with _remote(token) as client, pytest.raises(Unauthorized, match=message) as info:
        client.me()
    assert info.value.status == 401 and info.value.code == "unauthorized"


def test_tokens_with_underscores_in_the_secret_authenticate(user):
    tokens = [make_token(user) for _ in range(40)]
    with_underscore = [t for t in tokens if "_" in t.split("_", 2)[2]]
    assert with_underscore, "40 random tokens should include one with '_' in its secret"
    for token in with_underscore[:3]:
        with _remote(token) as client:
            assert client.me()["username"] == "alice"


def test_errors_mirror_api_codes(admin_user, user):
    with Client() as client:
        with pytest.raises(NotFound):
            client.users.get("nobody")
        with pytest.raises(Conflict, match="already taken"):
            client.users.create(username="alice", email="other@example.org", password=PASSWORD)
    assert User.objects.filter(email="other@example.org").count() == 0


def test_token_round_trip_create_use_revoke(admin_user, user):
    with Client() as admin_client:
        created = admin_client.tokens.create(user="alice", scope="read", name="ci")
        assert created["token"].startswith("dbk_") and created["scope"] == "read"
        listed = admin_client.tokens.list(user="alice")
        assert [t["prefix"] for t in listed] == [created["prefix"]]
        assert "token" not in listed[0]
    with _remote(created["token"]) as client:
        assert client.me()["username"] == "alice"
        with pytest.raises(Forbidden, match="read"):
            client.teams.create(name="readers")
    with Client() as admin_client:
        admin_client.tokens.revoke(created["id"])
    with _remote(created["token"]) as client, pytest.raises(Unauthorized, match="revoked"):
        client.me()
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None


def test_pagination_fetches_every_page(admin_user):
    for n in range(7):
        make_user(username=f"member{n}")
    with Client() as client:
        names = [u["username"] for u in client.paginate("accounts/users", page_size=3)]
    assert len(names) == 8 and len(set(names)) == 8


def test_teams_and_invites_through_the_client(admin_user, user, other_user):
    with Client(as_user="alice") as alice:
        team = alice.teams.create(name="Blue Team")
        invite = alice.teams.invite(team["slug"], username="bob")
    with Client(as_user="bob") as bob:
        assert [i["id"] for i in bob.invites.list()] == [invite["id"]]
        joined = bob.invites.accept(invite["id"])
    assert {m["username"] for m in joined["members"]} == {"alice", "bob"}


def test_unreachable_server_is_connection_failed():
    with Client("http://127.0.0.1:9", "dbk_x_y", timeout=2) as client, pytest.raises(ConnectionFailed):
        client.me()


def test_from_env_reads_url_and_token(monkeypatch, user):
    token = make_token(user)
    monkeypatch.setenv("DATABOARD_URL", "http://board.example.org/")
    monkeypatch.setenv("DATABOARD_TOKEN", token)
    with Client.from_env() as client:
        assert client.base_url == "http://board.example.org"
        assert client._http.headers["Authorization"] == f"Bearer {token}"


def test_from_env_reads_the_client_config_file(monkeypatch, tmp_path, db):
    path = tmp_path / "client.toml"
    path.write_text('url = "https://board.example.org"\ntoken = "dbk_a_b"\n')
    monkeypatch.delenv("DATABOARD_URL", raising=False)
    monkeypatch.delenv("DATABOARD_TOKEN", raising=False)
    monkeypatch.setenv("DATABOARD_CLIENT_CONFIG", str(path))
    with Client.from_env() as client:
        assert client.base_url == "https://board.example.org"
    path.write_text("url = ")
    with pytest.raises(ClientError, match="not valid TOML"):
        Client.from_env()


@pytest.mark.django_db(transaction=True)
def test_client_talks_to_a_live_server_over_http(live_server):
    admin = make_user(username="root", is_superuser=True)
    with Client(live_server.url, make_token(admin, scope="admin")) as client:
        assert client.health()["status"] == "ok"
        created = client.users.create(username="dora", email="dora@example.org", password=PASSWORD)
        assert created["approval"] == "approved"
        assert client.users.get("dora")["email"] == "dora@example.org"


def test_the_local_user_key_cannot_be_forged_with_a_header(admin_user):
    transport = httpx.WSGITransport(app=application)
    with httpx.Client(transport=transport, base_url="http://testserver") as http:
        r = http.get("/api/v1/accounts/me", headers={"databoard.local_user": "admin", "databoard-local-user": "admin"})
    assert r.status_code == 401
