import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count

from accounts import services as accounts_services
from cases.models import Case, Incident, Involvement, Source
from demo.loader import DemoLoader
from organizations.models import Defender, Membership, Organization, Perpetrator

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]


def month(m):
    return Incident.objects.counted().in_month(2021, m)


def by_type(queryset):
    return dict(queryset.values_list("type").annotate(n=Count("id")))


def test_july_2021_reproduces_the_cdj_bulletin():
    july = month(7)
    assert july.count() == 140
    assert by_type(july) == {
        "stigmatization": 112,
        "intimidation": 14,
        "arbitrary_detention": 5,
        "judicial_harassment": 4,
        "raid": 2,
        "other": 3,
    }
    assert july.filter(defender__isnull=False).count() == 72
    assert july.filter(organization__isnull=False).count() == 68


def test_july_perpetrators_are_led_by_state_media_officials_and_security_forces():
    categories = (
        Involvement.objects.filter(incident__in=month(7))
        .values("perpetrator__category")
        .annotate(incidents=Count("incident", distinct=True))
        .order_by("-incidents")
        .values_list("perpetrator__category", flat=True)
    )
    assert list(categories[:3]) == ["state_media", "public_official", "security_force"]
    acronyms = set(
        Involvement.objects.filter(incident__in=month(7)).values_list(
            "perpetrator__acronym", flat=True
        )
    )
    assert {"SEBIN", "PNB", "VTV"} <= acronyms


def test_the_first_half_of_2021_matches_cdj_figures():
    assert [month(m).count() for m in range(1, 7)] == [99, 41, 43, 76, 80, 35]
    assert sum(month(m).count() for m in range(1, 4)) == 183
    january = month(1)
    assert january.filter(organization__isnull=False).count() == 59
    assert january.filter(defender__isnull=False).count() == 40
    first_half = Incident.objects.counted().filter(occurred_on__range=("2021-01-01", "2021-06-30"))
    assert first_half.count() == 374
    assert by_type(first_half) == {
        "stigmatization": 252,
        "intimidation": 43,
        "threat": 35,
        "judicial_harassment": 11,
        "arbitrary_detention": 11,
        "digital_attack": 11,
        "other": 8,
        "raid": 3,
    }


def test_january_to_july_is_514():
    assert sum(month(m).count() for m in range(1, 8)) == 514


def test_it_includes_the_tarazona_case():
    case = Case.objects.get(title__startswith="Detención de Javier Tarazona")
    assert case.status == Case.Status.PUBLISHED
    assert case.state == "VE-I" and case.place == "Coro"
    detained = case.incidents.filter(type="arbitrary_detention")
    assert sorted(detained.values_list("defender__full_name", flat=True)) == [
        "Javier Tarazona",
        "Jhonny Romero",
        "José Rafael Tarazona",
        "Omar de Dios García",
    ]
    assert set(detained.values_list("involvements__perpetrator__acronym", flat=True)) == {"SEBIN"}
    assert case.incidents.filter(type="judicial_harassment").count() == 3
    assert case.sources.count() == 3
    assert case.sources.filter(confidential=True).count() == 1
    assert case.highlight.startswith("El director de FundaRedes")  # July's destacado


def test_it_shows_records_that_are_not_counted():
    assert Case.objects.filter(status="draft").exists()
    assert Case.objects.filter(status="retracted").exists()
    assert Incident.objects.filter(duplicate_of__isnull=False).exists()
    assert Incident.objects.filter(date_precision="year").exists()


def test_it_creates_one_account_per_role_and_a_system_user():
    users = get_user_model().objects
    for username, group in [
        ("documentalista", "Documentalista"),
        ("revisora", "Revisor"),
        ("abogada", "Abogado"),
        ("analista", "Analista"),
        ("coordinadora", "Coordinador"),
    ]:
        user = users.get(username=username)
        assert user.is_staff and user.check_password(f"demo-{username}-2021")
        assert list(user.groups.values_list("name", flat=True)) == [group]
    system = users.get(username="sistema")
    assert not system.is_active and not system.has_usable_password()
    assert Case.history.filter(history_user=system).exists()


def test_a_second_run_changes_nothing(settings):
    from legal.models import Detention, Hearing, Proceeding

    models = [
        Case,
        Incident,
        Involvement,
        Source,
        Defender,
        Organization,
        Perpetrator,
        Membership,
        Detention,
        Proceeding,
        Hearing,
    ]

    def snapshot():
        return {
            model.__name__: (model.objects.count(), model.history.count()) for model in models
        } | {"users": get_user_model().objects.count()}

    before = snapshot()
    settings.DEBUG = True
    call_command("load_demo", stdout=io.StringIO())
    assert snapshot() == before


def test_it_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("load_demo")


def test_it_reuses_people_and_organizations_whatever_the_case_of_their_names():
    loader = DemoLoader()
    loader.user = accounts_services.system_user()
    fundaredes = Organization.objects.get(name="FundaRedes")
    assert loader.organization("FUNDAREDES", Organization.Kind.HUMAN_RIGHTS_NGO) == fundaredes
    assert loader.defender("javier tarazona") == Defender.objects.get(full_name="Javier Tarazona")
    assert not loader.created


def test_its_restricted_case_is_seen_only_by_its_team_and_coordinators():
    users = get_user_model().objects
    restricted = Case.objects.get(confidentiality="restricted")
    for username, sees in [("documentalista", True), ("coordinadora", True), ("analista", False)]:
        visible = Case.objects.visible_to(users.get(username=username))
        assert visible.filter(pk=restricted.pk).exists() is sees, username
    protected = restricted.incidents.get().defender
    assert protected.identity_protected
    assert protected.name_for(users.get(username="analista")) == protected.pseudonym


def test_the_tarazona_detention_shows_1675_days_and_14_deferrals(client_for):
    from legal.models import Detention, Proceeding

    lawyer = get_user_model().objects.get(username="abogada")
    javier = Detention.objects.get(incident__defender__full_name="Javier Tarazona")
    assert javier.days_in_detention == 1675
    jhonny = Detention.objects.get(incident__defender__full_name="Jhonny Romero")
    assert jhonny.days_in_detention == 0 and jhonny.status == "released"
    assert Detention.objects.filter(incident__case=javier.incident.case).count() == 4
    proceeding = Proceeding.objects.get(defendants=javier.incident.defender)
    assert proceeding.hearings.filter(held=False).count() == 14
    assert sorted(proceeding.charges.values_list("code", flat=True)) == [
        "incitement_to_hatred",
        "terrorism",
        "treason",
    ]
    client = client_for(lawyer)
    page = client.get(f"/legal/detentions/{javier.public_id}/").content.decode()
    assert "1675" in page and "El Helicoide" in page
    dashboard = client.get("/legal/")
    assert dashboard.status_code == 200
    incident_page = client.get(f"/admin/cases/incident/{javier.incident_id}/change/")
    assert incident_page.status_code == 200 and "El Helicoide" in incident_page.content.decode()
    assert client.get(f"/admin/legal/proceeding/{proceeding.pk}/change/").status_code == 200
    detention_page = client.get(f"/admin/legal/detention/{javier.pk}/change/")
    assert detention_page.context["has_change_permission"]  # the lawyer edits it here
