import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from icalendar import Calendar

from legal import services as legal_services
from legal.models import Detention, Hearing, Proceeding
from tests.factories import DefenderFactory, IncidentFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
CARACAS = zoneinfo.ZoneInfo("America/Caracas")


def detention(**fields):
    defender = fields.pop("defender", None) or DefenderFactory()
    incident = IncidentFactory(
        type="arbitrary_detention", defender=defender, occurred_on=fields.get("arrested_on", TODAY)
    )
    fields.setdefault("arrested_on", datetime.date(2021, 7, 2))
    return Detention.objects.create(incident=incident, **fields)


def proceeding(defenders=(), **fields):
    fields.setdefault("court", "Tribunal de prueba")
    p = Proceeding.objects.create(**fields)
    p.defendants.set(defenders or [DefenderFactory()])
    return p


class TestDaysInDetention:
    def test_tarazona_spent_1675_days(self):
        d = detention(status="released", released_on=datetime.date(2026, 2, 1))
        assert d.days_in_detention == 1675

    def test_a_same_day_release_is_zero_days(self):
        d = detention(status="released", released_on=datetime.date(2021, 7, 2))
        assert d.days_in_detention == 0

    def test_a_person_still_detained_counts_to_today(self):
        d = detention(status="detained")
        assert d.days_in_detention == (TODAY - datetime.date(2021, 7, 2)).days

    def test_an_unknown_time_of_arrest_counts_from_midnight(self):
        d = detention(
            incommunicado_until=datetime.datetime(2021, 7, 3, 12, 0, tzinfo=CARACAS),
        )
        assert d.arrested_at is None and d.incommunicado_hours == 36

    def test_a_release_needs_its_date_and_cannot_precede_the_arrest(self):
        d = detention()
        d.status = "released"
        with pytest.raises(ValidationError):
            d.full_clean()
        d.released_on = datetime.date(2021, 7, 1)
        with pytest.raises(ValidationError):
            d.full_clean()

    def test_only_an_arbitrary_detention_incident_has_a_detention(self):
        incident = IncidentFactory(type="raid")
        with pytest.raises(ValidationError):
            Detention(incident=incident, arrested_on=datetime.date(2021, 7, 2)).full_clean()


class TestProceedings:
    def test_deferrals_are_counted_per_proceeding(self):
        p = proceeding()
        Hearing.objects.create(proceeding=p, scheduled_on=datetime.date(2021, 7, 4), held=True)
        for day in range(1, 15):
            Hearing.objects.create(
                proceeding=p,
                scheduled_on=datetime.date(2022, 1, day),
                held=False,
                deferral_reason="no_transfer",
            )
        other = proceeding()
        Hearing.objects.create(
            proceeding=other,
            scheduled_on=datetime.date(2022, 1, 1),
            held=False,
            deferral_reason="no_session",
        )
        assert p.hearings.filter(held=False).count() == 14

    def test_a_deferral_needs_a_reason(self):
        with pytest.raises(ValidationError):
            Hearing(proceeding=proceeding(), scheduled_on=TODAY, held=False).full_clean()

    @pytest.mark.parametrize(
        ("since", "stage", "alert"),
        [
            (TODAY.replace(year=TODAY.year - 2), "preliminary_hearing", True),
            (TODAY.replace(year=TODAY.year - 2) + datetime.timedelta(days=1), "trial", False),
            (TODAY.replace(year=TODAY.year - 3), "dismissed", False),
        ],
    )
    def test_the_two_year_alert(self, since, stage, alert):
        assert (
            proceeding(pretrial_detention_since=since, stage=stage).pretrial_limit_passed is alert
        )


class TestDashboard:
    def test_its_sections(self, client_for, lawyer):
        longest = detention(arrested_on=datetime.date(2020, 1, 1), last_news_on=TODAY)
        recent = detention(arrested_on=TODAY - datetime.timedelta(days=5), last_news_on=TODAY)
        silent = detention(
            arrested_on=TODAY - datetime.timedelta(days=90),
            last_news_on=TODAY - datetime.timedelta(days=40),
        )
        freed = detention(
            arrested_on=TODAY - datetime.timedelta(days=20),
            status="released",
            released_on=TODAY - datetime.timedelta(days=3),
        )
        p = proceeding(pretrial_detention_since=TODAY.replace(year=TODAY.year - 3))
        soon = Hearing.objects.create(proceeding=p, scheduled_on=TODAY + datetime.timedelta(days=3))
        Hearing.objects.create(proceeding=p, scheduled_on=TODAY + datetime.timedelta(days=20))
        forgotten = Hearing.objects.create(
            proceeding=p, scheduled_on=TODAY - datetime.timedelta(days=2)
        )
        response = client_for(lawyer).get("/legal/")
        assert response.status_code == 200
        sections = response.context["sections"]
        assert sections["detained"] == [longest, silent, recent]  # longest first
        assert list(sections["upcoming"]) == [soon]
        assert list(sections["pretrial_overdue"]) == [p]
        assert list(sections["hearings_without_outcome"]) == [forgotten]
        assert sections["no_news"] == [silent]
        assert sections["released"] == [freed]
        assert str(longest.days_in_detention) in response.content.decode()

    def test_filters_by_lawyer(self, client_for, lawyer, coordinator):
        mine = detention(lawyer=lawyer)
        detention(lawyer=coordinator)
        response = client_for(lawyer).get(f"/legal/?lawyer={lawyer.pk}")
        assert response.context["sections"]["detained"] == [mine]

    def test_only_the_legal_team_opens_it(self, client, client_for, documentalist):
        assert client.get("/legal/").status_code == 302
        assert client_for(documentalist).get("/legal/").status_code == 403

    def test_restricted_cases_stay_hidden(self, client_for, lawyer):
        hidden = detention()
        hidden.incident.case.confidentiality = "restricted"
        hidden.incident.case.save()
        assert client_for(lawyer).get("/legal/").context["sections"]["detained"] == []


