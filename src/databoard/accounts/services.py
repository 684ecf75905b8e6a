"""Every write of the accounts app: one function per use case, each atomic.

Web views, the API and the CLI call these, so all three obey the same rules.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from databoard.accounts.models import ApiToken, AuditEvent, Invite, Membership, Team, User
from databoard.config import get_config
from databoard.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    TooLarge,
    ValidationFailed,
)

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,149}$")
DELETED_PREFIX = "deleted-user-"
TOKEN_PREFIX = "dbk_"
TOKEN_PREFIX_RE = re.compile(r"^[0-9a-f]{4,16}$")
TOKEN_LAST_USED_RESOLUTION = timedelta(seconds=60)
EMAIL_VERIFY_SALT = "databoard.accounts.email-verify"
EMAIL_VERIFY_MAX_AGE = timedelta(days=3)
CSV_MAX_BYTES = 5 * 1024 * 1024
CSV_MAX_ROWS = 10_000
CSV_COLUMNS = ("username", "email", "first_name", "last_name", "affiliation", "team")
CSV_REQUIRED = ("username", "email")


# --------------------------------------------------------------------------- audit


def audit_record(*, action: str, actor: User | None = None, target: Any = None, ip: str | None = None,
                 actor_username: str | None = None, **data: Any) -> AuditEvent:
    """Append one event to the audit log. Never raises for a missing actor or target."""
    event = AuditEvent(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_username=actor_username if actor_username is not None else (actor.username if actor else ""),
        ip=ip or None,
        data=data,
    )
    if target is not None:
        event.target_type = target._meta.model_name
        event.target_id = str(target.pk)
        event.target_repr = str(target)[:200]
    event.save()
    return event


# --------------------------------------------------------------------------- email


def _send_after_commit(*, to: list[str], subject: str, body: str) -> None:
    recipients = [address for address in to if address]
    if recipients:
        transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=False))


def _absolute(path: str) -> str:
    return get_config().base_url.rstrip("/") + path


# --------------------------------------------------------------------------- users


def _clean_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ValidationFailed(
            f"Username '{username[:60]}' is not valid: use 2 to 150 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.", field="username")
    if username.lower().startswith(DELETED_PREFIX):
        raise ValidationFailed(f"Usernames starting with '{DELETED_PREFIX}' are reserved.", field="username")
    return username


def _username_taken(username: str) -> bool:
    return (User.objects.filter(username__iexact=username).exists()
            or Team.objects.filter(slug__iexact=slugify(username)).exists())


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(f"'{email[:80]}' is not a valid email address.", field="email") from None
    return email


def _clean_names(**names: str) -> dict[str, str]:
    limits = {"first_name": 150, "last_name": 150, "affiliation": 200}
    cleaned = {}
    for key, value in names.items():
        value = (value or "").strip()
        if len(value) > limits[key]:
            raise ValidationFailed(f"{key.replace('_', ' ').capitalize()} is {len(value)} characters long; "
                                   f"the limit is {limits[key]}.", field=key)
        if any(ord(c) < 32 for c in value):
            raise ValidationFailed(f"{key.replace('_', ' ').capitalize()} contains control characters.",
                                   field=key)
        cleaned[key] = value
    return cleaned


def _has_control_chars(text: str, *, allow: str = "") -> bool:
    return any(ord(c) < 32 and c not in allow for c in text)


def _check_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed("Password is too weak: " + " ".join(exc.messages), field="password") from None


@transaction.atomic
def user_create(*, username: str, email: str, password: str | None = None, first_name: str = "",
                last_name: str = "", affiliation: str = "", approved: bool = False, is_staff: bool = False,
                is_superuser: bool = False, email_verified: bool = False, actor: User | None = None,
                ip: str | None = None, check_password: bool = True) -> User:
    """Create a user and their personal team.

    Raises ValidationFailed for a bad username, email, name or weak password, and Conflict
    when the username or email is already taken.
    """
    username = _clean_username(username)
    email = _clean_email(email)
    names = _clean_names(first_name=first_name, last_name=last_name, affiliation=affiliation)
    if _username_taken(username):
        raise Conflict(f"Username '{username}' is already taken.", field="username")
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(f"An account with email '{email}' already exists.", field="email")
    now = timezone.now()
    user = User(username=username, email=email, is_staff=is_staff or is_superuser, is_superuser=is_superuser,
                approval=User.Approval.APPROVED if approved else User.Approval.PENDING,
                approved_at=now if approved else None, email_verified_at=now if email_verified else None,
                **names)
    if password is None:
        user.set_unusable_password()
    else:
        if check_password:
            _check_password(password, user)
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(f"Username '{username}' or email '{email}' is already taken.") from None
    _personal_team_create(user=user)
    audit_record(action="user.create", actor=actor, target=user, ip=ip, approved=approved, staff=user.is_staff)
    return user


def _personal_team_create(*, user: User) -> Team:
    team = Team.objects.create(name=user.username, slug=slugify(user.username), is_personal=True)
    Membership.objects.create(team=team, user=user, role=Membership.Role.OWNER)
    return team


@transaction.atomic
def user_signup(*, username: str, email: str, password: str, first_name: str = "", last_name: str = "",
                affiliation: str = "", ip: str | None = None) -> User:
    """Sign a person up. They wait for approval (if required) and verify their email (if required)."""
    config = get_config()
    user = user_create(username=username, email=email, password=password, first_name=first_name,
                       last_name=last_name, affiliation=affiliation, approved=not config.require_approval,
                       ip=ip)
    AuditEvent.objects.filter(action="user.create", target_id=str(user.pk)).update(
        action="user.signup", actor=user, actor_username=user.username)
    if config.require_email_verification:
        email_verification_send(user=user)
    if config.require_approval:
        staff = list(User.objects.filter(is_staff=True, is_active=True, deleted_at__isnull=True)
                     .exclude(email__isnull=True).values_list("email", flat=True))
        _send_after_commit(
            to=staff, subject=f"databoard: {user.username} is waiting for approval",
            body=f"{user.display_name} <{user.email}> signed up.\n\nApprove or reject: "
                 f"{_absolute(reverse('accounts:approvals'))}\n")
    return user


def email_verification_send(*, user: User) -> str:
    """Email the user a link that verifies their address; returns the token (valid three days)."""
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=EMAIL_VERIFY_SALT)
    link = _absolute(reverse("accounts:verify_email", kwargs={"token": token}))
    _send_after_commit(to=[user.email], subject="databoard: verify your email address",
                       body=f"Hello {user.display_name},\n\nOpen this link to verify your address:\n{link}\n\n"
                            "It is valid for three days.\n")
    return token


@transaction.atomic
def user_verify_email(*, token: str) -> User:
    """Mark the user's email verified. Raises ValidationFailed for a bad or expired link."""
    try:
        payload = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=EMAIL_VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationFailed("This verification link has expired; log in to have a new one sent.") from None
    except signing.BadSignature:
        raise ValidationFailed("This verification link is not valid.") from None
    user = User.objects.filter(pk=payload.get("u"), email=payload.get("e"), deleted_at__isnull=True).first()
    if user is None:
        raise ValidationFailed("This verification link is for an address that is no longer on any account.")
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit_record(action="user.verify_email", actor=user, target=user)
    return user


