"""The REST API under /api/v1: one NinjaAPI, its authentication, error shape and pagination.

Each app adds its router in :func:`build_api`. Errors have one shape everywhere:
``{"error": {"code": ..., "message": ..., "details": {...}}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.pagination import PaginationBase
from ninja.security import APIKeyCookie, HttpBearer

from databoard.accounts.models import ApiToken, User
from databoard.errors import DataboardError, NotAuthenticated, PermissionDenied

logger = logging.getLogger("databoard.api")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _attach(request: HttpRequest, user: User, scope: str) -> User:
    request.user = user
    request.token_scope = scope
    if scope == ApiToken.Scope.READ and request.method not in SAFE_METHODS:
        raise PermissionDenied("This API token has the 'read' scope; create a 'write' token to change things.")
    return user


class BearerAuth(HttpBearer):
    """``Authorization: Bearer dbk_…`` API tokens."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        from databoard.accounts.services import token_authenticate

        api_token = token_authenticate(token)
        request.api_token = api_token
        return _attach(request, api_token.user, api_token.scope)


class SessionAuth(APIKeyCookie):
    """The browser session (CSRF checked on unsafe methods), or the in-process local client."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if getattr(request, "is_local_client", False):
            return "local"
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        if key is None:
            return None
        user = request.user
        return _attach(request, user, ApiToken.Scope.ADMIN if user.is_staff else ApiToken.Scope.WRITE)


AUTH = [BearerAuth(), SessionAuth()]


def require_admin(request: HttpRequest) -> User:
    """The request's user when it is an administrator acting with the admin scope; else 403."""
    user = request.user
    if not user.is_staff:
        raise PermissionDenied("Only administrators can do this.")
    if getattr(request, "token_scope", None) != ApiToken.Scope.ADMIN:
        raise PermissionDenied("This needs an API token with the 'admin' scope.")
    return user


class Page(PaginationBase):
    """Offset pagination: ``?limit=&offset=`` → ``{items, count, limit, offset}``."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=500, description="Items per page (1–500).")
        offset: int = Field(0, ge=0, le=10_000_000, description="Items to skip.")

    class Output(Schema):
        items: list[Any]
        count: int
        limit: int
        offset: int

    def paginate_queryset(self, queryset, pagination: Input, request: HttpRequest, **params: Any) -> dict:
        start = pagination.offset
        return {"items": list(queryset[start:start + pagination.limit]), "count": self._items_count(queryset),
                "limit": pagination.limit, "offset": start}


def _error(api: NinjaAPI, request: HttpRequest, status: int, code: str, message: str,
           details: dict | None = None) -> HttpResponse:
    response = api.create_response(request, {"error": {"code": code, "message": message,
                                                       "details": details or {}}}, status=status)
    if status == 429:
        response["Retry-After"] = str((details or {}).get("retry_after_seconds", 60))
    return response


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form", "data"))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
    return "The request is not valid: " + "; ".join(parts) + "."


def _jsonable_errors(errors: list[dict]) -> list[dict]:
    clean = []
    for err in errors:
        clean.append({"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")),
                      "type": str(err.get("type", ""))})
    return clean


def build_api() -> NinjaAPI:
    """Create the API with every app's router and the shared error handlers."""
    from databoard import __version__
    from databoard.accounts.api import router as accounts_router

    api = NinjaAPI(title="databoard API", version=__version__, urls_namespace="api", auth=AUTH,
                   docs_url="/docs", openapi_url="/openapi.json",
                   description="Challenges, model registry, datastore and labels. "
                               "Authenticate with a browser session or `Authorization: Bearer <token>`.")
    api.add_router("/accounts", accounts_router)

    @api.exception_handler(DataboardError)
    def domain_error(request, exc: DataboardError):
        return _error(api, request, exc.status, exc.code, str(exc), exc.details)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return _error(api, request, 422, "validation_error", _validation_message(exc.errors),
                      {"errors": _jsonable_errors(exc.errors)})

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, exc):
        return _error(api, request, 401, "unauthorized",
                      "Authentication required: sign in, or send 'Authorization: Bearer <token>'.")

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}.get(
            exc.status_code, "error")
        message = str(exc)
        if "CSRF" in message:
            message = "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value."
        return _error(api, request, exc.status_code, code, message)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return _error(api, request, 404, "not_found", str(exc) or "Not found.")

    @api.exception_handler(DjangoPermissionDenied)
    def forbidden(request, exc):
        return _error(api, request, 403, "forbidden", str(exc) or "You may not do this.")

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return _error(api, request, 413, "too_large", "The request body is larger than this server accepts.")

    @api.exception_handler(MultiPartParserError)
    def bad_multipart(request, exc):
        return _error(api, request, 400, "invalid",
                      f"The multipart/form-data body cannot be read ({exc}); send a well-formed upload.")

    @api.exception_handler(Exception)
    def server_error(request, exc):
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return _error(api, request, 500, "server_error", "Something went wrong on the server; it was logged.")

    return api


api = build_api()
