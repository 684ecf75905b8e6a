"""The Django admin at /admin: staff only, and its writes go through the services."""

import pytest

from databoard.accounts import services
from databoard.accounts.models import ApiToken, AuditEvent, Team, User
from tests.factories import make_user

ADD_USER = "/admin/accounts/user/add/"
NEW_PASSWORD = "Admin-made-pass-42"


def _add_user(client, **overrides):
    data = {"username": "kim", "email": "kim@example.org", "first_name": "Kim", "last_name": "Lee",
            "affiliation": "Lab", "usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
            **overrides}
    return client.post(ADD_USER, data)


@pytest.mark.parametrize("path", ["/admin/", "/admin/accounts/user/", "/admin/accounts/team/",
                                  "/admin/accounts/invite/", "/admin/accounts/apitoken/",
                                  "/admin/accounts/auditevent/", ADD_USER])
def test_admin_pages_for_staff_only(client, user, admin_user, path):
    client.force_login(user)
    r = client.get(path)
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    client.force_login(admin_user)
    assert client.get(path).status_code == 200


def test_admin_user_change_page_shows_databoard_fields(client, admin_user, user):
    client.force_login(admin_user)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/").content
    assert b"Affiliation" in page and b"Approval" in page
    assert b"?approval__exact=pending" in client.get("/admin/accounts/user/").content  # list filter


def test_admin_adds_a_user_through_the_service(client, admin_user):
    client.force_login(admin_user)
    r = _add_user(client)
    assert r.status_code == 302, r.content[:3000]
    kim = User.objects.get(username="kim")
    assert kim.is_approved and kim.email == "kim@example.org" and kim.check_password(NEW_PASSWORD)
    assert Team.objects.filter(slug="kim", is_personal=True, memberships__user=kim).exists()
    assert AuditEvent.objects.filter(action="user.create", actor=admin_user, target_id=str(kim.pk)).exists()


@pytest.mark.parametrize("overrides, fragment", [
    ({"username": "bad name!"}, b"is not valid"),
    ({"email": ""}, b"not a valid email"),
    ({"email": "ALICE@example.org"}, b"already exists"),
    ({"password1": "123", "password2": "123"}, b"too short"),
])
def test_admin_add_user_with_bad_input_writes_nothing(client, admin_user, user, overrides, fragment):
    client.force_login(admin_user)
    users, teams, events = User.objects.count(), Team.objects.count(), AuditEvent.objects.count()
    r = _add_user(client, **overrides)
    assert r.status_code == 200 and fragment in r.content
    assert (User.objects.count(), Team.objects.count(), AuditEvent.objects.count()) == (users, teams, events)


def test_admin_approve_action_emails_the_user(client, admin_user, outbox, django_capture_on_commit_callbacks):
    pat = make_user(username="pat", approved=False)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/admin/accounts/user/", {"action": "approve_users", "_selected_action": [pat.pk]})
    assert r.status_code == 302
    assert User.objects.get(pk=pat.pk).is_approved
    assert [m.to for m in outbox if "approved" in m.subject] == [["pat@example.org"]]


def test_admin_cannot_hard_delete_users_but_the_action_keeps_results(client, admin_user, user):
    client.force_login(admin_user)
    assert client.get(f"/admin/accounts/user/{user.pk}/delete/").status_code == 403
    r = client.post("/admin/accounts/user/", {"action": "delete_accounts", "_selected_action": [user.pk]})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.is_deleted and user.username == f"deleted-user-{user.pk}"


def test_admin_tokens_are_read_only_and_revoked_through_the_service(client, admin_user, user):
    token, _ = services.token_create(user=user, actor=user)
    client.force_login(admin_user)
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
    page = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content
    assert b'name="token_hash"' not in page and b'name="revoked_at' not in page
    r = client.post("/admin/accounts/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]})
    assert r.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke", actor=admin_user).exists()


def test_admin_audit_log_is_read_only(client, admin_user):
    client.force_login(admin_user)
    event = AuditEvent.objects.first()
    page = client.get(f"/admin/accounts/auditevent/{event.pk}/change/").content
    assert b'name="_save"' not in page
    assert client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
