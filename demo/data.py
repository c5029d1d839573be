"""The demo's figures and invented names: CDJ's 2021 counts by month, type and target, the
perpetrators, the people and organizations (invented, and looking it), and the accounts."""

import base64
import hashlib

from django.utils.translation import gettext_lazy

from cases.models import Incident
from organizations.models import Organization
from organizations.vocabularies import State

T = Incident.Type
YEAR = 2021
REASON = "Datos de demostración (load_demo)"

# Half-year split published by CDJ for January–June 2021.
FIRST_HALF_TYPES = {
    T.STIGMATIZATION: 252,
    T.INTIMIDATION: 43,
    T.THREAT: 35,
    T.JUDICIAL_HARASSMENT: 11,
    T.ARBITRARY_DETENTION: 11,
    T.DIGITAL_ATTACK: 11,
    T.OTHER: 8,
    T.RAID: 3,
}
# (month, counted incidents, of which against defenders — None where CDJ gave no split)
FIRST_HALF_MONTHS = [
    (1, 99, 40),
    (2, 41, None),
    (3, 43, None),
    (4, 76, None),
    (5, 80, None),
    (6, 35, None),
]
# July without the Tarazona case (4 detentions and 3 judicial harassment incidents).
JULY_OTHER_TYPES = {
    T.STIGMATIZATION: 112,
    T.INTIMIDATION: 14,
    T.ARBITRARY_DETENTION: 1,
    T.JUDICIAL_HARASSMENT: 1,
    T.RAID: 2,
    T.OTHER: 3,
}
JULY_OTHER_AGAINST_DEFENDERS = 72 - 7

DEFENDER_ONLY = {T.ARBITRARY_DETENTION, T.JUDICIAL_HARASSMENT}
ORGANIZATION_ONLY = {T.RAID}
# Flexible types become "against a defender" in this order until the month's split is met.
DEFENDER_PREFERENCE = [T.INTIMIDATION, T.THREAT, T.OTHER, T.DIGITAL_ATTACK, T.STIGMATIZATION]

CASE_TITLES = {
    T.STIGMATIZATION: "Señalamientos en medios estatales contra defensores",
    T.INTIMIDATION: "Hostigamiento a defensores y organizaciones",
    T.THREAT: "Amenazas contra defensores",
    T.JUDICIAL_HARASSMENT: "Apertura de procedimiento judicial contra defensor",
    T.ARBITRARY_DETENTION: "Detención arbitraria de defensor",
    T.DIGITAL_ATTACK: "Ataque digital a defensores",
    T.OTHER: "Otras agresiones a defensores",
    T.RAID: "Allanamiento de sede de organización",
}
# Incidents per case: a TV segment names several organizations at once.
CASE_SIZE = {T.STIGMATIZATION: 4, T.INTIMIDATION: 2}

PERPETRATORS = [
    # (key, name, acronym, category, kind, parent key)
    (
        "sebin",
        "Servicio Bolivariano de Inteligencia Nacional",
        "SEBIN",
        "security_force",
        "institution",
        None,
    ),
    ("pnb", "Policía Nacional Bolivariana", "PNB", "security_force", "institution", None),
    ("faes", "Fuerzas de Acciones Especiales", "FAES", "security_force", "institution", "pnb"),
    (
        "dgcim",
        "Dirección General de Contrainteligencia Militar",
        "DGCIM",
        "security_force",
        "institution",
        None,
    ),
    (
        "cicpc",
        "Cuerpo de Investigaciones Científicas, Penales y Criminalísticas",
        "CICPC",
        "security_force",
        "institution",
        None,
    ),
    ("vtv", "Venezolana de Televisión", "VTV", "state_media", "institution", None),
    ("mazo", "Con el Mazo Dando", "", "state_media", "institution", "vtv"),
    ("mp", "Ministerio Público", "", "public_institution", "institution", None),
    (
        "court",
        "Tribunal 3.º de Primera Instancia en Funciones de Control con competencia en "
        "casos vinculados con delitos asociados al terrorismo (Caracas)",
        "",
        "public_institution",
        "institution",
        None,
    ),
    (
        "official_a",
        "Funcionario de ejemplo A (ficticio)",
        "",
        "public_official",
        "individual",
        None,
    ),
    (
        "official_b",
        "Funcionaria de ejemplo B (ficticia)",
        "",
        "public_official",
        "individual",
        None,
    ),
    (
        "official_c",
        "Funcionario de ejemplo C (ficticio)",
        "",
        "public_official",
        "individual",
        None,
    ),
    (
        "colectivo",
        "Colectivo de ejemplo (ficticio)",
        "",
        "pro_government_group",
        "institution",
        None,
    ),
    ("unknown", "Autor no identificado", "", "unknown", "institution", None),
]
# Who is recorded for each type, in turn. Stigmatization: state media first, then officials.
PERPETRATOR_CYCLE = {
    T.STIGMATIZATION: ["mazo", "official_a", "mazo", "vtv", "official_b", "mazo", "official_c"],
    T.INTIMIDATION: ["sebin", "pnb", "colectivo", "official_a"],
    T.THREAT: ["colectivo", "official_b", "unknown"],
    T.JUDICIAL_HARASSMENT: ["mp"],
    T.ARBITRARY_DETENTION: ["pnb", "sebin", "dgcim"],
    T.RAID: ["sebin", "cicpc"],
    T.DIGITAL_ATTACK: ["unknown"],
    T.OTHER: ["official_c", "faes", "unknown"],
}

