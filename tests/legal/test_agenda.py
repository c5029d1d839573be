"""The lawyers' week: hearings with their times in a week view (per lawyer, for the team),
the next hearing beside each detainee, and the calendar feed with times, reminders, no old
past and, by the owner's choice, case numbers (never a name)."""

import datetime

import pytest
from django.utils import timezone
from icalendar import Calendar

from legal import selectors
from legal import services as legal_services
from legal.models import Detention, Hearing, Proceeding
from tests.factories import DefenderFactory, IncidentFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
MONDAY = selectors.week_start(TODAY)


def detained(name="Persona de prueba", **fields):
    defender = DefenderFactory(full_name=name)
    incident = IncidentFactory(type="arbitrary_detention", defender=defender, occurred_on=TODAY)
    fields.setdefault("arrested_on", TODAY - datetime.timedelta(days=10))
    return Detention.objects.create(incident=incident, **fields)


def court_case(detention=None, **fields):
    fields.setdefault("court", "Tribunal 3.º de Control")
    p = Proceeding.objects.create(**fields)
    if detention is not None:
        p.defendants.set([detention.incident.defender])
        p.incidents.add(detention.incident)
    else:
        p.defendants.set([DefenderFactory()])
    return p


def hearing(p, day, at=None, **fields):
    return Hearing.objects.create(proceeding=p, scheduled_on=day, scheduled_at=at, **fields)


def feed(client, token):
    response = client.get(f"/legal/calendar/{token}.ics")
    assert response.status_code == 200
    return Calendar.from_ical(response.content).walk("VEVENT")


class TestWeek:
    def test_this_week_in_time_order_with_names_and_links(self, client_for, lawyer):
        d = detained("Javier Tarazona", lawyer=lawyer)
        p = court_case(d, lawyer=lawyer)
        later = hearing(p, MONDAY + datetime.timedelta(days=2), datetime.time(14, 0))
        early = hearing(p, MONDAY + datetime.timedelta(days=2), datetime.time(9, 30))
        untimed = hearing(p, MONDAY + datetime.timedelta(days=2))
        hearing(p, MONDAY + datetime.timedelta(days=7), datetime.time(9))  # next week
        response = client_for(lawyer).get("/legal/agenda/")
        assert response.status_code == 200
        days = response.context["days"]
        assert [day["day"] for day in days] == [
            MONDAY + datetime.timedelta(days=n) for n in range(7)
        ]
        assert days[2]["hearings"] == [early, later, untimed]
        page = response.content.decode()
        assert "09:30" in page and "14:00" in page and "Javier Tarazona" in page
        assert f"/legal/detentions/{d.public_id}/" in page
        assert f"/admin/legal/proceeding/{p.pk}/change/" in page

    def test_next_week(self, client_for, lawyer):
        p = court_case(lawyer=lawyer)
        coming = hearing(p, MONDAY + datetime.timedelta(days=8), datetime.time(10))
        response = client_for(lawyer).get("/legal/agenda/?week=next")
        assert response.context["days"][1]["hearings"] == [coming]
        assert response.context["start"] == MONDAY + datetime.timedelta(days=7)

    def test_mine_or_the_whole_team(self, client_for, lawyer, coordinator):
        mine = hearing(court_case(lawyer=lawyer), MONDAY)
        through_detention = hearing(court_case(detained(lawyer=lawyer)), MONDAY)
        theirs = hearing(court_case(lawyer=coordinator), MONDAY)
        client = client_for(lawyer)
        only_mine = client.get("/legal/agenda/").context["days"][0]["hearings"]
        assert set(only_mine) == {mine, through_detention}
        team = client.get("/legal/agenda/?lawyer=all").context["days"][0]["hearings"]
        assert set(team) == {mine, through_detention, theirs}
        chosen = client.get(f"/legal/agenda/?lawyer={coordinator.pk}")
        assert chosen.context["days"][0]["hearings"] == [theirs]

    def test_a_restricted_case_stays_hidden(self, client_for, lawyer, hidden):
        hearing(hidden.proceeding, MONDAY, datetime.time(8))
        page = client_for(lawyer).get("/legal/agenda/?lawyer=all")
        assert all(not day["hearings"] for day in page.context["days"])

    def test_a_protected_defendant_shows_by_pseudonym(self, client_for, lawyer):
        d = detained("Nombre PROTEGIDO")
        d.incident.defender.identity_protected = True
        d.incident.defender.save()
        hearing(court_case(d, lawyer=lawyer), MONDAY)
        page = client_for(lawyer).get("/legal/agenda/").content.decode()
        assert "PROTEGIDO" not in page
        assert d.incident.defender.pseudonym in page

    def test_bad_values_fall_back_and_outsiders_are_refused(self, client, client_for, lawyer):
        client_lawyer = client_for(lawyer)
        for query in ("?week=someday", "?lawyer=abc", "?lawyer=99999999999999999999"):
            assert client_lawyer.get("/legal/agenda/" + query).status_code == 200
        client.logout()
        assert client.get("/legal/agenda/").status_code == 302

    def test_a_documentalist_may_not_open_it(self, client_for, documentalist):
        assert client_for(documentalist).get("/legal/agenda/").status_code == 403


