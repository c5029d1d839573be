"""Each notification fires once, reaches the right people, respects their choices and never
names a protected defender to someone who may not know who it is."""

import datetime
import io

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from cases import services as case_services
from cases.models import Case
from legal import notices
from legal import services as legal_services
from legal.models import Detention, Hearing, Proceeding
from notifications import services
from notifications.models import Notification
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()
TODAY = timezone.localdate()


def told(user, kind=None) -> list[Notification]:
    found = Notification.objects.filter(recipient=user)
    return list(found.filter(kind=kind) if kind else found)


def lawyer_named(username: str) -> User:
    user = User.objects.create_user(username, is_staff=True, email=f"{username}@example.org")
    user.groups.add(Group.objects.get(name="Abogado"))
    return user


def arrest(*, lawyer=None, case=None, hours_ago=30, name="Persona Detenida", by=None):
    when = timezone.localtime(NOW - datetime.timedelta(hours=hours_ago))
    incident = IncidentFactory(
        case=case or CaseFactory(),
        type="arbitrary_detention",
        defender=DefenderFactory(full_name=name),
        occurred_on=when.date(),
    )
    detention = Detention(
        incident=incident, arrested_on=when.date(), arrested_at=when.time(), lawyer=lawyer
    )
    return legal_services.detention_save(detention=detention, user=by, reason="prueba")


class TestNewDetention:
    def test_its_lawyer_is_told_once_and_others_are_not(self, lawyer, documentalist):
        other = lawyer_named("otro-abogado")
        d = arrest(lawyer=lawyer)
        assert [n.kind for n in told(lawyer)] == ["new_detention"]
        assert "Persona Detenida" in told(lawyer)[0].text
        assert told(other) == [] and told(documentalist) == []
        notices.detention_opened(d)  # again: told once
        assert len(told(lawyer)) == 1

    def test_with_no_lawyer_the_legal_team_is_told_but_not_who_recorded_it(
        self, lawyer, coordinator
    ):
        arrest(by=coordinator)
        assert len(told(lawyer, "new_detention")) == 1
        assert told(coordinator) == []  # their own act

    def test_a_restricted_case_reaches_only_who_may_see_it(self, lawyer, coordinator):
        hidden = CaseFactory(confidentiality="restricted")
        arrest(case=hidden, name="Nombre RESERVADO")
        assert told(lawyer) == []  # not on its team
        assert "RESERVADO" in told(coordinator)[0].text

    def test_a_protected_defender_is_named_by_pseudonym(self, lawyer):
        d = arrest(lawyer=lawyer, name="Nombre PROTEGIDO")
        Notification.objects.all().delete()
        d.incident.defender.identity_protected = True
        d.incident.defender.save()
        notices.detention_opened(d)
        text = told(lawyer)[0].text
        assert "PROTEGIDO" not in text and d.incident.defender.pseudonym in text


class TestIncommunicado:
    def test_fires_once_24_hours_after_an_arrest_without_contact(self, lawyer):
        d = arrest(lawyer=lawyer, hours_ago=30)
        assert notices.due(NOW) >= 1
        assert notices.due(NOW) == 0  # once
        assert len(told(lawyer, "incommunicado")) == 1
        assert "24" in told(lawyer, "incommunicado")[0].text
        assert d.public_id.hex[:8] in told(lawyer, "incommunicado")[0].url.replace("-", "")

    def test_not_before_24_hours_nor_after_contact_nor_for_old_records(self, lawyer):
        arrest(lawyer=lawyer, hours_ago=10)
        contacted = arrest(lawyer=lawyer, hours_ago=50)
        contacted.last_news_on = TODAY
        legal_services.detention_save(detention=contacted, user=None, reason="noticias")
        arrest(lawyer=lawyer, hours_ago=24 * 12)
        notices.due(NOW)
        assert told(lawyer, "incommunicado") == []


class TestHearingTomorrow:
    def test_its_followers_are_told_once_with_the_time(self, lawyer):
        p = Proceeding.objects.create(court="Tribunal 3.º de Control", lawyer=lawyer)
        p.defendants.set([DefenderFactory()])
        Hearing.objects.create(
            proceeding=p,
            scheduled_on=TODAY + datetime.timedelta(days=1),
            scheduled_at=datetime.time(9, 30),
        )
        Hearing.objects.create(proceeding=p, scheduled_on=TODAY + datetime.timedelta(days=2))
        notices.due(NOW)
        notices.due(NOW)
        [note] = told(lawyer, "hearing_tomorrow")
        assert "09:30" in note.text and "Tribunal 3.º de Control" in note.text

    def test_choices_are_respected(self, lawyer, django_capture_on_commit_callbacks):
        services.preferences_save(
            user=lawyer, language="en", channels={"hearing_tomorrow": ["email"]}
        )
        p = Proceeding.objects.create(court="Court", lawyer=lawyer)
        p.defendants.set([DefenderFactory()])
        Hearing.objects.create(proceeding=p, scheduled_on=TODAY + datetime.timedelta(days=1))
        lawyer.email = "ana@example.org"
        lawyer.save()
        with django_capture_on_commit_callbacks(execute=True):
            notices.due(NOW)
        [note] = told(lawyer, "hearing_tomorrow")
        assert not note.shown_in_app  # e-mail only
        assert [m.to for m in mail.outbox] == [["ana@example.org"]]
        assert "A hearing tomorrow" in mail.outbox[0].subject  # in her language
        assert "Court" not in mail.outbox[0].subject + mail.outbox[0].body  # nothing named
        services.preferences_save(user=lawyer, language="es", channels={"hearing_tomorrow": []})
        Hearing.objects.create(proceeding=p, scheduled_on=TODAY + datetime.timedelta(days=1))
        notices.due(NOW)
        assert len(told(lawyer, "hearing_tomorrow")) == 1  # none for the second: chose none


