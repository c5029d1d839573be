"""The admin's spreadsheet export, in the import template, under the export policy
(cases.disclosure): readable back by the import."""

import csv
import io

from django.utils import translation
from django.utils.translation import gettext as _

from cases.disclosure import ExportPolicy
from cases.intake.template import COLUMNS, LIST_SEPARATOR, TEMPLATE_HELP, format_date
from cases.services import Progress, _quiet
from core.spreadsheets import csv_safe


def export_rows(incidents, *, viewer, progress: Progress = _quiet) -> list[dict[str, str]]:
    """One template row per incident `viewer` may export (cases.disclosure: never a restricted
    case, a confidential source or a protected name), readable back by the import. Each
    incident's reference is its public id and each case's title carries its id, so that
    importing the file here again updates instead of duplicating."""
    policy = ExportPolicy(viewer)
    incidents = (
        policy.incidents(incidents)
        .select_related("case", "defender", "organization")
        .prefetch_related("involvements__perpetrator")
        .order_by("occurred_on", "id")
    )
    first_source = {}
    sources = (
        policy.sources()
        .filter(case__in=incidents.values("case_id"))
        .order_by("case_id", "date", "id")
    )
    for case_id, url, publisher, title in sources.values_list(
        "case_id", "url", "publisher", "title"
    ):
        first_source.setdefault(case_id, (url, publisher or ("" if url else title)))
    total = incidents.count() if progress is not _quiet else 0
    with translation.override("es"):
        out = []
        for incident in incidents.iterator(chunk_size=2000):
            if len(out) % 2000 == 0:
                progress(_("rows exported"), len(out), total)
            involvements = list(incident.involvements.all())
            defender = incident.defender
            url, publisher = first_source.get(incident.case_id, ("", ""))
            out.append(
                {
                    "referencia": str(incident.public_id),
                    "fecha": format_date(incident.occurred_on, incident.date_precision),
                    "tipo": str(incident.get_type_display()),
                    "tipo_victima": "defensor" if defender else "organización",
                    "victima": policy.name_of(defender) if defender else "",
                    "organizacion_victima": incident.organization.name if not defender else "",
                    "perpetrador": f" {LIST_SEPARATOR} ".join(
                        f"{i.perpetrator.name} ({i.perpetrator.acronym})"
                        if i.perpetrator.acronym
                        else i.perpetrator.name
                        for i in involvements
                    ),
                    "categoria_perpetrador": f" {LIST_SEPARATOR} ".join(
                        str(i.perpetrator.get_category_display()) for i in involvements
                    ),
                    "rol_perpetrador": f" {LIST_SEPARATOR} ".join(
                        str(i.get_role_display()) for i in involvements
                    ),
                    "estado": str(incident.get_state_display()) if incident.state else "",
                    "municipio": incident.municipality,
                    "caso": f"{incident.case.title} [{incident.case.public_id}]",
                    "descripcion": incident.description,
                    "fuente_url": url,
                    "fuente_medio": publisher,
                }
            )
    return out


def as_csv(rows: list[dict[str, str]]) -> bytes:
    """UTF-8 with a BOM, so that spreadsheet programs read the accents."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    # Cells starting with = + - @ get a ' (the import takes it off again).
    writer.writerows({c: csv_safe(str(row.get(c, ""))) for c in COLUMNS} for row in rows)
    return "\ufeff".encode() + buffer.getvalue().encode()


def as_xlsx(rows: list[dict[str, str]], *, with_help: bool = False) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("incidents"))

    def text(value) -> WriteOnlyCell:
        # Typed as text: "=HYPERLINK(…)" typed by someone stays words, never a formula.
        cell = WriteOnlyCell(sheet, value=str(value))
        cell.data_type = "s"
        return cell

    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([text(row.get(column, "")) for column in COLUMNS])
    if with_help:
        notes = book.create_sheet(_("how to fill it in"))
        notes.append([_("column"), _("what it holds")])
        for column in COLUMNS:
            notes.append([column, str(TEMPLATE_HELP[column])])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
