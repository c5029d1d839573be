import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.decorators import otp_required
from icalendar import Calendar, Event

from legal import selectors, services
from legal.models import Detention
from organizations.vocabularies import State


def legal_view(view):
    """The legal team (lawyers, coordinators), second factor passed."""
    return otp_required(permission_required("legal.follow_detentions", raise_exception=True)(view))


@legal_view
def dashboard(request):
    try:
        lawyer_id = int(request.GET.get("lawyer") or 0) or None
    except ValueError:
        lawyer_id = None
    if lawyer_id is not None and not 0 < lawyer_id < 2**63:
        lawyer_id = None
    state = request.GET.get("state", "")
    if state not in State.values:
        state = ""
    lawyers = (
        get_user_model()
        .objects.filter(is_active=True, groups__permissions__codename="follow_detentions")
        .distinct()
        .order_by("username")
    )
    sections = selectors.dashboard(user=request.user, lawyer_id=lawyer_id, state=state)
    sections["past"] = sorted(sections["past"], key=lambda d: -d.days_in_detention)
    for key in ("detained", "no_news", "released", "past"):
        sections[key] = list(sections[key])
        for detention in sections[key]:
            target = detention.incident.defender
            detention.display_name = (
                target.name_for(request.user) if target else str(detention.incident.organization)
            )
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


@legal_view
def detention_timeline(request, public_id):
    detention = get_object_or_404(
        Detention.objects.visible_to(request.user).select_related(
            "incident__defender", "incident__organization", "arresting_body"
        ),
        public_id=public_id,
    )
    context = {
        "title": _("Detention of %(name)s")
        % {
            "name": detention.incident.defender.name_for(request.user)
            if detention.incident.defender
            else detention.incident.target
        },
        "has_permission": True,
        "detention": detention,
        "events": selectors.timeline(detention, request.user),
        "can_see_file_numbers": request.user.has_perm("legal.view_case_file_number"),
        "proceedings": selectors.proceedings_of(detention, request.user).prefetch_related(
            "charges"
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
        token = services.calendar_token_create(user=request.user)
    address = request.build_absolute_uri(reverse("legal:calendar", args=[token])) if token else None
    return render(
        request,
        "legal/calendar_link.html",
        {"title": _("Hearings in your calendar"), "has_permission": True, "address": address},
    )


def calendar(request, token: str):
    """iCalendar feed of the hearings the token's lawyer follows. Public by design: the
    secret address is the credential; names and file numbers stay out of it."""
    user = selectors.calendar_user(token)
    if user is None or not user.has_perm("legal.follow_detentions"):
        raise Http404
    feed = Calendar()
    feed.add("prodid", "-//Defensores//Audiencias//ES")
    feed.add("version", "2.0")
    feed.add("x-wr-calname", _("Hearings — Defensores"))
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
            event.add("dtend", start + datetime.timedelta(hours=2))
        else:
            event.add("dtstart", hearing.scheduled_on)
        status = {True: _("held"), False: _("deferred"), None: _("scheduled")}[hearing.held]
        event.add(
            "summary",
            _("%(kind)s — %(court)s (%(status)s)")
            % {
                "kind": hearing.get_kind_display(),
                "court": hearing.proceeding.court,
                "status": status,
            },
        )
        event.add(
            "url",
            request.build_absolute_uri(
                reverse("admin:legal_proceeding_change", args=[hearing.proceeding_id])
            ),
        )
        feed.add_component(event)
    response = HttpResponse(feed.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="audiencias.ics"'
    return response
