"""Two people editing the same detention, transfer, court case, hearing or legal action: the
second save is refused with who saved first, never silently lost (optimistic locking)."""

import datetime

import pytest
from django.urls import reverse

from legal import services as legal_services
from legal.models import Detention, Hearing, LegalAction, Proceeding, Transfer
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory
from tests.forms import page_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def court_case(coordinator):
    incident = IncidentFactory(
        type="arbitrary_detention", case=CaseFactory(status="draft", confidentiality="internal")
    )
    detention = Detention.objects.create(incident=incident, arrested_on=datetime.date(2021, 7, 2))
    Transfer.objects.create(
        detention=detention, moved_on=datetime.date(2021, 7, 4), place="El Helicoide"
    )
    p = Proceeding.objects.create(court="Tribunal 3.º de Control")
    p.defendants.set([DefenderFactory()])
    p.incidents.add(incident)
    Hearing.objects.create(proceeding=p, scheduled_on=datetime.date(2022, 3, 1))
    LegalAction.objects.create(
        proceeding=p, kind="habeas_corpus", filed_on=datetime.date(2021, 7, 3), body="TSJ"
    )
    return p


def someone_else_saves(record, save, coordinator, **changes):
    fresh = type(record).objects.get(pk=record.pk)
    for name, value in changes.items():
        setattr(fresh, name, value)
    save(fresh, coordinator)


@pytest.mark.parametrize(
    ("what", "field", "value"),
    [
        ("proceeding", "court", "Tribunal cambiado"),
        ("hearing", "hearings-0-outcome", "Diferida otra vez"),
        ("action", "legal_actions-0-outcome", "Admitido"),
    ],
)
def test_a_court_case_page_saved_meanwhile_is_refused(
    client_for, lawyer, coordinator, court_case, what, field, value
):
    client = client_for(lawyer)
    url = reverse("admin:legal_proceeding_change", args=[court_case.pk])
    data = page_data(client.get(url))
    targets = {
        "proceeding": (court_case, lambda r, u: legal_services.proceeding_save(
            proceeding=r, user=u, reason="otra pestaña")),
        "hearing": (court_case.hearings.get(), lambda r, u: legal_services.hearing_save(
            hearing=r, user=u, reason="otra pestaña")),
        "action": (court_case.legal_actions.get(), lambda r, u: legal_services.legal_action_save(
            action=r, user=u, reason="otra pestaña")),
    }  # fmt: skip
    record, save = targets[what]
    someone_else_saves(record, save, coordinator)
    data[field] = value
    page = client.post(url, data).content.decode()
    assert "Otra persona guardó" in page
    record.refresh_from_db()
    assert value not in str(vars(record).values())


@pytest.mark.parametrize(("field", "value"), [("place_of_detention", "Rodeo I")])
def test_a_detention_and_its_transfers_saved_meanwhile_are_refused(
    client_for, lawyer, coordinator, court_case, field, value
):
    detention = Detention.objects.get()
    client = client_for(lawyer)
    url = reverse("admin:legal_detention_change", args=[detention.pk])
    for name, record, save in [
        (field, detention, lambda r, u: legal_services.detention_save(
            detention=r, user=u, reason="otra pestaña")),
        ("transfers-0-place", detention.transfers.get(), lambda r, u: legal_services.transfer_save(
            transfer=r, user=u, reason="otra pestaña")),
    ]:  # fmt: skip
        data = page_data(client.get(url))
        someone_else_saves(record, save, coordinator)
        data[name] = value
        page = client.post(url, data).content.decode()
        assert "Otra persona guardó" in page, name
        record.refresh_from_db()
        assert value not in str(vars(record).values())
