"""Staff accounts: one role each, staff exactly when they have one, told in words when they
may not enter; the security log says who changed what, in sentences."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from accounts.models import SecurityEvent
from accounts.services import user_role_set

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def enter_password(client, username, password):
    return client.post(
        LOGIN,
        {"login_view-current_step": "auth", "auth-username": username, "auth-password": password},
    )


def test_a_coordinator_creates_an_account_that_can_sign_in_at_once(client_for, coordinator):
    page = client_for(coordinator).post(
        reverse("admin:auth_user_add"),
        {
            "username": "nueva",
            "first_name": "Nueva",
            "last_name": "Documentalista",
            "email": "",
            "role": "Documentalista",
            "password1": "una-clave-larga-y-segura-2026",
            "password2": "una-clave-larga-y-segura-2026",
        },
    )
    assert page.status_code == 302, page.context["adminform"].form.errors
    user = User.objects.get(username="nueva")
    assert user.is_staff and [g.name for g in user.groups.all()] == ["Documentalista"]
    # Past the password: to enrol an authenticator, not back to an empty login form.
    answer = enter_password(Client(), "nueva", "una-clave-larga-y-segura-2026")
    assert answer.status_code == 302 and "/account/two_factor/setup/" in answer["Location"]


def test_an_account_holds_one_role(client_for, coordinator):
    user = User.objects.create_user("doble", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Analista"), Group.objects.get(name="Revisor"))
    url = reverse("admin:auth_user_change", args=[user.pk])
    form = client_for(coordinator).get(url).context["adminform"].form
    assert form.fields["role"].widget.input_type == "radio"
    user_role_set(user=user, role="Abogado", by=coordinator)
    assert [g.name for g in user.groups.all()] == ["Abogado"] and user.is_staff
    user_role_set(user=user, role=None, by=coordinator)
    user.refresh_from_db()
    assert not user.groups.exists() and not user.is_staff


def test_an_account_without_a_role_is_told_why_it_cannot_enter():
    User.objects.create_user("sinrol", password="clave-de-prueba-larga")
    page = enter_password(Client(), "sinrol", "clave-de-prueba-larga")
    assert page.status_code == 200
    assert "no tiene un rol en Defensores" in page.content.decode()


def test_the_user_list_shows_role_and_second_factor(client_for, coordinator, documentalist):
    page = client_for(coordinator).get(reverse("admin:auth_user_changelist"))
    html = page.content.decode()
    assert "Documentalista" in html and "segundo factor" in html.lower()


def test_the_security_log_names_who_changed_a_role_in_a_sentence(
    client_for, coordinator, documentalist
):
    url = reverse("admin:auth_user_change", args=[documentalist.pk])
    client = client_for(coordinator)
    data = {
        "username": "documentalista",
        "first_name": "",
        "last_name": "",
        "email": "",
        "role": "Revisor",
        "is_active": "on",
    }
    assert client.post(url, data).status_code == 302
    event = SecurityEvent.objects.filter(kind="permission_change", user=documentalist).first()
    assert event.details["by"] == "coordinadora"
    log = client.get(reverse("admin:accounts_securityevent_changelist")).content.decode()
    assert "Por coordinadora. Se otorgó: Revisor." in log