def _require_staff(actor: User | None) -> None:
    if actor is None or not actor.is_staff:
        raise PermissionDenied("Only administrators can do this.")


@transaction.atomic
def user_approve(*, user: User, actor: User, ip: str | None = None) -> User:
    """Approve a pending (or earlier rejected) sign-up and tell the user."""
    _require_staff(actor)
    if user.is_deleted:
        raise Conflict(f"User '{user.username}' is deleted.")
    if user.is_approved:
        raise Conflict(f"User '{user.username}' is already approved.")
    moved = User.objects.filter(pk=user.pk).exclude(approval=User.Approval.APPROVED).update(
        approval=User.Approval.APPROVED, approval_reason="", approved_at=timezone.now())
    if not moved:
        raise Conflict(f"User '{user.username}' is already approved.")
    user.refresh_from_db()
    audit_record(action="user.approve", actor=actor, target=user, ip=ip)
    _send_after_commit(to=[user.email], subject="databoard: your account is approved",
                       body=f"Hello {user.display_name},\n\nYour account '{user.username}' is approved. "
                            f"Log in at {_absolute(reverse('accounts:login'))}\n")
    return user


@transaction.atomic
def user_reject(*, user: User, reason: str, actor: User, ip: str | None = None) -> User:
    """Reject a sign-up with a reason the user is told. Raises ValidationFailed without a reason."""
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason: the user is told why their sign-up was rejected.", field="reason")
    if len(reason) > 2000:
        raise ValidationFailed("The reason is longer than 2000 characters.", field="reason")
    if _has_control_chars(reason, allow="\n\r\t"):
        raise ValidationFailed("The reason cannot contain control characters.", field="reason")
    if user.is_deleted:
        raise Conflict(f"User '{user.username}' is deleted.")
    if user.pk == actor.pk:
        raise Conflict("You cannot reject your own account.")
    User.objects.filter(pk=user.pk).update(approval=User.Approval.REJECTED, approval_reason=reason,
                                           approved_at=None)
    user.refresh_from_db()
    audit_record(action="user.reject", actor=actor, target=user, ip=ip, reason=reason)
    _send_after_commit(to=[user.email], subject="databoard: your sign-up was not approved",
                       body=f"Hello {user.display_name},\n\nYour sign-up as '{user.username}' was not approved.\n"
                            f"Reason: {reason}\n")
    return user


