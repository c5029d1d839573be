"""Importing spreadsheets: the template's forms, bad rows, idempotence, updates,
history, retraction, the admin's upload → preview → confirm, and the export round trip."""

import codecs
import contextlib
import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from openpyxl import load_workbook

from accounts.services import system_user
from cases import services
from cases.intake import check, read, template, write
from cases.models import Case, ImportBatch, Incident, Involvement, Source
from organizations.models import Defender, Membership, Organization, Perpetrator
from tests.cases.intake.rows import (
    HEADER,
    admin_confirm,
    admin_upload,
    as_csv,
    as_xlsx,
    errors_of,
    plan_of,
    row,
    run,
)
from tests.factories import DefenderFactory

pytestmark = pytest.mark.django_db


# The template's forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected, precision",
    [
        ("02/07/2021", datetime.date(2021, 7, 2), "day"),
        ("2/7/2021", datetime.date(2021, 7, 2), "day"),
        ("2021-07-02", datetime.date(2021, 7, 2), "day"),
        ("2021-07-02 00:00:00", datetime.date(2021, 7, 2), "day"),
        ("julio 2021", datetime.date(2021, 7, 1), "month"),
        ("Julio de 2021", datetime.date(2021, 7, 1), "month"),
        ("SETIEMBRE 2020", datetime.date(2020, 9, 1), "month"),
        ("07/2021", datetime.date(2021, 7, 1), "month"),
        ("2021-07", datetime.date(2021, 7, 1), "month"),
        ("2021", datetime.date(2021, 1, 1), "year"),
    ],
)
def test_it_reads_each_date_form(text, expected, precision):
    assert template.parse_date(text) == (expected, precision)


@pytest.mark.parametrize("text", ["31/02/2021", "julio", "ayer", "2021-13-01", "13/2021"])
def test_it_refuses_what_is_not_a_date(text):
    assert template.parse_date(text) is None


def test_an_excel_date_cell_is_read_as_a_day(documentalist):
    data = as_xlsx([row(fecha=datetime.datetime(2021, 7, 2))])  # noqa: DTZ001
    table = read.read_table(data, "base.xlsx")
    (parsed,) = check.parse_table(table)
    assert (parsed.occurred_on, parsed.precision) == (datetime.date(2021, 7, 2), "day")


@pytest.mark.parametrize(
    "column, text, field, code",
    [
        ("estado", "Táchira", "state", "VE-S"),
        ("estado", "tachira", "state", "VE-S"),
        ("estado", "TACHIRA", "state", "VE-S"),
        ("estado", "Estado Táchira", "state", "VE-S"),
        ("estado", "Vargas", "state", "VE-X"),
        ("estado", "VE-A", "state", "VE-A"),
        ("tipo", "ESTIGMATIZACIÓN", "type", "stigmatization"),
        ("tipo", "Estigmatización y difamación", "type", "stigmatization"),
        ("tipo", "hostigamiento", "type", "intimidation"),
        ("tipo", "Judicializacion", "type", "judicial_harassment"),
        ("tipo", "Stigmatization and defamation", "type", "stigmatization"),
        ("tipo", "raid", "type", "raid"),
    ],
)
def test_labels_match_without_regard_to_case_or_accents(column, text, field, code):
    (parsed,) = check.parse_table(read.read_table(as_csv([row(**{column: text})]), "x.csv"))
    assert parsed.errors == []
    assert getattr(parsed, field) == code


@pytest.mark.parametrize(
    "text, code", [("Medio estatal", "state_media"), ("MEDIOS DEL ESTADO", "state_media")]
)
def test_perpetrator_categories_and_roles_match_spanish_labels(text, code):
    (parsed,) = check.parse_table(
        read.read_table(
            as_csv([row(categoria_perpetrador=text, rol_perpetrador="lo amplificó")]), "x.csv"
        )
    )
    assert parsed.perpetrators[0].category == code
    assert parsed.perpetrators[0].role == "amplified"
    assert parsed.perpetrators[0].acronym == "SEBIN"


FIRST_LINE = (1, ["referencia", "fecha"])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("referencia,fecha\n1,2021-07-02\n", [FIRST_LINE, (2, ["1", "2021-07-02"])]),
        ("referencia,fecha\r\n1,2021-07-02\r\n", [FIRST_LINE, (2, ["1", "2021-07-02"])]),
        # Old Mac line ends.
        ("referencia,fecha\r1,2021-07-02\r", [FIRST_LINE, (2, ["1", "2021-07-02"])]),
        # Line breaks inside quoted cells: the next row's line number counts them.
        (
            'referencia,fecha\n1,"dos\nlíneas"\n2,"otra\r\nmás"\n3,x',
            [FIRST_LINE, (2, ["1", "dos\nlíneas"]), (4, ["2", "otra\r\nmás"]), (6, ["3", "x"])],
        ),
        ("\ufeffreferencia;fecha\n1;“2021”\n", [FIRST_LINE, (2, ["1", "“2021”"])]),
        # A Unicode line separator is text inside a cell, not the end of a row.
        (
            "referencia,fecha\n1,a\u2028b\n2,c\n",
            [FIRST_LINE, (2, ["1", "a\u2028b"]), (3, ["2", "c"])],
        ),
    ],
)
def test_csv_line_ends_and_line_numbers(text, expected):
    assert read.read_table(text.encode(), "a.csv") == expected


