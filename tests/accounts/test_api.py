"""The accounts REST API over HTTP: authentication, permissions, input checks and the error shape.

The rules themselves are tested in test_services.py; here each endpoint of accounts/api.py is
called as it is in production (bearer tokens, browser sessions with CSRF, multipart uploads)
by an anonymous client, the user (alice), another user (bob) and an administrator.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as DjangoClient
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from databoard.accounts import services
from databoard.accounts.models import ApiToken, AuditEvent, Invite, Membership, Team, User
from tests.accounts.conftest import csrf_headers, session_client
from tests.conftest import ApiClient
from tests.factories import PASSWORD, make_token, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-passphrase-42"


# --------------------------------------------------------------------------- helpers


def error(r, status: int, code: str, field: str | None = None) -> dict:
    """Assert an answer in the one error shape, with this status and code; return its ``error``."""
    assert r.status_code == status, r.content
    assert r["Content-Type"].startswith("application/json"), r["Content-Type"]
    body = r.json()
    assert list(body) == ["error"], body
    err = body["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["details"], dict), err
    if field is not None:
        assert err["details"].get("field") == field, err
    return err


def ok(r, status: int = 200):
    assert r.status_code == status, r.content
    return r.json()


def page(r) -> dict:
    body = ok(r)
    assert set(body) == {"items", "count", "limit", "offset"}, body
    assert isinstance(body["items"], list)
    return body


def prefix_of(raw: str) -> str:
    return raw.split("_")[1]


def token_row(raw: str) -> ApiToken:
    return ApiToken.objects.get(prefix=prefix_of(raw))


def upload(content: bytes, name: str = "users.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def read_api(user):
    return ApiClient(make_token(user, scope="read"))


@pytest.fixture
def staff_write_api(admin_user):
    """An administrator acting through a token with only the 'write' scope."""
    return ApiClient(make_token(admin_user, scope="write"))


@pytest.fixture
def carol(db):
    """A sign-up waiting for approval."""
    return make_user(username="carol", approved=False)


@pytest.fixture
def bob_member(team, user, other_user):
    """bob has joined alice's team 'lab-one' as a member."""
    invite = services.team_invite(team=team, actor=user, username=other_user.username)
    services.invite_accept(invite=invite, user=other_user)
    return other_user


@pytest.fixture
def bob_invite(team, user, other_user) -> Invite:
    """A pending invite of bob to alice's team."""
    return services.team_invite(team=team, actor=user, username=other_user.username)


# --------------------------------------------------------------------------- every endpoint: anonymous

