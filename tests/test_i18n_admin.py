import pytest

pytestmark = pytest.mark.django_db


def test_the_login_page_speaks_spanish_by_default(client):
    html = client.get("/admin/login/").content.decode()
    assert 'lang="es"' in html
    assert "Nombre de usuario" in html


def test_the_login_page_speaks_english_on_request(client):
    html = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in html
    assert "Username" in html


def test_the_home_page_leads_to_the_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