@transaction.atomic
def user_update_profile(*, user: User, first_name: str | None = None, last_name: str | None = None,
                        affiliation: str | None = None, email: str | None = None) -> User:
    """Change a user's names, affiliation or email (a new email must be verified again if required)."""
    if user.is_deleted:
        raise Conflict("This account is deleted.")
    given = {k: v for k, v in {"first_name": first_name, "last_name": last_name,
                               "affiliation": affiliation}.items() if v is not None}
    for key, value in _clean_names(**given).items():
        setattr(user, key, value)
    if email is not None:
        email = _clean_email(email)
        if email != user.email:
            if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
                raise Conflict(f"An account with email '{email}' already exists.", field="email")
            user.email = email
            user.email_verified_at = None
            if get_config().require_email_verification:
                email_verification_send(user=user)
    user.save()
    audit_record(action="user.update", actor=user, target=user, fields=sorted(given) + (["email"] if email else []))
    return user


@transaction.atomic
def user_change_password(*, user: User, old_password: str, new_password: str, ip: str | None = None) -> User:
    """Change a password after checking the old one and the strength of the new one."""
    if not user.check_password(old_password or ""):
        raise ValidationFailed("The current password is not correct.", field="old_password")
    _check_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit_record(action="user.password_change", actor=user, target=user, ip=ip)
    return user


@transaction.atomic
def user_set_password(*, user: User, password: str, actor: User | None = None, ip: str | None = None) -> User:
    """Set a password (admin action or reset link), checking its strength."""
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(action="user.password_set", actor=actor or user, target=user, ip=ip)
    return user


@transaction.atomic
def password_reset_request(*, email: str, ip: str | None = None) -> None:
    """Email a password-reset link to the account with this address, if there is one.

    Callers answer the same whether or not an account has the address, so nobody learns which
    addresses have accounts. Deleted or disabled accounts and accounts without a password get
    nothing. The link opens the web page ``accounts:password_reset_confirm`` (Django's token
    generator, valid ``PASSWORD_RESET_TIMEOUT``). Raises ValidationFailed for a malformed address.
    """
    email = _clean_email(email)
    user = User.objects.filter(email__iexact=email, is_active=True, deleted_at__isnull=True).first()
    if user is None or not user.has_usable_password():
        return
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from urllib.parse import urlsplit

    from django.template.loader import render_to_string

    uid, token = urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    link = _absolute(reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token}))
    base = urlsplit(get_config().base_url)
    # The keys of Django's PasswordResetForm, so the templates also serve Django's own views.
    context = {"user": user, "email": user.email, "uid": uid, "token": token, "reset_url": link,
               "protocol": base.scheme or "http", "domain": base.netloc, "site_name": "databoard"}
    subject = " ".join(render_to_string("accounts/email/password_reset_subject.txt", context).split())
    audit_record(action="user.password_reset_request", actor=user, target=user, ip=ip)
    _send_after_commit(to=[user.email], subject=subject,
                       body=render_to_string("accounts/email/password_reset.txt", context))


