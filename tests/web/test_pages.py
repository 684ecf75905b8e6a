"""Every accounts page for anonymous, user, other user and staff; each form with good and bad input."""

import pytest
from django.urls import reverse

from databoard.accounts import services
from databoard.accounts.models import ApiToken, AuditEvent, Invite, Membership, Team, User
from tests.factories import PASSWORD, make_user

LOGIN = "/accounts/login/"

USER_PAGES = ["accounts:profile", "accounts:password_change", "accounts:delete", "accounts:teams",
              "accounts:tokens"]
STAFF_PAGES = ["accounts:approvals", "accounts:users_import", "accounts:audit"]
PUBLIC_PAGES = ["web:home", "accounts:signup", "accounts:login", "accounts:password_reset",
                "accounts:password_reset_done", "accounts:password_reset_complete"]


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_render_for_anonymous(client, db, name):
    r = client.get(reverse(name))
    assert r.status_code == 200
    assert b"databoard" in r.content


@pytest.mark.parametrize("name", USER_PAGES + STAFF_PAGES)
def test_private_pages_send_anonymous_to_login(client, db, name):
    r = client.get(reverse(name))
    assert r.status_code == 302 and r["Location"].startswith(LOGIN)


@pytest.mark.parametrize("name", USER_PAGES)
def test_user_pages_render_for_a_user(client, user, name):
    client.force_login(user)
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_staff_pages_are_403_for_a_user_and_200_for_staff(client, user, admin_user, name):
    client.force_login(user)
    r = client.get(reverse(name))
    assert r.status_code == 403
    assert b"Only administrators" in r.content
    client.force_login(admin_user)
    assert client.get(reverse(name)).status_code == 200


def test_unknown_page_is_a_friendly_404(client, db):
    r = client.get("/no/such/page/")
    assert r.status_code == 404 and b"Not found" in r.content


def test_admin_site_for_staff_only(client, user, admin_user):
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    client.force_login(admin_user)
    r = client.get("/admin/accounts/user/")
    assert r.status_code == 200 and b"alice" in r.content
    assert client.get("/admin/accounts/auditevent/").status_code == 200
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403


# --------------------------------------------------------------------------- sign-up and login


def _signup(client, **overrides):
    data = {"username": "dora", "email": "dora@example.org", "first_name": "Dora", "last_name": "E",
            "affiliation": "Lab", "password1": PASSWORD, "password2": PASSWORD, **overrides}
    return client.post(reverse("accounts:signup"), data)