class TestPretrialLimit:
    @pytest.mark.parametrize(
        ("days_to_limit", "stage", "fires"),
        [(20, "trial", True), (40, "trial", False), (20, "sentenced", False), (-1, "trial", False)],
    )
    def test_thirty_days_ahead(self, lawyer, days_to_limit, stage, fires):
        limit = TODAY + datetime.timedelta(days=days_to_limit)
        p = Proceeding.objects.create(
            court="Tribunal", lawyer=lawyer, stage=stage,
            pretrial_detention_since=limit.replace(year=limit.year - 2),
        )  # fmt: skip
        p.defendants.set([DefenderFactory()])
        notices.due(NOW)
        assert bool(told(lawyer, "pretrial_limit")) is fires


class TestSentBack:
    def test_the_submitter_learns_why_each_time(self, documentalist, reviewer):
        case = CaseFactory(status="draft")
        IncidentFactory(case=case)
        SourceFactory(case=case)
        case.team.add(documentalist)
        for attempt in ("Falta la fuente", "Falta la fecha"):
            case_services.case_submit_for_review(case=case, user=documentalist)
            case_services.case_send_back(case=case, user=reviewer, reason=attempt)
        texts = [n.text for n in told(documentalist, "sent_back")]
        assert len(texts) == 2 and any("Falta la fecha" in t for t in texts)
        assert told(reviewer) == []


class TestReviewDigest:
    def test_each_reviewer_once_a_day_with_what_they_may_see(self, reviewer, documentalist):
        CaseFactory(status="in_review")
        CaseFactory(status="in_review", confidentiality="restricted")  # not theirs to see
        call_command("notify_due", stdout=io.StringIO())
        said = io.StringIO()
        call_command("notify_due", stdout=said)
        assert said.getvalue().startswith("0 ")  # nothing twice
        [note] = told(reviewer, "review_queue")
        assert note.params["count"] == 1 and "1 caso está esperando" in note.text
        assert told(documentalist) == []


def test_a_failed_import_tells_its_uploader_why(documentalist):
    from cases.models import ImportBatch
    from cases.notices import import_finished

    batch = ImportBatch.objects.create(
        origin="Prueba", file_name="base.csv", created_by=documentalist,
        task_kind="import", task_state="failed", task_error="Columna «fecha» ilegible",
    )  # fmt: skip
    import_finished(batch)
    [note] = told(documentalist, "import_done")
    assert "base.csv" in note.text and "Columna «fecha» ilegible" in note.text


def test_inactive_system_and_non_staff_accounts_are_never_told(lawyer):
    gone = lawyer_named("ida")
    gone.is_active = False
    gone.save()
    outsider = User.objects.create_user("no-staff")
    services.notify(kind="review_queue", recipients=[gone, outsider], key="k", params={"count": 1})
    assert Notification.objects.count() == 0
    assert Case.objects.count() == 0


def test_an_email_names_no_one_and_no_case(lawyer, django_capture_on_commit_callbacks):
    lawyer.email = "ana@example.org"
    lawyer.save()
    with django_capture_on_commit_callbacks(execute=True):
        arrest(lawyer=lawyer, name="Nombre REAL", case=CaseFactory(title="Caso TITULADO"))
    [message] = mail.outbox
    text = message.subject + message.body
    assert "Una detención nueva en mis casos" in message.subject
    assert "REAL" not in text and "TITULADO" not in text
    assert "/notifications/" in message.body


def test_a_name_protected_later_leaves_every_inbox_that_may_not_see_it(
    lawyer, coordinator, client_for
):
    d = arrest(by=coordinator, name="Nombre REAL")  # no lawyer: the legal team is told
    assert "Nombre REAL" in told(lawyer)[0].text
    person = d.incident.defender
    person.identity_protected = True
    person.save()
    assert "Nombre REAL" not in told(lawyer)[0].text
    assert person.name_for(lawyer) in told(lawyer)[0].text
    assert "Nombre REAL" not in client_for(lawyer).get("/notifications/").content.decode()


def test_a_lawyer_gone_leaves_the_alert_to_the_legal_team(lawyer):
    gone = lawyer_named("abogado-ido")
    d = arrest(lawyer=gone, hours_ago=30)
    gone.is_active = False
    gone.save()
    Notification.objects.all().delete()
    notices.due(NOW)
    assert told(lawyer, "incommunicado")  # not nobody
    assert d.lawyer == gone