def test_it_reads_csv_with_or_without_bom_comma_or_semicolon_and_xlsx(documentalist):
    for data, name in [
        (as_csv([row()]), "a.csv"),
        (as_csv([row()], bom=True), "a.csv"),
        (as_csv([row()], delimiter=";"), "a.csv"),
        (as_csv([row()], delimiter=";", bom=True), "a.txt"),
        (as_xlsx([row()]), "a.xlsx"),
    ]:
        (parsed,) = check.parse_table(read.read_table(data, name))
        assert parsed.errors == [], name
        assert parsed.target_name == "Javier Tarazona"


def test_the_template_downloads_and_is_importable(client_for, documentalist):
    response = client_for(documentalist).get("/admin/cases/importbatch/template/")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert [c.value for c in book.worksheets[0][1]] == HEADER
    rows = check.parse_table(read.read_table(response.content, "plantilla.xlsx"))
    assert [r.errors for r in rows] == [[], []]


# Bad rows and bad files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, column",
    [
        ({"fecha": "31/02/2021"}, "fecha"),
        ({"fecha": ""}, "fecha"),
        ({"fecha": "02/07/2999"}, "fecha"),
        ({"tipo": "bofetada"}, "tipo"),
        ({"tipo": ""}, "tipo"),
        ({"estado": "Narnia"}, "estado"),
        ({"referencia": ""}, "referencia"),
        ({"referencia": "x" * 101}, "referencia"),
        ({"victima": ""}, "victima"),  # neither
        # Says a defender, names no person.
        (
            {"tipo_victima": "defensor", "victima": "", "organizacion_victima": "FundaRedes"},
            "victima",
        ),
        # "victima" is the organization attacked, "organizacion_victima" another one.
        (
            {
                "tipo_victima": "organización",
                "victima": "FundaRedes",
                "organizacion_victima": "CDJ",
            },
            "organizacion_victima",
        ),
        ({"organizacion_victima": "¡¡!!"}, "organizacion_victima"),  # a defender's, no letters
        ({"tipo_victima": "planeta"}, "tipo_victima"),
        ({"perpetrador": "Nadie conocido", "categoria_perpetrador": ""}, "categoria_perpetrador"),
        ({"categoria_perpetrador": "marcianos"}, "categoria_perpetrador"),
        ({"rol_perpetrador": "aplaudió"}, "rol_perpetrador"),
        ({"perpetrador": "A | B", "categoria_perpetrador": "x | y | z"}, "categoria_perpetrador"),
        # Fewer categories or roles than perpetrators (but more than one): a bad row, not a crash.
        (
            {
                "perpetrador": "A | B | C",
                "categoria_perpetrador": "Cuerpo de seguridad | Medio estatal",
            },
            "categoria_perpetrador",
        ),
        (
            {"perpetrador": "SEBIN | PNB | CICPC", "rol_perpetrador": "ordenó | participó"},
            "rol_perpetrador",
        ),
        ({"fuente_url": "no es una dirección"}, "fuente_url"),
        ({"caso": "c" * 301}, "caso"),
    ],
)
def test_each_kind_of_bad_row_is_reported_with_its_line_and_column(documentalist, values, column):
    errors = errors_of(documentalist, **values)
    assert column in [c for c, _m in errors], errors


def test_bad_rows_are_reported_in_spanish(documentalist):
    errors = errors_of(documentalist, fecha="ayer")
    assert "no es una fecha" in errors[0][1]


def test_a_repeated_reference_is_a_bad_row(documentalist):
    plan = plan_of(documentalist, [row(), row(victima="Otra Persona")])
    assert [r.line for r in plan.rejected] == [3]
    assert "línea 2" in plan.rejected[0].errors[0][1]


def test_two_rows_naming_the_same_incident_are_a_bad_row(reviewer):
    """Its public id (a file exported from here) and its reference: one incident, two rows
    of one file that would both change it — the second is rejected, not silently applied."""
    run(reviewer, [row(fecha="10/07/2021")])
    incident = Incident.objects.get(import_ref="1")
    rows = [row(referencia=str(incident.public_id), fecha="19/07/2021"), row(fecha="01/07/2021")]
    plan = plan_of(reviewer, rows)
    assert [r.line for r in plan.rejected] == [3]
    assert "línea 2" in plan.rejected[0].errors[0][1]
    assert [r.action for r in plan.rows] == ["update", "reject"]


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"", "a.csv", "vacío"),
        (b"   \n", "a.csv", "vacío"),
        (b"referencia,fecha,tipo,victima\n", "a.csv", "ninguna fila"),
        ("referencia;fecha;tipo;victima\n1;é".encode("latin-1"), "a.csv", "UTF-8"),
        ("referencia,fecha\n".encode("utf-16"), "a.csv", "UTF-16"),
        (b"not a zip", "a.xlsx", "XLSX"),
        (b"PK\x03\x04garbage", "a.xlsx", "XLSX"),
        (b"\xd0\xcf\x11\xe0", "a.xls", "XLSX"),
        (b"fecha,tipo,victima,peligro\n", "a.csv", "referencia"),
        (b"referencia,fecha,tipo,victima,peligro\n", "a.csv", "peligro"),
        (b"referencia,fecha,tipo\n1,2021,amenaza\n", "a.csv", "victima"),
    ],
)
def test_a_file_that_cannot_be_read_says_why(data, name, message):
    with pytest.raises(template.ImportFileError, match=message):
        check.parse_table(read.read_table(data, name))


