"""The accounts services: each use case, its rules, its emails and its audit trail."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.utils import timezone

from databoard.accounts import selectors, services
from databoard.accounts.models import ApiToken, AuditEvent, Invite, Membership, Team, User
from databoard.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    TooLarge,
    ValidationFailed,
)
from tests.factories import PASSWORD, make_token, make_user

pytestmark = pytest.mark.django_db

IP = "192.0.2.10"


def signup(**fields) -> User:
    fields.setdefault("username", "carol")
    fields.setdefault("email", f"{fields['username']}@example.org")
    fields.setdefault("password", PASSWORD)
    return services.user_signup(ip=IP, **fields)


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


# --------------------------------------------------------------------------- sign-up


def test_signup_with_approval_waits_and_tells_the_administrators(admin_user, outbox, on_commit):
    with on_commit():
        user = signup(first_name="Carol", last_name="King")
    assert user.approval == User.Approval.PENDING and user.approved_at is None
    assert user.email == "carol@example.org"
    assert Team.objects.get(slug="carol", is_personal=True).memberships.get().user == user
    assert [m.to for m in outbox] == [[admin_user.email]]
    assert "carol is waiting for approval" in outbox[0].subject
    assert "/accounts/admin/approvals/" in outbox[0].body
    event = AuditEvent.objects.get(action="user.signup")
    assert (event.actor, event.actor_username, event.ip) == (user, "carol", IP)
    with pytest.raises(PermissionDenied) as exc:
        services.login_check(username="carol", password=PASSWORD, ip=IP)
    assert exc.value.details["reason"] == "pending"


def test_signup_without_approval_can_sign_in_at_once(override_config, admin_user, outbox, on_commit):
    override_config(require_approval=False)
    with on_commit():
        user = signup()
    assert user.is_approved and user.approved_at is not None
    assert outbox == []
    assert services.login_check(username="CAROL", password=PASSWORD, ip=IP) == user


@pytest.mark.real_hasher
def test_signup_stores_an_argon2_hash_never_the_password(override_config):
    override_config(require_approval=False)
    user = signup()
    assert identify_hasher(user.password).algorithm == "argon2"
    assert PASSWORD not in user.password


def test_signup_with_email_verification_sends_a_link_that_verifies(override_config, outbox, on_commit):
    override_config(require_approval=False, require_email_verification=True)
    with on_commit():
        user = signup()
    assert user.email_verified_at is None
    assert [m.to for m in outbox] == [["carol@example.org"]]
    with pytest.raises(PermissionDenied) as exc:
        services.login_check(username="carol", password=PASSWORD, ip=IP)
    assert exc.value.details["reason"] == "unverified"
    token = re.search(r"/accounts/verify/([^/\s]+)/", outbox[0].body).group(1)
    assert services.user_verify_email(token=token) == user
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert services.login_check(username="carol", password=PASSWORD, ip=IP) == user
    assert "user.verify_email" in actions()


@pytest.mark.parametrize("token", ["garbage", ""])
def test_verify_email_with_a_bad_link_fails_and_verifies_nothing(user, token):
    User.objects.filter(pk=user.pk).update(email_verified_at=None)
    with pytest.raises(ValidationFailed):
        services.user_verify_email(token=token)
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_verify_email_link_for_a_changed_address_fails(user):
    User.objects.filter(pk=user.pk).update(email_verified_at=None)
    token = services.email_verification_send(user=user)
    services.user_update_profile(user=user, email="new-alice@example.org")
    with pytest.raises(ValidationFailed, match="no longer on any account"):
        services.user_verify_email(token=token)
    user.refresh_from_db()
    assert user.email_verified_at is None


@pytest.mark.parametrize("fields, error", [
    ({"username": "alice"}, Conflict),
    ({"username": "ALICE"}, Conflict),
    ({"username": "newbie", "email": "Alice@Example.org"}, Conflict),
    ({"username": "a"}, ValidationFailed),
    ({"username": "has space"}, ValidationFailed),
    ({"username": "deleted-user-99"}, ValidationFailed),
    ({"username": "newbie", "email": "not-an-email"}, ValidationFailed),
    ({"username": "newbie", "password": "short"}, ValidationFailed),
    ({"username": "newbie", "password": "password123"}, ValidationFailed),
    ({"username": "newbie", "first_name": "x" * 151}, ValidationFailed),
    ({"username": "newbie", "affiliation": "bad\x00name"}, ValidationFailed),
])
def test_signup_with_bad_or_taken_fields_fails_and_writes_nothing(user, fields, error):
    before = (User.objects.count(), Team.objects.count(), AuditEvent.objects.count())
    with pytest.raises(error):
        signup(**fields)
    assert (User.objects.count(), Team.objects.count(), AuditEvent.objects.count()) == before


def test_username_whose_personal_team_slug_is_a_team_is_taken(user):
    services.team_create(name="Vision", owner=user)
    with pytest.raises(Conflict):
        signup(username="vision")
    assert not User.objects.filter(username="vision").exists()


# --------------------------------------------------------------------------- approval


def test_approve_approves_emails_the_user_and_is_audited(admin_user, outbox, on_commit):
    carol = signup()
    with on_commit():
        services.user_approve(user=carol, actor=admin_user, ip=IP)
    carol.refresh_from_db()
    assert carol.is_approved and carol.approved_at is not None
    assert [(m.to, m.subject) for m in outbox] == [(["carol@example.org"], "databoard: your account is approved")]
    event = AuditEvent.objects.get(action="user.approve")
    assert (event.actor, event.target_id, event.ip) == (admin_user, str(carol.pk), IP)
    assert services.login_check(username="carol", password=PASSWORD, ip=IP) == carol


def test_approve_by_a_non_administrator_is_refused(user):
    carol = signup()
    with pytest.raises(PermissionDenied):
        services.user_approve(user=carol, actor=user)
    carol.refresh_from_db()
    assert carol.approval == User.Approval.PENDING
    assert not AuditEvent.objects.filter(action="user.approve").exists()


def test_approve_twice_is_a_conflict(admin_user, user):
    with pytest.raises(Conflict, match="already approved"):
        services.user_approve(user=user, actor=admin_user)


def test_reject_stores_the_reason_and_emails_it(admin_user, outbox, on_commit):
    carol = signup()
    with on_commit():
        services.user_reject(user=carol, reason="  Not a member of the lab. ", actor=admin_user, ip=IP)
    carol.refresh_from_db()
    assert (carol.approval, carol.approval_reason) == (User.Approval.REJECTED, "Not a member of the lab.")
    assert [m.to for m in outbox] == [["carol@example.org"]]
    assert "Reason: Not a member of the lab." in outbox[0].body
    assert AuditEvent.objects.get(action="user.reject").data == {"reason": "Not a member of the lab."}
    with pytest.raises(PermissionDenied, match="Not a member of the lab") as exc:
        services.login_check(username="carol", password=PASSWORD, ip=IP)
    assert exc.value.details["reason"] == "rejected"


def test_a_rejected_user_can_be_approved_later(admin_user):
    carol = signup()
    services.user_reject(user=carol, reason="Who are you?", actor=admin_user)
    services.user_approve(user=carol, actor=admin_user)
    carol.refresh_from_db()
    assert (carol.approval, carol.approval_reason) == (User.Approval.APPROVED, "")


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_reject_without_a_usable_reason_fails_and_emails_nobody(admin_user, outbox, on_commit, reason):
    carol = signup()
    with on_commit(), pytest.raises(ValidationFailed):
        services.user_reject(user=carol, reason=reason, actor=admin_user)
    carol.refresh_from_db()
    assert carol.approval == User.Approval.PENDING
    assert outbox == [] or all("approval" in m.subject for m in outbox)
    assert not AuditEvent.objects.filter(action="user.reject").exists()


def test_reject_yourself_or_as_a_non_administrator_fails(admin_user, user):
    with pytest.raises(Conflict):
        services.user_reject(user=admin_user, reason="oops", actor=admin_user)
    with pytest.raises(PermissionDenied):
        services.user_reject(user=admin_user, reason="coup", actor=user)
    admin_user.refresh_from_db()
    assert admin_user.is_approved


# --------------------------------------------------------------------------- sign-in


def test_login_check_accepts_username_or_email_in_any_case(user):
    assert services.login_check(username=" Alice ", password=PASSWORD, ip=IP) == user
    assert services.login_check(username="ALICE@example.org", password=PASSWORD, ip=IP) == user


@pytest.mark.parametrize("username, password", [("alice", "wrong-password"), ("nobody", PASSWORD), ("", "")])
def test_login_check_with_wrong_credentials_is_not_authenticated_and_audited(user, username, password):
    with pytest.raises(NotAuthenticated, match="not correct"):
        services.login_check(username=username, password=password, ip=IP)
    event = AuditEvent.objects.get(action="login.failed")
    assert (event.actor, event.actor_username, event.ip) == (None, username, IP)


def test_login_check_of_a_disabled_account_says_so(user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(PermissionDenied, match="disabled"):
        services.login_check(username="alice", password=PASSWORD, ip=IP)
    assert AuditEvent.objects.get(action="login.failed").data == {"reason": "inactive"}


def test_login_is_throttled_after_ten_failures_a_minute_per_username_and_address(user):
    for _ in range(10):
        with pytest.raises(NotAuthenticated):
            services.login_check(username="alice", password="wrong-password", ip=IP)
    with pytest.raises(RateLimited) as exc:
        services.login_check(username="alice", password=PASSWORD, ip=IP)
    assert exc.value.details == {"retry_after_seconds": 60}
    # Another address or another username is not throttled.
    assert services.login_check(username="alice", password=PASSWORD, ip="192.0.2.99") == user
    with pytest.raises(NotAuthenticated):
        services.login_check(username="bob", password="wrong-password", ip=IP)
    # Changing the case of the username does not get around the limit.
    with pytest.raises(RateLimited):
        services.login_check(username="ALICE", password=PASSWORD, ip=IP)
    # Failures older than a minute no longer count.
    AuditEvent.objects.filter(action="login.failed").update(created_at=timezone.now() - timedelta(minutes=2))
    assert services.login_check(username="alice", password=PASSWORD, ip=IP) == user


def test_nine_failures_do_not_throttle(user):
    for _ in range(9):
        with pytest.raises(NotAuthenticated):
            services.login_check(username="alice", password="wrong-password", ip=IP)
    assert services.login_check(username="alice", password=PASSWORD, ip=IP) == user


def test_throttle_limit_comes_from_the_config(override_config, user):
    override_config(login_failures_per_minute=2)
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            services.login_check(username="alice", password="wrong-password", ip=IP)
    with pytest.raises(RateLimited):
        services.login_check(username="alice", password=PASSWORD, ip=IP)


# --------------------------------------------------------------------------- profile and password


def test_profile_update_changes_names_and_is_audited(user):
    services.user_update_profile(user=user, first_name=" Alice ", last_name="Liddell", affiliation="Oxford")
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.affiliation) == ("Alice", "Liddell", "Oxford")
    assert user.display_name == "Alice Liddell"
    assert AuditEvent.objects.get(action="user.update").data == {
        "fields": ["affiliation", "first_name", "last_name"]}


def test_profile_email_change_must_be_verified_again(override_config, user, outbox, on_commit):
    override_config(require_email_verification=True)
    with on_commit():
        services.user_update_profile(user=user, email="Alice@New.example.org")
    user.refresh_from_db()
    assert (user.email, user.email_verified_at) == ("alice@new.example.org", None)
    assert [m.to for m in outbox] == [["alice@new.example.org"]]


@pytest.mark.parametrize("fields, error", [
    ({"email": "bob@example.org"}, Conflict),
    ({"email": "nope"}, ValidationFailed),
    ({"email": ""}, ValidationFailed),
    ({"first_name": "x" * 151}, ValidationFailed),
    ({"affiliation": "tab\tinside"}, ValidationFailed),
])
def test_profile_update_with_bad_fields_changes_nothing(user, other_user, fields, error):
    with pytest.raises(error):
        services.user_update_profile(user=user, last_name="Changed", **fields)
    user.refresh_from_db()
    assert (user.email, user.last_name) == ("alice@example.org", "")
    assert not AuditEvent.objects.filter(action="user.update").exists()


def test_password_change_checks_the_old_and_the_new_password(user):
    with pytest.raises(ValidationFailed, match="current password"):
        services.user_change_password(user=user, old_password="wrong", new_password="another-long-passphrase")
    with pytest.raises(ValidationFailed, match="too weak"):
        services.user_change_password(user=user, old_password=PASSWORD, new_password="123")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="user.password_change").exists()
    services.user_change_password(user=user, old_password=PASSWORD, new_password="another-long-passphrase", ip=IP)
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase") and not user.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action="user.password_change", ip=IP).count() == 1


def test_set_password_checks_strength(admin_user, user):
    with pytest.raises(ValidationFailed):
        services.user_set_password(user=user, password="alice", actor=admin_user)
    services.user_set_password(user=user, password="a-brand-new-passphrase", actor=admin_user)
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase")


# --------------------------------------------------------------------------- deletion


def test_delete_anonymizes_the_account_and_its_traces(admin_user, user, other_user):
    team = services.team_create(name="Lab One", owner=user)
    services.team_invite(team=team, actor=user, username="bob")
    services.token_create(user=user, actor=user, name="laptop")
    with pytest.raises(NotAuthenticated):
        services.login_check(username="alice", password="wrong-password", ip=IP)
    with pytest.raises(NotAuthenticated):
        services.login_check(username="alice@example.org", password="wrong-password", ip=IP)
    services.user_update_profile(user=user, last_name="Liddell", affiliation="Oxford")
    services.user_delete(user=user, actor=user, ip=IP)

    user.refresh_from_db()
    anonymous = f"deleted-user-{user.pk}"
    assert user.username == anonymous
    assert (user.email, user.first_name, user.last_name, user.affiliation) == (None, "", "", "")
    assert user.display_name == str(user) == "deleted user"
    assert user.is_deleted and not user.is_active and not user.has_usable_password()
    assert not ApiToken.objects.filter(user=user).exists()
    personal = Team.objects.get(memberships__user=user)
    assert (personal.name, personal.slug, personal.is_personal) == (anonymous, anonymous, True)
    assert not Team.objects.filter(slug="alice").exists()
    assert not Membership.objects.filter(team=team, user=user).exists()
    assert Invite.objects.get(team=team).state == Invite.State.CANCELLED
    # Nothing in the audit log still names her.
    for event in AuditEvent.objects.all():
        text = f"{event.actor_username} {event.target_repr} {event.data}".lower()
        assert "alice" not in text and "liddell" not in text, event
    assert AuditEvent.objects.filter(action="user.delete", actor_username=anonymous, ip=IP).exists()
    with pytest.raises(NotAuthenticated):
        services.login_check(username="alice", password=PASSWORD, ip="192.0.2.11")


def test_delete_frees_the_username_and_email_for_a_new_account(user, override_config):
    override_config(require_approval=False)
    services.user_delete(user=user, actor=user)
    again = signup(username="alice", email="alice@example.org")
    assert again.pk != user.pk


def test_administrator_deletes_another_account_and_is_named_in_the_audit(admin_user, user):
    services.user_delete(user=user, actor=admin_user)
    event = AuditEvent.objects.get(action="user.delete")
    assert (event.actor, event.actor_username) == (admin_user, "admin")


def test_only_the_owner_or_an_administrator_deletes_an_account(user, other_user):
    with pytest.raises(PermissionDenied):
        services.user_delete(user=other_user, actor=user)
    other_user.refresh_from_db()
    assert other_user.username == "bob" and not other_user.is_deleted


def test_the_last_superuser_cannot_delete_their_account(admin_user):
    with pytest.raises(Conflict, match="last administrator"):
        services.user_delete(user=admin_user, actor=admin_user)
    admin_user.refresh_from_db()
    assert admin_user.username == "admin" and admin_user.is_superuser and not admin_user.is_deleted
    second = make_user(username="root2", is_superuser=True)
    services.user_delete(user=admin_user, actor=second)
    admin_user.refresh_from_db()
    assert admin_user.is_deleted


def test_deleting_twice_is_a_conflict(admin_user, user):
    services.user_delete(user=user, actor=admin_user)
    with pytest.raises(Conflict, match="already deleted"):
        services.user_delete(user=user, actor=admin_user)


# --------------------------------------------------------------------------- teams


def test_team_create_makes_the_creator_owner(user):
    team = services.team_create(name="  Deep Learning  ", owner=user)
    assert (team.name, team.slug, team.is_personal) == ("Deep Learning", "deep-learning", False)
    assert Membership.objects.get(team=team).role == Membership.Role.OWNER
    assert AuditEvent.objects.filter(action="team.create", target_id=str(team.pk)).exists()


@pytest.mark.parametrize("name, error", [
    ("", ValidationFailed), ("   ", ValidationFailed), ("!!!", ValidationFailed), ("x" * 101, ValidationFailed),
    ("Deleted User 3", ValidationFailed), ("lab one", Conflict), ("BOB", Conflict), ("alice", Conflict),
])
def test_team_create_with_a_bad_or_taken_name_writes_nothing(user, other_user, team, name, error):
    before = (Team.objects.count(), Membership.objects.count())
    with pytest.raises(error):
        services.team_create(name=name, owner=user)
    assert (Team.objects.count(), Membership.objects.count()) == before


def test_invite_by_username_then_accept_joins_as_member(user, other_user, team, outbox, on_commit):
    with on_commit():
        invite = services.team_invite(team=team, actor=user, username="BOB")
    assert (invite.user, invite.email, invite.invited_by) == (other_user, "", user)  # the address stays private
    assert [m.to for m in outbox] == [["bob@example.org"]]
    assert "Lab One" in outbox[0].subject
    membership = services.invite_accept(invite=invite, user=other_user)
    assert (membership.team, membership.role) == (team, Membership.Role.MEMBER)
    invite.refresh_from_db()
    assert invite.state == Invite.State.ACCEPTED and invite.responded_at is not None
    assert {"team.invite", "team.join"} <= set(actions())


def test_invite_by_email_reaches_a_person_who_signs_up_later(user, team, override_config):
    override_config(require_approval=False)
    invite = services.team_invite(team=team, actor=user, email="Dora@Example.org")
    assert (invite.user, invite.email) == (None, "dora@example.org")
    dora = signup(username="dora", email="dora@example.org")
    from databoard.accounts import selectors

    assert list(selectors.invite_list_for(user=dora)) == [invite]
    services.invite_accept(invite=invite, user=dora)
    invite.refresh_from_db()
    assert (invite.user, invite.state) == (dora, Invite.State.ACCEPTED)
    assert Membership.objects.filter(team=team, user=dora, role=Membership.Role.MEMBER).exists()


def test_invite_by_email_of_an_existing_user_reaches_the_account_without_naming_it(user, other_user, team):
    invite = services.team_invite(team=team, actor=user, email="bob@example.org")
    assert invite.user is None  # the inviter does not learn whose address it is
    assert list(selectors.invite_list_for(user=other_user)) == [invite]
    membership = services.invite_accept(invite=invite, user=other_user)
    assert membership.team == team


@pytest.mark.parametrize("kwargs, error", [
    ({}, ValidationFailed),
    ({"username": "bob", "email": "bob@example.org"}, ValidationFailed),
    ({"username": "nobody"}, NotFound),
    ({"email": "not an email"}, ValidationFailed),
    ({"username": "alice"}, Conflict),
])
def test_bad_invites_write_nothing(user, other_user, team, outbox, on_commit, kwargs, error):
    with on_commit(), pytest.raises(error):
        services.team_invite(team=team, actor=user, **kwargs)
    assert not Invite.objects.exists()
    assert outbox == []


def test_a_second_pending_invite_for_the_same_person_is_a_conflict(user, other_user, team):
    services.team_invite(team=team, actor=user, username="bob")
    with pytest.raises(Conflict, match="pending invite"):
        services.team_invite(team=team, actor=user, email="BOB@example.org")
    assert Invite.objects.count() == 1


def test_only_owners_invite_and_personal_teams_take_nobody(user, other_user, team):
    with pytest.raises(PermissionDenied):
        services.team_invite(team=team, actor=other_user, username="alice")
    personal = Team.objects.get(slug="alice")
    with pytest.raises(Conflict, match="personal team"):
        services.team_invite(team=personal, actor=user, username="bob")
    assert not Invite.objects.exists()


def test_decline_and_cancel_close_the_invite(user, other_user, team):
    invite = services.team_invite(team=team, actor=user, username="bob")
    declined = services.invite_decline(invite=invite, user=other_user)
    assert declined.state == Invite.State.DECLINED and declined.responded_at is not None
    assert not Membership.objects.filter(team=team, user=other_user).exists()
    with pytest.raises(Conflict, match="already declined"):
        services.invite_accept(invite=declined, user=other_user)

    second = services.team_invite(team=team, actor=user, username="bob")
    with pytest.raises(PermissionDenied):
        services.invite_cancel(invite=second, actor=other_user)
    assert services.invite_cancel(invite=second, actor=user).state == Invite.State.CANCELLED
    with pytest.raises(Conflict, match="already cancelled"):
        services.invite_accept(invite=second, user=other_user)
    with pytest.raises(Conflict):
        services.invite_cancel(invite=second, actor=user)
    assert not Membership.objects.filter(team=team, user=other_user).exists()


def test_an_invite_cannot_be_answered_by_someone_else(user, other_user, team):
    carol = make_user(username="carol")
    invite = services.team_invite(team=team, actor=user, username="bob")
    with pytest.raises(NotFound):
        services.invite_accept(invite=invite, user=carol)
    with pytest.raises(NotFound):
        services.invite_decline(invite=invite, user=carol)
    invite.refresh_from_db()
    assert invite.state == Invite.State.PENDING
    assert not Membership.objects.filter(team=team, user=carol).exists()


def test_a_stale_invite_object_cannot_be_declined_after_it_was_cancelled(user, other_user, team):
    invite = services.team_invite(team=team, actor=user, username="bob")
    stale = Invite.objects.get(pk=invite.pk)
    services.invite_cancel(invite=invite, actor=user)
    with pytest.raises(Conflict):
        services.invite_decline(invite=stale, user=other_user)
    invite.refresh_from_db()
    assert invite.state == Invite.State.CANCELLED


def _join(team, owner, member):
    services.invite_accept(invite=services.team_invite(team=team, actor=owner, username=member.username),
                           user=member)


def test_leave_rules(user, other_user, team):
    with pytest.raises(Conflict, match="personal team"):
        services.team_leave(team=Team.objects.get(slug="alice"), user=user)
    with pytest.raises(NotFound):
        services.team_leave(team=team, user=other_user)
    _join(team, user, other_user)
    with pytest.raises(Conflict, match="last owner"):
        services.team_leave(team=team, user=user)
    assert Membership.objects.filter(team=team).count() == 2
    services.team_leave(team=team, user=other_user)
    assert list(Membership.objects.filter(team=team).values_list("user__username", flat=True)) == ["alice"]
    services.team_leave(team=team, user=user)  # the last owner alone may leave
    assert not Membership.objects.filter(team=team).exists()
    assert actions().count("team.leave") == 2


def test_an_owner_removes_a_member(user, other_user, team):
    _join(team, user, other_user)
    with pytest.raises(PermissionDenied):
        services.team_remove_member(team=team, actor=other_user, user=user)
    with pytest.raises(Conflict, match="leave"):
        services.team_remove_member(team=team, actor=user, user=user)
    services.team_remove_member(team=team, actor=user, user=other_user)
    assert not Membership.objects.filter(team=team, user=other_user).exists()
    with pytest.raises(NotFound):
        services.team_remove_member(team=team, actor=user, user=other_user)
    assert AuditEvent.objects.get(action="team.remove_member").data == {"member": "bob"}


def test_nobody_is_removed_from_their_personal_team(admin_user, user):
    personal = Team.objects.get(slug="alice")
    with pytest.raises(Conflict, match="personal team"):
        services.team_remove_member(team=personal, actor=admin_user, user=user)
    assert Membership.objects.filter(team=personal, user=user, role=Membership.Role.OWNER).exists()


def test_an_administrator_cannot_remove_the_last_owner_of_a_team_with_members(admin_user, user, other_user, team):
    _join(team, user, other_user)
    with pytest.raises(Conflict, match="last owner"):
        services.team_remove_member(team=team, actor=admin_user, user=user)
    assert Membership.objects.filter(team=team, user=user, role=Membership.Role.OWNER).exists()


def test_role_changes(user, other_user, team):
    _join(team, user, other_user)
    with pytest.raises(PermissionDenied):
        services.membership_set_role(team=team, actor=other_user, user=other_user, role="owner")
    with pytest.raises(Conflict, match="last owner"):
        services.membership_set_role(team=team, actor=user, user=user, role="member")
    with pytest.raises(ValidationFailed):
        services.membership_set_role(team=team, actor=user, user=other_user, role="king")
    with pytest.raises(NotFound):
        services.membership_set_role(team=team, actor=user, user=make_user(username="carol"), role="owner")
    assert Membership.objects.get(team=team, user=other_user).role == Membership.Role.MEMBER
    services.membership_set_role(team=team, actor=user, user=other_user, role="owner")
    services.membership_set_role(team=team, actor=other_user, user=user, role="member")
    roles = dict(Membership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {"alice": "member", "bob": "owner"}
    assert actions().count("team.set_role") == 2


# --------------------------------------------------------------------------- tokens


def test_token_is_returned_once_and_only_its_hash_is_stored(user):
    token, raw = services.token_create(user=user, actor=user, name=" laptop ", scope="read", ip=IP)
    assert raw.startswith(f"dbk_{token.prefix}_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert (stored.name, stored.scope, stored.user) == ("laptop", "read", user)
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    event = AuditEvent.objects.get(action="token.create")
    assert (event.actor, event.ip, event.data) == (user, IP, {"user": "alice", "scope": "read"})
    assert raw not in str(event.data) and raw not in event.target_repr


def test_two_tokens_differ(user):
    assert make_token(user) != make_token(user)


def test_admin_scope_is_only_for_administrators(admin_user, user):
    with pytest.raises(PermissionDenied):
        services.token_create(user=user, actor=user, scope="admin")
    with pytest.raises(PermissionDenied):
        services.token_create(user=user, actor=admin_user, scope="admin")
    assert not ApiToken.objects.filter(user=user).exists()
    token, _ = services.token_create(user=admin_user, actor=admin_user, scope="admin")
    assert token.scope == "admin"


@pytest.mark.parametrize("kwargs, error", [
    ({"scope": "root"}, ValidationFailed),
    ({"name": "n" * 101}, ValidationFailed),
    ({"expires_at": "past"}, ValidationFailed),
    ({"expires_at": "now"}, ValidationFailed),
])
def test_bad_token_requests_create_nothing(user, kwargs, error):
    if kwargs.get("expires_at") == "past":
        kwargs["expires_at"] = timezone.now() - timedelta(days=1)
    elif kwargs.get("expires_at") == "now":
        kwargs["expires_at"] = timezone.now()
    with pytest.raises(error):
        services.token_create(user=user, actor=user, **kwargs)
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="token.create").exists()


def test_users_create_their_own_tokens_administrators_anyone(admin_user, user, other_user):
    with pytest.raises(PermissionDenied):
        services.token_create(user=other_user, actor=user)
    assert not ApiToken.objects.filter(user=other_user).exists()
    token, _ = services.token_create(user=other_user, actor=admin_user)
    assert token.user == other_user


def test_revoke_is_immediate_and_audited(admin_user, user, other_user):
    token, raw = services.token_create(user=user, actor=user)
    with pytest.raises(PermissionDenied):
        services.token_revoke(token=token, actor=other_user)
    assert services.token_authenticate(raw) == token
    services.token_revoke(token=token, actor=user, ip=IP)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    with pytest.raises(NotAuthenticated, match="revoked"):
        services.token_authenticate(raw)
    with pytest.raises(Conflict, match="already revoked"):
        services.token_revoke(token=token, actor=admin_user)
    event = AuditEvent.objects.get(action="token.revoke")
    assert (event.actor, event.target_id, event.ip) == (user, str(token.pk), IP)


def test_administrators_revoke_anyones_token(admin_user, user):
    token, _ = services.token_create(user=user, actor=user)
    services.token_revoke(token=token, actor=admin_user)
    assert not ApiToken.objects.get(pk=token.pk).is_active()


def test_authenticate_accepts_an_active_token_and_records_its_use(user):
    token, raw = services.token_create(user=user, actor=user)
    assert token.last_used_at is None
    found = services.token_authenticate(f"  {raw} ")
    assert (found.pk, found.user) == (token.pk, user)
    first_use = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first_use is not None
    # Within the resolution, the row is not written on every request.
    services.token_authenticate(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first_use
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
    services.token_authenticate(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first_use


@pytest.mark.parametrize("mangle, reason", [
    (lambda raw: "", "malformed"),
    (lambda raw: "Bearer", "malformed"),
    (lambda raw: "dbk_", "malformed"),
    (lambda raw: "abc_def_ghi", "malformed"),
    (lambda raw: raw.replace("dbk_", "xyz_"), "malformed"),
    (lambda raw: raw[:-2] + ("AA" if raw[-2:] != "AA" else "BB"), "not valid"),
    (lambda raw: "dbk_00000000_" + raw.split("_", 2)[2], "not valid"),
])
def test_authenticate_refuses_malformed_and_unknown_tokens(user, mangle, reason):
    _, raw = services.token_create(user=user, actor=user)
    with pytest.raises(NotAuthenticated, match=reason):
        services.token_authenticate(mangle(raw))
    assert ApiToken.objects.get().last_used_at is None


def test_authenticate_refuses_an_expired_token(user):
    token, raw = services.token_create(user=user, actor=user, expires_at=timezone.now() + timedelta(days=1))
    assert services.token_authenticate(raw) == token
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(NotAuthenticated, match="expired"):
        services.token_authenticate(raw)


@pytest.mark.parametrize("change", ["deleted", "inactive", "pending"])
def test_authenticate_refuses_tokens_of_users_who_cannot_sign_in(admin_user, user, change):
    token, raw = services.token_create(user=user, actor=user)
    if change == "deleted":
        # Deleting removes the tokens; a token row left behind must still fail.
        User.objects.filter(pk=user.pk).update(deleted_at=timezone.now())
    elif change == "inactive":
        User.objects.filter(pk=user.pk).update(is_active=False)
    else:
        User.objects.filter(pk=user.pk).update(approval=User.Approval.PENDING)
    with pytest.raises(NotAuthenticated, match="cannot sign in"):
        services.token_authenticate(raw)


def test_deleting_a_user_invalidates_their_tokens(admin_user, user):
    _, raw = services.token_create(user=user, actor=user)
    services.user_delete(user=user, actor=admin_user)
    with pytest.raises(NotAuthenticated, match="not valid"):
        services.token_authenticate(raw)


def test_deleted_users_cannot_get_tokens(admin_user, user):
    services.user_delete(user=user, actor=admin_user)
    with pytest.raises(Conflict):
        services.token_create(user=user, actor=admin_user)
    assert not ApiToken.objects.filter(user=user).exists()


# --------------------------------------------------------------------------- CSV import


GOOD_CSV = (
    "username,email,first_name,last_name,affiliation,team\n"
    "dora,Dora@example.org,Dora,Explorer,Lab,Vision\n"
    "emil,emil@example.org,Emil,,Lab,vision\n"
    "fred,fred@example.org,,,,\n"
)


def test_import_creates_approved_users_teams_and_returns_passwords(admin_user, outbox, on_commit):
    with on_commit():
        result = services.users_import_csv(data=GOOD_CSV.encode(), actor=admin_user, ip=IP)
    assert [r["username"] for r in result.rows] == ["dora", "emil", "fred"]
    assert outbox == [] and not result.emailed
    for row in result.rows:
        user = User.objects.get(username=row["username"])
        assert user.is_approved and user.email_verified_at is not None
        assert user.check_password(row["password"])
        assert services.login_check(username=user.username, password=row["password"], ip=IP) == user
    dora = User.objects.get(username="dora")
    assert (dora.email, dora.first_name, dora.last_name, dora.affiliation) == (
        "dora@example.org", "Dora", "Explorer", "Lab")
    vision = Team.objects.get(slug="vision")
    assert dict(vision.memberships.values_list("user__username", "role")) == {"dora": "owner", "emil": "member"}
    lines = result.as_csv().splitlines()
    assert lines[0] == "username,email,team,password"
    assert lines[1] == f"dora,dora@example.org,Vision,{result.rows[0]['password']}"
    assert AuditEvent.objects.get(action="user.import_csv").data == {"count": 3, "emailed": False}
    assert AuditEvent.objects.filter(action="user.create", actor=admin_user).count() == 3


def test_import_with_emails_sends_passwords_by_email_only(admin_user, outbox, on_commit):
    with on_commit():
        result = services.users_import_csv(data=GOOD_CSV, actor=admin_user, send_emails=True)
    assert result.emailed
    assert sorted(m.to[0] for m in outbox) == ["dora@example.org", "emil@example.org", "fred@example.org"]
    text = result.as_csv()
    for message in outbox:
        password = re.search(r"Password: (\S+)", message.body).group(1)
        assert password not in text
        assert User.objects.get(email=message.to[0]).check_password(password)
    assert {r["password"] for r in result.rows} == {"(emailed)"}


def test_import_into_an_existing_team_adds_members(admin_user, user, team):
    services.users_import_csv(data="username,email,team\ndora,dora@example.org,Lab One\n", actor=admin_user)
    assert Membership.objects.get(team=team, user__username="dora").role == Membership.Role.MEMBER


def test_import_accepts_a_byte_order_mark_and_header_in_any_case(admin_user):
    data = "\ufeffUserName, EMAIL\ndora,dora@example.org\n".encode()
    assert [r["username"] for r in services.users_import_csv(data=data, actor=admin_user).rows] == ["dora"]


def _import_fails(admin_user, data, error=ValidationFailed):
    before = (User.objects.count(), Team.objects.count(), Membership.objects.count(), AuditEvent.objects.count())
    with pytest.raises(error) as exc:
        services.users_import_csv(data=data, actor=admin_user)
    after = (User.objects.count(), Team.objects.count(), Membership.objects.count(), AuditEvent.objects.count())
    assert after == before, "a failed import wrote something"
    return exc.value


def test_import_lists_every_bad_line_and_writes_nothing(admin_user, user):
    data = (
        "username,email,first_name,last_name,affiliation,team\n"
        "dora,dora@example.org,,,,\n"                 # 2 good
        "dora,dora2@example.org,,,,\n"                # 3 username repeated
        "emil,ALICE@example.org,,,,\n"                # 4 email of an account
        "fred,not-an-email,,,,\n"                     # 5 bad email
        "gina,gina@example.org,,,,,extra\n"           # 6 extra field
        "x,x@example.org,,,,\n"                       # 7 bad username
        "hank,DORA@example.org,,,,\n"                 # 8 email repeated
        "alice,alice2@example.org,,,,\n"              # 9 username taken
        "ivan,ivan@example.org,,,,alice\n"            # 10 personal team
    )
    exc = _import_fails(admin_user, data)
    lines = [e["line"] for e in exc.details["errors"]]
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10]
    messages = " | ".join(e["message"] for e in exc.details["errors"])
    for words in ["also appears on line 2", "already has an account", "not a valid email",
                  "more fields than the header", "not valid", "already taken", "personal team"]:
        assert words in messages
    assert str(exc).startswith("8 bad row(s), nothing was imported: line 3:")


@pytest.mark.parametrize("data, words", [
    ("email,first_name\nx@example.org,X\n", "missing column(s): username"),
    ("username,email,shoe_size\nx1,x@example.org,42\n", "unknown column(s): shoe_size"),
    ("username,email,email\nx1,x@example.org,y@example.org\n", "repeated column(s): email"),
    ("", "missing column(s): username, email"),
    ("username,email\n", "no rows"),
    ("username,email\n\n,\n", "no rows"),
    (b"username,email\nj\xe9r\xf4me,jerome@example.org\n", "not UTF-8"),
])
def test_import_refuses_files_of_the_wrong_form(admin_user, data, words):
    exc = _import_fails(admin_user, data)
    assert words in str(exc)


def test_import_refuses_a_team_named_like_a_user_of_the_same_file(admin_user):
    # Whichever comes first, the team 'emil' would take emil's personal team name.
    for data in ("username,email,team\ndora,dora@example.org,Emil\nemil,emil@example.org,\n",
                 "username,email,team\nemil,emil@example.org,\ndora,dora@example.org,Emil\n"):
        exc = _import_fails(admin_user, data)
        assert "same as a username in the file" in str(exc)


def test_import_over_five_megabytes_is_too_large(admin_user):
    data = b"username,email\n" + b"x" * (5 * 1024 * 1024)
    _import_fails(admin_user, data, TooLarge)


def test_import_is_for_administrators(user):
    with pytest.raises(PermissionDenied):
        services.users_import_csv(data=GOOD_CSV, actor=user)
    assert not User.objects.filter(username="dora").exists()


# --------------------------------------------------------------------------- audit


def test_audit_record_survives_missing_actor_and_target():
    event = services.audit_record(action="system.start", answer=42)
    assert (event.actor, event.actor_username, event.target_type, event.data) == (None, "", "", {"answer": 42})


def test_audited_actions_of_a_users_life(admin_user, outbox):
    carol = signup()
    services.user_approve(user=carol, actor=admin_user, ip=IP)
    with pytest.raises(NotAuthenticated):
        services.login_check(username="carol", password="nope", ip=IP)
    token, _ = services.token_create(user=carol, actor=carol, ip=IP)
    services.token_revoke(token=token, actor=carol, ip=IP)
    assert actions()[-5:] == ["user.signup", "user.approve", "login.failed", "token.create", "token.revoke"]
    assert set(AuditEvent.objects.filter(action__in=["user.signup", "user.approve", "login.failed", "token.create",
                                                     "token.revoke"]).values_list("ip", flat=True)) == {IP}
