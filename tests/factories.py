import datetime

import factory

from cases.models import Case, Incident, Involvement, Source
from organizations.models import Defender, Organization, Perpetrator
from organizations.vocabularies import PerpetratorCategory


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organización de prueba {n}")
    kind = Organization.Kind.HUMAN_RIGHTS_NGO


class DefenderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Defender

    full_name = factory.Sequence(lambda n: f"Defensora de Prueba {n}")


class PerpetratorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Perpetrator
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Cuerpo de prueba {n}")
    category = PerpetratorCategory.SECURITY_FORCE


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    title = factory.Sequence(lambda n: f"Caso de prueba {n}")
    status = Case.Status.VERIFIED


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    case = factory.SubFactory(CaseFactory)
    type = Incident.Type.STIGMATIZATION
    occurred_on = datetime.date(2021, 7, 15)
    defender = factory.SubFactory(DefenderFactory)


class InvolvementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Involvement

    incident = factory.SubFactory(IncidentFactory)
    perpetrator = factory.SubFactory(PerpetratorFactory)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        skip_postgeneration_save = True

    case = factory.SubFactory(CaseFactory)
    kind = Source.Kind.PRESS
    title = factory.Sequence(lambda n: f"Fuente {n}")

    @factory.post_generation
    def incidents(self, create, extracted, **kwargs):
        """Supports the incidents given, or, as a new source saved by the services does,
        every incident its case has."""
        if not create:
            return
        from cases.models import Support
        from core.records import record_save

        chosen = extracted if extracted is not None else self.case.incidents.all()
        for incident in chosen:
            record_save(Support(source=self, incident=incident), user=None)


# What allies receive: a published, public case (Case.SHARED_WITH_ALLIES).
SHARED = {"status": Case.Status.PUBLISHED, "confidentiality": Case.Confidentiality.PUBLIC}


def submitted_case(by, title: str = "Caso") -> Case:
    """A case recorded through the services by `by` (one incident, one source) and sent by
    them to review: the start of the workflow's tests."""
    from cases import services

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
