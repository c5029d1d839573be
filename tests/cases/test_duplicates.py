"""Likely duplicate reports and people (HRDAG: record every report, count each attack once)."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from cases import duplicates, merges, services
from cases.models import DuplicatePair, Incident
from organizations.models import Membership
from organizations.names import fold, names_alike, person_key
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def report(user, *, day=15, type="stigmatization", **target):
    case = CaseFactory(status="verified")
    return services.incident_create(
        user=user, case=case, type=type, occurred_on=datetime.date(2021, 7, day), **target
    )


@pytest.mark.parametrize(
    "a, b, alike",
    [
        ("Javier Tarazona", "J. Tarazona", True),
        ("Javier Tarazona", "Tarazona, Javier", True),
        ("José Rafael Tarazona", "Jose Rafael TARAZONA", True),
        ("Javier Tarazona", "Javier Tarazona Sánchez", True),
        ("Javier Tarazona", "Omar García", False),
        ("Javier Tarazona", "Tarazona", False),
        ("J. Tarazona", "M. Tarazona", False),
    ],
)
def test_names_alike_see_through_accents_word_order_and_initials(a, b, alike):
    assert names_alike(a, b) is alike


def test_normalized_names():
    assert fold("  José  RAFAEL-Tarazona. ") == "jose rafael tarazona"
    assert person_key("Tarazona, Javier") == person_key("javier TARAZONA")


def test_a_likely_duplicate_is_flagged_on_save(documentalist):
    first = report(documentalist, defender=DefenderFactory(full_name="Javier Tarazona"))
    second = report(documentalist, day=17, defender=DefenderFactory(full_name="TARAZONA Javier"))
    pair = DuplicatePair.objects.get()
    assert (pair.first, pair.second, pair.status) == (first, second, "pending")
    assert pair.history.get().history_user == documentalist


@pytest.mark.parametrize(
    "earlier, later",
    [
        (datetime.date(2021, 12, 30), datetime.date(2022, 1, 2)),
        (datetime.date(2022, 1, 2), datetime.date(2021, 12, 30)),
    ],
)
def test_a_likely_duplicate_across_new_year_is_flagged(documentalist, earlier, later):
    """Three days apart across 31 December: the search reaches into the other year."""
    org = OrganizationFactory(name="FundaRedes")
    for day in (earlier, later):
        services.incident_create(
            user=documentalist,
            case=CaseFactory(status="verified"),
            type="stigmatization",
            occurred_on=day,
            organization=org,
        )
    assert DuplicatePair.objects.count() == 1


def test_the_search_window_stays_within_the_calendar():
    """Dates at the ends of what Python can hold widen no further than they go."""
    assert duplicates.window_of(datetime.date(1, 1, 2))["dlo"] == datetime.date.min
    assert duplicates.window_of(datetime.date(9999, 12, 30))["dhi"] == datetime.date.max
    assert duplicates.window_of(datetime.date(2021, 2, 27)) == {
        "ylo": datetime.date(2021, 1, 1),
        "yhi": datetime.date(2021, 12, 31),
        "mlo": datetime.date(2021, 2, 1),
        "mhi": datetime.date(2021, 2, 28),
        "dlo": datetime.date(2021, 2, 24),
        "dhi": datetime.date(2021, 3, 2),
    }


@pytest.mark.parametrize(
    "change",
    [{"day": 19}, {"type": "threat"}, {"name": "Otra Persona"}],
)
def test_no_flag_for_other_dates_types_or_targets(documentalist, change):
    report(documentalist, defender=DefenderFactory(full_name="Javier Tarazona"))
    report(
        documentalist,
        day=change.get("day", 15),
        type=change.get("type", "stigmatization"),
        defender=DefenderFactory(full_name=change.get("name", "Javier Tarazona")),
    )
    assert not DuplicatePair.objects.exists()


def test_a_reviewer_marks_a_duplicate_which_stops_counting_and_can_reopen(documentalist, reviewer):
    org = OrganizationFactory(name="FundaRedes")
    first, second = report(documentalist, organization=org), report(documentalist, organization=org)
    pair = DuplicatePair.objects.get()
    services.duplicate_pair_decide(pair=pair, user=reviewer, original=first)
    second.refresh_from_db()
    assert second.duplicate_of == first
    assert Incident.objects.counted().count() == 1 and Incident.objects.count() == 2
    with pytest.raises(ValidationError):
        services.duplicate_pair_decide(pair=pair, user=reviewer, original=None)
    services.duplicate_pair_reopen(pair=pair, user=reviewer, reason="Eran dos hechos")
    second.refresh_from_db()
    assert second.duplicate_of is None and Incident.objects.counted().count() == 2
    pair.refresh_from_db()
    assert pair.status == "pending"
    assert [h.status for h in pair.history.order_by("history_id")] == [
        "pending",
        "duplicate",
        "pending",
    ]


def test_not_a_duplicate_is_never_flagged_again_for_that_pair(documentalist, reviewer):
    org = OrganizationFactory(name="FundaRedes")
    first = report(documentalist, organization=org)
    second = report(documentalist, organization=org)
    pair = DuplicatePair.objects.get()
    services.duplicate_pair_decide(pair=pair, user=reviewer, original=None)
    services.incident_save(incident=Incident.objects.get(pk=second.pk), user=documentalist)
    services.incident_save(incident=Incident.objects.get(pk=first.pk), user=documentalist)
    assert DuplicatePair.objects.count() == 1
    assert DuplicatePair.objects.get().status == "not_duplicate"


def test_the_review_page_shows_both_side_by_side_and_decides(client_for, documentalist, reviewer):
    org = OrganizationFactory(name="FundaRedes")
    first, second = report(documentalist, organization=org), report(documentalist, organization=org)
    pair = DuplicatePair.objects.get()
    client = client_for(reviewer)
    assert client.get("/admin/cases/duplicatepair/").status_code == 200
    url = f"/admin/cases/duplicatepair/{pair.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and len(page.context["comparison"]) > 5
    client.post(url, {"decision": "first", "reason": "Misma nota"})
    second.refresh_from_db()
    assert second.duplicate_of_id == first.pk


def test_only_reviewers_decide(client_for, documentalist):
    org = OrganizationFactory(name="FundaRedes")
    report(documentalist, organization=org), report(documentalist, organization=org)
    pair = DuplicatePair.objects.get()
    response = client_for(documentalist).post(
        f"/admin/cases/duplicatepair/{pair.pk}/change/", {"decision": "first"}
    )
    assert response.status_code == 403
    assert not Incident.objects.filter(duplicate_of__isnull=False).exists()


def test_similar_people_and_organizations_are_suggested():
    a = DefenderFactory(full_name="Javier Tarazona")
    b = DefenderFactory(full_name="J. Tarazona")
    DefenderFactory(full_name="Omar García")
    assert duplicates.similar_defenders() == [(a, b)]
    x = OrganizationFactory(name="Fundación Redes", acronym="FundaRedes")
    y = OrganizationFactory(name="fundaredes")
    assert duplicates.similar_organizations() == [(x, y)]


def test_a_merge_repoints_every_incident_and_keeps_both_histories(reviewer):
    survivor = DefenderFactory(full_name="Javier Tarazona")
    merged = DefenderFactory(full_name="J. Tarazona", identity_protected=True)
    org = OrganizationFactory()
    Membership.objects.create(defender=merged, organization=org)
    incidents = [IncidentFactory(defender=merged) for _ in range(2)]
    merges.defender_merge(survivor=survivor, merged=merged, user=reviewer)
    for incident in incidents:
        incident.refresh_from_db()
        assert incident.defender == survivor
        assert incident.history.latest("history_id").history_user == reviewer
    merged.refresh_from_db()
    survivor.refresh_from_db()
    assert merged.merged_into == survivor  # kept, never deleted
    assert survivor.identity_protected  # protection asked under either record holds
    assert survivor.memberships.get().organization == org
    assert merged.history.count() == 2 and survivor.history.count() == 2
    with pytest.raises(ValidationError):
        merges.defender_merge(survivor=survivor, merged=merged, user=reviewer)


def test_an_organization_merge_from_the_admin(client_for, reviewer, documentalist):
    survivor = OrganizationFactory(name="FundaRedes")
    merged = OrganizationFactory(name="Funda Redes")
    incident = IncidentFactory(defender=None, organization=merged)
    url = "/admin/organizations/organization/merge/"
    url += f"?survivor={survivor.public_id}&merged={merged.public_id}"
    assert client_for(documentalist).get(url).status_code == 403
    client = client_for(reviewer)
    assert client.get(url).status_code == 200
    response = client.post(
        "/admin/organizations/organization/merge/",
        {"survivor": survivor.public_id, "merged": merged.public_id, "confirm": "1"},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.organization == survivor
    assert client.get("/admin/organizations/organization/similar/").status_code == 200


def random_day(rng, first: datetime.date, days: int) -> tuple[datetime.date, str]:
    """A date among `days` from `first`, most known to the day, some to the month or year
    only (then the month's or year's first day, as stored)."""
    precision = rng.choice(["day", "day", "day", "month", "year"])
    day = first + datetime.timedelta(days=rng.randrange(days))
    stored = {"day": day, "month": day.replace(day=1), "year": day.replace(month=1, day=1)}
    return stored[precision], precision


@pytest.mark.parametrize("seed, at_once", [(1, 5000), (2, 5000), (3, 5000), (4, 7)])
def test_the_database_finds_exactly_the_pairs_the_rule_describes(seed, at_once, monkeypatch):
    """The search (a join the database makes) against the rule written out pair by pair:
    same type, same target key, close in time, neither marked duplicate nor in a retracted
    case — over random incidents of a few look-alike people and one organization; the new
    incidents searched all at once, or a few at a time (pairs across the chunks)."""
    import random

    monkeypatch.setattr(duplicates, "NEW_AT_ONCE", at_once)

    rng = random.Random(seed)
    people = [DefenderFactory(full_name=name) for name in ("Ana Pérez", "PÉREZ, Ana", "Luis Díaz")]
    org = OrganizationFactory(name="FundaRedes")
    cases = [CaseFactory(status=status) for status in ("verified", "verified", "retracted")]
    incidents = []
    for _ in range(70):
        day, precision = random_day(rng, datetime.date(2021, 12, 20), 25)
        target = rng.choice(
            [{"defender": rng.choice(people)}, {"defender": None, "organization": org}]
        )
        incidents.append(
            IncidentFactory(
                case=rng.choice(cases),
                type=rng.choice(["threat", "raid"]),
                occurred_on=day,
                date_precision=precision,
                **target,
            )
        )
    for incident in rng.sample(incidents, 8):
        incident.duplicate_of = incidents[0] if incident != incidents[0] else incidents[1]
        incident.save()
    new = {incident.pk for incident in rng.sample(incidents, 30)}

    def report(i):
        target = ("defender", i.defender.name_key) if i.defender else ("organization", org.name_key)
        return duplicates.Report(i.pk, i.type, i.occurred_on, i.date_precision, target)

    live = [
        report(i)
        for i in Incident.objects.select_related("defender", "case")
        if i.duplicate_of_id is None and i.case.status != "retracted"
    ]
    expected = {
        (min(a.key, b.key), max(a.key, b.key))
        for a in live
        for b in live
        if a.key != b.key
        and (a.key in new or b.key in new)
        and (a.type, a.target) == (b.type, b.target)
        and duplicates.close_in_time(a, b)
    }
    assert expected  # the random data has pairs to find
    assert duplicates.candidate_pairs(new) == expected
    # Chunk by chunk, each pair once: two new incidents in two chunks are found from both.
    chunks = list(duplicates.candidate_pairs_in_chunks(new))
    assert sum(len(pairs) for pairs in chunks) == len(expected)
    assert all(pairs == sorted(pairs) for pairs in chunks)
    # Pairs already flagged (or decided) are not new.
    flagged = sorted(expected)[: len(expected) // 2]
    for first, second in flagged:
        DuplicatePair.objects.create(first_id=first, second_id=second)
    assert duplicates.candidate_pairs(new) == expected - set(flagged)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pairs_among_a_files_rows_are_counted_as_found(seed):
    """The preview counts the pairs among its rows over one sorted list: as many as
    find_pairs collects, with days across new year, months, years, ties and look-alikes."""
    import random

    rng = random.Random(seed)
    reports = []
    for line in range(400):
        day, precision = random_day(rng, datetime.date(2020, 12, 1), 400)
        target = rng.choice(
            [("defender", "ana perez"), ("defender", "luis"), ("organization", "x")]
        )
        reports.append(
            duplicates.Report(line, rng.choice(["threat", "raid"]), day, precision, target)
        )
    expected = len(duplicates.find_pairs(reports, []))
    assert expected > 100
    assert duplicates.count_pairs_among(reports) == expected
    assert duplicates.count_pairs_among(reversed(reports)) == expected


@pytest.mark.parametrize("reports", [3, 30])
def test_every_pair_is_flagged_and_counted_however_many(documentalist, monkeypatch, reports):
    """A few pairs are saved one by one; many in chunks (FLAG_CHUNK), each with its history,
    the chain intact across chunks."""
    from core.audit import first_broken_row

    monkeypatch.setattr(services, "FLAG_CHUNK", 7)
    org = OrganizationFactory(name="FundaRedes")
    recorded = [IncidentFactory(organization=org, defender=None) for _ in range(reports)]
    new = IncidentFactory(organization=org, defender=None)
    flagged = services.duplicates_flag(incident_ids=[new.pk], user=documentalist)
    assert flagged == reports == DuplicatePair.objects.count()
    assert {(p.first_id, p.second_id) for p in DuplicatePair.objects.all()} == {
        (incident.pk, new.pk) for incident in recorded
    }
    assert DuplicatePair.history.filter(history_user=documentalist).count() == reports
    assert first_broken_row(DuplicatePair.history.model) is None


def test_nothing_to_compare_with_when_the_user_may_see_no_incident():
    """An empty `within` (a user who may see nothing) leaves only the file's own pairs."""
    org = OrganizationFactory(name="FundaRedes")
    IncidentFactory(organization=org, defender=None)

    def row(line):
        return duplicates.Report(
            ("row", line), "stigmatization", datetime.date(2021, 7, 15), "day",
            ("organization", org.name_key),
        )  # fmt: skip

    new = [row(2), row(3)]
    assert len(duplicates.pairs_with_recorded(new)) == 3
    assert duplicates.pairs_with_recorded(new, within=Incident.objects.none()) == {
        (("row", 2), ("row", 3))
    }


def test_left_out_incidents_are_never_paired():
    """`exclude`: an updated incident is compared as its row says, not as stored."""
    org = OrganizationFactory(name="FundaRedes")
    stored, other = (IncidentFactory(organization=org, defender=None) for _ in range(2))
    new = [
        duplicates.Report(
            ("row", 2), "stigmatization", datetime.date(2021, 7, 15), "day",
            ("organization", org.name_key),
        )
    ]  # fmt: skip
    assert duplicates.recorded_pairs(new, exclude=[stored.pk]) == {(("row", 2), other.pk)}
    assert duplicates.recorded_pairs(new, exclude=[stored.pk, other.pk]) == set()