#: (method, path, JSON body) of every operation that needs a signed-in caller.
AUTHENTICATED = [
    ("post", "accounts/logout", None),
    ("get", "accounts/me", None),
    ("patch", "accounts/me", {"first_name": "Mallory"}),
    ("post", "accounts/me/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ("delete", "accounts/me", {"password": PASSWORD}),
    ("get", "accounts/users", None),
    ("post", "accounts/users", {"username": "zed", "email": "zed@example.org"}),
    ("get", "accounts/approvals", None),
    ("post", "accounts/users/import", None),
    ("get", "accounts/users/alice", None),
    ("post", "accounts/users/alice/approve", None),
    ("post", "accounts/users/alice/reject", {"reason": "no"}),
    ("delete", "accounts/users/alice", None),
    ("get", "accounts/teams", None),
    ("post", "accounts/teams", {"name": "Intruders"}),
    ("get", "accounts/teams/lab-one", None),
    ("get", "accounts/teams/lab-one/invites", None),
    ("post", "accounts/teams/lab-one/invites", {"username": "bob"}),
    ("post", "accounts/teams/lab-one/leave", None),
    ("put", "accounts/teams/lab-one/members/alice", {"role": "member"}),
    ("delete", "accounts/teams/lab-one/members/alice", None),
    ("get", "accounts/invites", None),
    ("post", "accounts/invites/1/accept", None),
    ("post", "accounts/invites/1/decline", None),
    ("delete", "accounts/invites/1", None),
    ("get", "accounts/tokens", None),
    ("post", "accounts/tokens", {"name": "stolen"}),
    ("delete", "accounts/tokens/1", None),
    ("get", "accounts/audit", None),
]
WRITES = [e for e in AUTHENTICATED if e[0] != "get"]
ids = [f"{m.upper()} {p}" for m, p, _ in AUTHENTICATED]


def _snapshot():
    return (User.objects.count(), Team.objects.count(), Membership.objects.count(), Invite.objects.count(),
            ApiToken.objects.filter(revoked_at__isnull=True).count(),
            User.objects.filter(deleted_at__isnull=False).count(),
            AuditEvent.objects.exclude(action="login.failed").count())


@pytest.mark.parametrize("method, path, body", AUTHENTICATED, ids=ids)
def test_anonymous_gets_401_unauthorized_on_every_protected_operation(anon_api, user, team, method, path, body):
    before = _snapshot()
    r = getattr(anon_api, method)(path, json=body)
    err = error(r, 401, "unauthorized")
    assert "Bearer" in err["message"]
    assert _snapshot() == before


@pytest.mark.parametrize("method, path, body", AUTHENTICATED, ids=ids)
def test_anonymous_browser_without_csrf_still_gets_401_not_403(user, team, method, path, body):
    client = DjangoClient(enforce_csrf_checks=True)
    kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
    r = getattr(client, method)(f"/api/v1/{path}", **kwargs)
    error(r, 401, "unauthorized")
    assert Team.objects.filter(slug="lab-one").exists() and not user.is_deleted


@pytest.mark.parametrize("path, body, status, key", [
    ("accounts/signup", {"username": "zed", "email": "zed@example.org", "password": PASSWORD}, 201, "username"),
    ("accounts/login", {"username": "alice", "password": PASSWORD}, 200, "username"),
    ("accounts/password-reset", {"email": "alice@example.org"}, 202, "message"),
])
def test_public_operations_need_no_credentials(anon_api, user, path, body, status, key):
    body_out = ok(anon_api.post(path, json=body), status)
    assert "error" not in body_out and body_out[key]


# --------------------------------------------------------------------------- bearer tokens


@pytest.mark.parametrize("header, reason", [
    ("Bearer ", "malformed"),
    ("Bearer garbage", "malformed"),
    ("Bearer dbk_", "malformed"),
    ("Bearer dbk_zz_secret", "malformed"),
    ("Bearer dbk_deadbeef_", "malformed"),
    ("Bearer xyz_deadbeef_secret", "malformed"),
    ("Bearer dbk_deadbeef_secret", "not valid"),
])
def test_malformed_or_unknown_bearer_token_is_401(user, header, reason):
    r = DjangoClient().get("/api/v1/accounts/me", HTTP_AUTHORIZATION=header)
    err = error(r, 401, "unauthorized")
    assert reason in err["message"]


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cGFzcw==", "Token dbk_deadbeef_secret", "dbk_deadbeef_secret"])
def test_other_authorization_schemes_are_not_credentials(user, header):
    r = DjangoClient().get("/api/v1/accounts/me", HTTP_AUTHORIZATION=header)
    err = error(r, 401, "unauthorized")
    assert "Authentication required" in err["message"]


def test_right_prefix_with_a_wrong_secret_is_401(user):
    raw = make_token(user)
    forged = f"dbk_{prefix_of(raw)}_{'A' * 43}"
    r = ApiClient(forged).get("accounts/me")
    assert "not valid" in error(r, 401, "unauthorized")["message"]


def test_expired_token_is_401(user):
    raw = make_token(user)
    ApiToken.objects.filter(prefix=prefix_of(raw)).update(expires_at=timezone.now() - timedelta(seconds=1))
    r = ApiClient(raw).get("accounts/me")
    assert "expired" in error(r, 401, "unauthorized")["message"]


def test_token_that_expires_later_still_works(user):
    raw = make_token(user, expires_at=timezone.now() + timedelta(hours=1))
    assert ok(ApiClient(raw).get("accounts/me"))["username"] == "alice"


def test_revoked_token_is_401(user):
    raw = make_token(user)
    services.token_revoke(token=token_row(raw), actor=user)
    r = ApiClient(raw).get("accounts/me")
    assert "revoked" in error(r, 401, "unauthorized")["message"]


@pytest.mark.parametrize("change", [
    {"approval": User.Approval.PENDING},
    {"approval": User.Approval.REJECTED},
    {"is_active": False},
])
def test_token_of_an_account_that_cannot_sign_in_is_401(user, change):
    raw = make_token(user)
    User.objects.filter(pk=user.pk).update(**change)
    r = ApiClient(raw).get("accounts/me")
    assert "cannot sign in" in error(r, 401, "unauthorized")["message"]


def test_token_use_updates_last_used_at_at_most_once_a_minute(user):
    raw = make_token(user)
    assert token_row(raw).last_used_at is None
    client = ApiClient(raw)
    body = page(client.get("accounts/tokens"))
    first = token_row(raw).last_used_at
    assert first is not None
    assert abs(parse_datetime(body["items"][0]["last_used_at"]) - first) < timedelta(milliseconds=1)
    ok(client.get("accounts/me"))
    assert token_row(raw).last_used_at == first  # within the minute: not written again
    long_ago = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(prefix=prefix_of(raw)).update(last_used_at=long_ago)
    ok(client.get("accounts/me"))
    assert token_row(raw).last_used_at > long_ago + timedelta(minutes=4)


# --------------------------------------------------------------------------- scopes


@pytest.mark.parametrize("path", ["accounts/me", "accounts/tokens", "accounts/teams", "accounts/invites",
                                  "accounts/teams/lab-one", "accounts/teams/lab-one/invites",
                                  "accounts/users/alice"])
def test_read_token_may_get(read_api, team, path):
    r = read_api.get(path)
    assert r.status_code == 200, r.content
    assert "error" not in r.json()


@pytest.mark.parametrize("method, path, body", WRITES, ids=[f"{m.upper()} {p}" for m, p, _ in WRITES])
def test_read_token_gets_403_on_every_write(read_api, user, team, method, path, body):
    before = _snapshot()
    r = getattr(read_api, method)(path, json=body)
    err = error(r, 403, "forbidden")
    assert "'read' scope" in err["message"]
    assert _snapshot() == before


def test_read_token_cannot_create_a_write_token(read_api, user):
    r = read_api.post("accounts/tokens", json={"name": "escalate", "scope": "write"})
    assert "'read' scope" in error(r, 403, "forbidden")["message"]
    assert list(ApiToken.objects.filter(user=user).values_list("scope", flat=True)) == ["read"]


def test_write_token_cannot_create_an_admin_token_even_for_staff(staff_write_api, admin_user):
    r = staff_write_api.post("accounts/tokens", json={"scope": "admin"})
    err = error(r, 403, "forbidden", field="scope")
    assert "'write' token cannot create" in err["message"] and "'admin' scope" in err["message"]
    assert not ApiToken.objects.filter(user=admin_user, scope="admin").exists()


def test_write_token_may_create_read_and_write_tokens(user_api, user):
    for scope in ("read", "write"):
        body = ok(user_api.post("accounts/tokens", json={"scope": scope}), 201)
        assert body["scope"] == scope and body["user"] == "alice"


#: Administrator operations: (method, path, JSON body).
ADMIN_ONLY = [
    ("get", "accounts/users", None),
    ("get", "accounts/users?approval=pending", None),
    ("post", "accounts/users", {"username": "zed", "email": "zed@example.org"}),
    ("get", "accounts/approvals", None),
    ("post", "accounts/users/carol/approve", None),
    ("post", "accounts/users/carol/reject", {"reason": "no"}),
    ("delete", "accounts/users/carol", None),
    ("get", "accounts/teams?all=true", None),
    ("get", "accounts/tokens?user=carol", None),
    ("post", "accounts/tokens", {"user": "carol", "scope": "read"}),
    ("get", "accounts/audit", None),
]
admin_ids = [f"{m.upper()} {p}" for m, p, _ in ADMIN_ONLY]


@pytest.mark.parametrize("method, path, body", ADMIN_ONLY, ids=admin_ids)
def test_normal_user_gets_403_on_administrator_operations(user_api, carol, method, path, body):
    before = _snapshot()
    err = error(getattr(user_api, method)(path, json=body), 403, "forbidden")
    assert "administrators" in err["message"]
    assert _snapshot() == before
    carol.refresh_from_db()
    assert carol.approval == User.Approval.PENDING and not carol.is_deleted


@pytest.mark.parametrize("method, path, body", ADMIN_ONLY + [("get", "accounts/users/carol", None)],
                         ids=admin_ids + ["GET accounts/users/carol"])
def test_staff_with_a_write_token_gets_403_on_administrator_operations(staff_write_api, carol, method, path,
                                                                       body):
    before = _snapshot()
    err = error(getattr(staff_write_api, method)(path, json=body), 403, "forbidden")
    assert "'admin' scope" in err["message"]
    assert _snapshot() == before
    carol.refresh_from_db()
    assert carol.approval == User.Approval.PENDING and not carol.is_deleted


def test_staff_with_a_write_token_cannot_import_users(staff_write_api):
    r = staff_write_api.post("accounts/users/import", data={"file": upload(b"username,email\nzed,zed@example.org\n")})
    assert "'admin' scope" in error(r, 403, "forbidden")["message"]
    assert not User.objects.filter(username="zed").exists()


def test_staff_with_a_write_token_may_still_see_themself(staff_write_api):
    body = ok(staff_write_api.get("accounts/users/ADMIN"))
    assert body["username"] == "admin" and body["is_superuser"] is True


def test_staff_with_a_write_token_cannot_revoke_another_users_token(staff_write_api, user):
    raw = make_token(user)
    r = staff_write_api.delete(f"accounts/tokens/{token_row(raw).pk}")
    assert r.status_code in (403, 404), r.content
    assert "error" in r.json()
    assert token_row(raw).revoked_at is None


def test_staff_with_a_write_token_cannot_see_a_team_it_does_not_belong_to(staff_write_api, team):
    r = staff_write_api.get(f"accounts/teams/{team.slug}")
    assert r.status_code in (403, 404), r.content
    assert "alice" not in r.content.decode()


# --------------------------------------------------------------------------- session authentication


def test_login_via_api_starts_a_session_that_authenticates(user):
    client = DjangoClient(enforce_csrf_checks=True)
    r = client.post("/api/v1/accounts/login", {"username": "ALICE", "password": PASSWORD},
                    content_type="application/json")
    body = ok(r)
    assert body["username"] == "alice" and body["email"] == "alice@example.org"
    assert client.cookies["sessionid"].value
    assert client.cookies["csrftoken"].value
    assert ok(client.get("/api/v1/accounts/me"))["username"] == "alice"
    event = AuditEvent.objects.filter(action="login.ok").latest("id")
    assert (event.actor_username, event.ip) == ("alice", "127.0.0.1")


def test_login_by_email_works(user):
    r = DjangoClient().post("/api/v1/accounts/login", {"username": "Alice@Example.org", "password": PASSWORD},
                            content_type="application/json")
    assert ok(r)["username"] == "alice"


def test_session_post_without_csrf_token_is_403_and_changes_nothing(user):
    client = session_client(user)
    r = client.post("/api/v1/accounts/teams", {"name": "No Csrf"}, content_type="application/json")
    err = error(r, 403, "forbidden")
    assert "CSRF" in err["message"] and "X-CSRFToken" in err["message"]
    assert not Team.objects.filter(slug="no-csrf").exists()


def test_session_post_with_a_wrong_csrf_token_is_403(user):
    client = session_client(user)
    r = client.post("/api/v1/accounts/teams", {"name": "Bad Csrf"}, content_type="application/json",
                    HTTP_X_CSRFTOKEN="x" * 64)
    assert "CSRF" in error(r, 403, "forbidden")["message"]
    assert not Team.objects.filter(slug="bad-csrf").exists()


@pytest.mark.parametrize("method, path, body", [
    ("patch", "/api/v1/accounts/me", {"first_name": "Mallory"}),
    ("delete", "/api/v1/accounts/me", {"password": PASSWORD}),
    ("post", "/api/v1/accounts/tokens", {"name": "csrf"}),
])
def test_session_unsafe_methods_without_csrf_are_403(user, method, path, body):
    client = session_client(user)
    r = getattr(client, method)(path, json.dumps(body), content_type="application/json")
    assert "CSRF" in error(r, 403, "forbidden")["message"]
    user.refresh_from_db()
    assert user.first_name == "Alice" and not user.is_deleted
    assert not ApiToken.objects.filter(user=user).exists()


def test_session_post_with_csrf_token_succeeds(user):
    client = session_client(user)
    r = client.post("/api/v1/accounts/teams", {"name": "With Csrf"}, content_type="application/json",
                    **csrf_headers(client))
    body = ok(r, 201)
    assert body["slug"] == "with-csrf"
    assert [m["username"] for m in body["members"]] == ["alice"]


def test_session_of_a_normal_user_has_the_write_scope(user):
    client = session_client(user)
    r = client.post("/api/v1/accounts/tokens", {"scope": "write"}, content_type="application/json",
                    **csrf_headers(client))
    assert ok(r, 201)["scope"] == "write"
    r = client.post("/api/v1/accounts/tokens", {"scope": "admin"}, content_type="application/json",
                    **csrf_headers(client))
    error(r, 403, "forbidden", field="scope")


def test_session_of_an_administrator_has_the_admin_scope(admin_user, user):
    client = session_client(admin_user)
    body = page(client.get("/api/v1/accounts/users"))
    assert {u["username"] for u in body["items"]} == {"admin", "alice"}
    r = client.post("/api/v1/accounts/tokens", {"scope": "admin"}, content_type="application/json",
                    **csrf_headers(client))
    assert ok(r, 201)["scope"] == "admin"


def test_logout_needs_csrf_then_ends_the_session(user):
    client = session_client(user)
    error(client.post("/api/v1/accounts/logout"), 403, "forbidden")
    assert ok(client.get("/api/v1/accounts/me"))["username"] == "alice"
    body = ok(client.post("/api/v1/accounts/logout", **csrf_headers(client)))
    assert body == {"message": "Signed out."}
    error(client.get("/api/v1/accounts/me"), 401, "unauthorized")
    assert AuditEvent.objects.filter(action="logout", actor_username="alice").exists()


def test_logout_with_a_bearer_token_answers_and_keeps_the_token(user_api, user):
    assert ok(user_api.post("accounts/logout")) == {"message": "Signed out."}
    assert ok(user_api.get("accounts/me"))["username"] == "alice"


def test_session_ends_when_the_user_is_unapproved(user):
    client = session_client(user)
    User.objects.filter(pk=user.pk).update(approval=User.Approval.REJECTED)
    error(client.get("/api/v1/accounts/me"), 401, "unauthorized")


# --------------------------------------------------------------------------- login


def test_login_with_a_wrong_password_is_401_and_audited(anon_api, user):
    r = anon_api.post("accounts/login", json={"username": "alice", "password": "wrong-password"})
    assert "not correct" in error(r, 401, "unauthorized")["message"]
    assert AuditEvent.objects.filter(action="login.failed", actor_username="alice").count() == 1


def test_login_of_an_unknown_user_is_the_same_401(anon_api):
    r = anon_api.post("accounts/login", json={"username": "nobody", "password": "wrong-password"})
    assert "not correct" in error(r, 401, "unauthorized")["message"]


def test_login_of_a_pending_user_is_403_with_the_reason(anon_api, carol):
    r = anon_api.post("accounts/login", json={"username": "carol", "password": PASSWORD})
    err = error(r, 403, "forbidden")
    assert err["details"] == {"reason": "pending"}


def test_login_of_a_rejected_user_is_403_with_the_admins_reason(anon_api, carol, admin_user):
    services.user_reject(user=carol, reason="Not in the lab.", actor=admin_user)
    r = anon_api.post("accounts/login", json={"username": "carol", "password": PASSWORD})
    err = error(r, 403, "forbidden")
    assert err["details"] == {"reason": "rejected"} and "Not in the lab." in err["message"]


def test_ten_failed_logins_a_minute_then_429(anon_api, user):
    for _ in range(10):
        error(anon_api.post("accounts/login", json={"username": "alice", "password": "wrong"}), 401, "unauthorized")
    r = anon_api.post("accounts/login", json={"username": "alice", "password": "wrong"})
    err = error(r, 429, "rate_limited")
    assert err["details"] == {"retry_after_seconds": 60}
    assert r["Retry-After"] == "60"
    # Even the right password (and another case of the name) waits now ...
    error(anon_api.post("accounts/login", json={"username": "ALICE", "password": PASSWORD}), 429, "rate_limited")
    # ... but only for this username from this address.
    other_ip = anon_api.post("accounts/login", json={"username": "alice", "password": PASSWORD},
                             REMOTE_ADDR="198.51.100.7")
    assert ok(other_ip)["username"] == "alice"


def test_login_throttle_counts_names_case_insensitively(anon_api, user):
    for name in ["alice", "ALICE", "Alice"] * 3 + ["aLiCe"]:
        error(anon_api.post("accounts/login", json={"username": name, "password": "wrong"}), 401, "unauthorized")
    error(anon_api.post("accounts/login", json={"username": "alice", "password": PASSWORD}), 429, "rate_limited")


def test_login_throttle_is_per_username(anon_api, user, other_user):
    for _ in range(10):
        anon_api.post("accounts/login", json={"username": "alice", "password": "wrong"})
    error(anon_api.post("accounts/login", json={"username": "alice", "password": PASSWORD}), 429, "rate_limited")
    assert ok(anon_api.post("accounts/login", json={"username": "bob", "password": PASSWORD}))["username"] == "bob"


def test_login_failures_older_than_a_minute_do_not_count(anon_api, user):
    for _ in range(10):
        anon_api.post("accounts/login", json={"username": "alice", "password": "wrong"})
    AuditEvent.objects.filter(action="login.failed").update(created_at=timezone.now() - timedelta(minutes=2))
    assert ok(anon_api.post("accounts/login", json={"username": "alice", "password": PASSWORD}))["id"] == user.pk


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "validation_error"),
    ({"username": "alice"}, 422, "validation_error"),
    ({"username": 1, "password": PASSWORD}, 422, "validation_error"),
    ({"username": ["alice"], "password": PASSWORD}, 422, "validation_error"),
    ({"username": "a" * 255, "password": PASSWORD}, 422, "validation_error"),
    ({"username": "alice", "password": "p" * 4097}, 422, "validation_error"),
    ({"username": "ali\x00ce", "password": PASSWORD}, 400, "invalid"),
    ({"username": "alice", "password": "\ud800"}, 422, "validation_error"),
])
def test_login_with_bad_input_is_4xx(anon_api, user, body, status, code):
    error(anon_api.post("accounts/login", json=body), status, code)
    assert not AuditEvent.objects.filter(action="login.ok").exists()


