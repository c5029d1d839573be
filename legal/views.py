import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_otp.decorators import otp_required
from icalendar import Alarm, Calendar, Event

from legal import selectors, services
from legal.forms import ArrestForm
from legal.models import Detention
from organizations.vocabularies import State


def legal_view(view):
    """The legal team (lawyers, coordinators), second factor passed."""
    return otp_required(permission_required("legal.follow_detentions", raise_exception=True)(view))


@legal_view
def dashboard(request):
    lawyer_id = _lawyer_id(request.GET.get("lawyer", ""))
    state = request.GET.get("state", "")
    if state not in State.values:
        state = ""
    lawyers = selectors.legal_team().order_by("username")
    sections = selectors.dashboard(user=request.user, lawyer_id=lawyer_id, state=state)
    sections["past"] = sorted(sections["past"], key=lambda d: -d.days_in_detention)
    for key in ("detained", "no_news", "released", "past"):
        sections[key] = list(sections[key])
        for detention in sections[key]:
            detention.display_name = detention.target_name_for(request.user)
    sections["upcoming"] = list(sections["upcoming"])
    _name_defendants(sections["upcoming"], request.user)
    context = {
        "title": _("Detentions and court cases"),
        "has_permission": True,
        "sections": sections,
        "lawyers": lawyers,
        "states": State.choices,
        "lawyer_id": lawyer_id,
        "state": state,
        "today": timezone.localdate(),
        "no_news_days": selectors.NO_NEWS_DAYS,
    }
    return render(request, "legal/dashboard.html", context)


def _lawyer_id(value: str) -> int | None:
    """A lawyer's id from the query string; None for anything that is not one."""
    try:
        lawyer_id = int(value or 0) or None
    except ValueError:
        return None
    return lawyer_id if lawyer_id is None or 0 < lawyer_id < 2**63 else None


def _name_defendants(hearings, user) -> None:
    """Each hearing's defendants by the names `user` may see (`names`)."""
    for hearing in hearings:
        hearing.names = [d.name_for(user) for d in hearing.proceeding.defendants.all()]


@legal_view
def agenda(request):
    """The week's hearings, day by day and in time order: this week or next, the user's own
    (by default), the whole team's, or another lawyer's."""
    start = selectors.week_start(timezone.localdate())
    week = "next" if request.GET.get("week") == "next" else "this"
    if week == "next":
        start += datetime.timedelta(days=7)
    chosen = request.GET.get("lawyer", "")
    lawyer_id = None if chosen == "all" else (_lawyer_id(chosen) or request.user.pk)
    days = selectors.agenda(user=request.user, start=start, lawyer_id=lawyer_id)
    for day in days:
        for hearing in day["hearings"]:
            for detention in hearing.detentions:
                detention.display_name = detention.target_name_for(request.user)
    context = {
        "title": _("Hearings of the week"),
        "has_permission": True,
        "days": days,
        "start": start,
        "end": start + datetime.timedelta(days=6),
        "week": week,
        "lawyer_id": lawyer_id,
        "team": lawyer_id is None,
        "lawyers": selectors.legal_team().order_by("username"),
        "today": timezone.localdate(),
    }
    return render(request, "legal/agenda.html", context)


@legal_view
def arrest_new(request):
    """A lawyer opens the record of an arrest they learn of; it goes to review."""
    form = ArrestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            detention = services.arrest_open(user=request.user, **form.arrest())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _(
                    "The arrest is recorded and sent to review; it counts once a reviewer "
                    "verifies it."
                ),
            )
            return redirect("legal:detention", public_id=detention.public_id)
    context = {"title": _("Record a new arrest"), "has_permission": True, "form": form}
    return render(request, "legal/arrest_new.html", context)