@transaction.atomic
def user_delete(*, user: User, actor: User, ip: str | None = None) -> User:
    """Delete an account: personal data is wiped, results stay attributed to "deleted user".

    The row is kept (so results keep their foreign keys) with an anonymous username, no email,
    no names, an unusable password, and no tokens or team memberships except the personal team.
    """
    if actor.pk != user.pk:
        _require_staff(actor)
    if user.is_deleted:
        raise Conflict("This account is already deleted.")
    if user.is_superuser and not User.objects.filter(is_superuser=True, deleted_at__isnull=True,
                                                     is_active=True).exclude(pk=user.pk).exists():
        raise Conflict("This is the last administrator account; make another administrator first.")
    old_username, old_email = user.username, user.email or ""
    token_ids = [str(pk) for pk in ApiToken.objects.filter(user=user).values_list("pk", flat=True)]
    anonymous = f"{DELETED_PREFIX}{user.pk}"
    user.username = anonymous
    user.email = None
    user.first_name = user.last_name = user.affiliation = ""
    user.approval_reason = ""
    user.is_active = False
    user.is_staff = user.is_superuser = False
    user.deleted_at = timezone.now()
    user.set_unusable_password()
    user.save()
    ApiToken.objects.filter(user=user).delete()
    Invite.objects.filter(Q(user=user) | Q(invited_by=user), state=Invite.State.PENDING).update(
        state=Invite.State.CANCELLED, responded_at=timezone.now())
    Membership.objects.filter(user=user, team__is_personal=False).delete()
    Team.objects.filter(is_personal=True, memberships__user=user).update(name=anonymous, slug=anonymous)
    _audit_anonymize(user=user, names=[old_username, old_email], token_ids=token_ids, anonymous=anonymous)
    audit_record(action="user.delete", actor=actor if actor.pk != user.pk else None,
                 actor_username=anonymous if actor.pk == user.pk else actor.username, target=user, ip=ip)
    return user


def _audit_anonymize(*, user: User, names: list[str], token_ids: list[str], anonymous: str) -> None:
    """Earlier audit rows keep their facts but name a deleted user only by the anonymous name.

    The username or email can sit in ``actor_username`` (also failed sign-ins typed with the
    email), in ``target_repr`` (the user's full name, a token's owner) and in ``data`` values.
    """
    names = [name for name in names if name]
    typed = Q()
    for name in names:
        typed |= Q(actor_username__iexact=name)
    AuditEvent.objects.filter(Q(actor=user) | typed).update(actor_username=anonymous)
    AuditEvent.objects.filter(
        Q(target_type=User._meta.model_name, target_id=str(user.pk))
        | Q(target_type=ApiToken._meta.model_name, target_id__in=token_ids)).update(target_repr="deleted user")
    for key in ("user", "member", "invitee"):
        for name in names:
            for event in AuditEvent.objects.filter(**{f"data__{key}__iexact": name}):
                event.data[key] = anonymous
                event.save(update_fields=["data"])


# --------------------------------------------------------------------------- login


def login_throttle_check(*, username: str, ip: str | None) -> None:
    """Raise RateLimited when this username and address failed too often in the last minute."""
    limit = get_config().login_failures_per_minute
    since = timezone.now() - timedelta(minutes=1)
    # Sign-in matches the username in any case, so the count does too: "ALICE" is "alice".
    failures = AuditEvent.objects.filter(action="login.failed", actor_username__iexact=(username or "")[:150],
                                         ip=ip or None, created_at__gte=since).count()
    if failures >= limit:
        raise RateLimited(f"Too many failed sign-ins for '{username}' from this address; "
                          "wait a minute and try again.", retry_after_seconds=60)


def login_check(*, username: str, password: str, ip: str | None = None) -> User:
    """Check credentials for a sign-in and say plainly why one is refused.

    Raises RateLimited after too many failures, NotAuthenticated for wrong credentials, and
    PermissionDenied for accounts that are pending, rejected, unverified or disabled.
    """
    username = (username or "").strip()
    login_throttle_check(username=username, ip=ip)
    user = User.objects.filter(Q(username__iexact=username) | Q(email__iexact=username),
                               deleted_at__isnull=True).first() if username else None
    if user is None or not user.check_password(password or ""):
        audit_record(action="login.failed", actor=None, actor_username=username[:150], ip=ip)
        raise NotAuthenticated("Username or password is not correct.")
    if not user.is_active:
        audit_record(action="login.failed", actor=user, ip=ip, reason="inactive")
        raise PermissionDenied("This account is disabled; contact an administrator.")
    if user.approval == User.Approval.PENDING:
        raise PermissionDenied("Your account is waiting for an administrator's approval; "
                               "you will get an email when it is approved.", reason="pending")
    if user.approval == User.Approval.REJECTED:
        raise PermissionDenied(f"Your sign-up was not approved: {user.approval_reason}", reason="rejected")
    if get_config().require_email_verification and user.email_verified_at is None and not user.is_staff:
        raise PermissionDenied("Verify your email address first: open the link we emailed you.",
                               reason="unverified")
    return user


# --------------------------------------------------------------------------- teams


