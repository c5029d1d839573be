"""The import template: its columns and what each holds, the vocabularies and dates it
accepts (labels matched without regard to case, accents or punctuation: "Táchira",
"tachira", "TACHIRA"), and its example rows."""

import datetime
import functools
import re

from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import Incident, Involvement
from organizations.names import fold
from organizations.vocabularies import PerpetratorCategory, State

COLUMNS = (
    "referencia",
    "fecha",
    "tipo",
    "tipo_victima",
    "victima",
    "organizacion_victima",
    "perpetrador",
    "categoria_perpetrador",
    "rol_perpetrador",
    "estado",
    "municipio",
    "caso",
    "descripcion",
    "fuente_url",
    "fuente_medio",
)
REQUIRED = ("referencia", "fecha", "tipo")
# The error file's own columns, before the template's: ignored when it is imported again.
ERROR_COLUMNS = ("linea", "columna", "error")


def _roles_help() -> str:
    """The roles by the names the admin's form shows (the first one is the default)."""
    return _(
        "Optional: %(roles)s; the first when the cell is empty. One per perpetrator, separated "
        "with |, or one for all."
    ) % {"roles": ", ".join(f"“{label}”" for label in Involvement.Role.labels)}


# What each column holds (the downloadable template's second sheet, and docs/imports.md).
TEMPLATE_HELP = {
    "referencia": gettext_lazy(
        "Required. The row's own id in your spreadsheet (a number or code), unique within the "
        "origin: importing a corrected file updates the incident with the same reference."
    ),
    "fecha": gettext_lazy(
        "Required. dd/mm/yyyy or yyyy-mm-dd (exact day); a month such as “julio 2021” or "
        "07/2021 (month only); 2021 (year only)."
    ),
    "tipo": gettext_lazy("Required. Type of attack, e.g. “Estigmatización”, “Amenazas”."),
    "tipo_victima": gettext_lazy(
        "What “victima” names: “defensor” (a person; the default when left empty) or "
        "“organización”."
    ),
    "victima": gettext_lazy(
        "Who was attacked: the defender’s name, or the organization’s if “tipo_victima” says "
        "organización. One target per row."
    ),
    "organizacion_victima": gettext_lazy(
        "On a defender’s row: the organization they belong to (recorded as their membership, "
        "not as a second target). With “victima” empty: the organization attacked."
    ),
    "perpetrador": gettext_lazy(
        "Who did it, e.g. “Servicio Bolivariano de Inteligencia Nacional (SEBIN)” or “SEBIN”. "
        "Several: separate them with |."
    ),
    "categoria_perpetrador": gettext_lazy(
        "Needed for perpetrators not yet recorded, e.g. “Cuerpo de seguridad”, “Medio estatal”. "
        "One per perpetrator, separated with |, or one for all."
    ),
    "rol_perpetrador": lazy(_roles_help, str)(),
    "estado": gettext_lazy("Venezuelan state, e.g. “Táchira”, “Distrito Capital”."),
    "municipio": gettext_lazy("Municipality or town."),
    "caso": gettext_lazy(
        "Rows with the same text here form one case (its title); a row without it (or with "
        "only a dash or other punctuation) becomes a case of its own."
    ),
    "descripcion": gettext_lazy("What happened."),
    "fuente_url": gettext_lazy("Address of the source (news item, post)."),
    "fuente_medio": gettext_lazy("Outlet or author of the source."),
}
LIST_SEPARATOR = "|"
MAX_REF = 100
# A case title exported with its id, "Title [uuid]": re-imports find the same case by it.
CASE_WITH_ID = re.compile(
    r"^(?P<title>.*?)\s*\[(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\]\s*$"
)
# "Servicio Bolivariano de Inteligencia Nacional (SEBIN)": the acronym in capitals.
NAME_WITH_ACRONYM = re.compile(
    r"^(?P<name>.+?)\s*\((?P<acronym>[A-ZÁÉÍÓÚÑ0-9][A-ZÁÉÍÓÚÑ0-9.\-]{1,19})\)$"
)
SOCIAL_MEDIA = ("twitter.com", "x.com", "facebook.com", "instagram.com", "t.me", "tiktok.com")

