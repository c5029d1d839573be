import datetime
import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services
from cases.models import Case, Incident, Involvement
from core import records
from tests.factories import DefenderFactory, PerpetratorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(documentalist):
    return services.case_create(user=documentalist, title="Detención en Coro")


def add_incident(case, user):
    return services.incident_create(
        user=user,
        case=case,
        type=Incident.Type.ARBITRARY_DETENTION,
        occurred_on=datetime.date(2021, 7, 2),
        defender=DefenderFactory(),
        perpetrators=[(PerpetratorFactory(name="SEBIN"), Involvement.Role.PERPETRATED)],
    )


def test_it_records_who_created_the_case_and_why(draft, documentalist):
    created, joined = draft.history.order_by("history_id")
    assert created.history_type == "+" and created.history_user == documentalist
    assert [member.user for member in joined.team.all()] == [documentalist]  # on its team
    assert draft.created_by == draft.updated_by == documentalist


def test_it_records_the_incident_and_its_perpetrators_with_history(draft, documentalist):
    incident = add_incident(draft, documentalist)
    involvement = incident.involvements.get()
    assert involvement.perpetrator.name == "SEBIN"
    assert incident.history.get().history_user == documentalist
    assert involvement.history.get().history_user == documentalist


def test_it_refuses_to_send_an_empty_case_to_review(draft, documentalist):
    with pytest.raises(ValidationError, match="al menos un incidente"):
        services.case_submit_for_review(case=draft, user=documentalist)


def test_it_refuses_to_verify_a_case_without_sources(draft, documentalist, reviewer):
    add_incident(draft, documentalist)
    services.case_submit_for_review(case=draft, user=documentalist)
    with pytest.raises(ValidationError, match="al menos una fuente"):
        services.case_verify(case=draft, user=reviewer)


def test_it_walks_the_workflow_and_keeps_each_step(draft, documentalist, reviewer):
    add_incident(draft, documentalist)
    services.source_create(user=documentalist, case=draft, kind="press", title="Nota")
    services.case_submit_for_review(case=draft, user=documentalist)
    services.case_verify(case=draft, user=reviewer)
    services.case_publish(case=draft, user=reviewer)
    draft.refresh_from_db()
    assert draft.status == Case.Status.PUBLISHED
    history = draft.history.order_by("history_id")
    steps = list(history.values_list("status", "history_user__username"))
    assert steps == [
        ("draft", "documentalista"),
        ("draft", "documentalista"),  # joins the case team
        ("in_review", "documentalista"),
        ("verified", "revisora"),
        ("published", "revisora"),
    ]


def test_it_refuses_to_skip_review(draft, reviewer):
    with pytest.raises(ValidationError, match="no puede pasar a"):
        services.case_publish(case=draft, user=reviewer)


def test_retraction_needs_a_reason(draft, reviewer):
    with pytest.raises(ValidationError):
        services.case_retract(case=draft, user=reviewer, reason="")


def test_it_fingerprints_an_uploaded_source_file(draft, documentalist):
    upload = SimpleUploadedFile("acta.pdf", b"%PDF-1.4 contenido", content_type="application/pdf")
    source = services.source_create(
        user=documentalist, case=draft, kind="official_document", title="Acta", file=upload
    )
    assert source.sha256 == hashlib.sha256(b"%PDF-1.4 contenido").hexdigest()
    assert "acta" not in source.file.name  # the stored name does not reveal the original


def test_marking_a_duplicate_stops_it_being_counted(draft, documentalist, reviewer):
    original = add_incident(draft, documentalist)
    copy = add_incident(draft, documentalist)
    services.source_create(user=documentalist, case=draft, kind="press", title="Nota")
    services.case_submit_for_review(case=draft, user=documentalist)
    services.case_verify(case=draft, user=reviewer)
    assert Incident.objects.counted().count() == 2
    services.incident_mark_duplicate(incident=copy, original=original, user=reviewer)
    assert list(Incident.objects.counted()) == [original]
    assert copy.history.latest().history_user == reviewer


def test_a_stale_copy_is_refused_and_never_undoes_a_status_change(draft, documentalist, reviewer):
    add_incident(draft, documentalist)
    stale = Case.objects.get(pk=draft.pk)
    services.case_submit_for_review(case=draft, user=documentalist)
    stale.title = "Título corregido"
    with pytest.raises(records.StaleEditError):
        services.case_save(case=stale, user=documentalist)
    draft.refresh_from_db()
    assert draft.status == Case.Status.IN_REVIEW
    assert draft.title == "Detención en Coro"


def test_a_case_others_count_through_their_duplicates_cannot_be_retracted(
    draft, documentalist, reviewer
):
    original = add_incident(draft, documentalist)
    services.source_create(user=documentalist, case=draft, kind="press", title="Nota")
    services.case_submit_for_review(case=draft, user=documentalist)
    services.case_verify(case=draft, user=reviewer)
    other = services.case_create(user=documentalist, title="Otro reporte")
    report = add_incident(other, documentalist)
    services.source_create(user=documentalist, case=other, kind="press", title="Otra nota")
    services.case_submit_for_review(case=other, user=documentalist)
    services.case_verify(case=other, user=reviewer)
    services.incident_mark_duplicate(incident=report, original=original, user=reviewer)
    with pytest.raises(ValidationError, match="no se contarían"):
        services.case_retract(case=draft, user=reviewer, reason="Fuente dudosa")
    assert Incident.objects.counted().count() == 1