def _require_owner(*, team: Team, actor: User) -> None:
    if actor.is_staff:
        return
    if not Membership.objects.filter(team=team, user=actor, role=Membership.Role.OWNER).exists():
        raise PermissionDenied(f"Only owners of team '{team.slug}' can do this.")


@transaction.atomic
def team_create(*, name: str, owner: User) -> Team:
    """Create a team owned by ``owner``. Raises ValidationFailed or Conflict for a bad or taken name."""
    name = (name or "").strip()
    slug = slugify(name)
    if not name or not slug or len(name) > 100:
        raise ValidationFailed("A team name needs 1 to 100 characters, with at least one letter or digit.",
                               field="name")
    if _has_control_chars(name):
        raise ValidationFailed("A team name cannot contain control characters.", field="name")
    if slug.startswith(DELETED_PREFIX):
        raise ValidationFailed(f"Team names starting with '{DELETED_PREFIX}' are reserved.", field="name")
    if Team.objects.filter(slug=slug).exists() or User.objects.filter(username__iexact=slug).exists():
        raise Conflict(f"The team name '{name}' is taken.", field="name")
    team = Team.objects.create(name=name, slug=slug)
    Membership.objects.create(team=team, user=owner, role=Membership.Role.OWNER)
    audit_record(action="team.create", actor=owner, target=team)
    return team


@transaction.atomic
def team_invite(*, team: Team, actor: User, username: str | None = None, email: str | None = None) -> Invite:
    """Invite a user (by username or email) to a team. Only owners invite; personal teams take nobody."""
    _require_owner(team=team, actor=actor)
    if team.is_personal:
        raise Conflict("A personal team cannot have other members; create a team first.")
    if bool(username) == bool(email):
        raise ValidationFailed("Give either a username or an email address to invite.")
    invitee = None
    if username:
        invitee = User.objects.filter(username__iexact=username.strip(), deleted_at__isnull=True).first()
        if invitee is None:
            raise NotFound(f"No user named '{username[:150]}'.", field="username")
        if Membership.objects.filter(team=team, user=invitee).exists():
            raise Conflict(f"'{invitee.username}' is already a member of '{team.slug}'.")
        send_to, email = invitee.email or "", ""  # the invite does not show the invitee's address
    else:
        # An invite by email names no account, so it tells nobody whether (or whose) account has the address.
        email = _clean_email(email or "")
        send_to = email
        if Membership.objects.filter(team=team, user__email__iexact=email, user__deleted_at__isnull=True).exists():
            raise Conflict(f"A member of '{team.slug}' already has this address.")
    pending = Invite.objects.filter(team=team, state=Invite.State.PENDING)
    if invitee is not None:
        duplicate = pending.filter(Q(user=invitee) | Q(email__iexact=invitee.email or "-")).exists()
    else:
        duplicate = pending.filter(Q(email__iexact=email) | Q(user__email__iexact=email)).exists()
    if duplicate:
        raise Conflict(f"'{invitee.username if invitee else email}' already has a pending invite to '{team.slug}'.")
    invite = Invite.objects.create(team=team, user=invitee, email=email, invited_by=actor)
    audit_record(action="team.invite", actor=actor, target=team, invitee=invitee.username if invitee else email)
    _send_after_commit(to=[send_to], subject=f"databoard: invitation to team {team.name}",
                       body=f"{actor.display_name} invites you to the team '{team.name}'.\n"
                            f"Accept or decline at {_absolute(reverse('accounts:teams'))}\n")
    return invite


def _invite_for(*, invite: Invite, user: User) -> None:
    addressed = invite.user_id == user.pk or (invite.user_id is None and user.email
                                               and invite.email.lower() == user.email.lower())
    if not addressed:
        raise NotFound("No such invite.")
    if invite.state != Invite.State.PENDING:
        raise Conflict(f"This invite is already {invite.state}.")


@transaction.atomic
def invite_accept(*, invite: Invite, user: User) -> Membership:
    """Accept an invite addressed to ``user``; they join the team as a member."""
    _invite_for(invite=invite, user=user)
    moved = Invite.objects.filter(pk=invite.pk, state=Invite.State.PENDING).update(
        state=Invite.State.ACCEPTED, user=user, responded_at=timezone.now())
    if not moved:
        raise Conflict("This invite was answered in the meantime.")
    membership, _ = Membership.objects.get_or_create(team=invite.team, user=user)
    audit_record(action="team.join", actor=user, target=invite.team)
    return membership


