"""The REST API under /api/v1: one NinjaAPI, its authentication, error shape and pagination.

Each app adds its router in :func:`build_api`. Errors have one shape everywhere:
``{"error": {"code": ..., "message": ..., "details": {...}}}``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.pagination import PaginationBase
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer

from databoard.accounts.models import ApiToken, User
from databoard.errors import DataboardError, PermissionDenied, ValidationFailed

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


def _anonymous(request: HttpRequest):
    """Lets a request without credentials through as the anonymous user (public pages of the API).
    A bad token or a failed CSRF check still gets its 401/403 from the authenticators before it."""
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    request.token_scope = None
    return request.user


#: For operations anyone may call; signed-in callers are recognised as usual.
OPTIONAL_AUTH = [*AUTH, _anonymous]


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


def _refuse_nul(value: Any, where: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationFailed(f"The {where} holds a NUL character (\\u0000), which databoard cannot store; "
                                   "remove it.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, where)
            _refuse_nul(item, where)
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item, where)


class NulFreeParser(Parser):
    """JSON bodies, query strings and forms, refused (400) when text holds a NUL character.

    No column stores one, and PostgreSQL refuses one even inside a query, so a NUL that
    reached the database would be a server error instead of the client's mistake.
    """

    def parse_body(self, request: HttpRequest) -> Any:
        data = super().parse_body(request)
        _refuse_nul(data, "request body")
        return data

    def parse_querydict(self, data, list_fields: list[str], request: HttpRequest) -> dict:
        result = super().parse_querydict(data, list_fields, request)
        _refuse_nul(result, "query string" if data is request.GET else "form")
        return result


def _error(api: NinjaAPI, request: HttpRequest, status: int, code: str, message: str,
           details: dict | None = None) -> HttpResponse:
    response = api.create_response(request, {"error": {"code": code, "message": message,
                                                       "details": details or {}}}, status=status)
    if status == 429:
        response["Retry-After"] = str((details or {}).get("retry_after_seconds", 60))
    return response


#: Statuses of the error shape documented on every operation (besides the ones it declares itself).
ERROR_STATUSES = {
    400: "The request is not valid (a rule of the service, or text it cannot store).",
    401: "Not signed in, or the API token is malformed, unknown, revoked or expired.",
    403: "Signed in, but not allowed: not an administrator, a token without the needed scope, a CSRF failure.",
    404: "No such object, or one you may not see.",
    405: "The path exists, but not with this method.",
    409: "The object's state forbids this (taken name, already done, last owner).",
    413: "The request body or file is too large.",
    422: "The request does not match the schema of this operation.",
    429: "Too many attempts; wait for Retry-After seconds.",
}

ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "title": "Error",
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "object"}}}},
}


class DataboardAPI(NinjaAPI):
    """NinjaAPI whose every answer, even outside an operation, has the one error shape.

    An unknown path under the API is a 404 and a known path with another method a 405, both
    as ``{"error": ...}``, and the OpenAPI schema documents the error answers of each operation.
    """

    def _get_urls(self) -> list:
        urls = super()._get_urls()
        for pattern in urls:
            if getattr(pattern, "name", None) == "api-root":  # ninja's bare /api/v1/ raises Http404 as HTML
                pattern.callback = csrf_exempt(self._unknown_path)
                continue
            pattern.callback = self._shape_not_allowed(pattern.callback)
        # It changes nothing, so a browser's POST without a CSRF token also gets the JSON 404.
        urls.append(re_path(r"^.*$", csrf_exempt(self._unknown_path), name="api-unknown"))
        return urls

    def _shape_not_allowed(self, view):
        @functools.wraps(view)  # keeps csrf_exempt: ninja checks CSRF itself, in SessionAuth
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
                shaped = _error(self, request, 405, "method_not_allowed",
                                f"{request.method} is not allowed here; use {response.get('Allow', '')}.")
                shaped["Allow"] = response.get("Allow", "")
                return shaped
            return response

        return wrapper

    def _unknown_path(self, request: HttpRequest) -> HttpResponse:
        return _error(self, request, 404, "not_found",
                      f"No API operation at '{request.path[:200]}'; see /api/v1/docs for the list.")

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    responses.setdefault(status, {"description": description, **error})
                responses.setdefault(500, {"description": "A bug on the server (it is logged).", **error})
        return schema


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
    from databoard.challenges.api import router as challenges_router

    api = DataboardAPI(title="databoard API", version=__version__, urls_namespace="api", auth=AUTH,
                   parser=NulFreeParser(),
                   docs_url="/docs", openapi_url="/openapi.json",
                   description="Challenges, model registry, datastore and labels. "
                               "Authenticate with a browser session or `Authorization: Bearer <token>`.")
    api.add_router("/accounts", accounts_router)  # more routers: here (a catch-all 404 follows them)
    api.add_router("/challenges", challenges_router)

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
        if isinstance(exc.__cause__, DataboardError):  # raised by our parser while ninja read the body
            return domain_error(request, exc.__cause__)
        code = {400: "invalid", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                429: "rate_limited"}.get(exc.status_code, "error")
        message = str(exc)
        if exc.__cause__ is not None and message.startswith("Cannot parse request body"):
            message = f"The request body cannot be read as JSON ({exc.__cause__}); send a JSON object."
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
