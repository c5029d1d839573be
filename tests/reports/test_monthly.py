import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import Case, Incident
from organizations.vocabularies import PerpetratorCategory, State
from reports import services
from reports.models import MonthlySnapshot
from reports.selectors import monthly_figures, monthly_report
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    PerpetratorFactory,
)

pytestmark = pytest.mark.django_db


class TestAccess:
    def test_strangers_and_unverified_sessions_get_nothing(self, client, analyst, settings):
        assert client.get("/reports/monthly/2021/7/").status_code == 302
        assert client.get("/api/v1/stats/monthly/?month=2021-07").status_code in (401, 403)
        client.force_login(analyst)  # password only, no second factor
        assert client.get("/reports/monthly/2021/7/").status_code == 302
        assert client.get("/api/v1/stats/monthly/?month=2021-07").status_code == 403

    def test_an_impossible_month_is_not_found(self, client_for, analyst):
        assert client_for(analyst).get("/reports/monthly/2021/13/").status_code == 404


class TestSnapshots:
    def test_a_published_month_shows_its_revision_instead_of_changing(
        self, client_for, reviewer, analyst
    ):
        for _ in range(3):
            IncidentFactory(occurred_on=datetime.date(2021, 7, 5))
        snapshot = services.month_publish(year=2021, month=7, user=reviewer)
        assert snapshot.figures["total"] == 3 and snapshot.version == 1
        # Two late reports arrive for July.
        IncidentFactory(occurred_on=datetime.date(2021, 7, 9), type="threat")
        IncidentFactory(
            occurred_on=datetime.date(2021, 7, 9),
            type="raid",
            defender=None,
            organization=OrganizationFactory(),
        )
        report = monthly_report(2021, 7)
        assert report["total"] == 5
        assert report["snapshot"]["figures"]["total"] == 3
        assert report["snapshot"]["revision"] == {"total": 2, "by_type": {"threat": 1, "raid": 1}}
        page = client_for(analyst).get("/reports/monthly/2021/7/").content.decode()
        assert "+2" in page and "+1 amenazas" in page and "+1 allanamiento" in page

    def test_publishing_again_makes_a_new_version_and_keeps_the_first(self, reviewer):
        IncidentFactory(occurred_on=datetime.date(2021, 7, 5))
        first = services.month_publish(year=2021, month=7, user=reviewer)
        IncidentFactory(occurred_on=datetime.date(2021, 7, 6))
        second = services.month_publish(year=2021, month=7, user=reviewer)
        assert (first.version, second.version) == (1, 2)
        assert MonthlySnapshot.objects.get(pk=first.pk).figures["total"] == 1
        assert monthly_report(2021, 7)["snapshot"]["version"] == 2

    def test_publishing_asks_first_showing_what_it_freezes(self, client_for, analyst, reviewer):
        assert client_for(analyst).get("/reports/monthly/2021/7/publish/").status_code == 403
        page = client_for(reviewer).get("/reports/monthly/2021/7/")
        text = page.content.decode()
        # The toolbar is at the top: downloads and publishing before the figures.
        assert text.index("report.csv") < text.index('class="figures"')
        assert text.index("/reports/monthly/2021/7/publish/") < text.index('class="figures"')
        confirm = client_for(reviewer).get("/reports/monthly/2021/7/publish/")
        assert confirm.status_code == 200 and not MonthlySnapshot.objects.exists()
        shown = confirm.content.decode()
        assert "congela" in shown and f">{monthly_report(2021, 7)['total']}<" in shown

    def test_only_reviewers_publish(self, client_for, analyst, reviewer):
        assert client_for(analyst).post("/reports/monthly/2021/7/publish/").status_code == 403
        response = client_for(reviewer).post("/reports/monthly/2021/7/publish/")
        assert response.status_code == 302
        snapshot = MonthlySnapshot.objects.get()
        assert snapshot.published_by == reviewer
        assert snapshot.history.get().history_user == reviewer

    def test_a_snapshot_is_never_rewritten(self, reviewer):
        from core.audit import AuditBypassError

        services.month_publish(year=2021, month=7, user=reviewer)
        with pytest.raises(AuditBypassError):
            MonthlySnapshot.objects.update(figures={})


class TestQueries:
    def test_the_page_costs_the_same_queries_for_3_or_60_incidents(
        self, client_for, analyst, django_assert_num_queries
    ):
        client = client_for(analyst)

        def add(n):
            for i in range(n):
                case = CaseFactory(status="published", confidentiality="public")
                incident = IncidentFactory(
                    case=case, occurred_on=datetime.date(2021, 7, 1 + i % 28)
                )
                InvolvementFactory(incident=incident, perpetrator=PerpetratorFactory(name=f"P{i}"))

        add(3)
        client.get("/reports/monthly/2021/7/")  # warm the session and the caches
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as small:
            client.get("/reports/monthly/2021/7/")
        add(57)
        with django_assert_num_queries(len(small.captured_queries)):
            client.get("/reports/monthly/2021/7/")