@transaction.atomic
def invite_decline(*, invite: Invite, user: User) -> Invite:
    """Decline an invite addressed to ``user``."""
    _invite_for(invite=invite, user=user)
    moved = Invite.objects.filter(pk=invite.pk, state=Invite.State.PENDING).update(
        state=Invite.State.DECLINED, responded_at=timezone.now())
    if not moved:
        raise Conflict("This invite was answered or withdrawn in the meantime.")
    invite.refresh_from_db()
    audit_record(action="team.decline", actor=user, target=invite.team)
    return invite


@transaction.atomic
def invite_cancel(*, invite: Invite, actor: User) -> Invite:
    """Withdraw a pending invite (team owners)."""
    _require_owner(team=invite.team, actor=actor)
    if invite.state != Invite.State.PENDING:
        raise Conflict(f"This invite is already {invite.state}.")
    moved = Invite.objects.filter(pk=invite.pk, state=Invite.State.PENDING).update(
        state=Invite.State.CANCELLED, responded_at=timezone.now())
    if not moved:
        raise Conflict("This invite was answered in the meantime.")
    invite.refresh_from_db()
    audit_record(action="team.invite_cancel", actor=actor, target=invite.team,
                 invitee=invite.user.username if invite.user_id else invite.email)
    return invite


def _last_owner(*, team: Team, user: User) -> bool:
    owners = Membership.objects.filter(team=team, role=Membership.Role.OWNER)
    return owners.filter(user=user).exists() and owners.count() == 1


@transaction.atomic
def team_leave(*, team: Team, user: User) -> None:
    """Leave a team. The personal team cannot be left; the last owner must hand over first."""
    if team.is_personal:
        raise Conflict("You cannot leave your personal team.")
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None:
        raise NotFound(f"You are not a member of '{team.slug}'.")
    others = Membership.objects.filter(team=team).exclude(user=user)
    if _last_owner(team=team, user=user) and others.exists():
        raise Conflict(f"You are the last owner of '{team.slug}'; make another member owner first.")
    membership.delete()
    audit_record(action="team.leave", actor=user, target=team)


@transaction.atomic
def team_remove_member(*, team: Team, actor: User, user: User) -> None:
    """Remove a member from a team (owners); to remove yourself, leave.

    Nobody is removed from their personal team, and the last owner of a team that has other
    members stays (an administrator makes someone else owner first).
    """
    _require_owner(team=team, actor=actor)
    if user.pk == actor.pk:
        raise Conflict("To remove yourself from a team, leave it.")
    if team.is_personal:
        raise Conflict("Nobody can be removed from their personal team.")
    if _last_owner(team=team, user=user) and Membership.objects.filter(team=team).exclude(user=user).exists():
        raise Conflict(f"'{user.username}' is the last owner of '{team.slug}'; make another member owner first.")
    deleted, _ = Membership.objects.filter(team=team, user=user).delete()
    if not deleted:
        raise NotFound(f"'{user.username}' is not a member of '{team.slug}'.")
    audit_record(action="team.remove_member", actor=actor, target=team, member=user.username)