# --------------------------------------------------------------------------- sign-up


def signup_body(**fields):
    return {"username": "carol", "email": "carol@example.org", "password": PASSWORD, **fields}


def test_signup_creates_a_pending_account_and_emails_the_administrators(anon_api, admin_user, outbox, on_commit):
    with on_commit():
        r = anon_api.post("accounts/signup", json=signup_body(first_name="Carol", email="Carol@Example.ORG"))
    body = ok(r, 201)
    assert body["username"] == "carol" and body["email"] == "carol@example.org"
    assert body["approval"] == "pending" and body["email_verified"] is False and body["is_staff"] is False
    assert "password" not in body
    assert [m.to for m in outbox] == [[admin_user.email]]
    assert AuditEvent.objects.get(action="user.signup").ip == "127.0.0.1"
    error(anon_api.post("accounts/login", json={"username": "carol", "password": PASSWORD}), 403, "forbidden")


def test_signup_without_approval_can_log_in_at_once(anon_api, override_config):
    override_config(require_approval=False)
    assert ok(anon_api.post("accounts/signup", json=signup_body()), 201)["approval"] == "approved"
    assert ok(anon_api.post("accounts/login", json={"username": "carol", "password": PASSWORD}))["username"] == "carol"


@pytest.mark.parametrize("fields, field", [
    ({"username": "alice"}, "username"),
    ({"username": "ALICE"}, "username"),
    ({"username": "lab-one"}, "username"),  # a team's slug: usernames and team slugs share a namespace
    ({"email": "alice@example.org"}, "email"),
    ({"email": "ALICE@Example.Org"}, "email"),
    ({"email": "  alice@example.org  "}, "email"),
])
def test_signup_with_a_taken_username_or_email_is_409(anon_api, user, team, fields, field):
    before = User.objects.count()
    error(anon_api.post("accounts/signup", json=signup_body(**fields)), 409, "conflict", field=field)
    assert User.objects.count() == before


@pytest.mark.parametrize("password", ["short1", "password123", "1234567890123", "carolking1", "carol@example.org"])
def test_signup_with_a_weak_password_is_400_on_password(anon_api, password):
    r = anon_api.post("accounts/signup", json=signup_body(username="carolking", password=password))
    assert "too weak" in error(r, 400, "invalid", field="password")["message"]
    assert not User.objects.filter(username="carolking").exists()


@pytest.mark.parametrize("fields, field", [
    ({"username": "a"}, "username"),
    ({"username": "has space"}, "username"),
    ({"username": "-dash"}, "username"),
    ({"username": "deleted-user-7"}, "username"),
    ({"username": ""}, "username"),
    ({"email": "not-an-email"}, "email"),
    ({"email": ""}, "email"),
    ({"first_name": "tab\there"}, "first_name"),
    ({"affiliation": "bell\x07"}, "affiliation"),
])
def test_signup_with_invalid_values_is_400_on_the_field(anon_api, fields, field):
    error(anon_api.post("accounts/signup", json=signup_body(**fields)), 400, "invalid", field=field)
    assert not User.objects.exists()


@pytest.mark.parametrize("body", [
    {},
    {"username": "carol", "email": "carol@example.org"},
    signup_body(username=123),
    signup_body(email=["carol@example.org"]),
    signup_body(password=None),
    signup_body(first_name={"a": 1}),
    signup_body(username="c" * 151),
    signup_body(email="c" * 10_000 + "@example.org"),
    signup_body(password="p" * 4097),
    signup_body(first_name="f" * 151),
    signup_body(last_name="l" * 151),
    signup_body(affiliation="a" * 201),
    signup_body(password="\udc00abcdefghijk"),
    [signup_body()],
    "carol",
])
def test_signup_not_matching_the_schema_is_422(anon_api, body):
    err = error(anon_api.post("accounts/signup", json=body), 422, "validation_error")
    assert err["details"]["errors"] and all({"loc", "msg", "type"} <= set(e) for e in err["details"]["errors"])
    assert not User.objects.exists()


@pytest.mark.parametrize("field", ["username", "email", "password", "first_name", "last_name", "affiliation"])
def test_signup_with_a_nul_character_is_400(anon_api, field):
    value = {"email": "ca\x00rol@example.org"}.get(field, "ca\x00rol-passphrase")
    err = error(anon_api.post("accounts/signup", json=signup_body(**{field: value})), 400, "invalid")
    assert "NUL" in err["message"]
    assert not User.objects.exists()


@pytest.mark.parametrize("data, content_type, status, code", [
    ("{not json", "application/json", 400, "invalid"),
    ("username=carol", "application/x-www-form-urlencoded", 400, "invalid"),
    ("", "application/json", 422, "validation_error"),
])
def test_signup_with_an_unreadable_or_empty_body_is_4xx(anon_api, data, content_type, status, code):
    err = error(anon_api.post("accounts/signup", data=data, content_type=content_type), status, code)
    if status == 400:
        assert "cannot be read as JSON" in err["message"]
    assert not User.objects.exists()


def test_request_body_over_the_limit_is_413(anon_api, override_config):
    override_config(max_request_bytes=200)
    r = anon_api.post("accounts/signup", json=signup_body(affiliation="a" * 150))
    err = error(r, 413, "too_large")
    assert err["details"] == {"limit_bytes": 200}
    assert not User.objects.exists()


# --------------------------------------------------------------------------- password reset


def test_password_reset_emails_a_link_to_an_existing_account(anon_api, user, outbox, on_commit):
    with on_commit():
        r = anon_api.post("accounts/password-reset", json={"email": "ALICE@example.org"})
    body = ok(r, 202)
    assert "reset link" in body["message"]
    assert [m.to for m in outbox] == [["alice@example.org"]]
    assert "/accounts/" in outbox[0].body


def test_password_reset_answers_the_same_for_an_unknown_address(anon_api, user, outbox, on_commit):
    with on_commit():
        known = anon_api.post("accounts/password-reset", json={"email": "alice@example.org"})
    outbox.clear()
    with on_commit():
        unknown = anon_api.post("accounts/password-reset", json={"email": "nobody@example.org"})
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json()) == (202, known.json())
    assert outbox == []


@pytest.mark.parametrize("body, status, code", [
    ({"email": "not-an-email"}, 400, "invalid"),
    ({"email": "a\x00@example.org"}, 400, "invalid"),
    ({}, 422, "validation_error"),
    ({"email": 5}, 422, "validation_error"),
    ({"email": "e" * 255}, 422, "validation_error"),
])
def test_password_reset_with_bad_input_is_4xx(anon_api, body, status, code, outbox):
    error(anon_api.post("accounts/password-reset", json=body), status, code)
    assert outbox == []


# --------------------------------------------------------------------------- me


def test_me_answers_the_callers_own_profile(user_api, other_api):
    body = ok(user_api.get("accounts/me"))
    assert body["username"] == "alice" and body["email"] == "alice@example.org"
    assert body["email_verified"] is True and body["approval"] == "approved"
    assert "password" not in body and "is_superuser" not in body
    assert ok(other_api.get("accounts/me"))["username"] == "bob"


def test_me_of_the_administrator(admin_api):
    body = ok(admin_api.get("accounts/me"))
    assert body["username"] == "admin" and body["is_staff"] is True


def test_patch_me_changes_names_and_email(user_api, user):
    body = ok(user_api.patch("accounts/me", json={"first_name": " Alicia ", "last_name": "Liddell",
                                                  "affiliation": "Wonderland", "email": "New@Example.org"}))
    assert (body["first_name"], body["last_name"], body["affiliation"]) == ("Alicia", "Liddell", "Wonderland")
    assert body["email"] == "new@example.org" and body["email_verified"] is False
    assert body["display_name"] == "Alicia Liddell"
    user.refresh_from_db()
    assert user.email == "new@example.org"


def test_patch_me_with_nothing_changes_nothing(user_api, user):
    body = ok(user_api.patch("accounts/me", json={}))
    assert body["first_name"] == "Alice" and body["email"] == "alice@example.org"


def test_patch_me_to_a_taken_email_is_409(user_api, user, other_user):
    error(user_api.patch("accounts/me", json={"email": "BOB@example.org"}), 409, "conflict", field="email")
    user.refresh_from_db()
    assert user.email == "alice@example.org"


