"""Middleware for every request: control characters refused before anything runs, and no
page kept in a browser's or a proxy's cache."""

import re

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _

# C0 control characters and DEL; form fields may hold tabs and line breaks, addresses not.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_CHARACTERS_IN_PATH = re.compile(r"[\x00-\x1f\x7f]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_control_characters(request) -> bool:
    if CONTROL_CHARACTERS_IN_PATH.search(request.path):
        return True
    # Headers too: the lockout stores the user agent and the accepted types of every failed
    # login, and a NUL there made that write fail, so no failure was ever counted.
    if any(
        CONTROL_CHARACTERS.search(value)
        for name, value in request.META.items()
        if name.startswith("HTTP_") and isinstance(value, str)
    ):
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
    """NUL and other control characters in an address, a header, a query string or a form
    field: a clear 400 before any view runs. PostgreSQL refuses NUL in text and JSON, so such a
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
                    "The address, a header or a form field contains control characters "
                    "(such as the null byte), which are not accepted. Remove them and try "
                    "again."
                )
            )
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


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
