"""Every page loads in Chromium with its stylesheet and scripts, and without a script error."""

import pytest

from databoard.accounts import services
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pages_load_their_assets_without_errors(live_server, page_factory, shot):
    admin = make_user(username="root", is_superuser=True)
    make_user(username="pat", approved=False, affiliation="Night School")
    token, _ = services.token_create(user=admin, actor=admin, name="laptop")
    page = page_factory()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({m.location['url']})")
            # The 404 page is on purpose; Django's admin names no icon, so Chromium asks for /favicon.ico.
            if m.type == "error" and not m.location["url"].endswith(("/no/such/page/", "/favicon.ico")) else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if "/static/" in r.url and r.status != 200
            else None)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("text=Signed in as root")
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx is loaded
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "block"

    for path, name in [("/accounts/password/change/", "password-change"), ("/accounts/delete/", "delete-account"),
                       (f"/accounts/tokens/{token.pk}/revoke/", "token-revoke"), ("/no/such/page/", "not-found"),
                       ("/accounts/teams/root/", None), ("/admin/", None), ("/api/v1/docs", None)]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        if name:
            shot(page, name)
    page.goto(f"{live_server.url}/accounts/password/reset/")
    assert "Reset your password" in page.inner_text("main")
    assert problems == []
