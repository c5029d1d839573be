"""Who reads a defender's phone, e-mail and address: coordinators, whoever recorded the
defender, and the teams of the cases that name them; not someone who merely names them in a
draft case of their own."""

import datetime

import pytest
from django.urls import reverse

from cases import services
from cases.models import Case
from organizations.models import VERIFIED_CASE_STATUSES, Defender
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def defender():
    return DefenderFactory(full_name="Persona con teléfono", phone="+58 414 5551234")


def opens_contact(client, defender) -> bool:
    url = reverse("admin:organizations_defender_change", args=[defender.pk])
    return "5551234" in client.get(url).content.decode()


def draft_naming(defender, user) -> Case:
    case = services.case_create(user=user, title="Borrador cualquiera")
    services.incident_create(
        user=user,
        case=case,
        type="stigmatization",
        occurred_on=datetime.date(2021, 7, 1),
        defender=defender,
    )
    return case


def test_naming_someone_in_a_draft_of_ones_own_does_not_open_their_contact(
    client_for, documentalist, defender
):
    draft_naming(defender, documentalist)
    assert Defender.objects.followed_by(documentalist).filter(pk=defender.pk).exists()
    assert not defender.contact_visible_to(documentalist)
    assert not opens_contact(client_for(documentalist), defender)


def test_once_a_reviewer_verifies_the_case_its_team_reads_the_contact(
    client_for, documentalist, reviewer, defender
):
    case = draft_naming(defender, documentalist)
    services.source_create(user=documentalist, case=case, kind="press", title="Nota de prensa")
    services.case_submit_for_review(case=case, user=documentalist)
    services.case_verify(case=case, user=reviewer)
    assert opens_contact(client_for(documentalist), defender)


def test_the_team_of_someone_elses_case_reads_the_contact(
    client_for, documentalist, coordinator, defender
):
    case = CaseFactory(status="draft", created_by=coordinator)
    IncidentFactory(case=case, defender=defender)
    assert not defender.contact_visible_to(documentalist)
    services.case_team_set(case=case, members=[documentalist], by=coordinator)
    assert opens_contact(client_for(documentalist), defender)


def test_whoever_recorded_the_defender_and_coordinators_read_it(
    client_for, documentalist, coordinator
):
    mine = DefenderFactory(phone="+58 414 5551234", created_by=documentalist)
    assert opens_contact(client_for(documentalist), mine)
    assert mine.contact_visible_to(coordinator)


def test_the_verified_statuses_are_the_counted_ones():
    assert set(VERIFIED_CASE_STATUSES) == set(Case.COUNTED_STATUSES)
