"""In Chromium: sign up → admin approves → log in → create a token → shown once → the API accepts it."""

import httpx
import pytest

from databoard.accounts.models import ApiToken, AuditEvent, User
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_selector(f"text=Signed in as {username}")


def test_signup_approval_login_token_and_api(live_server, page_factory, shot):
    make_user(username="root", is_superuser=True, email="root@example.org")
    base = live_server.url
    visitor = page_factory()
    visitor.goto(base + "/")
    shot(visitor, "home")

    visitor.click("text=Sign up")
    visitor.fill("input[name=username]", "dora")
    visitor.fill("input[name=email]", "dora@example.org")
    visitor.fill("input[name=first_name]", "Dora")
    visitor.fill("input[name=last_name]", "Explorer")
    visitor.fill("input[name=affiliation]", "Map Lab")
    visitor.fill("input[name=password1]", "short")
    visitor.fill("input[name=password2]", "short")
    visitor.click("button:has-text('Sign up')")
    assert "Password is too weak" in visitor.inner_text("main")
    assert not User.objects.filter(username="dora").exists()
    visitor.fill("input[name=password1]", PASSWORD)
    visitor.fill("input[name=password2]", PASSWORD)
    shot(visitor, "signup")
    visitor.click("button:has-text('Sign up')")
    visitor.wait_for_selector("text=must approve your account")

    # Not approved yet: the login says so.
    visitor.goto(base + "/accounts/login/")
    visitor.fill("input[name=username]", "dora")
    visitor.fill("input[name=password]", PASSWORD)
    visitor.click("button:has-text('Log in')")
    assert "waiting for an administrator's approval" in visitor.inner_text("main")
    shot(visitor, "login")

    admin = page_factory()
    _login(admin, base, "root", PASSWORD)
    shot(admin, "home-admin")
    admin.click("nav >> text=Approvals")
    assert "dora" in admin.inner_text("main")
    shot(admin, "approvals")
    admin.click("tr:has-text('dora') >> button:has-text('Approve')")
    admin.wait_for_selector("text=dora is approved")
    assert User.objects.get(username="dora").is_approved

    _login(visitor, base, "dora", PASSWORD)
    visitor.click("nav >> text=Profile")
    shot(visitor, "profile")
    visitor.click("nav >> text=Tokens")
    visitor.fill("input[name=name]", "laptop")
    visitor.select_option("select[name=scope]", "read")
    visitor.click("button:has-text('Create token')")
    token = visitor.inner_text("[data-testid=new-token]").strip()
    assert token.startswith("dbk_")
    shot(visitor, "tokens-new")
    stored = ApiToken.objects.get(user__username="dora")
    assert stored.token_hash != token and token not in stored.token_hash

    visitor.reload()
    assert visitor.locator("[data-testid=new-token]").count() == 0
    assert token not in visitor.content()
    assert stored.prefix in visitor.inner_text("main")

    r = httpx.get(f"{base}/api/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["username"] == "dora"
    r = httpx.post(f"{base}/api/v1/accounts/teams", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403  # a read token cannot write

    # Inline revoke (htmx): the browser asks first, then only the row changes.
    questions = []
    visitor.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    visitor.click(f"#token-{stored.pk} >> text=Revoke…")
    visitor.wait_for_selector(f"#token-{stored.pk} >> text=revoked")
    assert questions and stored.prefix in questions[0]
    assert visitor.url.endswith("/accounts/tokens/")  # no page change
    stored.refresh_from_db()
    assert stored.revoked_at is not None
    r = httpx.get(f"{base}/api/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401

    admin.click("nav >> text=Audit log")
    shot(admin, "audit")
    admin.fill("input[name=action]", "token")
    admin.click("button:has-text('Filter')")
    assert "token.create" in admin.inner_text("main")
    assert AuditEvent.objects.filter(action="user.approve", actor__username="root").exists()


def test_teams_invite_and_accept_in_the_browser(live_server, page_factory, shot):
    make_user(username="ann", first_name="Ann", last_name="Avery")
    make_user(username="ben", first_name="Ben", last_name="Brown")
    base = live_server.url
    ann = page_factory()
    _login(ann, base, "ann", PASSWORD)
    ann.click("nav >> text=Teams")
    ann.fill("input[name=name]", "Red Pandas")
    ann.click("button:has-text('Create team')")
    ann.wait_for_selector("h1:has-text('Red Pandas')")
    ann.fill("input[name=who]", "nobody-here")
    ann.click("button:has-text('Send invitation')")
    assert "No user named 'nobody-here'" in ann.inner_text("#id_who_error")  # next to the field
    ann.fill("input[name=who]", "ben")
    ann.click("button:has-text('Send invitation')")
    ann.wait_for_selector("text=Invited ben")
    ann.fill("input[name=who]", "carol@example.org")
    ann.click("button:has-text('Send invitation')")
    ann.wait_for_selector("text=Invited carol@example.org")

    ben = page_factory()
    _login(ben, base, "ben", PASSWORD)
    ben.click("nav >> text=Teams")
    shot(ben, "teams")
    ben.click("tr:has-text('Red Pandas') >> button:has-text('Accept')")
    ben.wait_for_selector("text=You joined 'Red Pandas'")
    assert set(User.objects.filter(teams__slug="red-pandas").values_list("username", flat=True)) == {"ann", "ben"}

    ann.reload()
    assert "Ben Brown" in ann.inner_text("main")
    shot(ann, "team-detail")
    # Destructive actions ask first; dismissing the question changes nothing.
    ann.once("dialog", lambda dialog: dialog.dismiss())
    ann.click("tr:has-text('Ben Brown') >> button:has-text('Remove')")
    assert User.objects.filter(teams__slug="red-pandas", username="ben").exists()
    ann.once("dialog", lambda dialog: dialog.accept())
    ann.click("tr:has-text('Ben Brown') >> button:has-text('Remove')")
    ann.wait_for_selector("text=ben was removed")
    assert not User.objects.filter(teams__slug="red-pandas", username="ben").exists()


def test_csv_import_page_lists_bad_rows(live_server, page_factory, shot, tmp_path):
    make_user(username="root", is_superuser=True)
    page = page_factory()
    _login(page, live_server.url, "root", PASSWORD)
    page.click("nav >> text=Import users")
    bad = tmp_path / "users.csv"
    bad.write_text("username,email,team\nkim,kim@example.org,Owls\nkim,kim2@example.org,Owls\nlee,nope,Owls\n")
    page.set_input_files("input[name=file]", str(bad))
    page.click("button:has-text('Import')")
    text = page.inner_text("main")
    assert "2 bad rows; nothing was imported" in text and "also appears on line 2" in text
    shot(page, "users-import-errors")
    assert not User.objects.filter(username__in=["kim", "lee"]).exists()
    good = tmp_path / "good.csv"
    good.write_text("username,email,team\nkim,kim@example.org,Owls\nlee,lee@example.org,Owls\n")
    page.set_input_files("input[name=file]", str(good))
    page.click("button:has-text('Import')")
    page.wait_for_selector("text=2 users created")
    shot(page, "users-import")
    assert User.objects.filter(username__in=["kim", "lee"], approval="approved").count() == 2