@pytest.mark.parametrize("block", [1, 2, 5, 1024 * 1024])
def test_a_file_is_read_a_block_at_a_time_as_its_bytes_are(monkeypatch, block):
    """The command hands the file itself, read a block at a time: the same table as its
    bytes, a character split across two blocks read whole, and a wrong byte found at its
    place in the file (after the byte order mark) whatever the blocks."""
    monkeypatch.setattr(read, "BLOCK", block)
    text = '\ufeffreferencia;fecha;tipo;victima\n1;2/7/2021;"Amenaza\nde muerte";Ña Tábata\n'
    assert read.read_table(io.BytesIO(text.encode()), "a.csv") == [
        (1, ["referencia", "fecha", "tipo", "victima"]),
        (2, ["1", "2/7/2021", "Amenaza\nde muerte", "Ña Tábata"]),
    ]
    for wrong, place in [(b"a,b\nc,\xe9x\n", 7), (b"a,b\nc,\xc3", 7), (b"a,b\nc,\xc3\xa9\xff", 9)]:
        for prefix in (b"", codecs.BOM_UTF8):
            with pytest.raises(template.ImportFileError, match=rf"\(byte {place}\)"):
                read.read_table(io.BytesIO(prefix + wrong), "a.csv")
    with pytest.raises(template.ImportFileError, match="CSV UTF-8 o XLSX"):
        read.read_table(io.BytesIO(b"a,b\n" * 3 + b"c\x00\n"), "a.csv")
    for blank in (b"", b" \n\r\n\t " * 3):
        with pytest.raises(template.ImportFileError, match="vacío"):
            read.read_table(io.BytesIO(blank), "a.csv")


def test_blank_lines_before_the_header_leave_the_separator_to_the_header():
    """A ";" file with blank lines above its header (a spreadsheet's empty rows over the
    table) is read with the header's separator, not with the blank first line's ","."""
    data = b"\r\n  \r\nreferencia;fecha;tipo;victima\r\n1;02/07/2021;Amenazas;Ana\r\n"
    assert read.read_table(data, "a.csv") == [
        (3, ["referencia", "fecha", "tipo", "victima"]),
        (4, ["1", "02/07/2021", "Amenazas", "Ana"]),
    ]


def test_the_command_reads_a_file_it_cannot_seek_in(tmp_path):
    """A pipe (`<(zcat base.csv.gz)`, /dev/stdin) is copied aside a block at a time, as far
    as the size limit, and imported like a file."""
    import os
    import threading

    pipe = tmp_path / "base.csv"
    os.mkfifo(pipe)
    data = as_csv([row(referencia=str(n)) for n in range(3)])
    writer = threading.Thread(target=pipe.write_bytes, args=(data,))
    writer.start()
    call_command("import_incidents", str(pipe), stdout=io.StringIO(), stderr=io.StringIO())
    writer.join()
    assert Incident.objects.count() == 3
    assert ImportBatch.objects.get().file_name == "base.csv"


