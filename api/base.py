"""What every API endpoint shares: who is asking (an ally's key or a staff session), how
often they may ask, the log of what they took, cursor pagination and the CSV format.

Access itself is decided by the querysets' `visible_to(user)`: an ally's principal below
says `is_ally`, and the case querysets then show only published, public cases."""

import csv
import io
import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, serializers
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.throttling import SimpleRateThrottle

from accounts.access import is_ally
from accounts.services import client_ip
from api.models import ApiKey, ApiRequest
from api.services import api_key_find
from core.middleware import CONTROL_CHARACTERS
from core.spreadsheets import csv_safe


class AllyUser:
    """The principal of a request made with an ally's key. It is not a staff account: it
    has no permissions, is on no case team, and sees what `visible_to` gives allies."""

    is_ally = True
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, key: ApiKey | None, ally=None):
        self.key = key
        self.ally = key.ally if key is not None else ally

    @classmethod
    def for_ally(cls, ally) -> "AllyUser":
        """The ally itself, with no key: what its webhooks may be sent."""
        return cls(None, ally)

    def __str__(self):
        return f"{self.ally} ({self.key})"

    def get_username(self) -> str:
        return f"ally:{self.ally.public_id}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def is_verified(self) -> bool:
        # The key is the whole credential; there is no second factor to pass.
        return True


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`. An unknown, revoked or expired key, or one of an
    inactive ally, is refused with 401 (the same answer for each: nothing to probe)."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Send the key as: Authorization: Bearer <key>"))
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            secret = ""
        key = api_key_find(secret) if secret else None
        if key is None:
            # Kept for the log: which (possibly revoked) key of ours was tried. Anything else
            # sent by mistake (another service's token) is not written down.
            if secret.startswith(f"{ApiKey.PREFIX}_") and secret.count("_") >= 2:
                request._failed_key_prefix = secret.split("_")[1][:16]
            # Guessing keys costs a throttle slot per address, before any log line.
            FailedKeyThrottle().check(request)
            raise exceptions.AuthenticationFailed(_("Invalid, revoked or expired API key."))
        return AllyUser(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "allyKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An ally's API key."}


class IsAllyOrStaffReader(BasePermission):
    """Allies, and staff who read cases with a verified (two-factor) session."""

    message = _("Your account may not read this data.")

    def has_permission(self, request, view):
        user = request.user
        if is_ally(user):
            return True
        return bool(
            user.is_authenticated and user.is_verified() and user.has_perm("cases.view_incident")
        )


class FailedKeyThrottle(SimpleRateThrottle):
    """API_FAILED_KEY_RATE refused keys per address: key guessing is slowed, and the
    append-only request log cannot be flooded with refusals."""

    scope = "api-failed-key"

    def get_rate(self):
        return settings.API_FAILED_KEY_RATE

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def check(self, request) -> None:
        if not self.allow_request(request, None):
            raise exceptions.Throttled(self.wait())


class PerKeyThrottle(SimpleRateThrottle):
    """API_THROTTLE_RATE requests per key (or per staff user, or per address when the
    request is anonymous)."""

    scope = "api"

    def get_rate(self):
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if is_ally(request.user):
            ident = f"key-{request.auth.pk}"
        elif request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousThrottle(SimpleRateThrottle):
    """API_ANONYMOUS_RATE requests with no key per address: they are refused, but each would
    be a line in the append-only request log."""

    scope = "api-anonymous"

    def get_rate(self):
        return settings.API_ANONYMOUS_RATE

    def get_cache_key(self, request, view):
        if request.user.is_authenticated:
            return None  # a key or a staff session: PerKeyThrottle
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ExportThrottle(PerKeyThrottle):
    """A full export streams everything in one request: API_EXPORT_THROTTLE_RATE per key."""

    scope = "api-export"

    def get_rate(self):
        return settings.API_EXPORT_THROTTLE_RATE


class BlankURLAsNull(serializers.URLField):
    """An absent address is null, not "" (which is not a URL)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


class StrictFormatMixin:
    """?format= must name one of the view's formats: an unknown one is refused (406), never
    silently answered in another format."""

    def perform_content_negotiation(self, request, force=False):
        requested = request.query_params.getlist("format")
        if requested and not force:
            formats = {renderer.format for renderer in self.get_renderers()}
            if len(requested) > 1 or requested[0] not in formats:
                raise exceptions.NotAcceptable(
                    _("Unknown format: use one of %(formats)s.")
                    % {"formats": ", ".join(sorted(formats))}
                )
        return super().perform_content_negotiation(request, force)


class LoggedMixin(StrictFormatMixin):
    """What every /api/v1 view shares: allies' keys or staff sessions, throttled before
    anything else is checked, one ApiRequest per request (who, which endpoint, which
    filters, how many rows). Views set `self.rows_served`; streaming views log when the
    stream ends instead."""

    # Keys are accepted here only, not by every DRF view the project may add later.
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    throttle_classes = [AnonymousThrottle, PerKeyThrottle]
    # No OPTIONS self-description: the OpenAPI schema is the description (OPTIONS is 405).
    metadata_class = None
    rows_served: int | None = None
    log_when_streamed = False

    def check_permissions(self, request):
        # DRF checks throttles after permissions, so refused callers were never slowed.
        self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request):
        if getattr(request, "_throttles_checked", False):
            return
        request._throttles_checked = True
        super().check_throttles(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # A throttled request took nothing; logging each would let a flood fill the log.
        streamed_later = self.log_when_streamed and response.status_code == 200
        if not streamed_later and response.status_code != 429:
            api_request_log(request, view=self, status=response.status_code, rows=self.rows_served)
        return response


LOG_KEYS, LOG_VALUES, LOG_KEY_CHARS, LOG_VALUE_CHARS = 20, 10, 50, 200
# Query parameters whose values are never written down (an API key sent in the address by
# mistake, a token), and values that look like one of our keys whatever their name.
SECRET_PARAMETER = re.compile(r"key|token|secret|passw|auth|signature|session", re.IGNORECASE)
# One of our keys wherever it appears (after "Bearer ", inside a longer text, in the path).
KEY_TEXT = re.compile(rf"{ApiKey.PREFIX}_[\w.~-]+", re.IGNORECASE)
REDACTED = "[redacted]"


def _without_keys(text: str) -> str:
    # Control characters never reach a view (ControlCharacterMiddleware); none is stored.
    return CONTROL_CHARACTERS.sub("", KEY_TEXT.sub(REDACTED, text))


def _logged_value(key: str, value: str) -> str:
    if SECRET_PARAMETER.search(key):
        return REDACTED
    return _without_keys(value)[:LOG_VALUE_CHARS]


def api_request_log(request, *, view, status: int, rows: int | None) -> ApiRequest:
    # request.user is only known after authentication ran; a 401 leaves it anonymous.
    user = getattr(request, "_user", None)
    ally_user = user if is_ally(user) else None
    # Bounded: a caller cannot fill the (append-only) log with a huge query string.
    filters = {
        _without_keys(key)[:LOG_KEY_CHARS]: [
            _logged_value(key, value) for value in request.query_params.getlist(key)[:LOG_VALUES]
        ]
        for key in list(request.query_params)[:LOG_KEYS]
    }
    filters = {key: value[0] if len(value) == 1 else value for key, value in filters.items()}
    failed = getattr(request, "_failed_key_prefix", None)
    if failed is not None:
        filters["refused_key_prefix"] = failed
    return ApiRequest.objects.create(
        ally=ally_user.ally if ally_user else None,
        key=ally_user.key if ally_user else None,
        user=user if user is not None and user.is_authenticated and not ally_user else None,
        endpoint=getattr(view, "log_name", "") or type(view).__name__,
        path=_without_keys(request.path)[:500],
        filters=filters,
        status_code=status,
        rows=rows,
        ip_address=client_ip(request),
    )


class Cursor(CursorPagination):
    """Stable pages however the data grows (no OFFSET): follow `next` to the end."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "created_at"

    def get_page_size(self, request):
        # DRF silently falls back to the default on a bad value; an export client should
        # hear that its page size was not understood.
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        try:
            size = int(raw[-1])
        except ValueError:
            size = 0
        if len(raw) > 1 or not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        _("A whole number from 1 to %(max)d.") % {"max": self.max_page_size}
                    ]
                }
            )
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        try:
            page = super().paginate_queryset(queryset, request, view)
        except DjangoValidationError:
            # A hand-made cursor whose position is not a value of the ordering field.
            raise exceptions.NotFound(self.invalid_cursor_message) from None
        if view is not None and page is not None:
            view.rows_served = len(page)
        return page

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        # CSV has no room for the next page's address: RFC 8288 Link headers carry it.
        links = [f'<{url}>; rel="{rel}"' for rel, url in [("next", self.get_next_link())] if url]
        if links:
            response["Link"] = ", ".join(links)
        return response


def csv_value(value) -> str:
    """One cell: lists joined with "; " (records by name, title or id), booleans as words."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(
            csv_value(item.get("name") or item.get("title") or item.get("id"))
            if isinstance(item, dict)
            else csv_value(item)
            for item in value
        )
    return csv_safe(str(value))


def wants_bom(request) -> bool:
    """A CSV starts with a byte-order mark (spreadsheet programs need it to read accents)
    unless the caller asks `?bom=0`: Python's csv.DictReader with encoding="utf-8" would
    otherwise read the first column's name as "\ufeffid" (or use encoding="utf-8-sig")."""
    return request is None or request.query_params.get("bom") != "0"


def csv_preamble(renderer_context) -> str:
    return "\ufeff" if wants_bom((renderer_context or {}).get("request")) else ""


class CSVRenderer(BaseRenderer):
    """Flat rows as CSV (UTF-8 with a BOM, which spreadsheet programs need to read
    accents, unless `?bom=0`). Views give `csv_columns` and `csv_row(row)`; errors come out
    as one line."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        view = (renderer_context or {}).get("view")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        response = (renderer_context or {}).get("response")
        failed = response is not None and response.status_code >= 400
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        elif isinstance(data, dict) and not failed and getattr(view, "action", "") == "retrieve":
            data = [data]  # one record (a detail page) is one row
        if (
            not failed
            and isinstance(data, list)
            and view is not None
            and hasattr(view, "csv_columns")
        ):
            columns = view.csv_columns
            row_of = getattr(view, "csv_row", None) or (
                lambda row: [csv_value(row.get(column)) for column in columns]
            )
            writer.writerow(columns)
            writer.writerows(row_of(row) for row in data)
        else:  # an error: {"detail": "..."} or {field: [messages]}
            writer.writerow(["field", "error"])
            for field, messages in (data or {}).items() if isinstance(data, dict) else []:
                for message in messages if isinstance(messages, list) else [messages]:
                    writer.writerow([field, csv_safe(str(message))])
        return (csv_preamble(renderer_context) + buffer.getvalue()).encode()


_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}
ERROR_RESPONSES = {
    "400": ("Invalid filter or parameter; the body names each field.", _FIELD_ERRORS),
    "401": ("No key, or an invalid, revoked or expired one.", _DETAIL),
    "403": ("A staff account without the right to read cases.", _DETAIL),
    "404": ("No such record for you, or an invalid page cursor.", _DETAIL),
    "406": ("An unknown ?format=.", _DETAIL),
    "429": ("Too many requests for this key: wait as Retry-After says.", _DETAIL),
}


# Every request with a control character is refused before any view (400): said in the schema.
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f]*$"


def schema_error_responses(result, generator, request, public):
    """drf-spectacular hook: every operation documents the errors it can answer with, and
    that its text parameters take no control characters."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.get("type") == "string" and not schema.keys() & {"enum", "format"}:
                    schema.setdefault("pattern", NO_CONTROL_CHARACTERS)
            responses = operation.setdefault("responses", {})
            # Where ?format=csv is offered, an error may come back as CSV too.
            media = {
                media_type
                for response in responses.values()
                for media_type in response.get("content", {})
            }
            for code, (description, schema) in ERROR_RESPONSES.items():
                content = {"application/json": {"schema": schema}}
                if "text/csv" in media:
                    content["text/csv"] = {"schema": {"type": "string"}}
                responses.setdefault(code, {"description": description, "content": content})
    return result