MONTHS = {
    "enero": 1, "ene": 1, "january": 1, "jan": 1,
    "febrero": 2, "feb": 2, "february": 2,
    "marzo": 3, "mar": 3, "march": 3,
    "abril": 4, "abr": 4, "april": 4, "apr": 4,
    "mayo": 5, "may": 5,
    "junio": 6, "jun": 6, "june": 6,
    "julio": 7, "jul": 7, "july": 7,
    "agosto": 8, "ago": 8, "august": 8, "aug": 8,
    "septiembre": 9, "setiembre": 9, "sep": 9, "sept": 9, "set": 9, "september": 9,
    "octubre": 10, "oct": 10, "october": 10,
    "noviembre": 11, "nov": 11, "november": 11,
    "diciembre": 12, "dic": 12, "december": 12, "dec": 12,
}  # fmt: skip
MONTH_NAMES = dict(
    enumerate(
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
        "diciembre".split(),
        start=1,
    )
)

# Common spellings besides the codes and the English and Spanish labels.
TYPE_SYNONYMS = {
    "stigmatization": ["estigmatizacion", "difamacion", "estigmatizacion y difamacion"],
    "intimidation": ["intimidacion", "hostigamiento", "intimidacion y hostigamiento", "acoso"],
    "threat": ["amenaza", "amenazas"],
    "judicial_harassment": ["judicializacion", "criminalizacion", "acoso judicial"],
    "arbitrary_detention": ["detencion arbitraria", "detencion", "detenciones arbitrarias"],
    "raid": ["allanamiento", "allanamientos"],
    "digital_attack": ["ataque digital", "ataques digitales", "ciberataque", "hackeo"],
    "other": ["otro", "otros", "otra", "otras"],
    "enforced_disappearance": ["desaparicion forzada", "desaparicion forzosa"],
    "physical_assault": ["agresion fisica", "agresion"],
    "torture": ["tortura", "tortura y tratos crueles"],
    "killing": ["asesinato", "homicidio", "ejecucion extrajudicial"],
    "travel_restriction": ["restriccion de viaje", "prohibicion de salida del pais"],
    "administrative_closure": ["cierre administrativo", "cierre"],
}
CATEGORY_SYNONYMS = {
    "security_force": ["cuerpo de seguridad", "cuerpos de seguridad", "fuerzas de seguridad"],
    "armed_forces": ["fuerza armada", "fanb", "militares", "ejercito"],
    "public_official": ["funcionario", "funcionaria", "funcionario publico", "funcionarios"],
    "state_media": ["medio estatal", "medios estatales", "medios del estado", "medio publico"],
    "public_institution": ["institucion publica", "instituciones publicas", "institucion"],
    "pro_government_group": ["colectivo", "colectivos", "grupo progubernamental"],
    "non_state_armed_group": ["grupo armado", "grupo armado no estatal", "guerrilla"],
    "unknown": ["desconocido", "no identificado", "sin identificar", "desconocida"],
}
ROLE_SYNONYMS = {
    "perpetrated": ["ejecuto", "lo ejecuto", "autor", "perpetrador", "perpetro"],
    "ordered": ["ordeno", "lo ordeno"],
    "participated": ["participo", "participante"],
    "amplified": ["amplifico", "lo amplifico", "difundio", "difusion"],
    "suspected": ["sospechoso", "sospechosa", "presunto", "presunta"],
}
STATE_SYNONYMS = {
    "VE-A": ["caracas", "dtto capital", "dc"],
    "VE-X": ["vargas"],
    "VE-W": ["dependencias"],
}
TARGET_SYNONYMS = {
    "defender": ["defensor", "defensora", "defensor a", "defensores", "persona", "individual"],
    "organization": ["organizacion", "organizaciones", "org", "ong", "colectivo"],
}


# Cells read from each XLSX row: the template's columns and room for the extra ones that a
# row is rejected for. A sheet's declared <dimension> may claim 16,384 columns: never trusted.
XLSX_MAX_COLUMNS = 2 * len(COLUMNS)