def test_the_command_says_so_when_the_file_cannot_be_read_halfway(tmp_path, monkeypatch):
    """A read that fails after the file was opened (a disk error, a network share gone) is a
    clear error with nothing written and nothing kept, not a traceback."""
    path = tmp_path / "base.csv"
    path.write_bytes(as_csv([row()]))

    def fail(source, file_name):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(write, "read_table", fail)
    with pytest.raises(CommandError, match="No se puede importar .*Input/output error"):
        call_command("import_incidents", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not ImportBatch.objects.exists() and not Incident.objects.exists()


def test_the_command_refuses_a_pipe_past_the_size_limit(tmp_path, settings):
    import os
    import threading

    settings.IMPORT_MAX_MEGABYTES = 1
    pipe = tmp_path / "base.csv"
    os.mkfifo(pipe)
    data = as_csv([row()]) + b"x" * (2 * 1024 * 1024)

    def write():
        with contextlib.suppress(BrokenPipeError):
            pipe.write_bytes(data)

    writer = threading.Thread(target=write)
    writer.start()
    with pytest.raises(CommandError, match="1 MB"):
        call_command("import_incidents", str(pipe), stdout=io.StringIO(), stderr=io.StringIO())
    writer.join()
    assert not ImportBatch.objects.exists()


def test_a_file_over_the_limit_is_refused(settings):
    settings.IMPORT_MAX_MEGABYTES = 1
    with pytest.raises(template.ImportFileError, match="1 MB"):
        read.read_table(b"x" * (1024 * 1024 + 1), "a.csv")


def test_by_default_nothing_is_written_if_a_row_is_bad(documentalist):
    with pytest.raises(write.ImportRejected):
        run(documentalist, [row(), row(referencia="2", tipo="bofetada")], status="in_review")
    assert not Incident.objects.exists() and not Defender.objects.exists()


def test_with_skip_invalid_the_good_rows_are_imported_and_the_bad_ones_listed(documentalist):
    batch, plan = run(
        documentalist,
        [row(), row(referencia="2", tipo="bofetada", victima="Solo En Fila Mala")],
        skip_invalid=True,
        status="in_review",
    )
    batch.refresh_from_db()
    assert Incident.objects.count() == 1
    assert not Defender.objects.filter(full_name="Solo En Fila Mala").exists()
    assert (batch.rows_created, batch.rows_rejected) == (1, 1)
    with batch.error_file.open("rb") as stored:
        lines = list(csv.reader(io.StringIO(stored.read().decode("utf-8-sig"))))
    assert lines[0][:3] == ["linea", "columna", "error"]
    assert lines[1][:2] == ["3", "tipo"] and "bofetada" in lines[1]


def test_the_command_exits_non_zero_when_rows_were_rejected(tmp_path):
    path = tmp_path / "base.csv"
    path.write_bytes(as_csv([row(), row(referencia="2", fecha="ayer")]))
    with pytest.raises(CommandError) as nothing:
        call_command("import_incidents", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert nothing.value.returncode == 2 and not Incident.objects.exists()
    with pytest.raises(CommandError) as partial:
        call_command(
            "import_incidents",
            str(path),
            "--skip-invalid",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert partial.value.returncode == 1 and Incident.objects.count() == 1


def test_the_command_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "base.csv"
    path.write_bytes(as_csv([row()]))
    out = io.StringIO()
    call_command("import_incidents", str(path), "--dry-run", stdout=out)
    assert "Nuevas: 1;" in out.getvalue()
    assert not Incident.objects.exists() and not ImportBatch.objects.exists()


def test_the_command_reads_the_file_a_block_at_a_time_and_closes_it_before_writing(
    tmp_path, monkeypatch
):
    """The command hands the file, not its bytes: never read whole (a big file's bytes were
    held beside its rows, megabytes more at the import's peak), and closed once planned."""
    import pathlib

    path = tmp_path / "base.csv"
    path.write_bytes(as_csv([row(referencia=str(n)) for n in range(20)]))
    asked, opened, real_open = [], [], pathlib.Path.open

    class Reader(io.BufferedReader):
        def read(self, size=-1):
            asked.append(size)
            return super().read(size)

    def open_(self, mode="r", *args, **kwargs):
        if self != path:
            return real_open(self, mode, *args, **kwargs)
        opened.append(Reader(io.FileIO(self, "r")))
        return opened[-1]

    monkeypatch.setattr(pathlib.Path, "open", open_)
    closed, real_run = [], write.import_batch_run

    def run(**kwargs):
        closed.append(opened[0].closed)
        return real_run(**kwargs)

    monkeypatch.setattr(write, "import_batch_run", run)
    call_command("import_incidents", str(path), stdout=io.StringIO())
    assert Incident.objects.count() == 20
    assert asked and all(size is not None and 0 < size <= read.BLOCK for size in asked)
    assert closed == [True]


def test_the_command_tells_how_far_it_is(tmp_path, monkeypatch):
    """A long import says what it is doing, on stderr (stdout keeps the summary): reading,
    comparing, writing and looking for duplicates, a chunk at a time; nothing with -v 0."""
    import re

    from cases import duplicates

    monkeypatch.setattr(write, "IMPORT_CHUNK", 2)
    monkeypatch.setattr(duplicates, "NEW_AT_ONCE", 2)
    path = tmp_path / "base.csv"

    def told(**values):
        path.write_bytes(as_csv([row(referencia=str(n), **values) for n in range(5)]))
        stderr = io.StringIO()
        call_command("import_incidents", str(path), stdout=io.StringIO(), stderr=stderr)
        return [re.sub(r" \(\d+ s\)$", "", line) for line in stderr.getvalue().splitlines()]

    compared = "incidentes comparados en busca de posibles duplicados"
    assert told() == [
        "filas leídas y comprobadas: 5 de 5",
        "filas comparadas con la base de datos: 5 de 5",
        "filas nuevas escritas: 2 de 5",
        "filas nuevas escritas: 4 de 5",
        "filas nuevas escritas: 5 de 5",
        f"{compared}: 2 de 5",
        f"{compared}: 4 de 5",
        f"{compared}: 5 de 5",
    ]
    assert told(municipio="Punto Fijo")[2:5] == [
        "filas actualizadas: 2 de 5",
        "filas actualizadas: 4 de 5",
        "filas actualizadas: 5 de 5",
    ]
    stderr = io.StringIO()
    call_command("import_incidents", str(path), verbosity=0, stdout=io.StringIO(), stderr=stderr)
    assert stderr.getvalue() == ""


def test_a_rows_cells_read_by_column_on_short_lines_and_as_filled_in():
    from django.template import Context, Template

    cells = check.Cells({"referencia": 0, "fecha": 1, "tipo": 2}, ("7", "02/07/2021"))
    assert [cells.get(c) for c in ("referencia", "fecha", "tipo", "caso")] == [
        "7",
        "02/07/2021",
        "",
        "",
    ]
    cells["referencia"] = "8"
    cells["tipo"] = "Allanamiento"  # past the end of a short line
    cells["descripcion"] = "Texto"  # a column the file lacks, filled in by the plan
    assert [cells.get(c) for c in ("referencia", "tipo", "descripcion")] == [
        "8",
        "Allanamiento",
        "Texto",
    ]
    assert Template("{{ c.fecha }} {{ c.descripcion }}").render(Context({"c": cells})) == (
        "02/07/2021 Texto"
    )
    with pytest.raises(KeyError):
        cells["victima"]  # not a column of this file, nor filled in
    assert Template('{% if "x" in c %}sí{% endif %}').render(Context({"c": cells})) == ""


# Writing: idempotence, updates, history, matching ------------------------------------------


def test_it_creates_cases_incidents_perpetrators_and_sources(reviewer):
    rows = [
        row(),
        row(referencia="2", victima="José Rafael Tarazona"),
        row(
            referencia="3",
            caso="",
            tipo_victima="organización",
            victima="",
            organizacion_victima="FundaRedes",
        ),
    ]
    batch, _plan = run(reviewer, rows)
    assert Case.objects.count() == 2
    case = Case.objects.get(title="Detención de activistas de FundaRedes")
    assert case.status == "verified" and case.incidents.count() == 2
    assert case.sources.get().publisher == "El Pitazo"
    assert Perpetrator.objects.get().acronym == "SEBIN"
    assert Involvement.objects.count() == 3
    assert Incident.objects.counted().count() == 3
    assert all(d.needs_review for d in Defender.objects.all())
    assert Organization.objects.get().needs_review


def test_a_defenders_organization_on_their_row_is_a_membership_not_a_second_target(reviewer):
    """As spreadsheets are written: "victima" the person, "organizacion_victima" where they
    work. One incident against the person; the organization recorded as theirs."""
    rows = [row(organizacion_victima="FundaRedes")]
    plan = plan_of(reviewer, rows)
    assert not plan.rejected
    assert list(plan.new_memberships.values()) == [("Javier Tarazona", "FundaRedes")]
    batch, _plan = run(reviewer, rows)
    incident = Incident.objects.get()
    assert incident.defender.full_name == "Javier Tarazona" and incident.organization is None
    membership = Membership.objects.get()
    assert (membership.defender, membership.organization.name) == (incident.defender, "FundaRedes")
    assert membership.organization.needs_review
    assert str(batch.public_id) in membership.history.get().history_change_reason
    # Named again, by this file or another, it is not recorded twice.
    run(reviewer, rows)
    run(reviewer, [row(referencia="2", fecha="05/07/2021", organizacion_victima="FUNDAREDES")])
    assert Membership.objects.count() == 1
    assert not plan_of(reviewer, rows).new_memberships


def test_a_membership_of_records_already_there_joins_them(reviewer):
    person = DefenderFactory(full_name="Javier Tarazona")
    run(reviewer, [row(referencia="9", tipo_victima="organización", victima="FundaRedes")])
    organization = Organization.objects.get()  # "victima" named it: tipo_victima said so
    assert Incident.objects.get().organization == organization
    run(reviewer, [row(organizacion_victima="FundaRedes")])
    assert Membership.objects.get().organization == organization
    assert Membership.objects.get().defender == person
    assert Organization.objects.count() == 1


@pytest.mark.parametrize(
    "values",
    [
        {"tipo_victima": "organización", "victima": "", "organizacion_victima": "FundaRedes"},
        {"tipo_victima": "", "victima": "", "organizacion_victima": "FundaRedes"},
        {"tipo_victima": "organización", "victima": "FundaRedes", "organizacion_victima": ""},
        {
            "tipo_victima": "Organización",
            "victima": "FundaRedes",
            "organizacion_victima": "fundaredes",
        },
    ],
)
def test_an_organization_attacked_imports_the_same_in_either_form(reviewer, values):
    run(reviewer, [row(**values)])
    incident = Incident.objects.get()
    assert incident.organization.name == "FundaRedes" and incident.defender is None
    assert not Membership.objects.exists() and not Defender.objects.exists()


def test_importing_the_same_file_twice_creates_nothing_the_second_time(reviewer):
    rows = [row(), row(referencia="2", victima="Omar de Dios García")]
    run(reviewer, rows)
    counts = [m.objects.count() for m in (Case, Incident, Involvement, Source, Defender)]
    history = Incident.history.count()
    batch, plan = run(reviewer, rows)
    assert [m.objects.count() for m in (Case, Incident, Involvement, Source, Defender)] == counts
    assert Incident.history.count() == history
    batch.refresh_from_db()
    assert (batch.rows_created, batch.rows_unchanged) == (0, 2)


def test_a_corrected_file_updates_the_rows_it_changed_with_history(reviewer):
    run(reviewer, [row(), row(referencia="2", victima="Omar de Dios García")])
    incident = Incident.objects.get(import_ref="1")
    batch, plan = run(
        reviewer,
        [
            row(
                fecha="03/07/2021", perpetrador="DGCIM", categoria_perpetrador="Cuerpo de seguridad"
            ),
            row(referencia="2", victima="Omar de Dios García"),
        ],
    )
    assert [r.action for r in plan.rows] == ["update", "unchanged"]
    incident.refresh_from_db()
    assert incident.occurred_on == datetime.date(2021, 7, 3)
    assert incident.version == 2
    assert list(incident.involvements.values_list("perpetrator__name", flat=True)) == ["DGCIM"]
    latest = incident.history.latest("history_id")
    assert latest.history_user == reviewer and str(batch.public_id) in latest.history_change_reason
    removed = Involvement.history.filter(history_type="-").get()
    assert removed.history_user == reviewer


def test_people_are_matched_by_normalized_name(reviewer):
    existing = DefenderFactory(full_name="Javier Tarazona")
    run(
        reviewer,
        [row(victima="TARAZONA, Javier"), row(referencia="2", victima="javier  tarazona.")],
    )
    assert set(Incident.objects.values_list("defender", flat=True)) == {existing.pk}
    assert Defender.objects.count() == 1


def test_a_protected_defender_the_importer_may_not_see_is_not_revealed(documentalist):
    DefenderFactory(full_name="Persona Protegida", identity_protected=True)
    # Named by an incident of a case the documentalist is not on: hidden from them.
    from tests.factories import IncidentFactory

    IncidentFactory(defender=Defender.objects.get())
    plan = plan_of(documentalist, [row(victima="Persona Protegida")])
    assert list(plan.new_defenders.values()) == ["Persona Protegida"]


def test_every_imported_record_has_history_by_the_importer_and_the_chain_holds(reviewer):
    batch, _plan = run(reviewer, [row(), row(referencia="2", victima="Otra Persona")])
    for model in (Case, Incident, Involvement, Source, Defender, Perpetrator):
        for record in model.history.all():
            assert record.history_user == reviewer, model
            assert str(batch.public_id) in record.history_change_reason, model
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "intactas" in out.getvalue()


def test_bulk_create_stays_refused_outside_the_history_aware_path():
    from core.audit import AuditBypassError

    with pytest.raises(AuditBypassError):
        Incident.objects.bulk_create([])


def test_a_documentalist_may_not_import_as_verified_nor_change_verified_cases(
    documentalist, reviewer
):
    with pytest.raises(Exception, match="revisores|reviewers"):
        run(documentalist, [row()], status="verified")
    run(reviewer, [row()])
    plan = plan_of(documentalist, [row(fecha="03/07/2021")])
    assert "revisor" in plan.rejected[0].errors[0][1]


# Retraction ------------------------------------------------------------------------------------


def test_a_batch_is_retracted_as_a_whole(reviewer):
    batch, _plan = run(reviewer, [row(), row(referencia="2", caso="", victima="Otra Persona")])
    assert Incident.objects.counted().count() == 2
    cases = write.import_batch_retract(batch=batch, user=reviewer, reason="Archivo equivocado")
    assert len(cases) == 2
    assert Incident.objects.counted().count() == 0
    assert Incident.objects.count() == 2  # kept
    batch.refresh_from_db()
    assert batch.status == "retracted" and batch.retracted_by == reviewer
    assert Case.history.filter(history_change_reason__contains="Archivo equivocado").count() == 2
    with pytest.raises(Exception, match="retract"):
        write.import_batch_retract(batch=batch, user=reviewer, reason="otra vez")


def test_retraction_needs_a_reason(reviewer):
    batch, _plan = run(reviewer, [row()])
    with pytest.raises(Exception, match="por qué|why"):
        write.import_batch_retract(batch=batch, user=reviewer, reason="")


# The admin ------------------------------------------------------------------------------------


def test_upload_preview_and_confirm_in_the_admin(
    client_for, documentalist, django_capture_on_commit_callbacks
):
    client = client_for(documentalist)
    rows = [row(), row(referencia="2", fecha="ayer")]
    response = admin_upload(client, rows, django_capture_on_commit_callbacks)
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and str(batch.public_id) in response["Location"]
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert preview.context["counts"]["rows_created"] == 1
    assert preview.context["counts"]["rows_rejected"] == 1
    assert not Incident.objects.exists()  # a preview writes nothing
    refused = admin_confirm(client, batch, django_capture_on_commit_callbacks)
    assert refused.status_code == 200 and not Incident.objects.exists()
    errors = client.get(f"/admin/cases/importbatch/{batch.public_id}/errors/")
    assert errors.status_code == 200 and b"ayer" in errors.content
    done = admin_confirm(client, batch, django_capture_on_commit_callbacks, skip_invalid="on")
    assert done.status_code == 302
    assert Incident.objects.count() == 1
    assert Case.objects.get().status == "in_review"
    page = client.get(done["Location"])
    assert "Filas: 2. Nuevas: 1;" in page.content.decode()
    # Confirming again, from another tab, imports nothing more.
    again = admin_confirm(client, batch, django_capture_on_commit_callbacks, skip_invalid="on")
    assert again.status_code == 302 and Incident.objects.count() == 1


def test_the_preview_names_which_rows_look_like_duplicates(
    client_for, reviewer, django_capture_on_commit_callbacks
):
    """Not only "possible duplicates: 2": the lines of the file, and the recorded incident
    with a link to it and to its case."""
    _batch, _plan = run(reviewer, [row(referencia="9", caso="Caso anterior")])
    recorded = Incident.objects.get()
    rows = [
        row(referencia="1", caso="Otro caso", fecha="03/07/2021"),  # line 2: and reference 9
        row(referencia="2", victima="Otra Persona", caso="C2"),  # line 3
        row(referencia="3", victima="Otra Persona", caso="C3", fecha="04/07/2021"),  # line 4
    ]
    client = client_for(reviewer)
    response = admin_upload(
        client, rows, django_capture_on_commit_callbacks, origin="B", case_status="verified"
    )
    preview = client.get(response["Location"])
    assert preview.context["counts"]["duplicates_flagged"] == 2
    page = preview.content.decode()
    assert "Línea 3 y línea 4 de este archivo" in page
    assert f'href="/admin/cases/incident/{recorded.pk}/change/"' in page
    assert f'href="/admin/cases/case/{recorded.case_id}/change/">Caso anterior</a>' in page


def test_the_preview_counts_all_duplicates_and_names_the_first_few(reviewer, monkeypatch):
    from cases.intake import plan as planning

    monkeypatch.setattr(planning, "DUPLICATE_EXAMPLES", 2)
    rows = [row(referencia=str(n), caso=f"C{n}") for n in range(1, 5)]  # 6 pairs among 4
    plan = plan_of(reviewer, rows)
    assert plan.duplicates == 6
    assert len(plan.duplicate_examples) == 2
    assert all(e.line < e.other_line for e in plan.duplicate_examples)


def test_the_import_page_links_the_cases_it_created_and_the_pairs_to_decide(client_for, reviewer):
    from tests.conftest import _staff

    run(reviewer, [row(referencia="9", caso="Caso anterior")])
    batch, _plan = run(reviewer, [row(caso="Nuevo caso"), row(referencia="2", caso="Segundo")])
    created = Case.objects.filter(import_batch=batch).order_by("pk")
    page = client_for(reviewer).get(f"/admin/cases/importbatch/{batch.pk}/change/")
    text = page.content.decode()
    for case in created:
        assert f'href="/admin/cases/case/{case.pk}/change/">{case.title}</a>' in text
    assert "Los 2 casos que creó esta importación" in text
    assert page.context["open_pairs_total"] == 3  # the two rows with each other and with 9
    assert "/admin/cases/duplicatepair/" in text
    # Someone who may not see the cases is not told of them.
    for case in Case.objects.all():
        case.confidentiality = Case.Confidentiality.RESTRICTED
        services.case_save(case=case, user=reviewer, reason="Prueba")
    other_reviewer = _staff("revisor2", "Revisor")  # sees every batch, not these cases
    hidden = client_for(other_reviewer).get(f"/admin/cases/importbatch/{batch.pk}/change/")
    assert hidden.status_code == 200
    assert "Nuevo caso" not in hidden.content.decode()
    assert not hidden.context["created_cases"] and not hidden.context["open_pairs"]


def test_a_broken_upload_is_a_form_error_not_a_500(client_for, documentalist):
    upload = io.BytesIO(b"PK\x03\x04 not really")
    upload.name = "base.xlsx"
    response = client_for(documentalist).post(
        "/admin/cases/importbatch/upload/", {"file": upload, "case_status": "in_review"}
    )
    assert response.status_code == 200
    assert "XLSX" in str(response.context["form"].errors)
    assert not ImportBatch.objects.exists()


def test_only_the_uploader_confirms_and_outsiders_get_nothing(
    client_for, documentalist, reviewer, analyst
):
    batch, _plan = write.import_batch_prepare(
        user=documentalist, data=as_csv([row()]), file_name="a.csv", case_status="in_review"
    )
    url = f"/admin/cases/importbatch/{batch.public_id}/preview/"
    assert client_for(reviewer).get(url).status_code == 404
    assert client_for(analyst).get(url).status_code == 403
    assert client_for(analyst).get("/admin/cases/importbatch/upload/").status_code == 403
    assert client_for(analyst).get("/admin/cases/incident/export/").status_code == 403


def test_retraction_from_the_admin(client_for, reviewer):
    batch, _plan = run(reviewer, [row()])
    client = client_for(reviewer)
    url = f"/admin/cases/importbatch/{batch.public_id}/retract/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": "Prueba"}).status_code == 302
    assert Case.objects.get().status == "retracted"


# Export → import round trip --------------------------------------------------------------------


def _seed(user):
    """Counted incidents in two months, with several perpetrators, both kinds of target, a
    month-precision and a year-precision date, a duplicate and an uncounted draft."""
    sebin = Perpetrator.objects.create(
        name="Servicio Bolivariano de Inteligencia Nacional",
        acronym="SEBIN",
        category="security_force",
    )
    vtv = Perpetrator.objects.create(
        name="Venezolana de Televisión", acronym="VTV", category="state_media"
    )
    mazo = Perpetrator.objects.create(name="Con el Mazo Dando", category="state_media")
    people = [Defender.objects.create(full_name=f"Persona Ficticia {i}") for i in range(4)]
    orgs = [Organization.objects.create(name=f"Organización Ficticia {i}") for i in range(3)]
    made = []
    for n, (month, type_, target, perps, precision) in enumerate(
        [
            (6, "threat", people[0], [(sebin, "perpetrated")], "day"),
            (7, "stigmatization", orgs[0], [(vtv, "amplified"), (mazo, "perpetrated")], "day"),
            (7, "stigmatization", orgs[1], [(mazo, "perpetrated")], "month"),
            (7, "arbitrary_detention", people[1], [(sebin, "perpetrated")], "day"),
            (7, "raid", orgs[2], [], "day"),
            (7, "intimidation", people[2], [(sebin, "ordered")], "year"),
        ]
    ):
        case = services.case_create(user=user, title=f"Caso {n}", state="VE-S")
        kind = "defender" if isinstance(target, Defender) else "organization"
        made.append(
            services.incident_create(
                user=user,
                case=case,
                type=type_,
                occurred_on=datetime.date(2021, month, 10 + n),
                date_precision=precision,
                perpetrators=perps,
                state="VE-S",
                **{kind: target},
            )
        )
        services.source_create(
            user=user, case=case, kind="press", title="Nota", url="https://e.org"
        )
        for status in ("in_review", "verified"):  # as a command would (no four eyes)
            services.case_transition(case=case, user=system_user(), status=status)
    report = services.incident_create(
        user=user,
        case=made[3].case,
        type="arbitrary_detention",
        occurred_on=datetime.date(2021, 7, 14),
        defender=people[1],
    )
    services.incident_mark_duplicate(incident=report, original=made[3], user=user)
    draft = services.case_create(user=user, title="Borrador")
    services.incident_create(
        user=user,
        case=draft,
        type="threat",
        occurred_on=datetime.date(2021, 7, 1),
        defender=people[3],
    )


def test_export_then_import_into_an_empty_database_reproduces_the_monthly_figures(
    client_for, coordinator
):
    from reports.selectors import annual_figures, monthly_figures

    class Rollback(Exception):
        pass

    client = client_for(coordinator)
    try:
        with transaction.atomic():
            _seed(coordinator)
            figures = [monthly_figures(2021, m) for m in (6, 7)] + [annual_figures(2021)]
            response = client.get("/admin/cases/incident/export/?counted=yes")
            assert response.status_code == 200
            exported = response.content
            xlsx = client.get("/admin/cases/incident/export/?counted=yes&format=xlsx").content
            raise Rollback
    except Rollback:
        pass
    assert not Incident.objects.exists()  # the database is empty again
    assert len(list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))) == 1 + 6
    batch, plan = run(coordinator, data=exported, name="export.csv")
    assert plan.rejected == []
    again = [monthly_figures(2021, m) for m in (6, 7)] + [annual_figures(2021)]
    assert again == figures
    # The XLSX export holds the same rows, and importing it here changes nothing.
    _batch, plan = run(coordinator, data=xlsx, name="export.xlsx")
    assert {r.action for r in plan.rows} == {"unchanged"}


