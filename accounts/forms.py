"""Forms of staff accounts: one role each (the account is staff exactly when it has one), and
a login that says in words why an account without a role cannot enter."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserChangeForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.roles import ROLES, role_of

ROLE_CHOICES = [(name, name) for name in ROLES]


def _role_field(required: bool) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Role"),
        choices=([] if required else [("", _("None: the account cannot sign in"))]) + ROLE_CHOICES,
        required=required,
        widget=forms.RadioSelect,
        help_text=_("Each account has one role; it says what the account may see and do."),
    )


class StaffCreationForm(UserCreationForm):
    role = _role_field(required=True)

    class Meta(UserCreationForm.Meta):
        fields = ("username", "first_name", "last_name", "email")


class StaffChangeForm(UserChangeForm):
    role = _role_field(required=False)

    class Meta(UserChangeForm.Meta):
        fields = ("username", "first_name", "last_name", "email", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["role"].initial = role_of(self.instance) or ""


class StaffAuthenticationForm(AuthenticationForm):
    """The login's first step: an account without a role (not staff) is told so at once,
    not sent through the second factor to an empty login page."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "no_role": _(
            "This account has no role in Defensores, so it cannot sign in. Ask a "
            "coordinator to give it one."
        ),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(self.error_messages["no_role"], code="no_role")