def test_signup_waits_for_approval_and_tells_staff(client, admin_user, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = _signup(client)
    assert r.status_code == 201 and b"must approve your account" in r.content
    user = User.objects.get(username="dora")
    assert user.approval == "pending" and user.check_password(PASSWORD)
    assert any("waiting for approval" in m.subject for m in outbox)
    assert Team.objects.filter(slug="dora", is_personal=True).exists()


def test_signup_without_approval_can_log_in_at_once(client, db, override_config):
    override_config(require_approval=False)
    r = _signup(client)
    assert r.status_code == 201 and b"Log in" in r.content
    assert User.objects.get(username="dora").is_approved


@pytest.mark.parametrize("overrides, status, fragment", [
    ({"password1": "123", "password2": "123"}, 400, b"Password is too weak"),
    ({"password2": "something-else-123"}, 400, b"The two passwords differ"),
    ({"email": "not-an-email"}, 400, b"valid email"),
    ({"username": "bad name!"}, 400, b"is not valid"),
    ({"username": "x" * 200}, 400, b"at most 150"),
    ({"username": "alice"}, 409, b"already taken"),
    ({"email": "ALICE@example.org"}, 409, b"already exists"),
    ({"first_name": "a\x01b"}, 400, b"control characters"),
])
def test_signup_bad_input_is_refused_and_writes_nothing(client, user, overrides, status, fragment):
    before = User.objects.count()
    r = _signup(client, **overrides)
    assert r.status_code == status
    assert fragment in r.content
    assert User.objects.count() == before


def test_login_logout_and_safe_next(client, user):
    r = client.post(LOGIN, {"username": "alice", "password": PASSWORD, "next": "/accounts/teams/"})
    assert r.status_code == 302 and r["Location"] == "/accounts/teams/"
    assert AuditEvent.objects.filter(action="login.ok", actor=user).exists()
    r = client.post(reverse("accounts:logout"))
    assert r.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example.org/", "//evil.example.org", "javascript:alert(1)"])
def test_login_ignores_unsafe_next(client, user, target):
    r = client.post(LOGIN, {"username": "alice", "password": PASSWORD, "next": target})
    assert r.status_code == 302 and r["Location"] == "/"


def test_logout_needs_post(client, user):
    client.force_login(user)
    assert client.get(reverse("accounts:logout")).status_code == 405


@pytest.mark.parametrize("approval, reason, fragment", [
    ("pending", "", b"waiting for an administrator"),
    ("rejected", "Not in this class", b"Not in this class"),
])
def test_login_says_why_it_is_refused(client, db, approval, reason, fragment):
    make_user(username="pat", approved=False)
    User.objects.filter(username="pat").update(approval=approval, approval_reason=reason)
    r = client.post(LOGIN, {"username": "pat", "password": PASSWORD})
    assert r.status_code == 403 and fragment in r.content
    assert "_auth_user_id" not in client.session


def test_wrong_password_is_401_and_audited(client, user):
    r = client.post(LOGIN, {"username": "alice", "password": "nope"})
    assert r.status_code == 401 and b"not correct" in r.content
    assert AuditEvent.objects.filter(action="login.failed", actor_username="alice").count() == 1


def test_ten_failures_a_minute_are_throttled(client, user):
    for _ in range(10):
        client.post(LOGIN, {"username": "alice", "password": "nope"})
    r = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert r.status_code == 429 and b"wait a minute" in r.content
    assert "_auth_user_id" not in client.session


def test_empty_login_form_is_400(client, db):
    assert client.post(LOGIN, {}).status_code == 400


def test_email_verification_flow(client, db, override_config, outbox, django_capture_on_commit_callbacks):
    override_config(require_email_verification=True, require_approval=False)
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client)
    r = client.post(LOGIN, {"username": "dora", "password": PASSWORD})
    assert r.status_code == 403 and b"Verify your email" in r.content
    link = next(line for m in outbox for line in m.body.splitlines() if "/accounts/verify/" in line)
    r = client.get(link[link.index("/accounts/verify/"):])
    assert r.status_code == 302
    assert User.objects.get(username="dora").email_verified_at is not None
    assert client.post(LOGIN, {"username": "dora", "password": PASSWORD}).status_code == 302


def test_bad_verification_link_is_400(client, db):
    r = client.get("/accounts/verify/garbage/")
    assert r.status_code == 400 and b"not valid" in r.content


# --------------------------------------------------------------------------- passwords and profile