FIRST_NAMES = [
    "Ana",
    "Luis",
    "María",
    "Pedro",
    "Carmen",
    "José",
    "Rosa",
    "Jorge",
    "Elena",
    "Miguel",
    "Sofía",
    "Andrés",
]
LAST_NAMES = ["Ejemplar", "Demostración", "de Prueba", "Muestra", "Ficción", "Modelo"]
ORG_FORMS = [
    "Observatorio",
    "Red",
    "Comité",
    "Fundación",
    "Asociación",
    "Colectivo",
    "Centro",
    "Coalición",
]
ORG_FOCUS = [
    ("Ejemplo de Derechos Humanos", Organization.Kind.HUMAN_RIGHTS_NGO),
    ("Muestra de Acción Humanitaria", Organization.Kind.HUMANITARIAN),
    ("Ejemplo por la Libertad de Expresión", Organization.Kind.INDEPENDENT_MEDIA),
    ("Prueba de Trabajadores de la Salud", Organization.Kind.UNION),
    ("Muestra de Defensa Comunitaria", Organization.Kind.COMMUNITY_GROUP),
    ("Ejemplo de Estudios Jurídicos", Organization.Kind.ACADEMIC),
]
PROFILE_CYCLE = [
    "activist",
    "lawyer",
    "journalist",
    "community_leader",
    "trade_unionist",
    "health_worker",
    "academic",
    "ngo_staff",
]
STATES = list(State.values)

DEMO_ACCOUNTS = [
    # (username, group, what the role does)
    ("documentalista", "Documentalista", gettext_lazy("records cases")),
    ("revisora", "Revisor", gettext_lazy("verifies and publishes")),
    ("abogada", "Abogado", gettext_lazy("follows detentions and court cases")),
    ("analista", "Analista", gettext_lazy("reads cases and runs reports")),
    ("coordinadora", "Coordinador", gettext_lazy("everything, manages users")),
]


def demo_password(username: str) -> str:
    return f"demo-{username}-2021"


def demo_totp_key(username: str) -> str:
    """A fixed authenticator secret per demo account (hex), so the demo's codes are known."""
    # Not a security use: the demo's secrets are meant to be known (and printed).
    return hashlib.sha1(f"defensores-demo-{username}".encode(), usedforsecurity=False).hexdigest()


def base32_secret(hex_key: str) -> str:
    return base64.b32encode(bytes.fromhex(hex_key)).decode()


def spread(counts: dict[str, int]) -> list[str]:
    """The types in an evenly interleaved order, so that any slice keeps their proportions."""
    keyed = [
        ((k + 0.5) / n, order, code)
        for order, (code, n) in enumerate(counts.items())
        for k in range(n)
    ]
    return [code for *_, code in sorted(keyed)]


def assign_targets(types: list[str], against_defenders: int | None) -> list[str]:
    """'defender' or 'organization' for each incident, meeting the month's split exactly."""
    if against_defenders is None:
        against_defenders = round(len(types) * 0.45)
    kinds = ["organization"] * len(types)
    chosen = [i for i, t in enumerate(types) if t in DEFENDER_ONLY]
    for preferred in DEFENDER_PREFERENCE:
        chosen += [i for i, t in enumerate(types) if t == preferred]
    forced = sum(t in DEFENDER_ONLY for t in types)
    if not forced <= against_defenders <= len(types) - sum(t in ORGANIZATION_ONLY for t in types):
        raise ValueError("impossible split of targets")
    for i in chosen[:against_defenders]:
        kinds[i] = "defender"
    return kinds
