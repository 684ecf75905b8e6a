"""Reads and queries of the accounts app. Each takes the viewer and filters in the query."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from databoard.accounts.models import ApiToken, AuditEvent, Invite, Membership, Team, User
from databoard.errors import NotFound, PermissionDenied


def _require_staff(viewer: User) -> None:
    if not viewer.is_staff:
        raise PermissionDenied("Only administrators can see this.")


def _storable(text: str) -> bool:
    # No stored name holds a NUL, and PostgreSQL refuses one even in a query: it is simply not found.
    return "\x00" not in text


def user_get(*, username: str, viewer: User) -> User:
    """A user by username: administrators see anyone, others only themselves (else 404)."""
    qs = User.objects.filter(username__iexact=username) if _storable(username) else User.objects.none()
    if not viewer.is_staff:
        qs = qs.filter(pk=viewer.pk)
    user = qs.first()
    if user is None:
        raise NotFound(f"No user named '{username[:150]}'.")
    return user


def user_find_active(*, username: str) -> User:
    """An account that exists and is not deleted, by username (case-insensitive), e.g. for an event admin
    signing someone up; else 404. Reveals no more than the public username."""
    user = (User.objects.filter(username__iexact=username, deleted_at__isnull=True).first()
            if _storable(username) else None)
    if user is None:
        raise NotFound(f"No user named '{username[:150]}'.", field="username")
    return user


def user_list(*, viewer: User, approval: str | None = None, q: str | None = None,
              include_deleted: bool = False) -> QuerySet[User]:
    """All users, for administrators, filtered by approval state and a search text."""
    _require_staff(viewer)
    qs = User.objects.all().order_by("username")
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    if approval:
        qs = qs.filter(approval=approval)
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(email__icontains=q) | Q(first_name__icontains=q)
                       | Q(last_name__icontains=q) | Q(affiliation__icontains=q))
    return qs


def approval_queue(*, viewer: User) -> QuerySet[User]:
    """Sign-ups waiting for approval, oldest first."""
    _require_staff(viewer)
    return User.objects.filter(approval=User.Approval.PENDING, deleted_at__isnull=True).order_by("date_joined", "pk")


def team_list(*, viewer: User, all_teams: bool = False) -> QuerySet[Team]:
    """The viewer's teams (administrators may ask for all)."""
    if all_teams:
        _require_staff(viewer)
        return Team.objects.all().order_by("slug")
    return Team.objects.filter(memberships__user=viewer).order_by("-is_personal", "slug")


def team_get(*, slug: str, viewer: User) -> Team:
    """A team the viewer belongs to (administrators: any); others get 404."""
    qs = Team.objects.filter(slug=slug) if _storable(slug) else Team.objects.none()
    if not viewer.is_staff:
        qs = qs.filter(memberships__user=viewer)
    team = qs.first()
    if team is None:
        raise NotFound(f"No team '{slug[:150]}' that you belong to.")
    return team


def user_in_team(*, team: Team, username: str) -> User:
    """A member of the team by username; else 404."""
    user = (User.objects.filter(username__iexact=username, memberships__team=team).first()
            if _storable(username) else None)
    if user is None:
        raise NotFound(f"'{username[:150]}' is not a member of '{team.slug}'.")
    return user


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("-role", "user__username")


def team_role(*, team: Team, user: User) -> str | None:
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def invite_list_for(*, user: User, pending_only: bool = True) -> QuerySet[Invite]:
    """Invites addressed to the user (by account or by their email)."""
    cond = Q(user=user)
    if user.email:
        cond |= Q(user__isnull=True, email__iexact=user.email)
    qs = Invite.objects.filter(cond).select_related("team", "user", "invited_by")
    return qs.filter(state=Invite.State.PENDING) if pending_only else qs


def invite_get(*, pk: int, viewer: User) -> Invite:
    """An invite addressed to the viewer or sent by a team they own; else 404."""
    invite = Invite.objects.select_related("team").filter(pk=pk).first()
    if invite is None:
        raise NotFound(f"No invite #{pk}.")
    addressed = invite_list_for(user=viewer, pending_only=False).filter(pk=pk).exists()
    owner = Membership.objects.filter(team=invite.team, user=viewer, role=Membership.Role.OWNER).exists()
    if not (addressed or owner or viewer.is_staff):
        raise NotFound(f"No invite #{pk}.")
    return invite


def team_invites(*, team: Team) -> QuerySet[Invite]:
    return Invite.objects.filter(team=team, state=Invite.State.PENDING).select_related("team", "user", "invited_by")


def token_list(*, viewer: User, user: User | None = None) -> QuerySet[ApiToken]:
    """The viewer's tokens; administrators may list another user's."""
    target = user or viewer
    if target.pk != viewer.pk:
        _require_staff(viewer)
    return ApiToken.objects.filter(user=target).select_related("user").order_by("-created_at", "-id")


def token_get(*, pk: int, viewer: User) -> ApiToken:
    qs = ApiToken.objects.filter(pk=pk)
    if not viewer.is_staff:
        qs = qs.filter(user=viewer)
    token = qs.select_related("user").first()
    if token is None:
        raise NotFound(f"No API token #{pk}.")
    return token


def audit_list(*, viewer: User, action: str | None = None, actor: str | None = None, ip: str | None = None,
               target_type: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> QuerySet[AuditEvent]:
    """The audit log, newest first, for administrators; each filter narrows it."""
    _require_staff(viewer)
    qs = AuditEvent.objects.all()
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor_username__iexact=actor)
    if ip:
        qs = qs.filter(ip=ip)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")