@pytest.mark.parametrize("body, status, code, field", [
    ({"email": "not-an-email"}, 400, "invalid", "email"),
    ({"email": ""}, 400, "invalid", "email"),
    ({"first_name": "new\nline"}, 400, "invalid", "first_name"),
    ({"affiliation": "esc\x1b"}, 400, "invalid", "affiliation"),
    ({"last_name": "nul\x00"}, 400, "invalid", None),
    ({"first_name": "x" * 100_000}, 422, "validation_error", None),
    ({"email": "e" * 255}, 422, "validation_error", None),
    ({"first_name": 7}, 422, "validation_error", None),
    ({"affiliation": ["x"]}, 422, "validation_error", None),
])
def test_patch_me_with_bad_input_is_4xx_and_changes_nothing(user_api, user, body, status, code, field):
    error(user_api.patch("accounts/me", json=body), status, code, field=field)
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.affiliation, user.email) == ("Alice", "", "", "alice@example.org")


def test_change_password_then_log_in_with_the_new_one(user_api, anon_api, user):
    r = user_api.post("accounts/me/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert ok(r) == {"message": "Password changed."}
    error(anon_api.post("accounts/login", json={"username": "alice", "password": PASSWORD}), 401, "unauthorized")
    assert ok(anon_api.post("accounts/login", json={"username": "alice", "password": NEW_PASSWORD}))["id"] == user.pk


@pytest.mark.parametrize("body, status, code, field", [
    ({"old_password": "wrong-password", "new_password": NEW_PASSWORD}, 400, "invalid", "old_password"),
    ({"old_password": PASSWORD, "new_password": "short"}, 400, "invalid", "password"),
    ({"old_password": PASSWORD, "new_password": "alice@example.org"}, 400, "invalid", "password"),
    ({"old_password": PASSWORD}, 422, "validation_error", None),
    ({"old_password": PASSWORD, "new_password": "n" * 4097}, 422, "validation_error", None),
    ({"old_password": PASSWORD, "new_password": 12345678901}, 422, "validation_error", None),
    ({"old_password": PASSWORD, "new_password": "nul\x00nul-passphrase"}, 400, "invalid", None),
])
def test_change_password_with_bad_input_keeps_the_old_password(user_api, user, body, status, code, field):
    error(user_api.post("accounts/me/password", json=body), status, code, field=field)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_delete_me_with_a_wrong_password_is_400_and_keeps_the_account(user_api, user):
    err = error(user_api.delete("accounts/me", json={"password": "wrong-password"}), 400, "invalid",
                field="password")
    assert "not deleted" in err["message"]
    user.refresh_from_db()
    assert not user.is_deleted and user.username == "alice"
    assert ok(user_api.get("accounts/me"))["email"] == "alice@example.org"


@pytest.mark.parametrize("body", [None, {}, {"password": 1}, {"password": "p" * 4097}])
def test_delete_me_without_a_usable_password_field_is_422(user_api, user, body):
    error(user_api.delete("accounts/me", json=body), 422, "validation_error")
    user.refresh_from_db()
    assert not user.is_deleted


def test_delete_me_with_the_password_anonymizes_the_account(user_api, anon_api, user, team):
    body = ok(user_api.delete("accounts/me", json={"password": PASSWORD}))
    assert body == {"message": "Your account was deleted."}
    user.refresh_from_db()
    assert user.is_deleted and user.username == f"deleted-user-{user.pk}" and user.email is None
    assert user.first_name == "" and not user.has_usable_password()
    assert not ApiToken.objects.filter(user=user).exists()
    error(user_api.get("accounts/me"), 401, "unauthorized")
    error(anon_api.post("accounts/login", json={"username": "alice", "password": PASSWORD}), 401, "unauthorized")


def test_delete_me_through_a_session_ends_the_session(user):
    client = session_client(user)
    r = client.delete("/api/v1/accounts/me", {"password": PASSWORD}, content_type="application/json",
                      **csrf_headers(client))
    assert ok(r)["message"] == "Your account was deleted."
    error(client.get("/api/v1/accounts/me"), 401, "unauthorized")


def test_the_last_administrator_cannot_delete_themself(admin_api, admin_user):
    error(admin_api.delete("accounts/me", json={"password": PASSWORD}), 409, "conflict")
    admin_user.refresh_from_db()
    assert not admin_user.is_deleted and admin_user.is_superuser


# --------------------------------------------------------------------------- users (administrators)


def test_admin_lists_users_with_filters(admin_api, user, other_user, carol):
    body = page(admin_api.get("accounts/users"))
    assert [u["username"] for u in body["items"]] == ["admin", "alice", "bob", "carol"]
    assert body["count"] == 4 and (body["limit"], body["offset"]) == (50, 0)
    assert body["items"][1]["email"] == "alice@example.org" and "is_superuser" in body["items"][1]
    pending = page(admin_api.get("accounts/users?approval=pending"))
    assert [u["username"] for u in pending["items"]] == ["carol"] and pending["count"] == 1
    found = page(admin_api.get("accounts/users?q=BOB@"))
    assert [u["username"] for u in found["items"]] == ["bob"]
    assert page(admin_api.get("accounts/users?q=" + "z" * 5000))["count"] == 0


def test_admin_user_list_hides_deleted_users_unless_asked(admin_api, admin_user, other_user):
    services.user_delete(user=other_user, actor=admin_user)
    names = [u["username"] for u in page(admin_api.get("accounts/users"))["items"]]
    assert names == ["admin"]
    body = page(admin_api.get("accounts/users?include_deleted=true"))
    assert body["count"] == 2
    deleted = [u for u in body["items"] if u["deleted"]]
    assert [u["username"] for u in deleted] == [f"deleted-user-{other_user.pk}"]


@pytest.mark.parametrize("query", ["approval=bogus", "approval=", "include_deleted=perhaps", "limit=0",
                                   "limit=501", "limit=x", "offset=-1", "offset=1.5", "offset=99999999999"])
def test_admin_user_list_with_a_query_off_the_schema_is_422(admin_api, query):
    err = error(admin_api.get(f"accounts/users?{query}"), 422, "validation_error")
    assert err["details"]["errors"][0]["loc"][0] == "query"


def test_admin_user_list_with_a_nul_in_the_query_is_400(admin_api):
    assert "NUL" in error(admin_api.get("accounts/users?q=a%00b"), 400, "invalid")["message"]


def test_pagination_honours_limit_and_offset(admin_api, admin_user):
    for n in range(7):
        make_user(username=f"user{n:02d}")
    body = page(admin_api.get("accounts/users?limit=3&offset=2"))
    assert [u["username"] for u in body["items"]] == ["user01", "user02", "user03"]
    assert (body["count"], body["limit"], body["offset"]) == (8, 3, 2)
    last = page(admin_api.get("accounts/users?limit=3&offset=6"))
    assert [u["username"] for u in last["items"]] == ["user05", "user06"] and last["count"] == 8
    beyond = page(admin_api.get("accounts/users?offset=100"))
    assert (beyond["items"], beyond["count"], beyond["offset"]) == ([], 8, 100)
    biggest = page(admin_api.get("accounts/users?limit=500"))
    assert biggest["limit"] == 500 and len(biggest["items"]) == 8


def test_pagination_refuses_a_limit_above_500(admin_api):
    err = error(admin_api.get("accounts/users?limit=501"), 422, "validation_error")
    assert err["details"]["errors"][0]["loc"] == ["query", "limit"]
    err = error(admin_api.get("accounts/users?offset=-1"), 422, "validation_error")
    assert err["details"]["errors"][0]["loc"] == ["query", "offset"]


def test_admin_creates_an_approved_user(admin_api, anon_api):
    r = admin_api.post("accounts/users", json={"username": "zed", "email": "Zed@example.org",
                                               "password": PASSWORD, "first_name": "Zed"})
    body = ok(r, 201)
    assert (body["username"], body["email"], body["approval"], body["email_verified"]) == \
        ("zed", "zed@example.org", "approved", True)
    assert body["is_staff"] is False and body["deleted"] is False
    assert ok(anon_api.post("accounts/login", json={"username": "zed", "password": PASSWORD}))["username"] == "zed"
    event = AuditEvent.objects.get(action="user.create", target_id=str(body["id"]))
    assert event.actor_username == "admin"


def test_admin_creates_a_pending_staff_user_without_a_password(admin_api, anon_api):
    body = ok(admin_api.post("accounts/users", json={"username": "yan", "email": "yan@example.org",
                                                     "approved": False, "is_staff": True}), 201)
    assert body["approval"] == "pending" and body["is_staff"] is True
    assert not User.objects.get(username="yan").has_usable_password()


@pytest.mark.parametrize("body, status, code, field", [
    ({"username": "alice", "email": "new@example.org"}, 409, "conflict", "username"),
    ({"username": "zed", "email": "ALICE@example.org"}, 409, "conflict", "email"),
    ({"username": "zed", "email": "zed@example.org", "password": "short"}, 400, "invalid", "password"),
    ({"username": "z", "email": "zed@example.org"}, 400, "invalid", "username"),
    ({"username": "zed", "email": "zed"}, 400, "invalid", "email"),
    ({"username": "zed"}, 422, "validation_error", None),
    ({"username": "zed", "email": "zed@example.org", "approved": "sometimes"}, 422, "validation_error", None),
    ({"username": "zed", "email": "zed@example.org", "is_staff": [True]}, 422, "validation_error", None),
    ({"username": "z" * 151, "email": "zed@example.org"}, 422, "validation_error", None),
    ({"username": "z\x00d", "email": "zed@example.org"}, 400, "invalid", None),
])
def test_admin_create_user_with_bad_input_is_4xx(admin_api, user, body, status, code, field):
    before = User.objects.count()
    error(admin_api.post("accounts/users", json=body), status, code, field=field)
    assert User.objects.count() == before


def test_approval_queue_is_oldest_first(admin_api, user):
    first = make_user(username="first", approved=False)
    second = make_user(username="second", approved=False)
    User.objects.filter(pk=first.pk).update(date_joined=timezone.now() - timedelta(days=2))
    User.objects.filter(pk=second.pk).update(date_joined=timezone.now() - timedelta(days=3))
    body = page(admin_api.get("accounts/approvals"))
    assert [u["username"] for u in body["items"]] == ["second", "first"] and body["count"] == 2
    assert all(u["approval"] == "pending" for u in body["items"])


def test_user_get_yourself_anyone_for_admins_nobody_else(user_api, admin_api, other_user):
    assert ok(user_api.get("accounts/users/Alice"))["username"] == "alice"
    err = error(user_api.get("accounts/users/bob"), 404, "not_found")
    assert "bob@example.org" not in str(err)
    body = ok(admin_api.get("accounts/users/BOB"))
    assert body["username"] == "bob" and body["email"] == "bob@example.org"
    error(admin_api.get("accounts/users/nobody"), 404, "not_found")
    error(admin_api.get("accounts/users/bo%00b"), 404, "not_found")


def test_approve_approves_and_emails_the_user(admin_api, carol, outbox, on_commit):
    with on_commit():
        r = admin_api.post("accounts/users/carol/approve")
    body = ok(r)
    assert body["username"] == "carol" and body["approval"] == "approved"
    assert [(m.to, m.subject) for m in outbox] == [(["carol@example.org"], "databoard: your account is approved")]
    assert "carol" in outbox[0].body
    assert AuditEvent.objects.get(action="user.approve").ip == "127.0.0.1"


def test_approve_twice_is_409_and_emails_once(admin_api, carol, outbox, on_commit):
    with on_commit():
        ok(admin_api.post("accounts/users/carol/approve"))
    with on_commit():
        error(admin_api.post("accounts/users/CAROL/approve"), 409, "conflict")
    assert len(outbox) == 1


@pytest.mark.parametrize("action, body", [("approve", None), ("reject", {"reason": "no"})])
def test_approve_or_reject_an_unknown_user_is_404(admin_api, action, body, outbox):
    err = error(admin_api.post(f"accounts/users/nobody/{action}", json=body), 404, "not_found")
    assert "nobody" in err["message"]
    assert outbox == []


def test_approve_a_deleted_user_is_409(admin_api, admin_user, other_user):
    services.user_delete(user=other_user, actor=admin_user)
    error(admin_api.post("accounts/users/bob/approve"), 404, "not_found")
    error(admin_api.post(f"accounts/users/deleted-user-{other_user.pk}/approve"), 409, "conflict")


def test_reject_stores_and_emails_the_reason(admin_api, carol, outbox, on_commit):
    with on_commit():
        r = admin_api.post("accounts/users/carol/reject", json={"reason": "  Not in our lab.\nSorry. "})
    body = ok(r)
    assert body["approval"] == "rejected" and body["approval_reason"] == "Not in our lab.\nSorry."
    assert [m.to for m in outbox] == [["carol@example.org"]]
    assert "Reason: Not in our lab.\nSorry." in outbox[0].body
    assert AuditEvent.objects.get(action="user.reject").data == {"reason": "Not in our lab.\nSorry."}


@pytest.mark.parametrize("body, status, code, field", [
    ({"reason": "   "}, 400, "invalid", "reason"),
    ({"reason": "bell\x07"}, 400, "invalid", "reason"),
    ({"reason": "nul\x00"}, 400, "invalid", None),
    ({"reason": ""}, 422, "validation_error", None),
    ({"reason": "r" * 2001}, 422, "validation_error", None),
    ({"reason": 3}, 422, "validation_error", None),
    ({}, 422, "validation_error", None),
    (None, 400, "invalid", None),  # no body at all: not JSON
])
def test_reject_without_a_usable_reason_is_4xx_and_emails_nobody(admin_api, carol, outbox, on_commit, body,
                                                                 status, code, field):
    with on_commit():
        error(admin_api.post("accounts/users/carol/reject", json=body), status, code, field=field)
    carol.refresh_from_db()
    assert carol.approval == User.Approval.PENDING
    assert outbox == []


def test_admin_cannot_reject_themself(admin_api, admin_user):
    error(admin_api.post("accounts/users/admin/reject", json={"reason": "oops"}), 409, "conflict")
    admin_user.refresh_from_db()
    assert admin_user.is_approved


def test_admin_deletes_a_user(admin_api, other_user):
    bob_token = make_token(other_user)
    body = ok(admin_api.delete("accounts/users/bob"))
    assert body == {"message": "User 'bob' was deleted."}
    other_user.refresh_from_db()
    assert other_user.is_deleted and other_user.email is None
    error(ApiClient(bob_token).get("accounts/me"), 401, "unauthorized")
    error(admin_api.delete("accounts/users/bob"), 404, "not_found")
    error(admin_api.delete(f"accounts/users/deleted-user-{other_user.pk}"), 409, "conflict")


def test_admin_delete_unknown_user_is_404(admin_api):
    error(admin_api.delete("accounts/users/nobody"), 404, "not_found")


def test_other_user_cannot_delete_alice(other_api, user):
    error(other_api.delete("accounts/users/alice"), 403, "forbidden")
    user.refresh_from_db()
    assert not user.is_deleted


# --------------------------------------------------------------------------- CSV import


GOOD_CSV = (
    "username,email,first_name,last_name,affiliation,team\n"
    "dora,Dora@example.org,Dora,Explorer,Lab,Vision\n"
    "emil,emil@example.org,Emil,,Lab,vision\n"
    "fred,fred@example.org,,,,\n"
).encode()


def test_import_creates_users_and_answers_rows_and_csv(admin_api, anon_api, outbox, on_commit):
    with on_commit():
        r = admin_api.post("accounts/users/import", data={"file": upload(GOOD_CSV)})
    body = ok(r, 201)
    assert body["created"] == 3 and body["emailed"] is False
    assert [row["username"] for row in body["rows"]] == ["dora", "emil", "fred"]
    assert [row["email"] for row in body["rows"]] == ["dora@example.org", "emil@example.org", "fred@example.org"]
    assert outbox == []
    parsed = list(csv.DictReader(io.StringIO(body["csv"])))
    assert parsed == body["rows"]
    vision = Team.objects.get(slug="vision")
    assert {m.user.username: m.role for m in vision.memberships.select_related("user")} == \
        {"dora": "owner", "emil": "member"}
    for row in body["rows"]:
        login = anon_api.post("accounts/login", json={"username": row["username"], "password": row["password"]})
        assert ok(login)["approval"] == "approved"


@pytest.mark.parametrize("flag", ["true", "on", "1"])
def test_import_with_send_emails_mails_the_passwords(admin_api, outbox, on_commit, flag):
    with on_commit():
        r = admin_api.post("accounts/users/import", data={"file": upload(GOOD_CSV), "send_emails": flag})
    body = ok(r, 201)
    assert body["emailed"] is True and {row["password"] for row in body["rows"]} == {"(emailed)"}
    assert sorted(m.to[0] for m in outbox) == ["dora@example.org", "emil@example.org", "fred@example.org"]
    assert all("Password: " in m.body for m in outbox)


def test_import_with_bad_rows_lists_their_lines_and_creates_nobody(admin_api, user, outbox, on_commit):
    content = (
        "username,email\n"
        "dora,dora@example.org\n"
        "x,x@example.org\n"
        "emil,alice@example.org\n"
        "fred,not-an-email\n"
        "dora,dora2@example.org\n"
    ).encode()
    before = (User.objects.count(), Team.objects.count())
    with on_commit():
        r = admin_api.post("accounts/users/import", data={"file": upload(content), "send_emails": "true"})
    err = error(r, 400, "invalid")
    assert [e["line"] for e in err["details"]["errors"]] == [3, 4, 5, 6]
    assert "nothing was imported" in err["message"]
    assert "line 3" in err["message"]
    assert (User.objects.count(), Team.objects.count()) == before
    assert not User.objects.filter(username="dora").exists()
    assert outbox == []


@pytest.mark.parametrize("content, fragment", [
    (b"", "missing column(s): username, email"),
    (b"username,email\n", "no rows"),
    (b"username,email,phone\nzed,zed@example.org,1\n", "unknown column(s): phone"),
    (b"username,username,email\nzed,zed,zed@example.org\n", "repeated column(s): username"),
    (b"username,email\nzed,\xff\xfe@example.org\n", "not UTF-8"),
    (b"\xff\xfe\x00u\x00s\x00e\x00r", "not UTF-8"),
    (b"username,email\nzed,zed@example.org,extra\n", "more fields than the header"),
    (b"username,email\nz\x00ed,zed@example.org\n", "line 2"),
])
def test_import_of_a_bad_file_is_400_and_creates_nobody(admin_api, content, fragment):
    before = User.objects.count()
    err = error(admin_api.post("accounts/users/import", data={"file": upload(content)}), 400, "invalid")
    assert fragment in err["message"]
    assert User.objects.count() == before


def test_import_with_a_utf8_bom_and_crlf_works(admin_api):
    content = "\ufeffusername,email,first_name\r\nzoë,zoe@example.org,Zoë\r\n".encode()
    # "zoë" is not a valid username (ASCII only): the row is refused, with its line, as a 400.
    err = error(admin_api.post("accounts/users/import", data={"file": upload(content)}), 400, "invalid")
    assert [e["line"] for e in err["details"]["errors"]] == [2]
    content = "\ufeffusername,email,first_name\r\nzoe,zoe@example.org,Zoë\r\n".encode()
    body = ok(admin_api.post("accounts/users/import", data={"file": upload(content)}), 201)
    assert body["rows"][0]["username"] == "zoe"
    assert User.objects.get(username="zoe").first_name == "Zoë"


def test_import_upload_over_the_upload_limit_is_413_before_reading(admin_api, override_config):
    override_config(max_upload_bytes=1000)
    content = b"username,email\n" + b"".join(f"u{n:04d},u{n:04d}@example.org\n".encode() for n in range(100))
    err = error(admin_api.post("accounts/users/import", data={"file": upload(content)}), 413, "too_large")
    assert err["details"] == {"limit_bytes": 1000}
    assert not User.objects.filter(username="u0000").exists()


def test_import_of_a_csv_over_5_mb_is_413(admin_api):
    content = b"username,email\n" + b"x" * (services.CSV_MAX_BYTES + 10)
    err = error(admin_api.post("accounts/users/import", data={"file": upload(content)}), 413, "too_large")
    assert "5 MB" in err["message"]


@pytest.mark.parametrize("data", [
    {},
    {"send_emails": "true"},
    {"file": "username,email\nzed,zed@example.org\n"},  # a form field, not a file
    {"file": upload(b"username,email\nzed,zed@example.org\n"), "send_emails": "maybe"},
])
def test_import_without_a_proper_file_part_is_422(admin_api, data):
    err = error(admin_api.post("accounts/users/import", data=data), 422, "validation_error")
    assert err["details"]["errors"]
    assert not User.objects.filter(username="zed").exists()


def test_import_with_a_json_body_is_422(admin_api):
    error(admin_api.post("accounts/users/import", json={"file": "username,email\n"}), 422, "validation_error")


def test_import_with_a_broken_multipart_body_is_400(admin_api):
    r = admin_api.post("accounts/users/import", data=b"--nope\r\ngarbage", content_type="multipart/form-data")
    assert "multipart" in error(r, 400, "invalid")["message"]


def test_import_with_a_nul_in_a_form_field_is_400(admin_api):
    r = admin_api.post("accounts/users/import",
                       data={"file": upload(b"username,email\nzed,zed@example.org\n"), "send_emails": "tr\x00ue"})
    assert "NUL" in error(r, 400, "invalid")["message"]
    assert not User.objects.filter(username="zed").exists()


def test_normal_user_cannot_import(user_api):
    r = user_api.post("accounts/users/import", data={"file": upload(b"username,email\nzed,zed@example.org\n")})
    assert "administrators" in error(r, 403, "forbidden")["message"]
    assert not User.objects.filter(username="zed").exists()


def test_read_token_of_an_admin_cannot_import(admin_user):
    client = ApiClient(make_token(admin_user, scope="read"))
    r = client.post("accounts/users/import", data={"file": upload(b"username,email\nzed,zed@example.org\n")})
    error(r, 403, "forbidden")
    assert not User.objects.filter(username="zed").exists()


# --------------------------------------------------------------------------- teams


def test_team_list_shows_your_teams(user_api, other_api, team):
    body = page(user_api.get("accounts/teams"))
    assert [t["slug"] for t in body["items"]] == ["alice", "lab-one"] and body["count"] == 2
    assert body["items"][0]["is_personal"] is True
    assert [t["slug"] for t in page(other_api.get("accounts/teams"))["items"]] == ["bob"]


def test_team_list_paginates(user_api, user):
    for n in range(4):
        services.team_create(name=f"Team {n}", owner=user)
    body = page(user_api.get("accounts/teams?limit=2&offset=1"))
    assert [t["slug"] for t in body["items"]] == ["team-0", "team-1"]
    assert (body["count"], body["limit"], body["offset"]) == (5, 2, 1)


def test_admin_lists_all_teams(admin_api, team, other_user):
    body = page(admin_api.get("accounts/teams?all=true"))
    assert [t["slug"] for t in body["items"]] == ["admin", "alice", "bob", "lab-one"]
    assert [t["slug"] for t in page(admin_api.get("accounts/teams"))["items"]] == ["admin"]


def test_team_list_with_a_bad_all_flag_is_422(user_api):
    error(user_api.get("accounts/teams?all=perhaps"), 422, "validation_error")


def test_create_team_makes_you_its_owner(user_api, user):
    body = ok(user_api.post("accounts/teams", json={"name": "  Vision Lab "}), 201)
    assert (body["name"], body["slug"], body["is_personal"]) == ("Vision Lab", "vision-lab", False)
    assert [(m["username"], m["role"]) for m in body["members"]] == [("alice", "owner")]
    assert AuditEvent.objects.filter(action="team.create", actor_username="alice").exists()


@pytest.mark.parametrize("name, status, code", [
    ("Lab One", 409, "conflict"),
    ("LAB-ONE", 409, "conflict"),
    ("bob", 409, "conflict"),
    ("!!!", 400, "invalid"),
    ("   ", 400, "invalid"),
    ("Deleted User 3", 400, "invalid"),
    ("tab\tname", 400, "invalid"),
])
def test_create_team_with_a_bad_or_taken_name_is_4xx_on_name(user_api, team, other_user, name, status, code):
    before = Team.objects.count()
    error(user_api.post("accounts/teams", json={"name": name}), status, code, field="name")
    assert Team.objects.count() == before


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "validation_error"),
    ({"name": None}, 422, "validation_error"),
    ({"name": 42}, 422, "validation_error"),
    ({"name": "n" * 101}, 422, "validation_error"),
    ({"name": "n" * 1_000_000}, 422, "validation_error"),
    ({"name": "nul\x00team"}, 400, "invalid"),
])
def test_create_team_with_bad_input_is_4xx(user_api, user, body, status, code):
    before = Team.objects.count()
    error(user_api.post("accounts/teams", json=body), status, code)
    assert Team.objects.count() == before


