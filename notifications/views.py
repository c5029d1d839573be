"""A person's notifications (the bell's page) and how they want to be told."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.decorators import otp_required

from notifications import services
from notifications.kinds import Channel, Kind
from notifications.models import Notification, Preferences, language_of


def staff_view(view):
    """Staff with the second factor passed (as every staff page)."""
    return staff_member_required(otp_required(view))


@staff_view
def inbox(request):
    if request.method == "POST":
        services.notifications_read(user=request.user)
        return redirect("notifications:inbox")
    listed = Notification.objects.filter(recipient=request.user, shown_in_app=True)
    page = Paginator(listed, 50).get_page(request.GET.get("page"))
    context = {
        "title": _("Notifications"),
        "has_permission": True,
        "page": page,
        "unread": listed.filter(read_at__isnull=True).count(),
    }
    return render(request, "notifications/inbox.html", context)


@staff_view
def open_one(request, pk: int):
    """Follow a notification (it is read now) to what it is about."""
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    services.notifications_read(user=request.user, ids=[notification.pk])
    if notification.url and url_has_allowed_host_and_scheme(
        notification.url, allowed_hosts={request.get_host()}
    ):
        return redirect(notification.url)
    return redirect("notifications:inbox")


# Who may be told of what: each kind, and the permission that makes it concern someone.
KIND_PERMISSIONS = {
    Kind.NEW_DETENTION: "legal.follow_detentions",
    Kind.INCOMMUNICADO: "legal.follow_detentions",
    Kind.HEARING_TOMORROW: "legal.follow_detentions",
    Kind.PRETRIAL_LIMIT: "legal.follow_detentions",
    Kind.SENT_BACK: "cases.submit_case",
    Kind.REVIEW_QUEUE: "cases.verify_case",
    Kind.IMPORT_DONE: "cases.import_incidents",
}


def kinds_for(user) -> list:
    """The kinds of notification that may concern `user` (the choices on their page)."""
    return [kind for kind in Kind if user.has_perm(KIND_PERMISSIONS[kind])]


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language of e-mails"), choices=())

    def __init__(self, *args, current: dict[str, set[str]], kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = settings.LANGUAGES
        self.kinds = kinds
        for kind in kinds:
            self.fields[kind.value] = forms.MultipleChoiceField(
                label=kind.label,
                choices=Channel.choices,
                required=False,
                initial=sorted(current[kind.value]),
                widget=forms.CheckboxSelectMultiple,
            )

    def channels(self) -> dict[str, list[str]]:
        return {kind.value: self.cleaned_data[kind.value] for kind in self.kinds}


@staff_view
def preferences(request):
    stored = Preferences.objects.filter(user=request.user).first()
    current = {kind: services.channels_for(request.user, kind) for kind in Kind.values}
    form = PreferencesForm(
        request.POST or None,
        current=current,
        kinds=kinds_for(request.user),
        initial={"language": stored.language if stored else language_of(request.user)},
    )
    if request.method == "POST" and form.is_valid():
        services.preferences_save(
            user=request.user, language=form.cleaned_data["language"], channels=form.channels()
        )
        messages.success(request, _("Your notification choices are saved."))
        return redirect("notifications:preferences")
    context = {
        "title": _("How you are notified"),
        "has_permission": True,
        "form": form,
        "has_email": bool(request.user.email),
    }
    return render(request, "notifications/preferences.html", context)
