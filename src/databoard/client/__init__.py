"""Python client for the databoard REST API.

It talks to a server (``Client("https://board.example.org", token="dbk_…")``) or, with no URL,
in-process to the local installation through httpx's WSGI transport: no server needed, acting
as the local administrator or ``as_user``. One code path for both::

    with Client.from_env() as client:
        print(client.me()["username"])
        token = client.tokens.create(name="laptop", scope="read")["token"]

Every error of the API raises an :class:`ApiError` subclass mirroring its status.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

__all__ = [
    "ApiError",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ServerError",
    "TooLarge",
    "Unauthorized",
    "Unprocessable",
]

LOCAL_BASE_URL = "http://localhost"
CLIENT_CONFIG = Path("~/.config/databoard/client.toml")


class ClientError(Exception):
    """The client could not do what was asked (no server, no local installation, bad arguments)."""


class ConnectionFailed(ClientError):
    """The server could not be reached."""


class ApiError(ClientError):
    """The API answered with an error: ``status``, ``code``, ``message`` and ``details``."""

    status = 0

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooLarge(ApiError):
    status = 413


class Unprocessable(ApiError):
    status = 422


class RateLimited(ApiError):
    status = 429


class ServerError(ApiError):
    status = 500


_BY_STATUS = {cls.status: cls for cls in (BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge,
                                          Unprocessable, RateLimited)}


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    message = error.get("message") or f"The server answered {response.status_code} {response.reason_phrase}."
    code = error.get("code") or "error"
    cls = _BY_STATUS.get(response.status_code, ServerError if response.status_code >= 500 else ApiError)
    raise cls(response.status_code, code, message, error.get("details"))


def _local_transport(as_user: str | None) -> tuple[httpx.BaseTransport, str]:
    """A WSGI transport into this process's Django app, acting as ``as_user`` or the first admin."""
    from databoard.cli.setup import django_setup

    django_setup()
    from django.db import DatabaseError

    from databoard.accounts.middleware import LOCAL_USER_ENVIRON_KEY
    from databoard.accounts.models import User
    from databoard.wsgi import application

    try:
        if as_user:
            user = User.objects.filter(username=as_user, is_active=True, deleted_at__isnull=True).first()
            if user is None:
                raise ClientError(f"No active local user '{as_user}'.")
        else:
            user = (User.objects.filter(is_superuser=True, is_active=True, deleted_at__isnull=True)
                    .order_by("date_joined", "pk").first())
            if user is None:
                raise ClientError("This installation has no administrator yet: run "
                                  "`databoard createadmin`, or act as a user with --as USER.")
    except DatabaseError as exc:
        raise ClientError(f"The local database is not ready ({exc}); run `databoard init` first.") from exc
    username = user.username

    def app(environ, start_response):
        environ[LOCAL_USER_ENVIRON_KEY] = username
        return application(environ, start_response)

    return httpx.WSGITransport(app=app), username


def _read_client_config() -> dict[str, str]:
    path = Path(os.environ.get("DATABOARD_CLIENT_CONFIG", str(CLIENT_CONFIG))).expanduser()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClientError(f"Client config '{path}' is not valid TOML: {exc}.") from exc
    return {k: str(v) for k, v in data.items() if k in ("url", "token")}


class _Resource:
    def __init__(self, client: Client):
        self._c = client


class Users(_Resource):
    def list(self, *, approval: str | None = None, q: str | None = None) -> list[dict]:
        """Every user (administrators), optionally by approval state or a search text."""
        return list(self._c.paginate("accounts/users", approval=approval, q=q))

    def get(self, username: str) -> dict:
        return self._c.request("GET", f"accounts/users/{username}")

    def create(self, *, username: str, email: str, password: str | None = None, first_name: str = "",
               last_name: str = "", affiliation: str = "", approved: bool = True, is_staff: bool = False) -> dict:
        """Create a user (administrators)."""
        return self._c.request("POST", "accounts/users", json={
            "username": username, "email": email, "password": password, "first_name": first_name,
            "last_name": last_name, "affiliation": affiliation, "approved": approved, "is_staff": is_staff})

    def approve(self, username: str) -> dict:
        return self._c.request("POST", f"accounts/users/{username}/approve")

    def reject(self, username: str, *, reason: str) -> dict:
        return self._c.request("POST", f"accounts/users/{username}/reject", json={"reason": reason})

    def delete(self, username: str) -> dict:
        return self._c.request("DELETE", f"accounts/users/{username}")

    def pending(self) -> list[dict]:
        """Sign-ups waiting for approval."""
        return list(self._c.paginate("accounts/approvals"))

    def import_csv(self, file: BinaryIO | bytes, *, filename: str = "users.csv", send_emails: bool = False) -> dict:
        """Create users from a CSV; a bad row rejects the whole file (BadRequest with the rows)."""
        return self._c.request("POST", "accounts/users/import", files={"file": (filename, file, "text/csv")},
                               data={"send_emails": "true" if send_emails else "false"})


class Teams(_Resource):
    def list(self, *, all: bool = False) -> list[dict]:  # noqa: A002
        return list(self._c.paginate("accounts/teams", all=all or None))

    def get(self, slug: str) -> dict:
        return self._c.request("GET", f"accounts/teams/{slug}")

    def create(self, *, name: str) -> dict:
        return self._c.request("POST", "accounts/teams", json={"name": name})

    def invite(self, slug: str, *, username: str | None = None, email: str | None = None) -> dict:
        return self._c.request("POST", f"accounts/teams/{slug}/invites", json={"username": username, "email": email})

    def invites(self, slug: str) -> list[dict]:
        return list(self._c.paginate(f"accounts/teams/{slug}/invites"))

    def leave(self, slug: str) -> dict:
        return self._c.request("POST", f"accounts/teams/{slug}/leave")

    def set_role(self, slug: str, *, username: str, role: str) -> dict:
        return self._c.request("PUT", f"accounts/teams/{slug}/members/{username}", json={"role": role})

    def remove_member(self, slug: str, *, username: str) -> dict:
        return self._c.request("DELETE", f"accounts/teams/{slug}/members/{username}")