def test_the_export_leaves_restricted_cases_and_protected_names_out(client_for, coordinator):
    from tests.factories import CaseFactory, IncidentFactory

    IncidentFactory(case=CaseFactory(confidentiality="restricted"))
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    IncidentFactory(defender=protected)
    response = client_for(coordinator).get("/admin/cases/incident/export/")
    text = response.content.decode("utf-8-sig")
    assert "Nombre Secreto" not in text
    assert len(list(csv.reader(io.StringIO(text)))) == 2


def test_the_import_pages_render_for_their_roles(client_for, reviewer):
    batch, _plan = run(reviewer, [row()])
    client = client_for(reviewer)
    for url in [
        "/admin/cases/importbatch/",
        f"/admin/cases/importbatch/{batch.pk}/change/",
        f"/admin/cases/importbatch/{batch.pk}/history/",
        "/admin/cases/importbatch/add/",
        "/admin/cases/incident/?counted=yes",
        f"/admin/cases/case/?import_batch__id__exact={batch.pk}",
        "/admin/organizations/defender/?needs_review__exact=1&merged=no",
        "/admin/organizations/defender/similar/",
    ]:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
    page = client.get(f"/admin/cases/importbatch/{batch.pk}/change/").content.decode()
    assert f"/admin/cases/importbatch/{batch.public_id}/retract/" in page