def orm_figures(year: int, month: int) -> dict:
    """The same figures the slow, obvious way (the ORM over Incident.objects.counted()): the
    hand-written SQL of monthly_figures must agree with it."""
    from django.db.models import Count, Q

    from cases.models import Involvement

    counted = Incident.objects.counted()
    in_month = counted.in_month(year, month)
    totals = in_month.aggregate(
        total=Count("id"),
        defenders=Count("id", filter=Q(defender__isnull=False)),
        organizations=Count("id", filter=Q(organization__isnull=False)),
        victims_d=Count("defender", distinct=True),
        victims_o=Count("organization", distinct=True),
        cases=Count("case", distinct=True),
    )
    involvements = Involvement.objects.filter(incident__in=in_month)
    by_category = dict(
        involvements.values_list("perpetrator__category")
        .annotate(n=Count("incident", distinct=True))
        .order_by()
    )
    top = (
        involvements.values("perpetrator__name", "perpetrator__acronym", "perpetrator__category")
        .annotate(n=Count("incident", distinct=True))
        .order_by("-n", "perpetrator__name")[:10]
    )
    by_state = dict(in_month.values_list("state").annotate(n=Count("id")).order_by())
    year_only = counted.in_year(year).filter(date_precision="year")
    return {
        "total": totals["total"],
        "by_type": {code: in_month.filter(type=code).count() for code in Incident.Type.values},
        "by_target": {"defender": totals["defenders"], "organization": totals["organizations"]},
        "by_perpetrator_category": {
            code: by_category.get(code, 0) for code in PerpetratorCategory.values
        },
        "top_perpetrators": [
            {
                "name": row["perpetrator__name"],
                "acronym": row["perpetrator__acronym"],
                "category": row["perpetrator__category"],
                "incidents": row["n"],
            }
            for row in top
        ],
        "by_state": {code: by_state.get(code, 0) for code in State.values}
        | {"unknown": by_state.get("", 0)},
        "distinct_victims": totals["victims_d"] + totals["victims_o"],
        "cases": totals["cases"],
        "year_only_incidents": year_only.count(),
    }


STATUSES = [s.value for s in Case.Status]
incident_specs = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(STATUSES),
            "type": st.sampled_from(Incident.Type.values),
            "day": st.integers(1, 31),
            "precision": st.sampled_from(["day", "month", "year"]),
            "target": st.sampled_from(["defender", "organization"]),
            "state": st.sampled_from(["", "VE-A", "VE-I", "VE-S"]),
            "duplicate": st.booleans(),
            "perpetrators": st.integers(0, 3),
        }
    ),
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=incident_specs)
def test_breakdowns_sum_to_the_total_and_only_counted_incidents_count(specs):
    from django.db import transaction

    with transaction.atomic():
        perpetrators = [
            PerpetratorFactory(name=f"Perp {i}", category=c)
            for i, c in enumerate(["state_media", "security_force", "unknown"])
        ]
        expected = 0
        original = IncidentFactory(occurred_on=datetime.date(2021, 6, 1))  # June, counted
        for spec in specs:
            case = CaseFactory(status=spec["status"])
            target = (
                {"defender": DefenderFactory(), "organization": None}
                if spec["target"] == "defender"
                else {"defender": None, "organization": OrganizationFactory()}
            )
            date = datetime.date(2021, 7, min(spec["day"], 31))
            incident = IncidentFactory(
                case=case,
                type=spec["type"],
                occurred_on=date,
                date_precision=spec["precision"],
                state=spec["state"],
                duplicate_of=original if spec["duplicate"] else None,
                **target,
            )
            for perpetrator in perpetrators[: spec["perpetrators"]]:
                InvolvementFactory(incident=incident, perpetrator=perpetrator)
            counted = (
                spec["status"] in ("verified", "published")
                and not spec["duplicate"]
                and spec["precision"] != "year"
            )
            expected += counted
        figures = monthly_figures(2021, 7)
        assert figures == figures | orm_figures(2021, 7)
        assert (
            figures["previous_month"]["total"]
            == Incident.objects.counted().in_month(2021, 6).count()
        )
        assert figures["year_to_date"]["total"] == sum(
            Incident.objects.counted().in_month(2021, m).count() for m in range(1, 8)
        )
        assert figures["total"] == expected
        assert sum(figures["by_type"].values()) == expected
        assert sum(figures["by_target"].values()) == expected
        assert sum(figures["by_state"].values()) == expected
        assert all(n <= expected for n in figures["by_perpetrator_category"].values())
        assert figures["previous_month"]["total"] == 1
        transaction.set_rollback(True)


