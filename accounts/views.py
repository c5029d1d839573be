import math
from urllib.parse import urlencode

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp import user_has_device
from two_factor.views import LoginView as TwoFactorLoginView

from accounts.forms import StaffAuthenticationForm
from accounts.lockout import cool_off
from accounts.models import SecurityEvent
from accounts.services import security_event_record


class LoginView(TwoFactorLoginView):
    """two-factor-auth's login wizard (password, then TOTP or a backup code). Also the admin's
    login page. Logs each rejected second factor, and sends staff who signed in with their
    password but have no device yet to enrollment (QR code) first."""

    form_list = (
        (TwoFactorLoginView.AUTH_STEP, StaffAuthenticationForm),
        *TwoFactorLoginView.form_list[1:],
    )

    def get(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and user.is_staff and not user_has_device(user):
            next_url = self.get_redirect_url() or reverse("admin:index")
            query = urlencode({REDIRECT_FIELD_NAME: next_url})
            return redirect(f"{reverse('two_factor:setup')}?{query}")
        return super().get(request, *args, **kwargs)

    def get_form(self, step=None, **kwargs):
        form = super().get_form(step=step, **kwargs)
        if (step or self.steps.current) == self.TOKEN_STEP:
            # A code works once: signing in twice within its 30 seconds, the second is refused.
            form.otp_error_messages = {
                **form.otp_error_messages,
                "invalid_token": _(
                    "This code is not valid, or was already used: each code works once. If "
                    "you just signed in with it, wait for the next one (codes change every "
                    "30 seconds)."
                ),
            }
        return form

    def render(self, form=None, **kwargs):
        second_factor = self.steps.current in (self.TOKEN_STEP, self.BACKUP_STEP)
        if second_factor and form is not None and form.is_bound and form.errors:
            security_event_record(
                kind=SecurityEvent.Kind.OTP_FAILED,
                request=self.request,
                user=self.get_user(),
                step=self.steps.current,
            )
        return super().render(form, **kwargs)


def locked_out(request, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the lockout page, saying how long until the lock cools off."""
    minutes = math.ceil(cool_off(request).total_seconds() / 60)
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)