def test_team_detail_for_members_and_admins_only(user_api, other_api, admin_api, team):
    body = ok(user_api.get("accounts/teams/lab-one"))
    assert body["name"] == "Lab One" and [m["username"] for m in body["members"]] == ["alice"]
    err = error(other_api.get("accounts/teams/lab-one"), 404, "not_found")
    assert "alice" not in err["message"]
    assert [m["username"] for m in ok(admin_api.get("accounts/teams/lab-one"))["members"]] == ["alice"]
    error(user_api.get("accounts/teams/no-such-team"), 404, "not_found")
    error(other_api.get("accounts/teams/alice"), 404, "not_found")


def test_invite_by_username(user_api, team, other_user, outbox, on_commit):
    with on_commit():
        r = user_api.post("accounts/teams/lab-one/invites", json={"username": "BOB"})
    body = ok(r, 201)
    assert (body["team"], body["team_name"], body["username"], body["invited_by"], body["state"]) == \
        ("lab-one", "Lab One", "bob", "alice", "pending")
    assert [m.to for m in outbox] == [["bob@example.org"]]
    listed = page(user_api.get("accounts/teams/lab-one/invites"))
    assert [i["id"] for i in listed["items"]] == [body["id"]] and listed["count"] == 1


def test_invite_by_email_of_someone_without_an_account(user_api, team, outbox, on_commit):
    with on_commit():
        r = user_api.post("accounts/teams/lab-one/invites", json={"email": "New.Person@Example.org"})
    body = ok(r, 201)
    assert body["username"] is None and body["email"] == "new.person@example.org"
    assert [m.to for m in outbox] == [["new.person@example.org"]]
    # When that person signs up, the invite waits for them.
    newbie = make_user(username="newbie", email="new.person@example.org")
    client = ApiClient(make_token(newbie))
    assert [i["id"] for i in page(client.get("accounts/invites"))["items"]] == [body["id"]]
    joined = ok(client.post(f"accounts/invites/{body['id']}/accept"))
    assert {m["username"] for m in joined["members"]} == {"alice", "newbie"}


