import time

from django.conf import settings
from django.contrib import auth


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