@transaction.atomic
def membership_set_role(*, team: Team, actor: User, user: User, role: str) -> Membership:
    """Make a member owner or member (owners). The last owner cannot step down."""
    _require_owner(team=team, actor=actor)
    if role not in Membership.Role.values:
        raise ValidationFailed(f"Role '{role}' is not one of: {', '.join(Membership.Role.values)}.", field="role")
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None:
        raise NotFound(f"'{user.username}' is not a member of '{team.slug}'.")
    if role == Membership.Role.MEMBER and _last_owner(team=team, user=user):
        raise Conflict(f"'{user.username}' is the last owner of '{team.slug}'.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(action="team.set_role", actor=actor, target=team, member=user.username, role=role)
    return membership


# --------------------------------------------------------------------------- tokens


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


SCOPE_RANK = {ApiToken.Scope.READ: 0, ApiToken.Scope.WRITE: 1, ApiToken.Scope.ADMIN: 2}


@transaction.atomic
def token_create(*, user: User, actor: User, name: str = "", scope: str = ApiToken.Scope.WRITE,
                 expires_at: datetime | None = None, ip: str | None = None) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; returns the row and the token, which is never shown again.

    Users create their own; administrators may create tokens for others. The ``admin`` scope is
    only for administrators. Raises ValidationFailed for a bad scope, name or expiry.
    """
    if actor.pk != user.pk:
        _require_staff(actor)
    if scope not in ApiToken.Scope.values:
        raise ValidationFailed(f"Scope '{scope}' is not one of: read, write, admin.", field="scope")
    if scope == ApiToken.Scope.ADMIN and not user.is_staff:
        raise PermissionDenied("Only administrators can hold tokens with the 'admin' scope.", field="scope")
    name = (name or "").strip()
    if len(name) > 100:
        raise ValidationFailed("A token name has at most 100 characters.", field="name")
    if _has_control_chars(name):
        raise ValidationFailed("A token name cannot contain control characters.", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("The expiry date is in the past.", field="expires_at")
    if user.is_deleted or not user.is_active:
        raise Conflict(f"User '{user.username}' cannot hold tokens.")
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, token_hash=_hash_token(raw),
                                    scope=scope, expires_at=expires_at)
    audit_record(action="token.create", actor=actor, target=token, ip=ip, user=user.username, scope=scope)
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: User, ip: str | None = None) -> ApiToken:
    """Revoke a token at once (its owner or an administrator)."""
    if actor.pk != token.user_id:
        _require_staff(actor)
    if token.revoked_at is not None:
        raise Conflict(f"Token {token.prefix} is already revoked.")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    token.refresh_from_db()
    audit_record(action="token.revoke", actor=actor, target=token, ip=ip)
    return token


def token_authenticate(raw: str) -> ApiToken:
    """Find the active token for a raw bearer string. Raises NotAuthenticated with the reason."""
    parts = (raw or "").strip().split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != TOKEN_PREFIX or not TOKEN_PREFIX_RE.match(parts[1]) or not parts[2]:
        raise NotAuthenticated("The API token is malformed; it looks like dbk_xxxxxxxx_….")
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1][:16]).first()
    if token is None or not hmac.compare_digest(token.token_hash, _hash_token(raw.strip())):
        raise NotAuthenticated("The API token is not valid.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise NotAuthenticated("The API token was revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthenticated("The API token has expired.")
    user = token.user
    if not user.is_active or user.is_deleted or not user.is_approved:
        raise NotAuthenticated("The account that owns this API token cannot sign in.")
    if token.last_used_at is None or now - token.last_used_at > TOKEN_LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --------------------------------------------------------------------------- CSV import


@dataclass
class ImportResult:
    """What a CSV import created: one row per user, with the generated password unless emailed."""

    rows: list[dict[str, str]] = field(default_factory=list)
    emailed: bool = False

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["username", "email", "team", "password"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()


def _read_csv_text(data: bytes | str | IO[bytes]) -> str:
    if hasattr(data, "read"):
        data = data.read(CSV_MAX_BYTES + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > CSV_MAX_BYTES:
        raise TooLarge(f"The CSV file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB; split it.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"The CSV file is not UTF-8 text (bad byte at position {exc.start}); "
                               "save it as UTF-8 and try again.") from None


def users_import_csv(*, data: bytes | str | IO[bytes], actor: User, send_emails: bool = False,
                     ip: str | None = None) -> ImportResult:
    """Create approved users from a CSV (username, email, first_name, last_name, affiliation, team).

    Every row is checked first; if any is bad, ValidationFailed lists each bad row with its line
    number and nothing is written. Otherwise users get generated passwords, returned in the
    result (or emailed to them when ``send_emails``), and join the named team (created if new).
    """
    _require_staff(actor)
    text = _read_csv_text(data)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ValidationFailed(f"Line 1: the CSV header cannot be read ({exc}).") from None
    missing = [c for c in CSV_REQUIRED if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or repeated:
        problems = []
        if missing:
            problems.append("missing column(s): " + ", ".join(missing))
        if unknown:
            problems.append("unknown column(s): " + ", ".join(unknown))
        if repeated:
            # DictReader would silently keep the last of the repeated columns.
            problems.append("repeated column(s): " + ", ".join(repeated))
        raise ValidationFailed(f"Line 1: {'; '.join(problems)}. Expected columns: {', '.join(CSV_COLUMNS)}.",
                               errors=[{"line": 1, "message": "; ".join(problems)}])
    reader.fieldnames = header

    errors: list[dict[str, Any]] = []
    planned: list[dict[str, str]] = []
    seen_usernames: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    seen_slugs: dict[str, int] = {}  # personal team slugs of the file's usernames
    planned_lines: list[int] = []
    try:
        for raw_row in reader:
            line = reader.line_num
            if len(planned) + len(errors) >= CSV_MAX_ROWS:
                raise TooLarge(f"The CSV file has more than {CSV_MAX_ROWS} rows; split it.")
            if None in raw_row:
                errors.append({"line": line, "message": "the row has more fields than the header"})
                continue
            row = {k: (v or "").strip() for k, v in raw_row.items()}
            if not any(row.values()):
                continue
            try:
                username = _clean_username(row.get("username", ""))
                email = _clean_email(row.get("email", ""))
                names = _clean_names(first_name=row.get("first_name", ""), last_name=row.get("last_name", ""),
                                     affiliation=row.get("affiliation", ""))
                key = username.lower()
                if key in seen_usernames:
                    raise ValidationFailed(f"username '{username}' also appears on line {seen_usernames[key]}")
                if slugify(username) in seen_slugs:
                    raise ValidationFailed(f"username '{username}' gives the same personal team name as the "
                                           f"username on line {seen_slugs[slugify(username)]}")
                if email in seen_emails:
                    raise ValidationFailed(f"email '{email}' also appears on line {seen_emails[email]}")
                if _username_taken(username):
                    raise ValidationFailed(f"username '{username}' is already taken")
                if User.objects.filter(email__iexact=email).exists():
                    raise ValidationFailed(f"email '{email}' already has an account")
                team_name = row.get("team", "")
                if team_name and (not slugify(team_name) or len(team_name) > 100 or _has_control_chars(team_name)):
                    raise ValidationFailed(f"team name '{team_name[:100]}' is not valid")
                if team_name and slugify(team_name).startswith(DELETED_PREFIX):
                    raise ValidationFailed(f"team names starting with '{DELETED_PREFIX}' are reserved")
                existing_team = Team.objects.filter(slug=slugify(team_name)).first() if team_name else None
                if existing_team is not None and existing_team.is_personal:
                    raise ValidationFailed(f"team '{team_name}' is a personal team")
                if team_name and existing_team is None and User.objects.filter(
                        username__iexact=slugify(team_name)).exists():
                    raise ValidationFailed(f"team name '{team_name}' is taken by a user")
            except ValidationFailed as exc:
                message = str(exc)
                errors.append({"line": line, "message": message[0].lower() + message[1:]})
                continue
            seen_usernames[key] = line
            seen_emails[email] = line
            seen_slugs[slugify(username)] = line
            planned.append({"username": username, "email": email, "team": team_name, **names})
            planned_lines.append(line)
    except csv.Error as exc:
        errors.append({"line": reader.line_num, "message": f"the CSV cannot be read: {exc}"})
    # A new team must not take the personal team name of a user of the file, whichever row comes first.
    for row, line in zip(planned, planned_lines):
        team_slug = slugify(row["team"])
        if team_slug and team_slug in seen_slugs:
            errors.append({"line": line, "message": f"team name '{row['team']}' is the same as a username in "
                                                    f"the file (line {seen_slugs[team_slug]})"})
    errors.sort(key=lambda e: e["line"])
    if errors:
        listing = "; ".join(f"line {e['line']}: {e['message']}" for e in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise ValidationFailed(f"{len(errors)} bad row(s), nothing was imported: {listing}{more}.", errors=errors)
    if not planned:
        raise ValidationFailed("The CSV file has no rows to import.")

    result = ImportResult(emailed=send_emails)
    login_url = _absolute(reverse("accounts:login"))
    with transaction.atomic():
        for row in planned:
            password = secrets.token_urlsafe(12)
            user = user_create(username=row["username"], email=row["email"], password=password,
                               first_name=row["first_name"], last_name=row["last_name"],
                               affiliation=row["affiliation"], approved=True, email_verified=True,
                               actor=actor, ip=ip, check_password=False)
            if row["team"]:
                team = Team.objects.filter(slug=slugify(row["team"])).first()
                if team is None:
                    team = team_create(name=row["team"], owner=user)
                else:
                    Membership.objects.get_or_create(team=team, user=user)
            if send_emails:
                _send_after_commit(to=[user.email], subject="databoard: your account",
                                   body=f"Hello {user.display_name},\n\nAn account was made for you.\n"
                                        f"Username: {user.username}\nPassword: {password}\n"
                                        f"Log in at {login_url} and change the password.\n")
            result.rows.append({"username": user.username, "email": user.email, "team": row["team"],
                                "password": "(emailed)" if send_emails else password})
        audit_record(action="user.import_csv", actor=actor, ip=ip, count=len(result.rows), emailed=send_emails)
    return result
