"""The page shell: navigation for each kind of visitor, the home page, error pages, static files."""

import pytest
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.urls import reverse

from databoard.accounts import services
from tests.factories import make_user

STAFF_LINKS = [b'href="/accounts/admin/approvals/"', b'href="/accounts/admin/users/import/"',
               b'href="/accounts/admin/audit/"', b'href="/admin/"', b'href="/api/v1/docs"']


def test_anonymous_navigation_offers_sign_up_and_log_in(client, db):
    page = client.get("/").content
    assert b'href="/accounts/signup/"' in page and b'href="/accounts/login/"' in page
    assert b'href="/accounts/tokens/"' not in page and b"Log out" not in page


def test_user_navigation_has_no_staff_links(client, user):
    client.force_login(user)
    page = client.get("/").content
    assert b"Signed in as" in page and b"alice" in page
    assert b'action="/accounts/logout/"' in page and b"csrfmiddlewaretoken" in page  # log out is a POST form
    for link in (b'href="/accounts/teams/"', b'href="/accounts/tokens/"', b'href="/accounts/profile/"'):
        assert link in page
    assert b'href="/accounts/admin/approvals/"' not in page and b'href="/admin/"' not in page


def test_staff_navigation_and_home_summary(client, admin_user):
    make_user(username="pat", approved=False)
    client.force_login(admin_user)
    page = client.get("/").content
    for link in STAFF_LINKS:
        assert link in page
    assert b'<span class="stat">1</span>' in page  # one sign-up waiting


def test_current_page_is_marked_in_the_navigation(client, user):
    client.force_login(user)
    page = client.get(reverse("accounts:tokens")).content.decode()
    assert '<a href="/accounts/tokens/" class="active" aria-current="page">Tokens</a>' in page


def test_home_counts_invitations_waiting(client, user, other_user):
    team = services.team_create(name="Owls", owner=other_user)
    services.team_invite(team=team, actor=other_user, username="alice")
    client.force_login(user)
    assert b"1 invitation waiting" in client.get("/").content


def test_messages_are_shown_once(client, user):
    client.force_login(user)
    client.post(reverse("accounts:teams"), {"name": "Owls"})
    assert b"Team &#x27;Owls&#x27; created" in client.get("/").content
    assert b"created" not in client.get(reverse("accounts:profile")).content


def test_404_page_has_the_shell(client, user):
    client.force_login(user)
    r = client.get("/nowhere/")
    assert r.status_code == 404
    assert b"Not found" in r.content and b"Signed in as" in r.content and b"Home page" in r.content


def test_403_page_says_why(client, user):
    client.force_login(user)
    r = client.get(reverse("accounts:audit"))
    assert r.status_code == 403 and b"Not allowed" in r.content and b"Only administrators" in r.content


def test_500_page_renders_without_a_request():
    html = render_to_string("500.html")
    assert "Something went wrong" in html and "/static/databoard/databoard.css" in html


def test_error_page_for_a_domain_error_keeps_its_status(client, user):
    client.force_login(user)
    r = client.get("/accounts/verify/garbage/")
    assert r.status_code == 400 and b"Cannot do that" in r.content and b"not valid" in r.content


@pytest.mark.parametrize("path", ["databoard/databoard.css", "databoard/databoard.js",
                                  "databoard/vendor/htmx.min.js", "databoard/vendor/htmx.LICENSE"])
def test_static_files_are_vendored(path):
    assert finders.find(path), f"{path} is missing from web/static"


def test_no_page_loads_anything_from_another_site(client, admin_user):
    client.force_login(admin_user)
    for name in ("web:home", "accounts:tokens", "accounts:teams", "accounts:approvals", "accounts:audit",
                 "accounts:users_import", "accounts:profile"):
        page = client.get(reverse(name)).content.decode()
        for attr in ('src="http', "src='http", 'href="http', "href='http", 'src="//', 'href="//'):
            assert attr not in page, f"{name} links to another site: {attr}"


def test_static_files_are_served(client, db):
    r = client.get("/static/databoard/vendor/htmx.min.js")
    assert r.status_code == 200
    assert b"htmx" in b"".join(r.streaming_content) if r.streaming else b"htmx" in r.content
