"""Spreadsheet rows and files as the tests write them, and the import run on them."""

import csv
import io

from openpyxl import Workbook

from cases.intake import check, read, template, write
from cases.intake import plan as planning

HEADER = list(template.COLUMNS)


def row(**values):
    base = {
        "referencia": "1",
        "fecha": "02/07/2021",
        "tipo": "Detención arbitraria",
        "tipo_victima": "defensor",
        "victima": "Javier Tarazona",
        "perpetrador": "Servicio Bolivariano de Inteligencia Nacional (SEBIN)",
        "categoria_perpetrador": "Cuerpo de seguridad",
        "estado": "Falcón",
        "municipio": "Coro",
        "caso": "Detención de activistas de FundaRedes",
        "fuente_url": "https://example.org/nota",
        "fuente_medio": "El Pitazo",
    }
    return {**base, **values}


def as_csv(rows, delimiter=",", bom=False, header=HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(column, "") for column in header])
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()


def as_xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for values in rows:
        sheet.append([values.get(column, "") for column in HEADER])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(user, rows=None, *, data=None, name="base.csv", skip_invalid=False, status="verified"):
    data = data if data is not None else as_csv(rows)
    batch, _plan = write.import_batch_prepare(
        user=user, data=data, file_name=name, origin="Base CDJ", case_status=status
    )
    return batch, write.import_batch_run(batch=batch, user=user, skip_invalid=skip_invalid)


def plan_of(user, rows, **kwargs):
    parsed = check.parse_table(read.read_table(as_csv(rows, **kwargs), "x.csv"))
    return planning.plan_import(parsed, origin="Base CDJ", case_status="in_review", user=user)


def errors_of(user, **values):
    plan = plan_of(user, [row(**values)])
    return [(column, message) for r in plan.rejected for column, message in r.errors]


def admin_upload(client, rows, capture, *, name="base.csv", **fields):
    """Upload rows in the admin; the preview runs (tests run tasks at once) when the
    upload's transaction commits."""
    upload = io.BytesIO(as_csv(rows))
    upload.name = name
    with capture(execute=True):
        return client.post(
            "/admin/cases/importbatch/upload/",
            {"file": upload, "case_status": "in_review", **fields},
        )


def admin_confirm(client, batch, capture, **fields):
    """Confirm an import in the admin; it runs when the confirmation commits."""
    with capture(execute=True):
        return client.post(f"/admin/cases/importbatch/{batch.public_id}/preview/", fields)
