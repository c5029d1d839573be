"""Uploads that would exhaust the server (XLSX bombs) are refused before they are read, and
no file is left behind."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.intake import export, read, template, write

pytestmark = pytest.mark.django_db


def bomb(megabytes: int) -> bytes:
    """A valid-looking XLSX whose one shared string is `megabytes` MB of the same letter: a
    few hundred kilobytes on disk."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'
    )
    strings = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        'uniqueCount="1"><si><t>' + "A" * (megabytes * 1024 * 1024) + "</t></si></sst>"
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="H" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", rels)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        archive.writestr("xl/sharedStrings.xml", strings)
    return buffer.getvalue()


def kept_files(settings) -> list:
    root = settings.MEDIA_ROOT / "imports"
    return sorted(root.rglob("*")) if root.exists() else []


class TestUploadBombs:
    def test_an_xlsx_that_expands_far_beyond_its_size_is_refused_before_it_is_read(self):
        data = bomb(64)
        assert len(data) < 1024 * 1024
        with pytest.raises(template.ImportFileError, match="descomprim"):
            read.read_table(data, "bomba.xlsx")

    def test_a_refused_upload_leaves_no_file_behind(self, client_for, documentalist, settings):
        upload = SimpleUploadedFile("bomba.xlsx", bomb(64))
        response = client_for(documentalist).post(
            "/admin/cases/importbatch/upload/", {"file": upload, "case_status": "in_review"}
        )
        assert response.status_code == 200
        assert "descomprim" in response.content.decode()
        assert kept_files(settings) == []

    def test_an_import_that_fails_half_way_leaves_no_file_behind(
        self, documentalist, settings, monkeypatch
    ):
        def broken(*args, **kwargs):
            raise RuntimeError("the server fell over while planning")

        monkeypatch.setattr(write, "plan_import", broken)
        example = export.as_csv(template.template_example())
        with pytest.raises(RuntimeError):
            write.import_batch_prepare(user=documentalist, data=example, file_name="plantilla.csv")
        assert kept_files(settings) == []
