"""Things a first-time user met: plurals, the browser's icon, the language switch, a code
used twice, the import help's role names, the import's time."""

import datetime

import pytest
from django.test import Client
from django.utils import translation

from cases.intake.template import TEMPLATE_HELP
from cases.models import ImportBatch, Involvement

pytestmark = pytest.mark.django_db


def test_the_browsers_icon_is_there(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("defensores/favicon.ico")
    with open(finders.find("defensores/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file


def test_the_language_switch_keeps_the_choice(client):
    page = client.get("/admin/login/").content.decode()
    assert 'value="en"' in page and "English" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/login/"})
    page = client.get("/admin/login/").content.decode()
    assert 'lang="en"' in page and "Español" in page


def test_the_import_help_names_the_roles_as_the_form_does():
    with translation.override("es"):
        help_text = str(TEMPLATE_HELP["rol_perpetrador"])
        labels = [str(label) for label in Involvement.Role.labels]
    for label in labels:
        assert f"“{label}”" in help_text
    assert "Lo difundió" in help_text and "Presunto" in help_text


def test_an_imports_title_is_in_the_sites_time():
    moment = datetime.datetime(2026, 12, 6, 2, 30, tzinfo=datetime.UTC)
    batch = ImportBatch(origin="Base", file_name="base.csv", created_at=moment)
    assert "(05/12/2026 22:30)" in str(batch)  # Caracas, UTC-4


def test_one_rejected_row_is_one_row(documentalist):
    from cases.intake import write
    from tests.cases.intake.rows import as_csv, row

    with pytest.raises(write.ImportRejected) as error, translation.override("es"):
        batch, _plan = write.import_batch_prepare(
            user=documentalist, data=as_csv([row(fecha="ayer")]), file_name="a.csv"
        )
        write.import_batch_run(batch=batch, user=documentalist)
    assert error.value.messages == ["1 fila tiene errores: no se importó nada."]


def test_a_code_used_twice_says_to_wait_for_the_next(coordinator):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=coordinator, name="default", confirmed=True)
    code = f"{totp(device.bin_key):06d}"

    def sign_in(client):
        client.post(
            "/admin/login/",
            {
                "login_view-current_step": "auth",
                "auth-username": "coordinadora",
                "auth-password": "contraseña-de-prueba",
            },
        )
        return client.post(
            "/admin/login/", {"login_view-current_step": "token", "token-otp_token": code}
        )

    assert sign_in(Client()).status_code == 302
    second = sign_in(Client()).content.decode()
    assert "espere al siguiente" in second