def test_password_change(client, user):
    client.force_login(user)
    url = reverse("accounts:password_change")
    r = client.post(url, {"old_password": "wrong", "new_password1": "A-new-password-9", "new_password2": "A-new-password-9"})
    assert r.status_code == 400 and b"not correct" in r.content
    r = client.post(url, {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"})
    assert r.status_code == 400 and b"too weak" in r.content
    r = client.post(url, {"old_password": PASSWORD, "new_password1": "A-new-password-9", "new_password2": "A-new-password-9"})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.check_password("A-new-password-9")
    assert client.get(reverse("accounts:profile")).status_code == 200  # still signed in


def test_password_reset_by_email(client, user, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("accounts:password_reset"), {"email": "alice@example.org"})
    assert r.status_code == 302
    body = outbox[-1].body
    path = next(line for line in body.splitlines() if "/accounts/password/reset/" in line)
    path = path[path.index("/accounts/"):]
    r = client.get(path, follow=True)
    assert b"Choose a new password" in r.content
    r = client.post(r.redirect_chain[-1][0], {"new_password1": "Reset-pass-word-7", "new_password2": "Reset-pass-word-7"})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Reset-pass-word-7")


def test_password_reset_for_unknown_email_looks_the_same(client, db, outbox):
    r = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.org"})
    assert r.status_code == 302 and outbox == []
    assert client.post(reverse("accounts:password_reset"), {"email": "bad"}).status_code == 400


def test_bad_reset_link_says_so(client, db):
    r = client.get("/accounts/password/reset/MQ/bad-token/")
    assert r.status_code == 200 and b"cannot be used" in r.content


def test_profile_update_and_duplicate_email(client, user, other_user):
    client.force_login(user)
    url = reverse("accounts:profile")
    r = client.post(url, {"first_name": "Al", "last_name": "Ice", "affiliation": "Uni", "email": "bob@example.org"})
    assert r.status_code == 409 and b"already exists" in r.content
    r = client.post(url, {"first_name": "Al", "last_name": "Ice", "affiliation": "Uni", "email": "al@example.org"})
    assert r.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.email) == ("Al", "al@example.org")


def test_account_deletion_needs_the_password(client, user):
    client.force_login(user)
    url = reverse("accounts:delete")
    r = client.post(url, {"password": "wrong"})
    assert r.status_code == 400 and b"not correct" in r.content
    assert not User.objects.get(pk=user.pk).is_deleted
    r = client.post(url, {"password": PASSWORD})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.is_deleted and user.username == f"deleted-user-{user.pk}" and user.email is None
    assert "_auth_user_id" not in client.session


# --------------------------------------------------------------------------- teams


def test_team_create_invite_accept_and_roles(client, user, other_user):
    client.force_login(user)
    r = client.post(reverse("accounts:teams"), {"name": "Blue Whales"})
    assert r.status_code == 302
    team = Team.objects.get(slug="blue-whales")
    detail = reverse("accounts:team_detail", args=[team.slug])
    assert client.post(detail, {"action": "invite", "who": "bob"}).status_code == 302
    r = client.post(detail, {"action": "invite", "who": "bob"})
    assert r.status_code == 409 and b"pending invite" in r.content
    invite = Invite.objects.get(team=team, user=other_user)

    client.force_login(other_user)
    r = client.get(reverse("accounts:teams"))
    assert b"Blue Whales" in r.content and b"Accept" in r.content
    assert client.get(reverse("accounts:invite_answer", args=[invite.pk, "accept"])).status_code == 405
    assert client.post(reverse("accounts:invite_answer", args=[invite.pk, "accept"])).status_code == 302
    assert Membership.objects.filter(team=team, user=other_user, role="member").exists()
    r = client.post(detail, {"action": "remove", "username": "alice"})
    assert r.status_code == 403  # a member cannot remove the owner

    client.force_login(user)
    assert client.post(detail, {"action": "make_owner", "username": "bob"}).status_code == 302
    assert Membership.objects.get(team=team, user=other_user).role == "owner"
    assert client.post(detail, {"action": "leave"}).status_code == 302
    assert not Membership.objects.filter(team=team, user=user).exists()


def test_team_pages_of_others_are_404(client, user, other_user):
    team = services.team_create(name="Secret", owner=other_user)
    client.force_login(user)
    r = client.get(reverse("accounts:team_detail", args=[team.slug]))
    assert r.status_code == 404
    r = client.post(reverse("accounts:team_detail", args=[team.slug]), {"action": "leave"})
    assert r.status_code == 404
    assert Membership.objects.filter(team=team).count() == 1


@pytest.mark.parametrize("post, status", [
    ({"action": "bogus"}, 400),
    ({"action": "invite", "who": ""}, 400),
    ({"action": "invite", "who": "ghost"}, 404),
    ({"action": "cancel_invite", "invite_id": "abc"}, 400),
    ({"action": "remove", "username": "ghost"}, 404),
])
def test_team_actions_with_garbage(client, user, post, status):
    team = services.team_create(name="Garbage", owner=user)
    client.force_login(user)
    r = client.post(reverse("accounts:team_detail", args=[team.slug]), post)
    assert r.status_code == status
    assert Membership.objects.filter(team=team).count() == 1 and not Invite.objects.exists()


def test_team_create_with_a_taken_or_empty_name(client, user):
    client.force_login(user)
    assert client.post(reverse("accounts:teams"), {"name": "alice"}).status_code == 409
    assert client.post(reverse("accounts:teams"), {"name": "!!!"}).status_code == 400
    assert Team.objects.filter(is_personal=False).count() == 0


# --------------------------------------------------------------------------- tokens


def test_token_is_shown_once(client, user):
    client.force_login(user)
    r = client.post(reverse("accounts:tokens"), {"name": "ci", "scope": "write", "expires_in_days": "30"})
    assert r.status_code == 302
    page = client.get(reverse("accounts:tokens")).content.decode()
    token = page.split('data-testid="new-token">')[1].split("<")[0]
    assert token.startswith("dbk_")
    assert services.token_authenticate(token).user == user
    again = client.get(reverse("accounts:tokens")).content.decode()
    assert token not in again and "new-token" not in again


def test_token_admin_scope_is_not_offered_to_users(client, user):
    client.force_login(user)
    r = client.post(reverse("accounts:tokens"), {"name": "x", "scope": "admin"})
    assert r.status_code == 400
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("days", ["0", "-3", "99999", "abc"])
def test_token_bad_expiry_is_400(client, user, days):
    client.force_login(user)
    assert client.post(reverse("accounts:tokens"), {"scope": "read", "expires_in_days": days}).status_code == 400
    assert not ApiToken.objects.exists()


def test_token_revoke_confirms_and_only_for_the_owner(client, user, other_user):
    token, _ = services.token_create(user=user, actor=user)
    url = reverse("accounts:token_revoke", args=[token.pk])
    client.force_login(other_user)
    assert client.post(url).status_code == 404
    client.force_login(user)
    r = client.get(url)
    assert r.status_code == 200 and b"cannot be undone" in r.content
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert client.post(url).status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.post(url).status_code == 409


# --------------------------------------------------------------------------- staff pages


def test_approve_and_reject(client, admin_user, outbox, django_capture_on_commit_callbacks):
    make_user(username="pat", approved=False)
    make_user(username="sam", approved=False)
    client.force_login(admin_user)
    url = reverse("accounts:approvals")
    page = client.get(url).content
    assert b"pat" in page and b"sam" in page
    assert client.post(url, {"username": "pat", "action": "approve"}).status_code == 302
    r = client.post(url, {"username": "sam", "action": "reject", "reason": ""})
    assert r.status_code == 400 and b"Give a reason" in r.content
    assert User.objects.get(username="sam").approval == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"username": "sam", "action": "reject", "reason": "Unknown person"}).status_code == 302
    assert User.objects.get(username="pat").is_approved
    assert User.objects.get(username="sam").approval_reason == "Unknown person"
    assert any("Unknown person" in m.body for m in outbox)
    assert client.post(url, {"username": "ghost", "action": "approve"}).status_code == 404
    assert client.post(url, {"username": "pat", "action": "approve"}).status_code == 409