@pytest.mark.parametrize("body, status, code, field", [
    ({"username": "nobody"}, 404, "not_found", "username"),
    ({"username": "bob", "email": "bob@example.org"}, 400, "invalid", None),
    ({}, 400, "invalid", None),
    ({"username": "", "email": ""}, 400, "invalid", None),
    ({"email": "not-an-email"}, 400, "invalid", "email"),
    ({"username": "alice"}, 409, "conflict", None),
    ({"username": "u" * 151}, 422, "validation_error", None),
    ({"email": "e" * 255}, 422, "validation_error", None),
    ({"username": 5}, 422, "validation_error", None),
    ({"username": "b\x00ob"}, 400, "invalid", None),
])
def test_invite_with_bad_input_is_4xx(user_api, team, other_user, body, status, code, field):
    error(user_api.post("accounts/teams/lab-one/invites", json=body), status, code, field=field)
    assert not Invite.objects.exists()


def test_invite_twice_is_409(user_api, bob_invite):
    error(user_api.post("accounts/teams/lab-one/invites", json={"username": "bob"}), 409, "conflict")
    error(user_api.post("accounts/teams/lab-one/invites", json={"email": "BOB@example.org"}), 409, "conflict")
    assert Invite.objects.count() == 1


def test_invite_to_a_personal_team_is_409(user_api, other_user):
    error(user_api.post("accounts/teams/alice/invites", json={"username": "bob"}), 409, "conflict")
    assert not Invite.objects.exists()


def test_non_members_cannot_see_or_invite_to_a_team(other_api, team, bob_invite):
    error(other_api.get("accounts/teams/lab-one/invites"), 404, "not_found")
    error(other_api.post("accounts/teams/lab-one/invites", json={"email": "x@example.org"}), 404, "not_found")
    assert Invite.objects.count() == 1


def test_members_who_are_not_owners_cannot_invite(other_api, bob_member):
    body = page(other_api.get("accounts/teams/lab-one/invites"))
    assert body["items"] == [] and body["count"] == 0
    err = error(other_api.post("accounts/teams/lab-one/invites", json={"email": "x@example.org"}), 403,
                "forbidden")
    assert "owners" in err["message"]
    assert not Invite.objects.filter(state="pending").exists()


def test_admin_may_invite_to_any_team(admin_api, team, other_user):
    body = ok(admin_api.post("accounts/teams/lab-one/invites", json={"username": "bob"}), 201)
    assert body["invited_by"] == "admin" and body["username"] == "bob"
    listed = page(admin_api.get("accounts/teams/lab-one/invites"))
    assert [i["id"] for i in listed["items"]] == [body["id"]]
    assert ok(admin_api.delete(f"accounts/invites/{body['id']}"))["state"] == "cancelled"


def test_admin_manages_roles_of_any_team_but_cannot_leave_a_team_it_is_not_in(admin_api, bob_member):
    body = ok(admin_api.put("accounts/teams/lab-one/members/bob", json={"role": "owner"}))
    assert {(m["username"], m["role"]) for m in body["members"]} == {("alice", "owner"), ("bob", "owner")}
    assert "not a member" in error(admin_api.post("accounts/teams/lab-one/leave"), 404, "not_found")["message"]


def test_invite_by_username_does_not_disclose_the_invitees_email(user_api, team, other_user):
    r = user_api.post("accounts/teams/lab-one/invites", json={"username": "bob"})
    assert r.status_code == 201, r.content
    listed = user_api.get("accounts/teams/lab-one/invites")
    assert "bob@example.org" not in r.content.decode() + listed.content.decode()


def test_invite_by_email_does_not_disclose_which_account_has_the_address(user_api, team, other_user):
    r = user_api.post("accounts/teams/lab-one/invites", json={"email": "bob@example.org"})
    assert r.status_code == 201, r.content
    assert r.json()["username"] is None


def test_invitee_sees_accepts_and_joins(other_api, bob_invite):
    body = page(other_api.get("accounts/invites"))
    assert [(i["id"], i["team"], i["invited_by"]) for i in body["items"]] == [(bob_invite.pk, "lab-one", "alice")]
    team = ok(other_api.post(f"accounts/invites/{bob_invite.pk}/accept"))
    assert {(m["username"], m["role"]) for m in team["members"]} == {("alice", "owner"), ("bob", "member")}
    assert page(other_api.get("accounts/invites"))["items"] == []
    error(other_api.post(f"accounts/invites/{bob_invite.pk}/accept"), 409, "conflict")
    error(other_api.post(f"accounts/invites/{bob_invite.pk}/decline"), 409, "conflict")
    assert ok(other_api.get("accounts/teams/lab-one"))["slug"] == "lab-one"


