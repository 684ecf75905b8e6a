"""Accounts API: sign-up, sign-in, me, users and approval, teams and invites, tokens, audit log, CSV import."""


from datetime import datetime, timedelta

from django.contrib.auth import login, logout
from django.http import HttpRequest
from django.utils import timezone
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from databoard.accounts import selectors, services
from databoard.accounts.models import User
from databoard.accounts.schemas import (
    AdminUserOut,
    AuditOut,
    DeleteMeIn,
    Instant,
    ImportOut,
    InviteIn,
    InviteOut,
    LoginIn,
    MeOut,
    MessageOut,
    PasswordChangeIn,
    PasswordResetIn,
    ProfileIn,
    RejectIn,
    RoleIn,
    SignupIn,
    TeamDetailOut,
    TeamIn,
    TeamOut,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserCreateIn,
)
from databoard.api import Page, require_admin
from databoard.errors import PermissionDenied, ValidationFailed
from databoard.web.request import client_ip

router = Router(tags=["accounts"])


# --------------------------------------------------------------------------- sign-up and sign-in


@router.post("/signup", auth=None, response={201: MeOut})
def signup_api(request: HttpRequest, data: SignupIn):
    """Create an account. It may wait for an administrator's approval before it can sign in."""
    user = services.user_signup(**data.dict(), ip=client_ip(request))
    return Status(201, user)


@router.post("/login", auth=None, response=MeOut)
def login_api(request: HttpRequest, data: LoginIn):
    """Start a browser session (10 failures a minute per username and address → 429)."""
    user = services.login_check(username=data.username, password=data.password, ip=client_ip(request))
    login(request, user, backend="databoard.accounts.backends.ApprovedUserBackend")
    return user


@router.post("/logout", response=MessageOut)
def logout_api(request: HttpRequest):
    """End the browser session."""
    logout(request)
    return {"message": "Signed out."}


@router.post("/password-reset", auth=None, response={202: MessageOut})
def password_reset_api(request: HttpRequest, data: PasswordResetIn):
    """Email a password-reset link if an account has this address (the answer is the same either way)."""
    services.password_reset_request(email=data.email, ip=client_ip(request))
    return Status(202, {"message": "If an account has this address, a reset link was emailed to it."})


# --------------------------------------------------------------------------- me


@router.get("/me", response=MeOut)
def me_api(request: HttpRequest):
    """The signed-in user."""
    return request.user


@router.patch("/me", response=MeOut)
def me_update_api(request: HttpRequest, data: ProfileIn):
    """Change your names, affiliation or email."""
    return services.user_update_profile(user=request.user, **data.dict())


@router.post("/me/password", response=MessageOut)
def me_password_api(request: HttpRequest, data: PasswordChangeIn):
    """Change your password (the current one is checked)."""
    services.user_change_password(user=request.user, old_password=data.old_password,
                                  new_password=data.new_password, ip=client_ip(request))
    return {"message": "Password changed."}


@router.delete("/me", response=MessageOut)
def me_delete_api(request: HttpRequest, data: DeleteMeIn):
    """Delete your account: personal data is erased, results stay as "deleted user"."""
    user = request.user
    if not user.check_password(data.password):
        raise ValidationFailed("The password is not correct; the account was not deleted.", field="password")
    services.user_delete(user=user, actor=user, ip=client_ip(request))
    logout(request)
    return {"message": "Your account was deleted."}


# --------------------------------------------------------------------------- users (administrators)


class UserFilter(Schema):
    approval: User.Approval | None = None
    q: str | None = None
    include_deleted: bool = False


@router.get("/users", response=list[AdminUserOut])
@paginate(Page)
def user_list_api(request: HttpRequest, filters: Query[UserFilter]):
    """All users (administrators), filtered by approval state or a search text."""
    return selectors.user_list(viewer=require_admin(request), approval=filters.approval, q=filters.q,
                               include_deleted=filters.include_deleted)


@router.post("/users", response={201: AdminUserOut})
def user_create_api(request: HttpRequest, data: UserCreateIn):
    """Create a user (administrators); approved unless said otherwise."""
    admin = require_admin(request)
    user = services.user_create(username=data.username, email=data.email, password=data.password,
                                first_name=data.first_name, last_name=data.last_name,
                                affiliation=data.affiliation, approved=data.approved, is_staff=data.is_staff,
                                email_verified=True, actor=admin, ip=client_ip(request))
    return Status(201, user)


@router.get("/approvals", response=list[AdminUserOut])
@paginate(Page)
def approval_list_api(request: HttpRequest):
    """Sign-ups waiting for approval, oldest first (administrators)."""
    return selectors.approval_queue(viewer=require_admin(request))