@legal_view
def detention_timeline(request, public_id):
    detention = get_object_or_404(
        Detention.objects.visible_to(request.user).select_related(
            "incident__defender", "incident__organization", "arresting_body"
        ),
        public_id=public_id,
    )
    context = {
        "title": _("Detention of %(name)s") % {"name": detention.target_name_for(request.user)},
        "has_permission": True,
        "detention": detention,
        "events": selectors.timeline(detention, request.user),
        "can_see_file_numbers": request.user.has_perm("legal.view_case_file_number"),
        "proceedings": selectors.with_next_hearings(
            selectors.proceedings_of(detention, request.user).prefetch_related("charges")
        ),
    }
    return render(request, "legal/timeline.html", context)


@legal_view
def calendar_link(request):
    """Where a lawyer gets (or replaces, or revokes) their private calendar address."""
    token = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_token_revoke(user=request.user)
            messages.success(request, _("Your calendar address no longer works."))
            return redirect("legal:calendar_link")
        token = services.calendar_token_create(
            user=request.user, with_case_numbers=request.POST.get("with_case_numbers") == "on"
        )
    address = request.build_absolute_uri(reverse("legal:calendar", args=[token])) if token else None
    current = request.user.calendar_tokens.filter(revoked_at__isnull=True).first()
    return render(
        request,
        "legal/calendar_link.html",
        {
            "title": _("Hearings in your calendar"),
            "has_permission": True,
            "address": address,
            "with_case_numbers": current is not None and current.with_case_numbers,
        },
    )


HEARING_HOURS = 2  # how long a hearing with a time is shown to last
STATUS_WORDS = {
    True: gettext_lazy("held"),
    False: gettext_lazy("deferred"),
    None: gettext_lazy("scheduled"),
}


def calendar(request, token: str):
    """iCalendar feed of the hearings the token's lawyer follows, from 30 days ago on, each
    with a reminder the day before. Public by design: the secret address is the credential;
    names and file numbers stay out of it (case numbers only if its owner chose them)."""
    found = selectors.calendar_token(token)
    if found is None or not found.user.has_perm("legal.follow_detentions"):
        raise Http404
    user = found.user
    feed = Calendar()
    feed.add("prodid", "-//Defensores//Audiencias//ES")
    feed.add("version", "2.0")
    feed.add("x-wr-calname", _("Hearings — Defensores"))
    feed.add("x-wr-timezone", settings.TIME_ZONE)
    stamp = timezone.now()
    for hearing in selectors.calendar_hearings(user):
        event = Event()
        event.add("uid", f"hearing-{hearing.pk}@defensores")
        event.add("dtstamp", stamp)
        if hearing.scheduled_at:
            start = timezone.make_aware(
                datetime.datetime.combine(hearing.scheduled_on, hearing.scheduled_at)
            )
            event.add("dtstart", start)
            event.add("dtend", start + datetime.timedelta(hours=HEARING_HOURS))
        else:
            event.add("dtstart", hearing.scheduled_on)
        summary = _("%(kind)s — %(court)s (%(status)s)") % {
            "kind": hearing.get_kind_display(),
            "court": hearing.proceeding.court,
            "status": STATUS_WORDS[hearing.held],
        }
        numbers = sorted({i.case_id for i in hearing.proceeding.visible_incidents})
        if found.with_case_numbers and numbers:
            summary += " — " + ngettext("case %(numbers)s", "cases %(numbers)s", len(numbers)) % {
                "numbers": ", ".join(str(n) for n in numbers)
            }
        event.add("summary", summary)
        event.add(
            "url",
            request.build_absolute_uri(
                reverse("admin:legal_proceeding_change", args=[hearing.proceeding_id])
            ),
        )
        if hearing.held is None:
            reminder = Alarm()
            reminder.add("action", "DISPLAY")
            reminder.add("description", summary)
            reminder.add("trigger", datetime.timedelta(days=-1))
            event.add_component(reminder)
        feed.add_component(event)
    feed.add_missing_timezones()  # a VTIMEZONE for the TZID of each time (RFC 5545)
    response = HttpResponse(feed.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="audiencias.ics"'
    return response
