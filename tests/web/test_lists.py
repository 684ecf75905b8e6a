"""Every list page is paginated (50 a page) and costs a fixed number of queries, whatever its length."""

import pytest
from django.urls import reverse

from databoard.accounts import services
from databoard.accounts.models import Team
from tests.factories import make_user


def _fill(owner, n: int) -> Team:
    """n tokens and n pending sign-ups; a team with n members and n pending invites; n invites to the owner."""
    team = services.team_create(name="Big", owner=owner)
    for i in range(n):
        services.token_create(user=owner, actor=owner, name=f"token {i}")
        joiner = make_user(approved=False)
        services.invite_accept(invite=services.team_invite(team=team, actor=owner, username=joiner.username),
                               user=joiner)
        services.team_invite(team=team, actor=owner, email=f"guest{i}@example.org")
        services.team_invite(team=services.team_create(name=f"Team {joiner.username}", owner=joiner),
                             actor=joiner, username=owner.username)
    return team


@pytest.mark.parametrize("rows", [3, 30])
def test_list_pages_cost_a_fixed_number_of_queries(client, admin_user, rows, django_assert_max_num_queries):
    team = _fill(admin_user, rows)
    client.force_login(admin_user)
    for name, args in [("web:home", []), ("accounts:teams", []), ("accounts:tokens", []),
                       ("accounts:team_detail", [team.slug]), ("accounts:approvals", []), ("accounts:audit", [])]:
        with django_assert_max_num_queries(8):
            assert client.get(reverse(name, args=args)).status_code == 200


def test_long_lists_are_paginated(client, admin_user):
    team = _fill(admin_user, 55)
    client.force_login(admin_user)
    for url in (reverse("accounts:tokens"), reverse("accounts:approvals"),
                reverse("accounts:team_detail", args=[team.slug])):
        first = client.get(url).content.decode()
        assert "Page 1 of 2" in first and "page=2" in first, url
        second = client.get(url, {"page": "2"}).content.decode()
        assert "Page 2 of 2" in second and ("51–55 of 55" in second or "51–56 of 56" in second), url  # 56 members
        assert client.get(url, {"page": "garbage"}).status_code == 200  # falls back to page 1
    # Two lists on one page page separately: the invites use "ipage".
    detail = client.get(reverse("accounts:team_detail", args=[team.slug]), {"ipage": "2"}).content.decode()
    assert "ipage=1" in detail and "page=2" in detail
    teams = client.get(reverse("accounts:teams")).content.decode()
    assert "ipage=2" in teams and "page=2" in teams  # 55 invites to me, 56 teams


def test_pagination_keeps_the_audit_filters(client, admin_user):
    for n in range(60):
        services.audit_record(action="test.event", actor=admin_user, n=n)
    client.force_login(admin_user)
    page = client.get(reverse("accounts:audit"), {"action": "test.event"}).content.decode()
    assert "?action=test.event&amp;page=2" in page
