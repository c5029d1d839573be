"""A case's workflow: who may make each move, the reasons it keeps, and four eyes."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from cases import services, workflow
from tests.factories import DefenderFactory

pytestmark = pytest.mark.django_db


def submitted(by, title="Caso"):
    case = services.case_create(user=by, title=title)
    services.incident_create(
        user=by,
        case=case,
        type="threat",
        occurred_on=datetime.date(2021, 7, 1),
        defender=DefenderFactory(),
    )
    services.source_create(user=by, case=case, kind="press", title="Nota")
    services.case_submit_for_review(case=case, user=by)
    return case


def test_a_reviewer_may_not_verify_a_case_they_submitted(reviewer):
    case = submitted(reviewer)
    with pytest.raises(ValidationError, match="Usted envió este caso a revisión"):
        services.case_verify(case=case, user=reviewer)
    case.refresh_from_db()
    assert case.status == "in_review"


def test_nor_one_they_changed_last(documentalist, reviewer):
    case = submitted(documentalist)
    incident = case.incidents.get()
    incident.description = "Corrijo la descripción"
    services.incident_save(incident=incident, user=reviewer)
    with pytest.raises(ValidationError, match="hizo el último cambio"):
        services.case_verify(case=case, user=reviewer)


def test_another_reviewer_verifies_then_publishes(documentalist, reviewer):
    case = submitted(documentalist)
    services.case_verify(case=case, user=reviewer)
    services.case_publish(case=case, user=reviewer)  # a move of status is no change of content
    case.refresh_from_db()
    assert case.status == "published"


def test_a_coordinator_may_waive_four_eyes_saying_why_and_the_history_keeps_it(coordinator):
    case = submitted(coordinator)
    with pytest.raises(ValidationError):
        services.case_verify(case=case, user=coordinator)
    services.case_verify(case=case, user=coordinator, override="Única revisora de guardia")
    record = case.history.first()
    assert record.status == "verified" and record.history_user == coordinator
    assert "Única revisora de guardia" in record.history_change_reason


def test_a_reviewer_cannot_waive_it(reviewer):
    case = submitted(reviewer)
    with pytest.raises(ValidationError):
        services.case_verify(case=case, user=reviewer, override="Tengo prisa")


def test_four_eyes_can_be_turned_off(settings, reviewer):
    settings.FOUR_EYES = False
    case = submitted(reviewer)
    services.case_verify(case=case, user=reviewer)
    assert case.status == "verified"


def test_sending_back_says_why_and_the_documentalist_finds_it(documentalist, reviewer):
    case = submitted(documentalist)
    with pytest.raises(ValidationError, match="Diga por qué"):
        services.case_send_back(case=case, user=reviewer, reason=" ")
    services.case_send_back(case=case, user=reviewer, reason="Falta la fuente original")
    case.refresh_from_db()
    assert case.status == "draft"
    assert case.history.first().history_change_reason == "Falta la fuente original"


def test_each_move_needs_its_permission(documentalist, analyst):
    case = submitted(documentalist)
    with pytest.raises(ValidationError, match="no puede pasar un caso"):
        services.case_verify(case=case, user=documentalist)
    assert workflow.moves_for(case, documentalist) == []
    assert workflow.moves_for(case, analyst) == []


def test_the_moves_offered_follow_the_role(documentalist, reviewer):
    case = submitted(documentalist)
    assert set(workflow.moves_for(case, reviewer)) == {"draft", "verified"}
    services.case_verify(case=case, user=reviewer)
    assert set(workflow.moves_for(case, reviewer)) == {"in_review", "published", "retracted"}
