"""The whole role matrix: role × model × add/view/change/delete, and the workflow rights."""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db

MODELS = {
    "organizations": ["organization", "defender", "membership", "perpetrator"],
    "cases": ["case", "incident", "involvement", "source"],
}
WORKFLOW = [
    "cases.submit_case",
    "cases.verify_case",
    "cases.publish_case",
    "cases.retract_case",
    "cases.mark_duplicate_incident",
]
EDIT = {"add", "view", "change"}
EXPECTED = {
    # role: (actions on every domain model, workflow rights)
    "documentalist": (EDIT, {"cases.submit_case"}),
    "reviewer": (EDIT, set(WORKFLOW)),
    "lawyer": ({"view"}, {"cases.submit_case"}),  # the arrests they open go to review
    "analyst": ({"view"}, set()),
    "coordinator": (EDIT, set(WORKFLOW)),
}


@pytest.mark.parametrize("role", EXPECTED)
def test_each_role_has_exactly_its_permissions_on_domain_models(request, role):
    user = request.getfixturevalue(role)
    actions, workflow = EXPECTED[role]
    for app, models in MODELS.items():
        for model in models:
            for action in ["add", "view", "change", "delete"]:
                perm = f"{app}.{action}_{model}"
                assert user.has_perm(perm) is (action in actions), f"{role}: {perm}"
    for perm in WORKFLOW:
        assert user.has_perm(perm) is (perm in workflow), f"{role}: {perm}"


@pytest.mark.parametrize("role", EXPECTED)
def test_only_coordinators_manage_accounts_and_read_the_security_log(request, role):
    user = request.getfixturevalue(role)
    coordinator = role == "coordinator"
    for perm in [
        "auth.add_user",
        "auth.change_user",
        "auth.view_user",
        "auth.change_group",
        "accounts.view_securityevent",
        "axes.delete_accessattempt",
        "otp_totp.delete_totpdevice",
        "api.add_ally",
        "api.change_ally",
        "api.add_apikey",
        "api.change_apikey",
        "api.view_apirequest",
    ]:
        assert user.has_perm(perm) is coordinator, f"{role}: {perm}"
    # Keys are revoked and allies deactivated, never deleted; the API log is never edited.
    for perm in ["delete_ally", "delete_apikey", "change_apirequest", "delete_apirequest"]:
        assert not user.has_perm(f"organizations.{perm}"), f"{role}: {perm}"
    assert not user.has_perm("auth.delete_user")
    assert not user.has_perm("accounts.delete_securityevent")


def test_the_roles_are_the_five_groups():
    assert set(Group.objects.values_list("name", flat=True)) == {
        "Documentalista",
        "Revisor",
        "Abogado",
        "Analista",
        "Coordinador",
    }


def test_only_reviewers_may_mark_duplicates_in_the_form(client_for, documentalist, reviewer):
    from tests.factories import CaseFactory, IncidentFactory

    incident = IncidentFactory(case=CaseFactory(status="draft"))
    url = f"/admin/cases/incident/{incident.pk}/change/"
    form = client_for(documentalist).get(url).context["adminform"].form
    assert "duplicate_of" not in form.fields
    form = client_for(reviewer).get(url).context["adminform"].form
    assert "duplicate_of" in form.fields


IMPORTS = {
    # role: (import and export, retract imports, see and decide likely duplicates)
    "documentalist": (True, False, False),
    "reviewer": (True, True, True),
    "lawyer": (False, False, False),
    "analyst": (False, False, False),
    "coordinator": (True, True, True),
}


@pytest.mark.parametrize("role", IMPORTS)
def test_documentation_staff_import_and_reviewers_retract_and_decide_duplicates(request, role):
    user = request.getfixturevalue(role)
    imports, retract, duplicates = IMPORTS[role]
    assert user.has_perm("cases.import_incidents") is imports
    assert user.has_perm("cases.view_importbatch") is imports
    assert user.has_perm("cases.retract_importbatch") is retract
    assert user.has_perm("cases.view_duplicatepair") is duplicates
    for model in ("importbatch", "duplicatepair"):
        for action in ("add", "change", "delete"):
            assert not user.has_perm(f"cases.{action}_{model}")