def column_name(cell: str) -> str:
    """The template column a header cell names ("Fuente URL" → "fuente_url")."""
    return fold(cell).replace(" ", "_")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (encoding, format, headers, size)."""


def _vocabulary(choices, synonyms: dict[str, list[str]]) -> dict[str, str]:
    """folded label or spelling → code, for codes, English and Spanish labels and synonyms."""
    index = {}
    for code, label in choices.choices:
        index[fold(code)] = code
        for language in ("en", "es"):
            with translation.override(language):
                index[fold(str(label))] = code
        for spelling in synonyms.get(code, ()):
            index[fold(spelling)] = code
    return index


def vocabularies() -> dict[str, dict[str, str]]:
    targets = {fold(s): code for code, spellings in TARGET_SYNONYMS.items() for s in spellings}
    states = _vocabulary(State, STATE_SYNONYMS)
    states.update({fold(code.removeprefix("VE-")): code for code in State.values})
    return {
        "tipo": _vocabulary(Incident.Type, TYPE_SYNONYMS),
        "categoria_perpetrador": _vocabulary(PerpetratorCategory, CATEGORY_SYNONYMS),
        "rol_perpetrador": _vocabulary(Involvement.Role, ROLE_SYNONYMS),
        "estado": states,
        "tipo_victima": targets,
    }


def parse_date(value: str) -> tuple[datetime.date, str] | None:
    """(date, precision) for dd/mm/aaaa, aaaa-mm-dd (or aaaa/mm/dd, either with a time),
    "julio 2021", 07/2021, 2021-07, 2021; None if it is none of them."""
    text = value.strip()
    P = Incident.DatePrecision
    try:
        # A time after the day ("02/07/2021 0:00", as spreadsheets write dates) is ignored.
        if match := re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T][\d:.]+)?", text):
            day, month, year = map(int, match.groups())
            return datetime.date(year, month, day), P.DAY
        if match := re.fullmatch(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[ T][\d:.]+)?", text):
            year, month, day = map(int, match.groups())
            return datetime.date(year, month, day), P.DAY
        if match := re.fullmatch(r"(\d{1,2})[/\-](\d{4})", text):
            month, year = map(int, match.groups())
            return datetime.date(year, month, 1), P.MONTH
        if match := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
            year, month = map(int, match.groups())
            return datetime.date(year, month, 1), P.MONTH
        if re.fullmatch(r"\d{4}", text):
            return datetime.date(int(text), 1, 1), P.YEAR
        words = fold(text).replace(" de ", " ").split()
        if len(words) == 2 and words[0] in MONTHS and re.fullmatch(r"\d{4}", words[1]):
            return datetime.date(int(words[1]), MONTHS[words[0]], 1), P.MONTH
    except ValueError:  # 31/02/2021
        return None
    return None


def format_date(day: datetime.date, precision: str) -> str:
    """The export's form of a date, which parse_date reads back."""
    if precision == Incident.DatePrecision.YEAR:
        return f"{day:%Y}"
    if precision == Incident.DatePrecision.MONTH:
        return f"{MONTH_NAMES[day.month]} {day:%Y}"
    return f"{day:%d/%m/%Y}"


@functools.cache
def _pseudonym_prefixes() -> tuple[str, ...]:
    """The folded words before the code of a pseudonym, in every language it is written in."""
    prefixes = set()
    for language in ("es", "en"):
        with translation.override(language):
            prefixes.add(fold(_("Protected defender #%(code)s") % {"code": ""}))
    return tuple(prefixes)


def pseudonym_code(name: str) -> str:
    """The code of a protected defender's pseudonym ("3F2A9C"), "?" for a name that looks
    like one with a code that cannot be, "" for any other name."""
    folded = fold(name)
    for prefix in _pseudonym_prefixes():
        if folded == prefix or folded.startswith(prefix + " "):
            code = folded.removeprefix(prefix).strip()
            return code.upper() if re.fullmatch(r"[0-9a-f]{6}", code) else "?"
    return ""


def template_example() -> list[dict[str, str]]:
    """The template's example rows (invented names)."""
    return [
        {
            "referencia": "1",
            "fecha": "02/07/2021",
            "tipo": "Detención arbitraria",
            "tipo_victima": "defensor",
            "victima": "Nombre Ficticio Ejemplo",
            "organizacion_victima": "Organización Ficticia de Ejemplo",
            "perpetrador": "Servicio Bolivariano de Inteligencia Nacional (SEBIN)",
            "categoria_perpetrador": "Cuerpo de seguridad",
            "rol_perpetrador": "Lo ejecutó",
            "estado": "Falcón",
            "municipio": "Coro",
            "caso": "Detención de integrantes de una ONG ficticia en Coro",
            "descripcion": "Ejemplo: borre esta fila.",
            "fuente_url": "https://example.org/noticia",
            "fuente_medio": "Medio de ejemplo",
        },
        {
            "referencia": "2",
            "fecha": "julio 2021",
            "tipo": "Estigmatización",
            "tipo_victima": "organización",
            "victima": "Organización Ficticia de Ejemplo",
            "perpetrador": "Canal de ejemplo | Funcionario de ejemplo",
            "categoria_perpetrador": "Medio estatal | Funcionario público",
            "estado": "Distrito Capital",
            "descripcion": "Ejemplo: borre esta fila.",
        },
    ]