def test_invitee_declines(other_api, bob_invite):
    body = ok(other_api.post(f"accounts/invites/{bob_invite.pk}/decline"))
    assert body["state"] == "declined" and body["id"] == bob_invite.pk
    assert not Membership.objects.filter(team__slug="lab-one", user__username="bob").exists()
    error(other_api.post(f"accounts/invites/{bob_invite.pk}/accept"), 409, "conflict")


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_others_cannot_answer_an_invite(user_api, admin_api, bob_invite, action):
    stranger = ApiClient(make_token(make_user(username="carol")))
    error(stranger.post(f"accounts/invites/{bob_invite.pk}/{action}"), 404, "not_found")
    # The team's owner and an administrator see the invite, but it is not theirs to answer.
    error(user_api.post(f"accounts/invites/{bob_invite.pk}/{action}"), 404, "not_found")
    error(admin_api.post(f"accounts/invites/{bob_invite.pk}/{action}"), 404, "not_found")
    bob_invite.refresh_from_db()
    assert bob_invite.state == "pending"
    assert Membership.objects.filter(team=bob_invite.team).count() == 1


def test_strangers_do_not_see_other_peoples_invites(bob_invite):
    stranger = ApiClient(make_token(make_user(username="carol")))
    assert page(stranger.get("accounts/invites"))["count"] == 0
    error(stranger.delete(f"accounts/invites/{bob_invite.pk}"), 404, "not_found")


@pytest.mark.parametrize("invite_id", ["0", "-1", "999999", "99999999999999999999"])
@pytest.mark.parametrize("method, suffix", [("post", "/accept"), ("post", "/decline"), ("delete", "")])
def test_unknown_invite_is_404(other_api, method, suffix, invite_id):
    r = getattr(other_api, method)(f"accounts/invites/{invite_id}{suffix}")
    assert invite_id in error(r, 404, "not_found")["message"]


@pytest.mark.parametrize("invite_id", ["abc", "1.5", "%00", "1e3"])
def test_non_integer_invite_id_is_422(other_api, invite_id):
    err = error(other_api.post(f"accounts/invites/{invite_id}/accept"), 422, "validation_error")
    assert err["details"]["errors"][0]["loc"] == ["path", "invite_id"]


def test_owner_withdraws_an_invite(user_api, other_api, bob_invite):
    body = ok(user_api.delete(f"accounts/invites/{bob_invite.pk}"))
    assert body["state"] == "cancelled"
    assert page(other_api.get("accounts/invites"))["count"] == 0
    error(user_api.delete(f"accounts/invites/{bob_invite.pk}"), 409, "conflict")
    error(other_api.post(f"accounts/invites/{bob_invite.pk}/accept"), 409, "conflict")


def test_invitee_cannot_withdraw_an_invite(other_api, bob_invite):
    error(other_api.delete(f"accounts/invites/{bob_invite.pk}"), 403, "forbidden")
    bob_invite.refresh_from_db()
    assert bob_invite.state == "pending"


def test_member_leaves_a_team(other_api, bob_member):
    body = ok(other_api.post("accounts/teams/lab-one/leave"))
    assert body == {"message": "You left 'lab-one'."}
    assert not Membership.objects.filter(team__slug="lab-one", user=bob_member).exists()
    error(other_api.post("accounts/teams/lab-one/leave"), 404, "not_found")


def test_last_owner_cannot_leave_while_others_remain(user_api, bob_member):
    err = error(user_api.post("accounts/teams/lab-one/leave"), 409, "conflict")
    assert "last owner" in err["message"]
    assert Membership.objects.filter(team__slug="lab-one").count() == 2


def test_sole_member_may_leave(user_api, team):
    assert ok(user_api.post("accounts/teams/lab-one/leave"))["message"] == "You left 'lab-one'."
    assert not Membership.objects.filter(team=team).exists()


def test_nobody_leaves_their_personal_team(user_api, user):
    error(user_api.post("accounts/teams/alice/leave"), 409, "conflict")
    assert Membership.objects.filter(team__slug="alice", user=user).exists()


def test_non_member_leaving_is_404(other_api, team):
    error(other_api.post("accounts/teams/lab-one/leave"), 404, "not_found")
    error(other_api.post("accounts/teams/nope/leave"), 404, "not_found")


def test_owner_changes_roles(user_api, bob_member):
    body = ok(user_api.put("accounts/teams/lab-one/members/BOB", json={"role": "owner"}))
    assert {(m["username"], m["role"]) for m in body["members"]} == {("alice", "owner"), ("bob", "owner")}
    # With two owners alice may step down.
    body = ok(user_api.put("accounts/teams/lab-one/members/alice", json={"role": "member"}))
    assert {(m["username"], m["role"]) for m in body["members"]} == {("alice", "member"), ("bob", "owner")}
    error(user_api.put("accounts/teams/lab-one/members/bob", json={"role": "member"}), 403, "forbidden")


def test_last_owner_cannot_step_down(user_api, bob_member):
    assert "last owner" in error(user_api.put("accounts/teams/lab-one/members/alice", json={"role": "member"}),
                                 409, "conflict")["message"]
    assert Membership.objects.get(team__slug="lab-one", user__username="alice").role == "owner"


def test_member_cannot_change_roles(other_api, bob_member):
    err = error(other_api.put("accounts/teams/lab-one/members/bob", json={"role": "owner"}), 403, "forbidden")
    assert "owners" in err["message"]
    assert Membership.objects.get(team__slug="lab-one", user=bob_member).role == "member"


def test_non_member_cannot_change_roles(other_api, team):
    error(other_api.put("accounts/teams/lab-one/members/alice", json={"role": "member"}), 404, "not_found")
    assert Membership.objects.get(team=team).role == "owner"


@pytest.mark.parametrize("body, status, code", [
    ({"role": "admin"}, 422, "validation_error"),
    ({"role": "OWNER"}, 422, "validation_error"),
    ({"role": ""}, 422, "validation_error"),
    ({"role": 1}, 422, "validation_error"),
    ({}, 422, "validation_error"),
    ({"role": "own\x00er"}, 400, "invalid"),
])
def test_role_change_with_bad_input_is_4xx(user_api, bob_member, body, status, code):
    error(user_api.put("accounts/teams/lab-one/members/bob", json=body), status, code)
    assert Membership.objects.get(team__slug="lab-one", user=bob_member).role == "member"


def test_role_change_of_a_non_member_is_404(user_api, team, other_user):
    error(user_api.put("accounts/teams/lab-one/members/bob", json={"role": "owner"}), 404, "not_found")
    error(user_api.put("accounts/teams/lab-one/members/nobody", json={"role": "owner"}), 404, "not_found")


def test_owner_removes_a_member(user_api, other_api, bob_member):
    body = ok(user_api.delete("accounts/teams/lab-one/members/bob"))
    assert body == {"message": "'bob' was removed from 'lab-one'."}
    error(other_api.get("accounts/teams/lab-one"), 404, "not_found")
    error(user_api.delete("accounts/teams/lab-one/members/bob"), 404, "not_found")


def test_owner_cannot_remove_themself(user_api, bob_member):
    assert "leave" in error(user_api.delete("accounts/teams/lab-one/members/alice"), 409, "conflict")["message"]
    assert Membership.objects.filter(team__slug="lab-one").count() == 2


def test_member_cannot_remove_others(other_api, bob_member):
    error(other_api.delete("accounts/teams/lab-one/members/alice"), 403, "forbidden")
    assert Membership.objects.filter(team__slug="lab-one").count() == 2


def test_non_member_cannot_remove_members(other_api, team):
    error(other_api.delete("accounts/teams/lab-one/members/alice"), 404, "not_found")
    assert Membership.objects.filter(team=team).count() == 1


def test_admin_removes_a_member_of_any_team(admin_api, bob_member):
    assert ok(admin_api.delete("accounts/teams/lab-one/members/bob"))["message"].startswith("'bob' was removed")
    assert not Membership.objects.filter(team__slug="lab-one", user=bob_member).exists()


# --------------------------------------------------------------------------- tokens


def test_token_is_shown_once_and_works(user_api, user):
    body = ok(user_api.post("accounts/tokens", json={"name": "laptop", "scope": "read",
                                                     "expires_in_days": 30}), 201)
    raw = body["token"]
    assert raw.startswith(f"dbk_{body['prefix']}_")
    assert (body["name"], body["scope"], body["user"], body["active"]) == ("laptop", "read", "alice", True)
    expires = parse_datetime(body["expires_at"])
    assert timedelta(days=29) < expires - timezone.now() <= timedelta(days=30)
    assert ok(ApiClient(raw).get("accounts/me"))["username"] == "alice"
    listed = user_api.get("accounts/tokens")
    items = page(listed)["items"]
    assert body["prefix"] in [t["prefix"] for t in items]
    assert all("token" not in t for t in items)
    assert raw not in listed.content.decode()
    assert raw.split("_", 2)[2] not in listed.content.decode()
    assert token_row(raw).token_hash != raw


def test_token_list_is_yours_only(user_api, other_api, user, other_user):
    make_token(other_user, name="bobs")
    body = page(user_api.get("accounts/tokens"))
    assert {t["user"] for t in body["items"]} == {"alice"} and body["count"] == 1
    assert "bobs" not in [t["name"] for t in body["items"]]


def test_admin_lists_another_users_tokens(admin_api, user, other_user):
    make_token(other_user, name="bobs")
    body = page(admin_api.get("accounts/tokens?user=bob"))
    assert [(t["user"], t["name"]) for t in body["items"]] == [("bob", "bobs")]
    error(admin_api.get("accounts/tokens?user=nobody"), 404, "not_found")


def test_user_may_not_list_tokens_by_name_even_their_own(user_api):
    error(user_api.get("accounts/tokens?user=alice"), 403, "forbidden")


def test_token_list_paginates(user_api, user):
    for n in range(3):
        make_token(user, name=f"t{n}")
    body = page(user_api.get("accounts/tokens?limit=2&offset=1"))
    assert len(body["items"]) == 2 and (body["count"], body["limit"], body["offset"]) == (4, 2, 1)
    error(user_api.get("accounts/tokens?limit=1000"), 422, "validation_error")