def _upload(client, content: bytes, name="users.csv", **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("accounts:users_import"), {"file": SimpleUploadedFile(name, content), **extra})


def test_csv_import_good_file(client, admin_user):
    client.force_login(admin_user)
    r = _upload(client, b"username,email,team\nkim,kim@example.org,Owls\nlee,lee@example.org,Owls\n")
    assert r.status_code == 201 and b"2 users created" in r.content and b"data:text/csv" in r.content
    assert set(Team.objects.get(slug="owls").members.values_list("username", flat=True)) == {"kim", "lee"}


def test_csv_import_send_emails_hides_passwords(client, admin_user, outbox, django_capture_on_commit_callbacks):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        r = _upload(client, b"username,email\nkim,kim@example.org\n", send_emails="on")
    assert r.status_code == 201 and b"(emailed)" in r.content
    assert [m.to for m in outbox if "your account" in m.subject] == [["kim@example.org"]]


@pytest.mark.parametrize("content, fragment", [
    (b"username,email\nkim,kim@example.org\nkim,k2@example.org\n", b"also appears on line 2"),
    (b"username,email\nkim,not-an-email\n", b"not a valid email"),
    (b"user,mail\nkim,kim@example.org\n", b"missing column"),
    (b"\xff\xfe\x00binary\x00", b"not UTF-8"),
    (b"", b"is empty"),
    (b"username,email\n", b"no rows"),
    (b"username,email\nadmin,x@example.org\n", b"already taken"),
])
def test_csv_import_bad_files_write_nothing(client, admin_user, content, fragment):
    client.force_login(admin_user)
    before = User.objects.count()
    r = _upload(client, content)
    assert r.status_code == 400
    assert fragment.lower() in r.content.lower()  # bad rows are listed capitalized
    assert User.objects.count() == before


