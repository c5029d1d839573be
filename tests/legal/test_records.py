"""What a lawyer reads and picks: the lawyer's name on the timeline, the timeline and the
court case linked both ways, a release without a recorded kind said plainly, dates that read
the same in both languages, and a lawyer picker that lists lawyers only."""

import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from legal.models import Detention, Hearing, Proceeding
from tests.factories import DefenderFactory, IncidentFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def detained(**fields):
    incident = IncidentFactory(
        type="arbitrary_detention", defender=DefenderFactory(), occurred_on=TODAY
    )
    fields.setdefault("arrested_on", datetime.date(2021, 7, 2))
    return Detention.objects.create(incident=incident, **fields)


def court_case(detention, **fields):
    fields.setdefault("court", "Tribunal 3.º de Control")
    p = Proceeding.objects.create(**fields)
    p.defendants.set([detention.incident.defender])
    p.incidents.add(detention.incident)
    return p


def test_the_timeline_names_the_lawyer_and_links_the_court_case(client_for, lawyer):
    lawyer.first_name, lawyer.last_name = "Ana", "Abogada"
    lawyer.save()
    d = detained(lawyer=lawyer, counsel="chosen")
    p = court_case(d)
    Hearing.objects.create(
        proceeding=p, scheduled_on=TODAY + datetime.timedelta(days=4), scheduled_at=datetime.time(9)
    )
    page = client_for(lawyer).get(f"/legal/detentions/{d.public_id}/").content.decode()
    assert "Ana Abogada" in page
    assert f"/admin/legal/proceeding/{p.pk}/change/" in page
    assert "Próxima audiencia" in page and "09:00" in page
    # And back: the court case's page links the timeline of each of its detentions.
    admin_page = client_for(lawyer).get(f"/admin/legal/proceeding/{p.pk}/change/")
    assert f"/legal/detentions/{d.public_id}/" in admin_page.content.decode()


def test_a_release_of_unrecorded_kind_is_said_plainly(client_for, lawyer):
    d = detained(status="released", released_on=datetime.date(2026, 2, 1), release_kind="")
    page = client_for(lawyer).get(f"/legal/detentions/{d.public_id}/").content.decode()
    assert "Excarcelado/a." in page and "No registrado" not in page
    d.release_kind = "humanitarian"
    d.save()
    page = client_for(lawyer).get(f"/legal/detentions/{d.public_id}/").content.decode()
    assert "Excarcelado/a (Liberación humanitaria)." in page


def test_dates_read_unambiguously_in_english(client_for, lawyer):
    d = detained(arrested_on=datetime.date(2021, 7, 2))
    page = (
        client_for(lawyer)
        .get(f"/legal/detentions/{d.public_id}/", HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "July 2, 2021" in page and "07/02/2021" not in page
    assert "02/07/2021" not in page


def test_the_lawyer_picker_lists_active_lawyers_only(client_for, lawyer, coordinator):
    lawyers = Group.objects.get(name="Abogado")
    gone = User.objects.create_user("abogado-inactivo", is_staff=True, is_active=False)
    gone.groups.add(lawyers)
    d = detained()
    page = client_for(coordinator).get(f"/admin/legal/detention/{d.pk}/change/")
    choices = {str(u) for u in page.context["adminform"].form.fields["lawyer"].queryset}
    assert choices == {lawyer.username}
    assert "sistema" not in choices and coordinator.username not in choices
    # A record whose lawyer is someone else still saves with them.
    d.lawyer = coordinator
    d.save()
    page = client_for(coordinator).get(f"/admin/legal/detention/{d.pk}/change/")
    choices = {str(u) for u in page.context["adminform"].form.fields["lawyer"].queryset}
    assert choices == {lawyer.username, coordinator.username}


class TestLegalActionsBeforeAnyCourtCase:
    def test_one_needs_a_subject(self, lawyer):
        from django.core.exceptions import ValidationError

        from legal import services as legal_services
        from legal.models import LegalAction

        action = LegalAction(kind="habeas_corpus", filed_on=TODAY, body="TSJ")
        with pytest.raises(ValidationError) as refused:
            legal_services.legal_action_save(action=action, user=lawyer)
        assert "un proceso judicial, una detención o una persona defensora" in str(refused.value)

    def test_a_habeas_corpus_on_a_detention_reaches_its_timeline(self, client_for, lawyer):
        d = detained()
        client = client_for(lawyer)
        response = client.post(
            "/admin/legal/legalaction/add/",
            {
                "kind": "habeas_corpus",
                "filed_on": "2021-07-03",
                "body": "Tribunal Supremo de Justicia",
                "status": "filed",
                "detention": d.pk,
                "change_reason": "",
            },
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        page = client.get(f"/legal/detentions/{d.public_id}/").content.decode()
        assert "Hábeas corpus ante Tribunal Supremo de Justicia" in page

    def test_an_action_for_a_defender_alone(self, client_for, lawyer):
        from legal.models import LegalAction

        d = detained()
        LegalAction.objects.create(
            kind="iachr_measures", filed_on=TODAY, body="CIDH", defender=d.incident.defender
        )
        page = client_for(lawyer).get(f"/legal/detentions/{d.public_id}/").content.decode()
        assert "CIDH" in page

    def test_a_hidden_detention_is_refused_without_its_label(self, client_for, lawyer, hidden):
        from legal.models import LegalAction

        LegalAction.objects.create(
            kind="habeas_corpus", filed_on=TODAY, body="Acción OCULTO", detention=hidden.detention
        )
        client = client_for(lawyer)
        assert "OCULTO" not in client.get("/admin/legal/legalaction/").content.decode()
        response = client.post(
            "/admin/legal/legalaction/add/",
            {
                "kind": "habeas_corpus",
                "filed_on": "2021-07-03",
                "body": "Otro",
                "status": "filed",
                "detention": hidden.detention.pk,
            },
        )
        page = response.content.decode()
        assert response.status_code == 200 and "Escoja una opción válida" in page
        for label in hidden.labels():
            assert label not in page
        assert not LegalAction.objects.filter(body="Otro").exists()


def test_an_action_about_a_protected_defender_is_for_who_follows_them(client_for, lawyer):
    from legal.models import LegalAction

    person = DefenderFactory(full_name="Nombre RESERVADO", identity_protected=True)
    LegalAction.objects.create(
        kind="iachr_measures", filed_on=TODAY, body="CIDH CENTINELA", defender=person
    )
    assert not LegalAction.objects.visible_to(lawyer).exists()
    page = client_for(lawyer).get("/admin/legal/legalaction/").content.decode()
    assert "CENTINELA" not in page
