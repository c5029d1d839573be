"""A case's workflow: who may make each move, the reasons it keeps, and four eyes."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cases import services, workflow
from tests.factories import submitted_case

pytestmark = pytest.mark.django_db


def test_a_reviewer_may_not_verify_a_case_they_submitted(reviewer):
    case = submitted_case(reviewer)
    with pytest.raises(ValidationError, match="Usted envió este caso a revisión"):
        services.case_verify(case=case, user=reviewer)
    case.refresh_from_db()
    assert case.status == "in_review"


def test_nor_one_they_changed_last(documentalist, reviewer):
    case = submitted_case(documentalist)
    incident = case.incidents.get()
    incident.description = "Corrijo la descripción"
    services.incident_save(incident=incident, user=reviewer)
    with pytest.raises(ValidationError, match="hizo el último cambio"):
        services.case_verify(case=case, user=reviewer)


def test_another_reviewer_verifies_then_publishes(documentalist, reviewer):
    case = submitted_case(documentalist)
    services.case_verify(case=case, user=reviewer)
    services.case_publish(case=case, user=reviewer)  # a move of status is no change of content
    case.refresh_from_db()
    assert case.status == "published"


def test_a_coordinator_may_waive_four_eyes_saying_why_and_the_history_keeps_it(coordinator):
    case = submitted_case(coordinator)
    with pytest.raises(ValidationError):
        services.case_verify(case=case, user=coordinator)
    services.case_verify(case=case, user=coordinator, override="Única revisora de guardia")
    record = case.history.first()
    assert record.status == "verified" and record.history_user == coordinator
    assert "Única revisora de guardia" in record.history_change_reason


def test_a_reviewer_cannot_waive_it(reviewer):
    case = submitted_case(reviewer)
    with pytest.raises(ValidationError):
        services.case_verify(case=case, user=reviewer, override="Tengo prisa")


def test_four_eyes_can_be_turned_off(settings, reviewer):
    settings.FOUR_EYES = False
    case = submitted_case(reviewer)
    services.case_verify(case=case, user=reviewer)
    assert case.status == "verified"


def test_sending_back_says_why_and_the_documentalist_finds_it(documentalist, reviewer):
    case = submitted_case(documentalist)
    with pytest.raises(ValidationError, match="Diga por qué"):
        services.case_send_back(case=case, user=reviewer, reason=" ")
    services.case_send_back(case=case, user=reviewer, reason="Falta la fuente original")
    case.refresh_from_db()
    assert case.status == "draft"
    assert case.history.first().history_change_reason == "Falta la fuente original"


def test_each_move_needs_its_permission(documentalist, analyst):
    case = submitted_case(documentalist)
    with pytest.raises(ValidationError, match="no puede pasar un caso"):
        services.case_verify(case=case, user=documentalist)
    assert workflow.moves_for(case, documentalist) == []
    assert workflow.moves_for(case, analyst) == []


def test_the_moves_offered_follow_the_role(documentalist, reviewer):
    case = submitted_case(documentalist)
    assert set(workflow.moves_for(case, reviewer)) == {"draft", "verified"}
    services.case_verify(case=case, user=reviewer)
    assert set(workflow.moves_for(case, reviewer)) == {"in_review", "published", "retracted"}


class TestTheCasePage:
    def moves(self, client, case):
        page = client.get(reverse("admin:cases_case_change", args=[case.pk]))
        return [move["status"] for move in page.context.get("moves", [])]

    def test_each_role_sees_the_moves_it_may_make(
        self, client_for, documentalist, reviewer, analyst
    ):
        draft = services.case_create(user=documentalist, title="Borrador")
        assert self.moves(client_for(documentalist), draft) == ["in_review"]
        case = submitted_case(documentalist)
        assert set(self.moves(client_for(reviewer), case)) == {"draft", "verified"}
        assert self.moves(client_for(analyst), case) == []

    def test_sending_back_asks_why(self, client_for, documentalist, reviewer):
        case = submitted_case(documentalist)
        client = client_for(reviewer)
        url = reverse("admin:cases_case_move", args=[case.pk, "draft"])
        page = client.get(url)
        assert "Devolver a quien lo documentó" in page.content.decode()
        assert client.post(url, {"reason": ""}).status_code == 200
        case.refresh_from_db()
        assert case.status == "in_review"
        done = client.post(url, {"reason": "Falta la fuente"}, follow=True)
        assert "está ahora «Borrador»" in done.content.decode()
        case.refresh_from_db()
        assert case.status == "draft"

    def test_publishing_a_case_allies_will_not_receive_says_so(
        self, client_for, documentalist, reviewer
    ):
        case = submitted_case(documentalist)
        services.case_verify(case=case, user=reviewer)
        assert case.confidentiality == "internal"
        url = reverse("admin:cases_case_move", args=[case.pk, "published"])
        page = client_for(reviewer).get(url).content.decode()
        assert "las organizaciones aliadas nunca lo recibirán" in page

    def test_four_eyes_on_the_page_and_a_coordinators_waiver(
        self, client_for, reviewer, coordinator
    ):
        mine = submitted_case(reviewer, title="Propio")
        url = reverse("admin:cases_case_move", args=[mine.pk, "verified"])
        page = client_for(reviewer).get(url).content.decode()
        assert "Usted envió este caso a revisión" in page and 'value="Verificar"' not in page
        client_for(reviewer).post(url, {})
        mine.refresh_from_db()
        assert mine.status == "in_review"
        theirs = submitted_case(coordinator, title="De la coordinadora")
        url = reverse("admin:cases_case_move", args=[theirs.pk, "verified"])
        client = client_for(coordinator)
        assert 'name="override"' in client.get(url).content.decode()
        client.post(url, {"override": "Nadie más de guardia"})
        theirs.refresh_from_db()
        assert theirs.status == "verified"
        assert "Nadie más de guardia" in theirs.history.first().history_change_reason

    def test_a_move_one_may_not_make_is_forbidden_and_a_hidden_case_not_found(
        self, client_for, documentalist, analyst, hidden
    ):
        case = submitted_case(documentalist)
        url = reverse("admin:cases_case_move", args=[case.pk, "verified"])
        assert client_for(analyst).get(url).status_code == 403
        hidden_url = reverse("admin:cases_case_move", args=[hidden.case.pk, "in_review"])
        assert client_for(documentalist).get(hidden_url).status_code == 404