class Invites(_Resource):
    def list(self) -> list[dict]:
        """Pending invites addressed to you."""
        return list(self._c.paginate("accounts/invites"))

    def accept(self, invite_id: int) -> dict:
        return self._c.request("POST", f"accounts/invites/{invite_id}/accept")

    def decline(self, invite_id: int) -> dict:
        return self._c.request("POST", f"accounts/invites/{invite_id}/decline")

    def cancel(self, invite_id: int) -> dict:
        return self._c.request("DELETE", f"accounts/invites/{invite_id}")


class Tokens(_Resource):
    def list(self, *, user: str | None = None) -> list[dict]:
        return list(self._c.paginate("accounts/tokens", user=user))

    def create(self, *, name: str = "", scope: str = "write", user: str | None = None,
               expires_in_days: int | None = None) -> dict:
        """Create a token; the answer's ``token`` field is the only time it is shown."""
        return self._c.request("POST", "accounts/tokens", json={
            "name": name, "scope": scope, "user": user, "expires_in_days": expires_in_days})

    def revoke(self, token_id: int) -> dict:
        return self._c.request("DELETE", f"accounts/tokens/{token_id}")


class Audit(_Resource):
    def list(self, *, action: str | None = None, actor: str | None = None, ip: str | None = None,
             since: str | None = None, until: str | None = None, limit: int | None = None) -> list[dict]:
        """Audit events, newest first (administrators)."""
        return list(self._c.paginate("accounts/audit", max_items=limit, action=action, actor=actor, ip=ip,
                                     since=since, until=until))


class Client:
    """A connection to the databoard API; use it as a context manager."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, as_user: str | None = None,
                 timeout: float = 60.0):
        headers = {"User-Agent": "databoard-client"}
        self.local_user: str | None = None
        if url:
            self.base_url = url.rstrip("/")
            if token:
                headers["Authorization"] = f"Bearer {token}"
        else:
            if transport is None:
                transport, self.local_user = _local_transport(as_user)
            self.base_url = LOCAL_BASE_URL
        self._http = httpx.Client(base_url=self.base_url + "/api/v1/", headers=headers, transport=transport,
                                  timeout=timeout, follow_redirects=False)
        self.users = Users(self)
        self.teams = Teams(self)
        self.invites = Invites(self)
        self.tokens = Tokens(self)
        self.audit = Audit(self)
        from databoard.client.challenges import Events, Problems, Submissions, Workers

        self.problems = Problems(self)
        self.events = Events(self)
        self.submissions = Submissions(self)
        self.workers = Workers(self)

    @classmethod
    def from_env(cls, *, as_user: str | None = None) -> Client:
        """A client for ``DATABOARD_URL``/``DATABOARD_TOKEN`` (or ~/.config/databoard/client.toml);
        with no URL, the local installation in-process."""
        file_values = _read_client_config()
        url = os.environ.get("DATABOARD_URL") or file_values.get("url")
        token = os.environ.get("DATABOARD_TOKEN") or file_values.get("token")
        return cls(url, token, as_user=as_user)

    @property
    def is_local(self) -> bool:
        return self.base_url == LOCAL_BASE_URL

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            response = self._http.request(method, path.lstrip("/"), **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"Could not reach {self.base_url}: {exc}.") from exc
        _raise_for(response)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the API; returns the decoded JSON. Raises an ApiError subclass or ConnectionFailed."""
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def request_bytes(self, method: str, path: str, **kwargs: Any) -> bytes:
        """Call the API for a file (CSV, zip, code); returns the body's bytes. Errors as :meth:`request`."""
        return self._send(method, path, **kwargs).content

    def paginate(self, path: str, *, page_size: int = 200, max_items: int | None = None,
                 **params: Any) -> Iterator[dict]:
        """Every item of a paginated list, fetched a page at a time."""
        offset, seen = 0, 0
        while True:
            page = self.request("GET", path, params={**params, "limit": page_size, "offset": offset})
            for item in page["items"]:
                if max_items is not None and seen >= max_items:
                    return
                seen += 1
                yield item
            offset += len(page["items"])
            if not page["items"] or offset >= page["count"]:
                return

    # ----------------------------------------------------------------- account

    def me(self) -> dict:
        """The user this client acts as."""
        return self.request("GET", "accounts/me")

    def signup(self, *, username: str, email: str, password: str, first_name: str = "", last_name: str = "",
               affiliation: str = "") -> dict:
        """Sign up (no authentication needed)."""
        return self.request("POST", "accounts/signup", json={
            "username": username, "email": email, "password": password, "first_name": first_name,
            "last_name": last_name, "affiliation": affiliation})

    def update_profile(self, **fields: str) -> dict:
        return self.request("PATCH", "accounts/me", json=fields)

    def change_password(self, *, old_password: str, new_password: str) -> dict:
        return self.request("POST", "accounts/me/password",
                            json={"old_password": old_password, "new_password": new_password})

    def health(self) -> dict:
        """The server's /healthz answer."""
        try:
            response = self._http.get(self.base_url + "/healthz")
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"Could not reach {self.base_url}: {exc}.") from exc
        return response.json()