def test_published_cases_show_protected_defenders_by_pseudonym(client_for, analyst):
    defender = DefenderFactory(full_name="Rosa Ejemplar", identity_protected=True)
    case = CaseFactory(status="published", confidentiality="public", title="Amenaza en Mérida")
    IncidentFactory(case=case, defender=defender, occurred_on=datetime.date(2021, 7, 3))
    restricted = CaseFactory(status="published", confidentiality="restricted", title="Reservado")
    IncidentFactory(case=restricted, occurred_on=datetime.date(2021, 7, 4))
    page = client_for(analyst).get("/reports/monthly/2021/7/").content.decode()
    assert "Amenaza en Mérida" in page and defender.pseudonym in page
    assert "Rosa Ejemplar" not in page
    assert "Reservado" not in page  # counted in the figures, never listed
    assert monthly_report(2021, 7)["total"] == 2


@pytest.mark.parametrize("month", ["0001-01", "2021-13", "julio", "9999-12"])
def test_an_impossible_month_in_the_api_is_a_400(client_for, analyst, month):
    response = client_for(analyst).get(f"/api/v1/stats/monthly/?month={month}")
    assert response.status_code == 400


def test_a_simultaneous_first_publication_is_refused_with_a_message(reviewer, monkeypatch):
    from django.core.exceptions import ValidationError

    from reports.models import MonthlySnapshot as Snapshot

    first = services.month_publish(year=2021, month=7, user=reviewer)
    # The other reviewer read "no version yet" just before this one was saved.
    monkeypatch.setattr(
        "reports.services.MonthlySnapshot.objects",
        Snapshot.objects.filter(pk__in=[]),
        raising=False,
    )
    with pytest.raises(ValidationError, match="acaba de publicar"):
        services.month_publish(year=2021, month=7, user=reviewer)
    monkeypatch.undo()
    assert Snapshot.objects.get().pk == first.pk


class TestBodies:
    def test_perpetrators_roll_up_to_the_body_they_are_part_of(self):
        pnb = PerpetratorFactory(name="Policía Nacional Bolivariana", acronym="PNB")
        faes = PerpetratorFactory(name="Fuerzas de Acciones Especiales", acronym="FAES", parent=pnb)
        unit = PerpetratorFactory(name="Unidad de FAES", acronym="", parent=faes)  # two levels
        sebin = PerpetratorFactory(name="Servicio Bolivariano", acronym="SEBIN")
        case = CaseFactory(status="verified")
        day = datetime.date(2021, 7, 9)
        both, faes_only, pnb_only, unit_only, sebin_only = (
            IncidentFactory(case=case, occurred_on=day) for _ in range(5)
        )
        for incident, body in [
            (both, pnb), (both, faes), (faes_only, faes), (pnb_only, pnb), (unit_only, unit),
            (sebin_only, sebin),
        ]:  # fmt: skip
            InvolvementFactory(incident=incident, perpetrator=body)
        draft = IncidentFactory(case=CaseFactory(status="draft"), occurred_on=day)
        InvolvementFactory(incident=draft, perpetrator=sebin)  # not counted
        figures = monthly_figures(2021, 7)
        assert figures["top_bodies"] == [
            {
                "name": "Policía Nacional Bolivariana",
                "acronym": "PNB",
                "category": pnb.category,
                "incidents": 4,  # an incident naming PNB and FAES once
                "parts": [
                    {"name": "Fuerzas de Acciones Especiales", "acronym": "FAES", "incidents": 2},
                    {"name": "Unidad de FAES", "acronym": "", "incidents": 1},
                ],
            },
            {
                "name": "Servicio Bolivariano",
                "acronym": "SEBIN",
                "category": sebin.category,
                "incidents": 1,
                "parts": [],
            },
        ]
        # Each perpetrator on its own, as before.
        assert {p["acronym"] or p["name"]: p["incidents"] for p in figures["top_perpetrators"]} == {
            "PNB": 2, "FAES": 2, "Unidad de FAES": 1, "SEBIN": 1
        }  # fmt: skip


class TestDownloadLog:
    def test_a_refused_download_is_not_logged_as_an_export(self, client_for, analyst):
        from accounts.models import SecurityEvent

        client = client_for(analyst)
        for fmt in ("exe", "pdf"):  # unknown; the bulletin has its own address
            assert client.get(f"/reports/monthly/2021/7/report.{fmt}").status_code == 404
        assert not SecurityEvent.objects.filter(kind="export").exists()
        assert client.get("/reports/monthly/2021/7/report.csv").status_code == 200
        assert SecurityEvent.objects.filter(kind="export").count() == 1
