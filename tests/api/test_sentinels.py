"""An ally never receives a restricted, internal or unpublished case, a protected name, a
confidential source, an encrypted value, a case file number or a staff name: sentinel
strings are planted in every such field and searched for in every endpoint, JSON and CSV."""

import datetime
import json

import pytest
from django.contrib.auth.models import User

from cases.models import Case
from legal.models import Detention, Proceeding
from organizations.models import Membership
from reports.services import month_publish
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)
from tests.rest import pages

pytestmark = pytest.mark.django_db

PUBLISHED, PUBLIC = Case.Status.PUBLISHED, Case.Confidentiality.PUBLIC


def plant(reviewer) -> dict:
    """Returns the shared records the ally must receive (the positive controls)."""
    staff = User.objects.create_user(
        "centinela-usuario", first_name="CENTINELA-NOMBRE-STAFF", last_name="CENTINELA-APELLIDO"
    )
    protected = DefenderFactory(
        full_name="CENTINELA-NOMBRE-PROTEGIDO",
        known_as="CENTINELA-ALIAS-PROTEGIDO",
        identity_protected=True,
        state="VE-S",
        phone="CENTINELA-TELEFONO",
        email="centinela-correo@example.org",
        address="CENTINELA-DIRECCION",
    )
    Membership.objects.create(
        defender=protected, organization=OrganizationFactory(name="CENTINELA-ORG-DEL-PROTEGIDO")
    )
    public_defender = DefenderFactory(
        full_name="Defensora Pública de Prueba", phone="CENTINELA-TELEFONO-PUBLICO"
    )
    shared = CaseFactory(
        title="Caso compartido", status=PUBLISHED, confidentiality=PUBLIC, created_by=staff
    )
    shared.team.add(staff)
    on_protected = IncidentFactory(case=shared, defender=protected)
    on_public = IncidentFactory(case=shared, defender=public_defender)
    InvolvementFactory(incident=on_public, perpetrator=PerpetratorFactory(name="SEBIN de prueba"))
    IncidentFactory(
        case=shared,
        defender=DefenderFactory(full_name="CENTINELA-DUPLICADO"),
        duplicate_of=on_public,
    )
    SourceFactory(
        case=shared,
        title="Nota de prensa compartida",
        witness="CENTINELA-TESTIGO-PUBLICA",
        contact="CENTINELA-CONTACTO-PUBLICA",
    )
    SourceFactory(
        case=shared,
        title="CENTINELA-FUENTE-CONFIDENCIAL",
        publisher="CENTINELA-MEDIO-CONFIDENCIAL",
        url="https://example.org/centinela-confidencial",
        confidential=True,
        witness="CENTINELA-TESTIGO",
        contact="CENTINELA-CONTACTO",
    )
    proceeding = Proceeding.objects.create(
        court="Tribunal de prueba",
        case_file_number="CENTINELA-EXPEDIENTE",
        judge="CENTINELA-JUEZ",
        lawyer=staff,
    )
    proceeding.incidents.add(on_protected)
    proceeding.defendants.add(protected)
    for title, status, confidentiality, victim in [
        ("CENTINELA-RESTRINGIDO", PUBLISHED, Case.Confidentiality.RESTRICTED, "VICTIMA-R"),
        ("CENTINELA-INTERNO", PUBLISHED, Case.Confidentiality.INTERNAL, "VICTIMA-I"),
        ("CENTINELA-NO-PUBLICADO", Case.Status.VERIFIED, PUBLIC, "VICTIMA-V"),
        ("CENTINELA-BORRADOR", Case.Status.DRAFT, PUBLIC, "VICTIMA-B"),
        ("CENTINELA-RETIRADO", Case.Status.RETRACTED, PUBLIC, "VICTIMA-X"),
    ]:
        case = CaseFactory(title=title, status=status, confidentiality=confidentiality)
        incident = IncidentFactory(
            case=case, defender=DefenderFactory(full_name=f"CENTINELA-{victim}")
        )
        InvolvementFactory(
            incident=incident, perpetrator=PerpetratorFactory(name=f"CENTINELA-P-{victim}")
        )
        IncidentFactory(
            case=case, defender=None, organization=OrganizationFactory(name=f"CENTINELA-O-{victim}")
        )
        SourceFactory(case=case, title=f"CENTINELA-S-{victim}")
    Detention.objects.create(
        incident=IncidentFactory(case=shared, type="arbitrary_detention", defender=public_defender),
        arrested_on=datetime.date(2021, 7, 15),
        place_of_detention="Sede de prueba",
        health_notes="CENTINELA-SALUD",
    )
    month_publish(year=2021, month=7, user=reviewer)
    return {"case": shared, "protected": protected, "incident": on_protected}


