import re
import time

from django.conf import settings
from django.contrib import auth
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _


class NoStoreMiddleware:
    """Every page the application renders is private and never stored in a cache: case data
    must not survive in a shared computer's browser cache or a proxy. (Static files are
    served before this, by whitenoise, and stay cacheable.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
        return response


class IdleTimeoutMiddleware:
    """The idle timeout: a session ends SESSION_COOKIE_AGE seconds after its last request.
    Its expiry is written again at most once every SESSION_REFRESH_SECONDS (to the minute,
    by default), not on every page: saving on each request was a database write per read
    (SESSION_SAVE_EVERY_REQUEST), three of the admin list's twelve queries."""

    KEY = "_idle_refreshed_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # Only a signed-in user's session (the check loads it: a stale or forged cookie's
        # key is dropped then): never create one per visitor.
        if session is not None and auth.SESSION_KEY in session:
            # At least ten times per idle period, however short it is set.
            every = min(settings.SESSION_REFRESH_SECONDS, settings.SESSION_COOKIE_AGE // 10)
            now = int(time.time())
            if now - session.get(self.KEY, 0) >= every:
                session[self.KEY] = now  # modified: SessionMiddleware saves a new expiry
        return response


# C0 control characters and DEL; form fields may hold tabs and line breaks, addresses not.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_CHARACTERS_IN_PATH = re.compile(r"[\x00-\x1f\x7f]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_control_characters(request) -> bool:
    if CONTROL_CHARACTERS_IN_PATH.search(request.path):
        return True
    fields = [request.GET]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        fields.append(request.POST)
        names = [upload.name or "" for upload in request.FILES.values()]
        if any(CONTROL_CHARACTERS_IN_PATH.search(name) for name in names):
            return True
    return any(
        CONTROL_CHARACTERS.search(text)
        for query in fields
        for key, values in query.lists()
        for text in (key, *values)
    )


class ControlCharacterMiddleware:
    """NUL and other control characters in an address, a query string or a form field: a
    clear 400 before any view runs. PostgreSQL refuses NUL in text and JSON, so such a
    request would otherwise fail halfway: a 500, or an export streamed whose log line then
    could not be saved."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not has_control_characters(request):
            return self.get_response(request)
        with translation.override(translation.get_language_from_request(request)):
            message = str(
                _(
                    "The address or a form field contains control characters (such as the "
                    "null byte), which are not accepted. Remove them and try again."
                )
            )
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