def test_token_with_an_explicit_expiry(user_api):
    body = ok(user_api.post("accounts/tokens", json={"expires_at": "2099-01-01T00:00:00+02:00"}), 201)
    assert parse_datetime(body["expires_at"]) == parse_datetime("2098-12-31T22:00:00Z")


def test_admin_creates_a_token_for_another_user(admin_api, other_user):
    body = ok(admin_api.post("accounts/tokens", json={"user": "BOB", "scope": "read", "name": "for bob"}), 201)
    assert body["user"] == "bob" and body["scope"] == "read"
    assert ok(ApiClient(body["token"]).get("accounts/me"))["username"] == "bob"
    event = AuditEvent.objects.filter(action="token.create").latest("id")
    assert event.actor_username == "admin" and event.data["user"] == "bob"


def test_admin_cannot_give_a_normal_user_an_admin_token(admin_api, other_user):
    error(admin_api.post("accounts/tokens", json={"user": "bob", "scope": "admin"}), 403, "forbidden",
          field="scope")
    assert not ApiToken.objects.filter(user=other_user).exists()


def test_admin_creates_token_for_unknown_user_is_404(admin_api):
    error(admin_api.post("accounts/tokens", json={"user": "nobody"}), 404, "not_found")


def test_user_cannot_create_a_token_for_someone_else(user_api, other_user):
    error(user_api.post("accounts/tokens", json={"user": "bob"}), 403, "forbidden")
    assert not ApiToken.objects.filter(user=other_user).exists()


def test_normal_user_cannot_hold_an_admin_token(user_api, user):
    err = error(user_api.post("accounts/tokens", json={"scope": "admin"}), 403, "forbidden", field="scope")
    assert "admin" in err["message"]
    assert not ApiToken.objects.filter(user=user, scope="admin").exists()


@pytest.mark.parametrize("body, status, code, field", [
    ({"scope": "superuser"}, 422, "validation_error", None),
    ({"scope": "READ"}, 422, "validation_error", None),
    ({"scope": None}, 422, "validation_error", None),
    ({"name": "n" * 101}, 422, "validation_error", None),
    ({"name": ["laptop"]}, 422, "validation_error", None),
    ({"expires_in_days": 0}, 422, "validation_error", None),
    ({"expires_in_days": 3651}, 422, "validation_error", None),
    ({"expires_in_days": "soon"}, 422, "validation_error", None),
    ({"expires_at": "tomorrow"}, 422, "validation_error", None),
    ({"expires_at": "9999-12-31T23:59:59-14:00"}, 422, "validation_error", None),
    ({"expires_at": "2099-01-01T00:00:00"}, 400, "invalid", "expires_at"),
    ({"expires_at": "2000-01-01T00:00:00Z"}, 400, "invalid", "expires_at"),
    ({"name": "bell\x07"}, 400, "invalid", "name"),
    ({"name": "nul\x00"}, 400, "invalid", None),
    ({"user": "u" * 151}, 422, "validation_error", None),
])
def test_token_create_with_bad_input_is_4xx(user_api, user, body, status, code, field):
    before = ApiToken.objects.count()
    error(user_api.post("accounts/tokens", json=body), status, code, field=field)
    assert ApiToken.objects.count() == before


def test_revoke_your_token(user_api, user):
    raw = make_token(user, name="old")
    token_id = token_row(raw).pk
    body = ok(user_api.delete(f"accounts/tokens/{token_id}"))
    assert body["id"] == token_id and body["active"] is False and body["revoked_at"] is not None
    assert "token" not in body
    assert "revoked" in error(ApiClient(raw).get("accounts/me"), 401, "unauthorized")["message"]
    error(user_api.delete(f"accounts/tokens/{token_id}"), 409, "conflict")


def test_a_token_may_revoke_itself(user):
    raw = make_token(user)
    client = ApiClient(raw)
    assert ok(client.delete(f"accounts/tokens/{token_row(raw).pk}"))["active"] is False
    error(client.get("accounts/me"), 401, "unauthorized")


def test_other_user_cannot_revoke_or_see_alices_token(other_api, user):
    raw = make_token(user)
    err = error(other_api.delete(f"accounts/tokens/{token_row(raw).pk}"), 404, "not_found")
    assert "alice" not in err["message"]
    assert token_row(raw).revoked_at is None
    assert ok(ApiClient(raw).get("accounts/me"))["username"] == "alice"


def test_admin_revokes_anyones_token(admin_api, user):
    raw = make_token(user)
    body = ok(admin_api.delete(f"accounts/tokens/{token_row(raw).pk}"))
    assert body["user"] == "alice" and body["active"] is False
    error(ApiClient(raw).get("accounts/me"), 401, "unauthorized")


@pytest.mark.parametrize("token_id, status", [("999999", 404), ("99999999999999999999", 404), ("abc", 422)])
def test_revoke_unknown_or_malformed_token_id(user_api, token_id, status):
    error(user_api.delete(f"accounts/tokens/{token_id}"), status,
          "not_found" if status == 404 else "validation_error")


# --------------------------------------------------------------------------- audit log


def test_admin_reads_the_audit_log_newest_first(admin_api, user, team):  # team: the newest event
    body = page(admin_api.get("accounts/audit"))
    assert body["count"] == AuditEvent.objects.count() and body["count"] >= 3
    ids_ = [e["id"] for e in body["items"]]
    assert ids_ == sorted(ids_, reverse=True)
    first = body["items"][0]
    assert set(first) == {"id", "created_at", "actor", "action", "target_type", "target_id", "target_repr",
                          "ip", "data"}
    assert (first["action"], first["actor"], first["target_type"], first["target_repr"]) == \
        ("team.create", "alice", "team", "Lab One")


def test_audit_filters(admin_api, anon_api, user, team):
    anon_api.post("accounts/login", json={"username": "alice", "password": "wrong"}, REMOTE_ADDR="192.0.2.44")
    body = page(admin_api.get("accounts/audit?action=team."))
    assert [e["action"] for e in body["items"]] == ["team.create"]
    assert {e["actor"] for e in page(admin_api.get("accounts/audit?actor=ALICE"))["items"]} == {"alice"}
    by_ip = page(admin_api.get("accounts/audit?ip=192.0.2.44"))
    assert [(e["action"], e["ip"]) for e in by_ip["items"]] == [("login.failed", "192.0.2.44")]
    assert page(admin_api.get("accounts/audit?ip=2001:db8::1"))["count"] == 0
    teams = page(admin_api.get("accounts/audit?target_type=team"))
    assert {e["target_type"] for e in teams["items"]} == {"team"}
    future = (timezone.now() + timedelta(days=1)).isoformat()
    past = (timezone.now() - timedelta(days=1)).isoformat()
    from urllib.parse import quote

    assert page(admin_api.get(f"accounts/audit?since={quote(future)}"))["count"] == 0
    assert page(admin_api.get(f"accounts/audit?until={quote(past)}"))["count"] == 0
    everything = page(admin_api.get(f"accounts/audit?since={quote(past)}&until={quote(future)}"))
    assert everything["count"] == AuditEvent.objects.count()
    assert page(admin_api.get("accounts/audit?action=nothing.like.this"))["count"] == 0


@pytest.mark.parametrize("query, status, code, field", [
    ("ip=not-an-ip", 400, "invalid", "ip"),
    ("ip=999.1.1.1", 400, "invalid", "ip"),
    ("ip=" + "1" * 5000, 400, "invalid", "ip"),
    ("since=yesterday", 422, "validation_error", None),
    ("until=2024-13-01T00:00:00Z", 422, "validation_error", None),
    ("since=9999-12-31T23:59:59-14:00", 422, "validation_error", None),
    ("since=0001-01-01T00:00:00%2B14:00", 422, "validation_error", None),
    ("action=a%00b", 400, "invalid", None),
    ("actor=a%00b", 400, "invalid", None),
    ("limit=501", 422, "validation_error", None),
    ("offset=-5", 422, "validation_error", None),
])
def test_audit_with_bad_filters_is_4xx(admin_api, query, status, code, field):
    error(admin_api.get(f"accounts/audit?{query}"), status, code, field=field)


def test_audit_with_a_huge_action_filter_is_empty_not_an_error(admin_api):
    body = page(admin_api.get("accounts/audit?action=" + "x" * 10_000))
    assert body["items"] == [] and body["count"] == 0


def test_non_admins_cannot_read_the_audit_log(user_api, other_api, staff_write_api):
    for client in (user_api, other_api, staff_write_api):
        err = error(client.get("accounts/audit?action=login"), 403, "forbidden")
        assert "administrators" in err["message"] or "'admin' scope" in err["message"]


# --------------------------------------------------------------------------- unknown paths and methods


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/accounts/nope", "/api/v1/accounts/me/x",
                                  "/api/v1/accounts/teams/lab-one/nope", "/api/v1/accounts/users/a/b/c/d"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_paths_are_json_404(user_api, method, path):
    err = error(getattr(user_api, method)(path), 404, "not_found")
    assert "No API operation" in err["message"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_api_root_is_a_json_404(user_api, method):
    error(getattr(user_api, method)("/api/v1/"), 404, "not_found")


def test_unknown_api_path_is_404_even_for_anonymous_browser_posts(db):
    r = DjangoClient(enforce_csrf_checks=True).post("/api/v1/nope", {"a": 1})
    error(r, 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("put", "accounts/me", {"GET", "PATCH", "DELETE"}),
    ("post", "accounts/me", {"GET", "PATCH", "DELETE"}),
    ("get", "accounts/login", {"POST"}),
    ("get", "accounts/signup", {"POST"}),
    ("delete", "accounts/teams", {"GET", "POST"}),
    ("patch", "accounts/tokens/1", {"DELETE"}),
    ("get", "accounts/invites/1/accept", {"POST"}),
    ("post", "accounts/users/alice", {"GET", "DELETE"}),
    ("patch", "accounts/teams/lab-one/members/bob", {"PUT", "DELETE"}),
])
def test_wrong_method_is_json_405_with_allow(user_api, method, path, allowed):
    r = getattr(user_api, method)(path)
    err = error(r, 405, "method_not_allowed")
    assert method.upper() in err["message"]
    assert {m.strip() for m in r["Allow"].split(",")} == allowed


def test_audit_dates_with_any_utc_offset_are_read_in_utc(admin_api):
    # ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59): they are converted to UTC first.
    r = admin_api.get("accounts/audit", data={"since": "1724-02-06T01:29:12.2Z", "until": "0287-06-03T18:44:20-16:38"})
    assert r.status_code == 200, r.content
    assert r.json()["count"] == 0
