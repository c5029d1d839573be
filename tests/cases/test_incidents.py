import datetime

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from simple_history.manager import HistoryManager

from cases.models import Case, Incident
from core.audit import AuditBypassError
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


class TestOneTarget:
    def test_the_database_refuses_an_incident_with_two_targets(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            IncidentFactory(organization=OrganizationFactory())

    def test_the_database_refuses_an_incident_without_target(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            IncidentFactory(defender=None)

    def test_validation_explains_a_missing_target(self):
        incident = IncidentFactory.build(case=CaseFactory(), defender=None)
        with pytest.raises(ValidationError) as error:
            incident.full_clean()
        assert "Indique a quién se atacó" in str(error.value.message_dict)

    def test_validation_explains_two_targets_in_spanish(self):
        incident = IncidentFactory.build(
            case=CaseFactory(), defender=DefenderFactory(), organization=OrganizationFactory()
        )
        with translation.override("es"), pytest.raises(ValidationError) as error:
            incident.full_clean()
        with translation.override("es"):
            text = " ".join(error.value.message_dict["defender"])
        assert "una sola víctima" in text


class TestDates:
    def test_a_future_date_is_refused(self):
        incident = IncidentFactory.build(
            case=CaseFactory(),
            defender=DefenderFactory(),
            occurred_on=timezone.localdate() + datetime.timedelta(days=1),
        )
        with pytest.raises(ValidationError) as error:
            incident.full_clean()
        assert "occurred_on" in error.value.message_dict

    def test_a_month_precision_date_is_stored_as_the_first_of_the_month(self):
        incident = IncidentFactory.build(
            case=CaseFactory(),
            defender=DefenderFactory(),
            occurred_on=datetime.date(2021, 7, 23),
            date_precision=Incident.DatePrecision.MONTH,
        )
        incident.full_clean()
        assert incident.occurred_on == datetime.date(2021, 7, 1)
        assert incident.occurred_on_display == "07/2021"

    def test_a_month_precision_date_in_the_current_month_is_not_in_the_future(self):
        today = timezone.localdate()
        incident = IncidentFactory.build(
            case=CaseFactory(),
            defender=DefenderFactory(),
            occurred_on=today.replace(day=28) if today.day < 28 else today,
            date_precision=Incident.DatePrecision.MONTH,
        )
        incident.full_clean()
        assert incident.occurred_on == today.replace(day=1)

    def test_a_year_precision_date_is_stored_as_the_first_of_january(self):
        incident = IncidentFactory.build(
            case=CaseFactory(),
            defender=DefenderFactory(),
            occurred_on=datetime.date(2020, 9, 3),
            date_precision=Incident.DatePrecision.YEAR,
        )
        incident.full_clean()
        assert incident.occurred_on == datetime.date(2020, 1, 1)

    def test_an_unknown_state_is_refused(self):
        incident = IncidentFactory.build(case=CaseFactory(), defender=DefenderFactory(), state="XX")
        with pytest.raises(ValidationError) as error:
            incident.full_clean()
        assert "state" in error.value.message_dict


class TestCounted:
    @pytest.mark.parametrize(
        ("status", "counted"),
        [
            (Case.Status.DRAFT, False),
            (Case.Status.IN_REVIEW, False),
            (Case.Status.VERIFIED, True),
            (Case.Status.PUBLISHED, True),
            (Case.Status.RETRACTED, False),
        ],
    )
    def test_it_counts_only_verified_and_published_cases(self, status, counted):
        incident = IncidentFactory(case=CaseFactory(status=status))
        assert Incident.objects.counted().filter(pk=incident.pk).exists() is counted

    def test_it_never_counts_a_duplicate_but_keeps_it(self):
        original = IncidentFactory()
        duplicate = IncidentFactory(duplicate_of=original, defender=original.defender)
        assert list(Incident.objects.counted()) == [original]
        assert Incident.objects.filter(pk=duplicate.pk).exists()

    def test_an_incident_cannot_be_its_own_duplicate(self):
        incident = IncidentFactory()
        incident.duplicate_of = incident
        with pytest.raises(ValidationError):
            incident.full_clean()
        with pytest.raises(IntegrityError), transaction.atomic():
            incident.save()

    def test_a_duplicate_must_point_to_the_original(self):
        original = IncidentFactory()
        first_copy = IncidentFactory(duplicate_of=original)
        second_copy = IncidentFactory.build(
            case=CaseFactory(), defender=DefenderFactory(), duplicate_of=first_copy
        )
        with pytest.raises(ValidationError) as error:
            second_copy.full_clean()
        assert "duplicate_of" in error.value.message_dict

    def test_a_report_with_duplicates_cannot_become_a_duplicate(self):
        original = IncidentFactory()
        IncidentFactory(duplicate_of=original)
        other = IncidentFactory()
        original.duplicate_of = other
        with pytest.raises(ValidationError) as error:
            original.full_clean()
        assert "duplicate_of" in error.value.message_dict

    def test_a_counted_report_cannot_defer_to_an_uncounted_one(self):
        draft_report = IncidentFactory(case=CaseFactory(status=Case.Status.DRAFT))
        counted = IncidentFactory()
        counted.duplicate_of = draft_report
        with pytest.raises(ValidationError) as error:
            counted.full_clean()
        assert "no se contaría" in " ".join(error.value.message_dict["duplicate_of"])

    def test_a_draft_report_may_point_to_a_counted_original(self):
        counted = IncidentFactory()
        report = IncidentFactory.build(
            case=CaseFactory(status=Case.Status.DRAFT),
            defender=counted.defender,
            duplicate_of=counted,
        )
        report.full_clean()


class TestInMonth:
    def test_it_takes_the_whole_month_and_nothing_else(self):
        inside = [
            IncidentFactory(occurred_on=datetime.date(2021, 7, 1)),
            IncidentFactory(occurred_on=datetime.date(2021, 7, 31)),
            IncidentFactory(
                occurred_on=datetime.date(2021, 7, 1), date_precision=Incident.DatePrecision.MONTH
            ),
        ]
        IncidentFactory(occurred_on=datetime.date(2021, 6, 30))
        IncidentFactory(occurred_on=datetime.date(2021, 8, 1))
        IncidentFactory(occurred_on=datetime.date(2020, 7, 15))
        assert set(Incident.objects.in_month(2021, 7)) == set(inside)

    def test_year_precision_incidents_count_only_in_the_year(self):
        yearly = IncidentFactory(
            occurred_on=datetime.date(2021, 1, 1), date_precision=Incident.DatePrecision.YEAR
        )
        assert not Incident.objects.in_month(2021, 1).exists()
        assert list(Incident.objects.in_year(2021)) == [yearly]

    def test_it_chains_with_counted(self):
        counted = IncidentFactory(occurred_on=datetime.date(2021, 7, 2))
        IncidentFactory(occurred_on=datetime.date(2021, 7, 3), case=CaseFactory(status="draft"))
        assert list(Incident.objects.counted().in_month(2021, 7)) == [counted]

    def test_it_refuses_a_month_that_does_not_exist(self):
        with pytest.raises(ValueError):
            Incident.objects.in_month(2021, 13)


AUDITED = [
    model
    for model in apps.get_models()
    if isinstance(getattr(model, "history", None), HistoryManager)
]


class TestAuditGuard:
    def test_every_domain_model_is_audited(self):
        names = {model.__name__ for model in AUDITED}
        assert names >= {
            "Organization",
            "Defender",
            "Membership",
            "Perpetrator",
            "Case",
            "Incident",
            "Involvement",
            "Source",
        }

    @pytest.mark.parametrize("model", AUDITED, ids=lambda model: model.__name__)
    def test_writes_that_skip_history_are_refused(self, model):
        with pytest.raises(AuditBypassError):
            model.objects.update()
        with pytest.raises(AuditBypassError):
            model.objects.bulk_create([model()])
        with pytest.raises(AuditBypassError):
            model.objects.bulk_update([model()], fields=["pk"])