@pytest.mark.parametrize("placeholder", ["—", "-", "?", "..."])
def test_a_case_of_punctuation_only_is_no_case(reviewer, placeholder):
    """“—” in the case column (a spreadsheet's “no case”): each row is a case of its own, as
    with an empty cell, found again by its reference when the file is imported again — not
    one case for every such row of the origin, nor a new one at each import."""
    first = [row(referencia="a", caso=placeholder)]
    run(reviewer, first)
    again = [*first, row(referencia="b", caso=placeholder, fecha="03/07/2021")]
    run(reviewer, again, name="otra.csv")
    cases = {i.import_ref: i.case for i in Incident.objects.select_related("case")}
    assert set(cases) == {"a", "b"}
    assert cases["a"] != cases["b"]
    assert Case.objects.count() == 2
    assert placeholder not in {case.title for case in cases.values()}


def prepare(user, rows, *, origin="O"):
    batch, _plan = write.import_batch_prepare(
        user=user, data=as_csv(rows), file_name=f"{origin}.csv", origin=origin
    )
    return batch


def test_the_admin_takes_a_file_as_large_as_the_command_does(
    client_for, documentalist, settings, django_capture_on_commit_callbacks
):
    """No row limit of its own: the work is done in the background, not in the request.
    Past IMPORT_MAX_ROWS the preview says so, and nothing is imported."""
    settings.IMPORT_MAX_ROWS = 2
    client = client_for(documentalist)
    rows = [row(referencia=str(n)) for n in range(3)]
    response = admin_upload(client, rows, django_capture_on_commit_callbacks, name="grande.csv")
    batch = ImportBatch.objects.get()
    assert batch.task_state == "failed" and "más de 2 filas" in batch.task_error
    page = client.get(response["Location"])
    assert batch.task_error in page.content.decode()
    assert not Incident.objects.exists()


def test_an_error_on_one_row_is_that_rows_alone(documentalist):
    plan = plan_of(documentalist, [row(), row(referencia="2", fecha="ayer"), row(referencia="3")])
    assert [r.line for r in plan.rejected] == [3]
    assert all(r.errors == [] for r in plan.rows if r.line != 3)


def test_the_counts_read_in_spanish_whatever_the_figures():
    from cases.intake.plan import COUNT_FIELDS, counts_sentence

    counts = dict.fromkeys(COUNT_FIELDS, 1)
    counts["rows_total"] = 20000
    sentence = counts_sentence(counts)
    assert sentence.startswith("Filas: 20\xa0000. Nuevas: 1;")  # Spanish groups with a space
    assert "Posibles duplicados por revisar: 1." in sentence
