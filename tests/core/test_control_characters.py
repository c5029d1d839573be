"""Control characters are refused at the door with a clear 400, for staff and allies alike."""

import pytest
from rest_framework.test import APIClient

from api.models import ApiRequest
from tests.rest import bearer

pytestmark = pytest.mark.django_db


NUL_URLS = [
    "/api/v1/incidents/export/?format=csv&x=%00",
    "/api/v1/incidents/?x=%00",
    "/api/v1/incidents/%00/",
    "/admin/cases/incident/?state__exact=%00",
    "/admin/cases/incident/?case__status__exact=%00",
    "/admin/autocomplete/?app_label=cases&model_name=incident&field_name=defender&term=%00",
    "/sources/files/%00",
    "/reports/monthly/2021/7/report.%00",
    "/admin/cases/case/?q=%01",
]


class TestControlCharacters:
    @pytest.mark.parametrize("url", NUL_URLS)
    def test_a_control_character_in_the_address_is_a_clear_400(self, client_for, analyst, url):
        response = client_for(analyst).get(url)
        assert response.status_code == 400, url
        assert "caracteres de control" in response.content.decode()

    def test_it_is_refused_for_allies_too_and_nothing_is_exported_unlogged(self, ally_secret):
        response = bearer(ally_secret).get("/api/v1/incidents/export/?format=csv&x=%00")
        assert response.status_code == 400
        assert not ApiRequest.objects.filter(status_code=200).exists()

    def test_a_control_character_in_a_form_field_is_refused(self, client_for, documentalist):
        from cases.models import Case

        response = client_for(documentalist).post(
            "/admin/cases/case/add/", {"title": "Caso\x00 oculto", "confidentiality": "internal"}
        )
        assert response.status_code == 400
        assert not Case.objects.exists()

    def test_tabs_and_line_breaks_in_a_text_are_fine(self, client_for, documentalist):
        response = client_for(documentalist).post(
            "/admin/cases/case/add/", {"title": "", "summary": "Línea uno\r\n\tLínea dos"}
        )
        assert response.status_code == 200  # the form's own error (no title), not a 400

    def test_the_request_log_never_fails_to_save(self):
        from api.base import api_request_log

        class View:
            log_name = "incidents"

        request = APIClient().get("/").wsgi_request
        from rest_framework.request import Request

        wrapped = Request(request)
        wrapped._request.GET = wrapped._request.GET.copy()
        wrapped._request.GET["x"] = "a\x00b"
        entry = api_request_log(wrapped, view=View(), status=400, rows=None)
        entry.refresh_from_db()
        assert "\x00" not in entry.filters["x"]

    def test_a_control_character_in_a_header_is_refused_before_the_login(self, coordinator):
        from django.test import Client

        def guess(**headers):
            return Client().post(
                "/admin/login/",
                {
                    "login_view-current_step": "auth",
                    "auth-username": "coordinadora",
                    "auth-password": "equivocada",
                },
                **headers,
            )

        # On PostgreSQL the lockout could not store such a user agent: no failure counted.
        assert guess(HTTP_USER_AGENT="Mozilla\x00/5.0").status_code == 400
        assert guess(HTTP_ACCEPT="text/html\x01").status_code == 400
        assert guess(HTTP_USER_AGENT="Mozilla/5.0\t(X11)").status_code == 200
