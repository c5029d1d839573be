"""The file of rejected rows: corrected and imported again, it brings in exactly those rows."""

import csv
import io

import pytest

from cases.intake import plan as planning
from cases.intake import write
from cases.models import Incident
from tests.cases.intake.rows import as_csv, row

pytestmark = pytest.mark.django_db


def prepare(user, rows, *, origin="O"):
    batch, _plan = write.import_batch_prepare(
        user=user, data=as_csv(rows), file_name=f"{origin}.csv", origin=origin
    )
    return batch


def test_the_corrected_error_file_imports_the_rows_it_lists(reviewer):
    rows = [
        row(),
        row(referencia="2", fecha="ayer", tipo="otra cosa", victima="Ana Pérez"),
        row(referencia="3", fecha="ayer", victima="Luis Gómez"),
    ]
    batch = prepare(reviewer, rows, origin="Base CDJ")
    write.import_batch_run(batch=batch, user=reviewer, skip_invalid=True)
    batch.refresh_from_db()
    with batch.error_file.open("rb") as stored:
        lines = list(csv.DictReader(io.StringIO(stored.read().decode("utf-8-sig"))))
    # One line per rejected row, every reason on it.
    assert [(line["linea"], line["columna"]) for line in lines] == [
        ("3", "fecha; tipo"),
        ("4", "fecha"),
    ]
    assert "; " in lines[0]["error"]

    for line in lines:
        line.update(fecha="03/07/2021", tipo="amenazas")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(lines[0]))
    writer.writeheader()
    writer.writerows(lines)
    again, plan = write.import_batch_prepare(
        user=reviewer, data=buffer.getvalue().encode(), file_name="errores.csv", origin="Base CDJ"
    )
    assert plan.rejected == []
    write.import_batch_run(batch=again, user=reviewer)
    assert Incident.objects.count() == 3


def test_the_error_file_keeps_only_the_columns_the_file_had(reviewer):
    header = ["referencia", "fecha", "tipo", "victima"]
    data = as_csv([row(fecha="ayer")], header=header)
    batch, plan = write.import_batch_prepare(user=reviewer, data=data, file_name="x.csv")
    text = planning.error_file(plan).decode("utf-8-sig")
    assert text.splitlines()[0] == "linea,columna,error,referencia,fecha,tipo,victima"