class TestTimeline:
    def test_it_tells_the_story_from_arrest_to_release(self, client_for, lawyer):
        d = detention(status="detained", place_of_detention="El Helicoide")
        d.transfers.create(moved_on=datetime.date(2021, 7, 4), place="El Helicoide")
        p = proceeding(pretrial_detention_since=datetime.date(2021, 7, 2), case_file_number="EXP-9")
        p.incidents.add(d.incident)
        Hearing.objects.create(
            proceeding=p,
            scheduled_on=datetime.date(2022, 3, 1),
            held=False,
            deferral_reason="no_transfer",
        )
        d.status, d.released_on = "released", datetime.date(2026, 2, 1)
        d.save()
        page = client_for(lawyer).get(f"/legal/detentions/{d.public_id}/").content.decode()
        assert "1675" in page
        assert "El Helicoide" in page and "No hubo traslado" in page
        assert "Detenido → Liberado" in page  # from the history
        assert "EXP-9" in page

    def test_it_leaves_out_court_cases_that_also_concern_a_hidden_incident(
        self, client_for, lawyer, hidden
    ):
        d = detention(status="detained")
        hidden.proceeding.incidents.add(d.incident)  # also about the restricted incident
        Hearing.objects.create(
            proceeding=hidden.proceeding,
            scheduled_on=datetime.date(2021, 9, 1),
            held=True,
            outcome="Resultado OCULTO",
        )
        page = client_for(lawyer).get(f"/legal/detentions/{d.public_id}/").content.decode()
        assert "OCULTO" not in page

    def test_a_documentalist_never_sees_case_file_numbers(self, client_for, documentalist):
        p = proceeding(case_file_number="EXP-SECRETO")
        page = client_for(documentalist).get(f"/admin/legal/proceeding/{p.pk}/change/")
        assert page.status_code == 200
        assert "EXP-SECRETO" not in page.content.decode()
        assert client_for(documentalist).get("/admin/legal/proceeding/").status_code == 200


class TestCalendar:
    def test_the_feed_is_icalendar_with_only_the_lawyers_hearings(
        self, client, lawyer, coordinator
    ):
        mine = proceeding(lawyer=lawyer, court="Tribunal 3.º de Control")
        theirs = proceeding(lawyer=coordinator, court="Otro tribunal")
        Hearing.objects.create(
            proceeding=mine, scheduled_on=TODAY, scheduled_at=datetime.time(9, 30)
        )
        Hearing.objects.create(proceeding=mine, scheduled_on=TODAY + datetime.timedelta(days=7))
        Hearing.objects.create(proceeding=theirs, scheduled_on=TODAY)
        token = legal_services.calendar_token_create(user=lawyer)
        response = client.get(f"/legal/calendar/{token}.ics")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
        events = Calendar.from_ical(response.content).walk("VEVENT")
        assert len(events) == 2
        assert all("Tribunal 3.º de Control" in str(e["SUMMARY"]) for e in events)

    def test_a_revoked_or_replaced_address_is_not_found(self, client, lawyer):
        first = legal_services.calendar_token_create(user=lawyer)
        second = legal_services.calendar_token_create(user=lawyer)
        assert client.get(f"/legal/calendar/{first}.ics").status_code == 404
        assert client.get(f"/legal/calendar/{second}.ics").status_code == 200
        legal_services.calendar_token_revoke(user=lawyer)
        assert client.get(f"/legal/calendar/{second}.ics").status_code == 404
        assert client.get("/legal/calendar/invented.ics").status_code == 404

    def test_a_lawyer_gets_the_address_once(self, client_for, lawyer):
        response = client_for(lawyer).post("/legal/calendar/", {"action": "create"})
        assert "/legal/calendar/" in response.context["address"]


def test_absurd_filter_values_are_ignored_not_crashes(client_for, lawyer):
    client = client_for(lawyer)
    for query in ["?lawyer=99999999999999999999999", "?lawyer=abc", "?state=XX"]:
        assert client.get("/legal/" + query).status_code == 200
