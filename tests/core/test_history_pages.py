"""History pages read like a diff: whole texts with the changed words marked, a change of
status as a change, the values a record was created with, and never a "None" reason."""

import datetime

import pytest
from django.urls import reverse

from cases import services
from tests.factories import DefenderFactory

pytestmark = pytest.mark.django_db

LONG = "En el marco de la detención arbitraria ocurrida el 2 de julio de 2021 en Coro, Falcón."


@pytest.fixture
def case(documentalist):
    case = services.case_create(user=documentalist, title="Detención en Coro", summary=LONG)
    services.incident_create(
        user=documentalist,
        case=case,
        type="threat",
        occurred_on=datetime.date(2021, 7, 2),
        defender=DefenderFactory(),
    )
    case.summary = LONG.replace("2 de julio", "3 de julio")
    services.case_save(case=case, user=documentalist)
    services.case_submit_for_review(case=case, user=documentalist)
    return case


def history_table(client, case) -> str:
    html = client.get(reverse("admin:cases_case_history", args=[case.pk])).content.decode()
    return html.split('id="change-history"')[1].split("</table>")[0]


def test_a_long_text_is_shown_whole_with_the_changed_words_marked(client_for, reviewer, case):
    table = history_table(client_for(reviewer), case)
    assert "<del>2</del>" in table and "<ins>3</ins>" in table
    assert "ocurrida el" in table and "en Coro, Falcón." in table and "chars]" not in table


def test_a_change_of_status_is_a_change(client_for, reviewer, case):
    table = history_table(client_for(reviewer), case)
    moved = table.split("Estado del caso:</strong>")[1].split("</li>")[0]
    assert "Borrador" in moved and "En revisión" in moved


def test_the_creation_shows_the_values_it_was_made_with(client_for, reviewer, case):
    table = history_table(client_for(reviewer), case)
    created = table.split("<td>Creado</td>")[1]
    assert "Título:</strong>" in created and "Detención en Coro" in created
    assert "ID:</strong>" not in created


def test_a_save_without_a_reason_is_given_one_never_none(client_for, reviewer, case):
    reasons = list(case.history.values_list("history_change_reason", flat=True))
    assert all(reasons) and "None" not in reasons
    assert "Cambió: resumen" in reasons
    assert ">None<" not in history_table(client_for(reviewer), case)