def test_the_dashboard_shows_each_detainees_next_hearing(client_for, lawyer):
    d = detained("Con audiencia")
    p = court_case(d)
    hearing(p, TODAY - datetime.timedelta(days=3), held=True)  # past: not next
    hearing(p, TODAY + datetime.timedelta(days=9), datetime.time(11, 15))
    hearing(p, TODAY + datetime.timedelta(days=20))
    alone = detained("Sin audiencia")
    response = client_for(lawyer).get("/legal/")
    rows = {row.pk: row for row in response.context["sections"]["detained"]}
    assert rows[d.pk].next_hearing_on == TODAY + datetime.timedelta(days=9)
    assert rows[d.pk].next_hearing_at == datetime.time(11, 15)
    assert rows[alone.pk].next_hearing_on is None
    assert "11:15" in response.content.decode()


def test_the_next_hearing_of_a_hidden_court_case_is_not_shown(client_for, lawyer, hidden):
    d = detained()
    hidden.proceeding.incidents.add(d.incident)  # also about the restricted incident
    hearing(hidden.proceeding, TODAY + datetime.timedelta(days=2))
    rows = client_for(lawyer).get("/legal/").context["sections"]["detained"]
    assert [row.next_hearing_on for row in rows if row.pk == d.pk] == [None]


class TestCalendarFeed:
    def test_times_reminders_and_no_old_past(self, client, lawyer):
        p = court_case(lawyer=lawyer)
        hearing(p, TODAY + datetime.timedelta(days=1), datetime.time(9, 30))
        hearing(p, TODAY - datetime.timedelta(days=10), held=True)
        hearing(p, TODAY - datetime.timedelta(days=31), held=True)  # too old
        token = legal_services.calendar_token_create(user=lawyer)
        events = feed(client, token)
        assert len(events) == 2
        raw = client.get(f"/legal/calendar/{token}.ics").content.decode()
        assert "BEGIN:VTIMEZONE" in raw  # the zone its times name (RFC 5545)
        timed = next(e for e in events if isinstance(e.decoded("DTSTART"), datetime.datetime))
        start = timed.decoded("DTSTART")
        assert (start.hour, start.minute) == (9, 30) and start.utcoffset() is not None
        assert [a["TRIGGER"].dt for a in timed.walk("VALARM")] == [datetime.timedelta(days=-1)]
        past = next(e for e in events if e is not timed)
        assert past.walk("VALARM") == []  # no reminder for what has happened

    def test_case_numbers_only_when_the_owner_chose_them(self, client, lawyer):
        d = detained("Nombre QUE NO SALE", lawyer=lawyer)
        hearing(court_case(d, lawyer=lawyer), TODAY)
        plain = feed(client, legal_services.calendar_token_create(user=lawyer))
        assert f"caso {d.incident.case_id}" not in str(plain[0]["SUMMARY"])
        token = legal_services.calendar_token_create(user=lawyer, with_case_numbers=True)
        summary = str(feed(client, token)[0]["SUMMARY"])
        assert f"caso {d.incident.case_id}" in summary
        assert "QUE NO SALE" not in summary

    def test_the_choice_is_made_on_the_address_page(self, client_for, lawyer):
        client_for(lawyer).post("/legal/calendar/", {"action": "create", "with_case_numbers": "on"})
        assert lawyer.calendar_tokens.get(revoked_at__isnull=True).with_case_numbers