@router.post("/users/import", response={201: ImportOut})
def user_import_api(request: HttpRequest, file: File[UploadedFile], send_emails: Form[bool] = False):
    """Create users from a CSV file (administrators). A bad row rejects the whole file."""
    admin = require_admin(request)
    result = services.users_import_csv(data=file, actor=admin, send_emails=send_emails, ip=client_ip(request))
    return Status(201, {"created": len(result.rows), "emailed": result.emailed, "rows": result.rows,
                        "csv": result.as_csv()})


@router.get("/users/{username}", response=AdminUserOut)
def user_get_api(request: HttpRequest, username: str):
    """One user: yourself, or anyone for administrators (with the admin scope)."""
    if request.user.is_staff and username.lower() != request.user.username.lower():
        require_admin(request)
    return selectors.user_get(username=username, viewer=request.user)


@router.post("/users/{username}/approve", response=AdminUserOut)
def user_approve_api(request: HttpRequest, username: str):
    """Approve a sign-up (administrators); the user is emailed."""
    admin = require_admin(request)
    user = selectors.user_get(username=username, viewer=admin)
    return services.user_approve(user=user, actor=admin, ip=client_ip(request))


@router.post("/users/{username}/reject", response=AdminUserOut)
def user_reject_api(request: HttpRequest, username: str, data: RejectIn):
    """Reject a sign-up with a reason the user is told (administrators)."""
    admin = require_admin(request)
    user = selectors.user_get(username=username, viewer=admin)
    return services.user_reject(user=user, reason=data.reason, actor=admin, ip=client_ip(request))


@router.delete("/users/{username}", response=MessageOut)
def user_delete_api(request: HttpRequest, username: str):
    """Delete (anonymize) a user's account (administrators)."""
    admin = require_admin(request)
    user = selectors.user_get(username=username, viewer=admin)
    services.user_delete(user=user, actor=admin, ip=client_ip(request))
    return {"message": f"User '{username}' was deleted."}


# --------------------------------------------------------------------------- teams and invites


@router.get("/teams", response=list[TeamOut])
@paginate(Page)
def team_list_api(request: HttpRequest, all: bool = False):  # noqa: A002 (query parameter name)
    """Your teams (administrators: ``?all=true`` for every team)."""
    if all:
        require_admin(request)
    return selectors.team_list(viewer=request.user, all_teams=all)


@router.post("/teams", response={201: TeamDetailOut})
def team_create_api(request: HttpRequest, data: TeamIn):
    """Create a team; you are its owner."""
    team = services.team_create(name=data.name, owner=request.user)
    return Status(201, _team_detail(team))


def _team(request: HttpRequest, slug: str, *, owner_action: bool = False):
    """The team at ``slug`` for this request. Administrators reach teams they are not in (or do what only
    owners may) with the admin scope only, as for every other administrator power."""
    team = selectors.team_get(slug=slug, viewer=request.user)
    if request.user.is_staff:
        role = selectors.team_role(team=team, user=request.user)
        if role is None or (owner_action and role != "owner"):
            require_admin(request)
    return team


def _invite(request: HttpRequest, invite_id: int):
    invite = selectors.invite_get(pk=invite_id, viewer=request.user)
    if request.user.is_staff:
        addressed = selectors.invite_list_for(user=request.user, pending_only=False).filter(pk=invite.pk).exists()
        if not addressed and selectors.team_role(team=invite.team, user=request.user) != "owner":
            require_admin(request)
    return invite


def _team_detail(team) -> dict:
    return {"id": team.id, "name": team.name, "slug": team.slug, "is_personal": team.is_personal,
            "created_at": team.created_at, "members": list(selectors.team_members(team=team))}


@router.get("/teams/{slug}", response=TeamDetailOut)
def team_get_api(request: HttpRequest, slug: str):
    """A team you belong to, with its members."""
    return _team_detail(_team(request, slug))


@router.get("/teams/{slug}/invites", response=list[InviteOut])
@paginate(Page)
def team_invites_api(request: HttpRequest, slug: str):
    """Pending invites of a team you belong to."""
    return selectors.team_invites(team=_team(request, slug))


@router.post("/teams/{slug}/invites", response={201: InviteOut})
def team_invite_api(request: HttpRequest, slug: str, data: InviteIn):
    """Invite someone by username or email (team owners)."""
    team = _team(request, slug, owner_action=True)
    invite = services.team_invite(team=team, actor=request.user, username=data.username, email=data.email)
    return Status(201, invite)


@router.post("/teams/{slug}/leave", response=MessageOut)
def team_leave_api(request: HttpRequest, slug: str):
    """Leave a team."""
    team = selectors.team_get(slug=slug, viewer=request.user)
    services.team_leave(team=team, user=request.user)
    return {"message": f"You left '{team.slug}'."}