def test_csv_import_huge_file_is_413(client, admin_user):
    client.force_login(admin_user)
    r = _upload(client, b"username,email\n" + b"x" * (6 * 1024 * 1024))
    assert r.status_code == 413
    assert User.objects.count() == 1


def test_request_over_the_upload_limit_is_413_before_reading(client, admin_user, override_config):
    override_config(max_upload_bytes=1000)
    client.force_login(admin_user)
    r = _upload(client, b"username,email\n" + b"x" * 5000)
    assert r.status_code == 413 and b"limit" in r.content


def test_audit_filters(client, admin_user, user):
    client.post(LOGIN, {"username": "alice", "password": "wrong"})
    client.force_login(admin_user)
    url = reverse("accounts:audit")
    r = client.get(url, {"action": "login.failed"})
    assert r.status_code == 200 and b"login.failed" in r.content and b"user.create" not in r.content
    r = client.get(url, {"ip": "not-an-ip"})
    assert r.status_code == 400 and b"valid" in r.content
    r = client.get(url, {"since": "garbage"})
    assert r.status_code == 400


def test_audit_is_paginated(client, admin_user):
    for n in range(60):
        services.audit_record(action="test.event", actor=admin_user, n=n)
    client.force_login(admin_user)
    r = client.get(reverse("accounts:audit"), {"action": "test.event"})
    assert b"Page 1 of 2" in r.content
    r = client.get(reverse("accounts:audit"), {"action": "test.event", "page": "2"})
    assert r.content.count(b"test.event") >= 10
    assert client.get(reverse("accounts:audit"), {"page": "999"}).status_code == 200


def test_session_of_a_deleted_user_ends(client, user, admin_user):
    client.force_login(user)
    services.user_delete(user=User.objects.get(pk=user.pk), actor=admin_user)
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_forms_carry_csrf(client, db):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    r = strict.post(LOGIN, {"username": "x", "password": "y"})
    assert r.status_code == 403
    assert not AuditEvent.objects.filter(action="login.failed").exists()


def test_django_admin_links_to_csv_import_and_records_admin_actions(client, admin_user, user):
    client.force_login(admin_user)
    r = client.get("/admin/accounts/user/")
    assert reverse("accounts:users_import").encode() in r.content
    r = client.post(f"/admin/accounts/team/{Team.objects.get(slug='alice').pk}/change/", {
        "name": "Alice's team", "slug": "alice", "is_personal": "on", "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00", "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000"})
    assert r.status_code == 302, r.content[:2000]
    event = AuditEvent.objects.get(action="admin.change")
    assert event.actor == admin_user and event.target_type == "team" and event.target_repr == "Alice's team"


# --------------------------------------------------------------------------- progressive enhancement and details


