"""The admin stays as fast at a million rows as at ten thousand: no full COUNT(*), no
DISTINCT over every incident, trigram indexes for name searches (PostgreSQL)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.formats import date_format

from cases.models import Incident
from core import pagination
from tests.factories import CaseFactory, IncidentFactory, InvolvementFactory, PerpetratorFactory

pytestmark = pytest.mark.django_db


def test_a_filtered_list_counts_at_most_the_cap(monkeypatch, client_for, coordinator):
    monkeypatch.setattr(pagination, "CAP", 3)
    for _ in range(5):
        IncidentFactory(case=CaseFactory(status="verified"))
    page = client_for(coordinator).get("/admin/cases/incident/", {"type__exact": "stigmatization"})
    assert page.context["cl"].paginator.capped
    assert "más de 3 incidentes" in page.content.decode()


def test_a_small_unfiltered_list_is_counted_exactly(client_for, coordinator):
    IncidentFactory()
    page = client_for(coordinator).get("/admin/cases/incident/")
    assert not page.context["cl"].paginator.estimated
    assert not page.context["cl"].paginator.capped
    assert page.context["cl"].result_count == 1


@pytest.mark.parametrize("cap", [3, 100])
def test_an_unfiltered_count_counts_the_lists_rows_grouped_or_distinct(monkeypatch, cap):
    """Below ESTIMATE_FROM an unfiltered list is counted (capped): its rows, as the list
    has them, not the table's."""
    from django.db.models import Count

    monkeypatch.setattr(pagination, "CAP", cap)
    for _ in range(5):
        IncidentFactory(type="raid")
    IncidentFactory(type="threat")
    for queryset, rows in (
        (Incident.objects.order_by("type").values("type").annotate(n=Count("pk")), 2),
        (Incident.objects.order_by("type").values("type").distinct(), 2),
        (Incident.objects.order_by("pk"), 6),
    ):
        paginator = pagination.LargeTablePaginator(queryset, 10)
        assert paginator.count == min(rows, cap)
        assert paginator.capped == (rows > cap)
        assert not paginator.estimated


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_class estimates")
def test_a_big_unfiltered_list_takes_the_planners_estimate(monkeypatch, client_for, coordinator):
    monkeypatch.setattr(pagination, "ESTIMATE_FROM", 0)
    IncidentFactory()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_incident")
    client = client_for(coordinator)
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/admin/cases/incident/")
    assert page.context["cl"].paginator.estimated
    counts = [
        q["sql"] for q in captured if "COUNT(" in q["sql"].upper() and "cases_incident" in q["sql"]
    ]
    # One statement reads the estimate and would count only below ESTIMATE_FROM: the count
    # is in it, and never runs.
    assert len(counts) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + counts[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Aggregate (never executed)" in plan, plan


def test_a_coordinator_list_has_no_semi_join_over_the_whole_table(client_for, coordinator):
    IncidentFactory()
    client = client_for(coordinator)
    with CaptureQueriesContext(connection) as captured:
        client.get("/admin/cases/incident/")
    listing = [q["sql"] for q in captured if q["sql"].startswith('SELECT "cases_incident"."id"')]
    assert listing and all(" IN (SELECT" not in sql for sql in listing)


def test_the_list_page_makes_seven_queries_and_the_month_filter_none(client_for, coordinator):
    """Session, user with permissions, second-factor device; the import batches, the count
    and the rows; the bell's unread count. The month filter offers its months without
    reading any incident."""
    IncidentFactory()
    client = client_for(coordinator)
    client.get("/admin/cases/incident/")  # the idle timeout may save the session once
    for url in ("/admin/cases/incident/", "/admin/cases/incident/?month=2021-07&type=raid"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        assert len(captured) <= 7, [q["sql"][:80] for q in captured]
        incident_reads = [q["sql"] for q in captured if '"cases_incident"' in q["sql"]]
        assert len(incident_reads) == 2  # the count and the page


def test_the_month_filter_offers_recent_months_and_any_other(client_for, coordinator):
    import datetime

    from django.utils import timezone

    old = IncidentFactory(occurred_on=datetime.date(2009, 3, 5), type="raid")
    other = IncidentFactory(occurred_on=datetime.date(2009, 3, 6), type="threat")
    IncidentFactory(occurred_on=datetime.date(2009, 4, 6), case=other.case)
    client = client_for(coordinator)
    page = client.get("/admin/cases/incident/")
    cl = page.context["cl"]
    [month] = [spec for spec in cl.filter_specs if getattr(spec, "parameter_name", "") == "month"]
    choices = list(month.choices(cl))
    links = [choice["display"] for choice in choices if not choice.get("picker")]
    this_month = date_format(timezone.localdate(), "YEAR_MONTH_FORMAT")
    assert links[1] == this_month and len(links) == 13  # "Todo" and 12 months
    assert b'type="month"' in page.content

    # Any month, kept with the other filters (the picker sends them as hidden fields).
    page = client.get("/admin/cases/incident/?type__exact=raid&month=2009-03")
    assert list(page.context["cl"].result_list) == [old]
    html = page.content.decode()
    assert '<input type="hidden" name="type__exact" value="raid">' in html
    assert 'name="month" value="2009-03"' in html
    assert '<li class="selected">\n      <form method="get"' in html

    # The case list has the same picker, by the month of a case's incidents.
    page = client.get("/admin/cases/case/?month=2009-3&status__exact=" + old.case.status)
    assert set(page.context["cl"].result_list) == {old.case, other.case}
    html = page.content.decode()
    assert 'name="month" value="2009-03"' in html
    assert f'<input type="hidden" name="status__exact" value="{old.case.status}">' in html

    # A hand-typed month without its zero is the same month, shown as the picker writes it.
    page = client.get("/admin/cases/incident/?month=2009-3")
    assert len(page.context["cl"].result_list) == 2
    assert 'name="month" value="2009-03"' in page.content.decode()


def test_the_newest_incidents_come_first(client_for, coordinator):
    import datetime

    old = IncidentFactory(occurred_on=datetime.date(2019, 1, 1))
    new = IncidentFactory(occurred_on=datetime.date(2021, 1, 1))
    page = client_for(coordinator).get("/admin/cases/incident/")
    assert list(page.context["cl"].result_list) == [new, old]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes")
@pytest.mark.parametrize(
    "model, lookup, index",
    [
        ("organizations.Defender", "full_name__icontains", "organizations_defender_name_trgm"),
        ("organizations.Organization", "name__icontains", "organizations_organization_name_trgm"),
        ("organizations.Perpetrator", "name__icontains", "organizations_perpetrator_name_trgm"),
        ("cases.Case", "title__icontains", "cases_case_title_trgm"),
    ],
)
def test_name_searches_can_use_a_trigram_index(model, lookup, index):
    from django.apps import apps

    queryset = apps.get_model(model).objects.filter(**{lookup: "tarazona"})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert index in plan


def test_the_incident_index_serves_the_list_order():
    assert "cases_incident_date_idx" in [index.name for index in Incident._meta.indexes]


def case_form_queries(client, children: int) -> int:
    from cases.models import Case

    case = CaseFactory(status=Case.Status.DRAFT)
    perpetrator = PerpetratorFactory()
    for _ in range(children):
        incident = IncidentFactory(case=case)
        InvolvementFactory(incident=incident, perpetrator=perpetrator)
        InvolvementFactory(incident=incident)
    client.get(f"/admin/cases/case/{case.pk}/change/")  # warm caches (content types, perms)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/admin/cases/case/{case.pk}/change/").status_code == 200
    return len(captured)


def test_the_case_form_costs_the_same_with_1_or_20_incidents(client_for, coordinator):
    client = client_for(coordinator)
    assert case_form_queries(client, 1) == case_form_queries(client, 20)


def test_the_case_form_still_shows_each_incidents_target_and_perpetrators(client_for, coordinator):
    from cases.models import Case

    case = CaseFactory(status=Case.Status.DRAFT)
    incident = IncidentFactory(case=case)
    InvolvementFactory(incident=incident, perpetrator=PerpetratorFactory(name="SEBIN visible"))
    page = client_for(coordinator).get(f"/admin/cases/case/{case.pk}/change/").content.decode()
    assert "SEBIN visible" in page and incident.defender.full_name in page
