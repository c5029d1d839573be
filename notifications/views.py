"""A person's notifications (the bell's page) and how they want to be told."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
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
    response = render(request, "notifications/inbox.html", context)
    # Opening the page reads what it shows (after the page is made, so it still marks them).
    services.notifications_read(user=request.user, ids=[n.pk for n in page.object_list])
    return response


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language of e-mails"), choices=())

    def __init__(self, *args, current: dict[str, set[str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = settings.LANGUAGES
        for kind in Kind:
            self.fields[kind.value] = forms.MultipleChoiceField(
                label=kind.label,
                choices=Channel.choices,
                required=False,
                initial=sorted(current[kind.value]),
                widget=forms.CheckboxSelectMultiple,
            )

    def channels(self) -> dict[str, list[str]]:
        return {kind: self.cleaned_data[kind] for kind in Kind.values}


@staff_view
def preferences(request):
    stored = Preferences.objects.filter(user=request.user).first()
    current = {kind: services.channels_for(request.user, kind) for kind in Kind.values}
    form = PreferencesForm(
        request.POST or None,
        current=current,
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