def bodies(client) -> dict[str, str]:
    """Every endpoint, every page, every record's detail, in JSON and CSV."""
    seen: dict[str, str] = {}

    def fetch(url, **params):
        response = client.get(url, params)
        assert response.status_code == 200, (url, response.content[:300])
        content = b"".join(response.streaming_content) if response.streaming else response.content
        seen[f"{url} {params}"] = content.decode("utf-8-sig")
        return response

    for name in ["incidents", "cases", "perpetrators", "organizations", "defenders"]:
        url = f"/api/v1/{name}/"
        for row in pages(client, url, page_size=2):
            seen[f"{url} row {row['id']}"] = json.dumps(row, ensure_ascii=False)
            fetch(f"{url}{row['id']}/")
        fetch(url, format="csv", page_size=1000)
    fetch("/api/v1/incidents/export/", format="csv")
    fetch("/api/v1/incidents/export/", format="json")
    response = fetch("/api/v1/changes/", since="2000-01-01T00:00:00Z")
    assert response.json()["next"] is None
    fetch("/api/v1/stats/monthly/", month="2021-07")
    return seen


def test_it_never_sends_what_allies_may_not_see(ally_client, reviewer):
    shared = plant(reviewer)
    seen = bodies(ally_client)
    everything = "\n".join(seen.values())
    # Positive controls: the test would notice an endpoint that sent nothing at all.
    assert str(shared["incident"].public_id) in everything
    assert str(shared["protected"].pseudonym) in everything
    assert "Nota de prensa compartida" in everything and "SEBIN de prueba" in everything
    leaks = {
        where: [
            word
            for word in body.replace("centinela-correo", "CENTINELA").split()
            if "CENTINELA" in word.upper()
        ]
        for where, body in seen.items()
        if "CENTINELA" in body.upper()
    }
    assert leaks == {}


def test_a_staff_member_gets_more_than_an_ally_but_never_what_no_export_carries(
    client_for, coordinator, reviewer
):
    plant(reviewer)
    everything = "\n".join(bodies(client_for(coordinator)).values())
    # A coordinator receives internal and not yet published counted cases through the API…
    assert "CENTINELA-INTERNO" in everything and "CENTINELA-NO-PUBLICADO" in everything
    # …but an export never carries a restricted case, a protected name, contact data,
    # witnesses, file numbers or staff names, whoever asks (cases.disclosure): the admin's
    # pages, not files, are where a case team reads them.
    for secret in [
        "CENTINELA-RESTRINGIDO",
        "CENTINELA-NOMBRE-PROTEGIDO",
        "CENTINELA-FUENTE-CONFIDENCIAL",
        "CENTINELA-TELEFONO",
        "centinela-correo",
        "CENTINELA-DIRECCION",
        "CENTINELA-TESTIGO",
        "CENTINELA-CONTACTO",
        "CENTINELA-EXPEDIENTE",
        "CENTINELA-SALUD",
        "CENTINELA-NOMBRE-STAFF",
        "centinela-usuario",
    ]:
        assert secret not in everything, secret