def test_inline_revoke_with_htmx_answers_the_row(client, user):
    token, _ = services.token_create(user=user, actor=user, name="ci")
    client.force_login(user)
    page = client.get(reverse("accounts:tokens")).content.decode()
    url = reverse("accounts:token_revoke", args=[token.pk])
    assert f'href="{url}"' in page and f'hx-post="{url}"' in page and "hx-confirm=" in page  # works without JS too
    r = client.post(url, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert r.content.decode().lstrip().startswith(f'<tr id="token-{token.pk}">') and b"revoked" in r.content
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_inline_revoke_of_another_users_token_is_404_and_reloads_the_list(client, user, other_user):
    token, _ = services.token_create(user=other_user, actor=other_user)
    client.force_login(user)
    r = client.post(reverse("accounts:token_revoke", args=[token.pk]), HTTP_HX_REQUEST="true")
    assert r.status_code == 404 and r["HX-Redirect"] == reverse("accounts:tokens")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert b"No API token" in client.get(reverse("accounts:tokens")).content  # the message waits there


def test_invite_refusal_is_shown_next_to_the_field(client, user):
    team = services.team_create(name="Owls", owner=user)
    client.force_login(user)
    r = client.post(reverse("accounts:team_detail", args=[team.slug]), {"action": "invite", "who": "ghost"})
    assert r.status_code == 404
    html = r.content.decode()
    assert 'id="id_who_error"' in html and "No user named &#x27;ghost&#x27;" in html
    assert 'value="ghost"' in html  # what was typed stays
    assert not Invite.objects.exists()


def test_invite_by_email(client, user):
    team = services.team_create(name="Owls", owner=user)
    client.force_login(user)
    r = client.post(reverse("accounts:team_detail", args=[team.slug]), {"action": "invite", "who": "New@Example.org"})
    assert r.status_code == 302
    assert Invite.objects.get(team=team).email == "new@example.org"


def test_reject_without_reason_marks_that_row(client, admin_user):
    make_user(username="pat", approved=False)
    client.force_login(admin_user)
    r = client.post(reverse("accounts:approvals"), {"username": "pat", "action": "reject", "reason": "  "})
    assert r.status_code == 400
    html = r.content.decode()
    row = html[html.index('id="pending-pat"'):]
    assert 'aria-invalid="true"' in row[:2000] and "Give a reason" in row[:3000]


def test_password_reset_email_comes_from_the_templates(client, user, anon_api, outbox,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": "alice@example.org"})
        anon_api.post("accounts/password-reset", json={"email": "alice@example.org"})
    assert [m.subject for m in outbox] == ["databoard: reset the password of alice"] * 2  # web and API alike
    for message in outbox:
        assert "Hello Alice," in message.body and "/accounts/password/reset/" in message.body
        assert "&#x27;" not in message.body  # plain text, not HTML-escaped


def test_password_reset_through_the_link_is_audited(client, user, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": "alice@example.org"})
    link = next(line for line in outbox[-1].body.splitlines() if "/accounts/password/reset/" in line)
    r = client.get(link[link.index("/accounts/"):], follow=True)
    form_url = r.redirect_chain[-1][0]
    r = client.post(form_url, {"new_password1": "123", "new_password2": "123"})
    assert r.status_code == 400 and b"too short" in r.content
    assert client.post(form_url, {"new_password1": "Reset-pass-word-7", "new_password2": "Reset-pass-word-7"}
                       ).status_code == 302
    assert AuditEvent.objects.filter(action="user.password_set", target_id=str(user.pk)).exists()


def test_login_page_keeps_only_a_safe_next(client, db):
    assert b'name="next" value="/accounts/teams/"' in client.get(LOGIN, {"next": "/accounts/teams/"}).content
    assert b'name="next"' not in client.get(LOGIN, {"next": "https://evil.example.org/"}).content


def test_private_page_sends_to_login_and_back(client, user):
    r = client.get(reverse("accounts:tokens"))
    assert r["Location"] == f"{LOGIN}?next=/accounts/tokens/"
    r = client.post(r["Location"], {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/accounts/tokens/"


def test_signup_page_sends_signed_in_users_home(client, user):
    client.force_login(user)
    r = client.get(reverse("accounts:signup"))
    assert r.status_code == 302 and r["Location"] == "/"


def test_teams_page_shows_my_role(client, user, other_user):
    team = services.team_create(name="Owls", owner=other_user)
    services.invite_accept(invite=services.team_invite(team=team, actor=other_user, username="alice"), user=user)
    client.force_login(user)
    html = client.get(reverse("accounts:teams")).content.decode()
    owls = html[html.index("/accounts/teams/owls/"):]
    assert '<span class="badge">member</span>' in owls[:600]