@router.put("/teams/{slug}/members/{username}", response=TeamDetailOut)
def team_member_role_api(request: HttpRequest, slug: str, username: str, data: RoleIn):
    """Make a member owner or member (team owners)."""
    team = _team(request, slug, owner_action=True)
    member = selectors.user_in_team(team=team, username=username)
    services.membership_set_role(team=team, actor=request.user, user=member, role=data.role)
    return _team_detail(team)


@router.delete("/teams/{slug}/members/{username}", response=MessageOut)
def team_member_remove_api(request: HttpRequest, slug: str, username: str):
    """Remove a member (team owners)."""
    team = _team(request, slug, owner_action=True)
    member = selectors.user_in_team(team=team, username=username)
    services.team_remove_member(team=team, actor=request.user, user=member)
    return {"message": f"'{username}' was removed from '{team.slug}'."}


@router.get("/invites", response=list[InviteOut])
@paginate(Page)
def invite_list_api(request: HttpRequest):
    """Pending invites addressed to you."""
    return selectors.invite_list_for(user=request.user)


@router.post("/invites/{invite_id}/accept", response=TeamDetailOut)
def invite_accept_api(request: HttpRequest, invite_id: int):
    """Accept an invite: you join the team."""
    invite = _invite(request, invite_id)
    membership = services.invite_accept(invite=invite, user=request.user)
    return _team_detail(membership.team)


@router.post("/invites/{invite_id}/decline", response=InviteOut)
def invite_decline_api(request: HttpRequest, invite_id: int):
    """Decline an invite."""
    invite = _invite(request, invite_id)
    return services.invite_decline(invite=invite, user=request.user)


@router.delete("/invites/{invite_id}", response=InviteOut)
def invite_cancel_api(request: HttpRequest, invite_id: int):
    """Withdraw a pending invite (team owners)."""
    invite = _invite(request, invite_id)
    return services.invite_cancel(invite=invite, actor=request.user)


# --------------------------------------------------------------------------- tokens


@router.get("/tokens", response=list[TokenOut])
@paginate(Page)
def token_list_api(request: HttpRequest, user: str | None = None):
    """Your API tokens (administrators: ``?user=NAME``). The tokens themselves are never shown again."""
    target = None
    if user:
        require_admin(request)
        target = selectors.user_get(username=user, viewer=request.user)
    return selectors.token_list(viewer=request.user, user=target).select_related("user")


@router.post("/tokens", response={201: TokenCreatedOut})
def token_create_api(request: HttpRequest, data: TokenIn):
    """Create an API token; the answer holds the token, shown only this once."""
    owner = request.user
    if services.SCOPE_RANK[data.scope] > services.SCOPE_RANK[request.token_scope]:
        raise PermissionDenied(f"A '{request.token_scope}' token cannot create a '{data.scope}' token; "
                               f"sign in or use a token with the '{data.scope}' scope.", field="scope")
    if data.user and data.user.lower() != request.user.username.lower():
        owner = selectors.user_get(username=data.user, viewer=require_admin(request))
    expires_at: datetime | None = data.expires_at
    if data.expires_in_days:
        expires_at = timezone.now() + timedelta(days=data.expires_in_days)
    if expires_at is not None and timezone.is_naive(expires_at):
        raise ValidationFailed("Give the expiry with a time zone, e.g. 2030-01-01T00:00:00Z.", field="expires_at")
    token, raw = services.token_create(user=owner, actor=request.user, name=data.name, scope=data.scope,
                                       expires_at=expires_at, ip=client_ip(request))
    token.token = raw
    return Status(201, token)


@router.delete("/tokens/{token_id}", response=TokenOut)
def token_revoke_api(request: HttpRequest, token_id: int):
    """Revoke an API token at once."""
    token = selectors.token_get(pk=token_id, viewer=request.user)
    if token.user_id != request.user.pk:
        require_admin(request)
    return services.token_revoke(token=token, actor=request.user, ip=client_ip(request))


# --------------------------------------------------------------------------- audit log


class AuditFilter(Schema):
    action: str | None = None
    actor: str | None = None
    ip: str | None = None
    target_type: str | None = None
    since: Instant | None = None
    until: Instant | None = None


@router.get("/audit", response=list[AuditOut])
@paginate(Page)
def audit_list_api(request: HttpRequest, filters: Query[AuditFilter]):
    """The audit log, newest first (administrators)."""
    ip = filters.ip
    if ip:
        import ipaddress

        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValidationFailed(f"'{ip[:60]}' is not an IP address.", field="ip") from None
    return selectors.audit_list(viewer=require_admin(request), action=filters.action, actor=filters.actor, ip=ip,
                                target_type=filters.target_type, since=filters.since, until=filters.until)
