"""A world with something hidden from each role: a restricted case with its incident, source,
detention and court case; a protected defender named only in a case whose team the role is
not on; and an import batch someone else uploaded. Every hidden label contains "OCULTO"."""

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import Group, User

from cases.models import Case, ImportBatch, Incident, Source
from legal.models import Detention, LegalAction, Proceeding
from organizations.models import Defender
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, SourceFactory

HIDDEN = "OCULTO"


@dataclass
class Hidden:
    keeper: User
    case: Case
    incident: Incident
    detention_incident: Incident
    source: Source
    defender: Defender
    detention: Detention
    proceeding: Proceeding
    batch: ImportBatch

    def labels(self) -> list[str]:
        """Texts that must never reach a page for a role that may not see these records."""
        return [HIDDEN, str(self.defender.pseudonym)]


def make_keeper():
    """The only staff member (besides coordinators) on the hidden records' teams."""
    user = User.objects.create_user("guardiana", password="contraseña-de-prueba", is_staff=True)
    user.groups.add(Group.objects.get(name="Documentalista"))
    return user


def make_hidden(keeper) -> Hidden:
    case = CaseFactory(
        title=f"Caso {HIDDEN} de Barinas", confidentiality="restricted", status="draft"
    )
    case.team.add(keeper)
    defender = DefenderFactory(full_name=f"Defensora {HIDDEN} Real", identity_protected=True)
    internal = CaseFactory(title="Caso interno con una defensora protegida", status="draft")
    internal.team.add(keeper)
    incident = IncidentFactory(case=case, defender=defender, description=f"{HIDDEN} relato")
    IncidentFactory(case=internal, defender=defender)
    detention_incident = IncidentFactory(
        case=case, type="arbitrary_detention", defender=DefenderFactory(full_name=f"{HIDDEN} Preso")
    )
    detention = Detention.objects.create(
        incident=detention_incident,
        arrested_on=datetime.date(2021, 7, 2),
        place_of_detention=f"Celda {HIDDEN}",
        health_notes=f"Salud {HIDDEN}",
    )
    proceeding = Proceeding.objects.create(court=f"Tribunal {HIDDEN}")
    proceeding.incidents.add(detention_incident)
    proceeding.defendants.add(detention_incident.defender)
    LegalAction.objects.create(  # before any court case: about the detention only
        kind="habeas_corpus",
        filed_on=datetime.date(2021, 7, 3),
        body=f"Hábeas {HIDDEN}",
        detention=detention,
    )
    source = SourceFactory(case=case, title=f"Fuente {HIDDEN}", witness=f"Testigo {HIDDEN}")
    batch = ImportBatch.objects.create(
        origin=f"Planilla {HIDDEN}", file_name=f"{HIDDEN}.csv", sha256="0" * 64, created_by=keeper
    )
    return Hidden(
        keeper=keeper,
        case=case,
        incident=incident,
        detention_incident=detention_incident,
        source=source,
        defender=defender,
        detention=detention,
        proceeding=proceeding,
        batch=batch,
    )


def shows_hidden(page: str, hidden: Hidden) -> list[str]:
    return [label for label in hidden.labels() if label in page]
