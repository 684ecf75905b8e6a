"""API schemas of the accounts app."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import AfterValidator


def _storable(value: datetime) -> datetime:
    # 9999-12-31T23:59:59-14:00 parses, but is past year 9999 in UTC, where the database works.
    if value.tzinfo is not None:
        try:
            # In UTC: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 parsers accept (e.g. -16:38).
            return value.astimezone(dt_timezone.utc)
        except OverflowError:
            raise ValueError("the date is out of range once converted to UTC") from None
    return value


#: A date and time the database can store (in UTC).
Instant = Annotated[datetime, AfterValidator(_storable)]


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    first_name: str
    last_name: str
    affiliation: str
    approval: str
    is_staff: bool
    date_joined: datetime


class MeOut(UserOut):
    email: str | None
    email_verified: bool
    approval_reason: str

    @staticmethod
    def resolve_email_verified(obj) -> bool:
        return obj.email_verified_at is not None


class AdminUserOut(MeOut):
    is_active: bool
    is_superuser: bool
    last_login: datetime | None
    deleted: bool

    @staticmethod
    def resolve_deleted(obj) -> bool:
        return obj.deleted_at is not None


class SignupIn(Schema):
    username: str = Field(..., max_length=150)
    email: str = Field(..., max_length=254)
    password: str = Field(..., max_length=4096)
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    affiliation: str = Field("", max_length=200)


class UserCreateIn(SignupIn):
    password: str | None = Field(None, max_length=4096)
    approved: bool = True
    is_staff: bool = False


class LoginIn(Schema):
    username: str = Field(..., max_length=254)
    password: str = Field(..., max_length=4096)


class ProfileIn(Schema):
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    affiliation: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)


class PasswordChangeIn(Schema):
    old_password: str = Field(..., max_length=4096)
    new_password: str = Field(..., max_length=4096)


class PasswordResetIn(Schema):
    email: str = Field(..., max_length=254)


class DeleteMeIn(Schema):
    password: str = Field(..., max_length=4096)


class RejectIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000)


class TeamIn(Schema):
    name: str = Field(..., max_length=100)


class MemberOut(Schema):
    username: str
    display_name: str
    role: str
    joined_at: datetime

    @staticmethod
    def resolve_username(obj) -> str:
        return obj.user.username

    @staticmethod
    def resolve_display_name(obj) -> str:
        return obj.user.display_name


class TeamOut(Schema):
    id: int
    name: str
    slug: str
    is_personal: bool
    created_at: datetime


class TeamDetailOut(TeamOut):
    members: list[MemberOut]


class InviteIn(Schema):
    username: str | None = Field(None, max_length=150)
    email: str | None = Field(None, max_length=254)


class InviteOut(Schema):
    id: int
    team: str
    team_name: str
    username: str | None
    email: str
    invited_by: str | None
    state: str
    created_at: datetime

    @staticmethod
    def resolve_team(obj) -> str:
        return obj.team.slug

    @staticmethod
    def resolve_team_name(obj) -> str:
        return obj.team.name

    @staticmethod
    def resolve_username(obj) -> str | None:
        return obj.user.username if obj.user_id else None

    @staticmethod
    def resolve_invited_by(obj) -> str | None:
        return obj.invited_by.username if obj.invited_by_id else None


class RoleIn(Schema):
    role: Literal["owner", "member"]


class TokenIn(Schema):
    name: str = Field("", max_length=100)
    scope: Literal["read", "write", "admin"] = "write"
    expires_at: Instant | None = None
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    user: str | None = Field(None, max_length=150, description="Administrators: create the token for this user.")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scope: str
    user: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool

    @staticmethod
    def resolve_user(obj) -> str:
        return obj.user.username

    @staticmethod
    def resolve_active(obj) -> bool:
        return obj.is_active()


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The token itself. It is shown only this once.")


class AuditOut(Schema):
    id: int
    created_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    target_repr: str
    ip: str | None
    data: dict

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_username


class ImportOut(Schema):
    created: int
    emailed: bool
    rows: list[dict[str, str]]
    csv: str


class MessageOut(Schema):
    message: str
