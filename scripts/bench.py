"""`make bench`: the system at BENCH_N incidents against PostgreSQL's own lower bound.

Builds a throw-away PostgreSQL database (BENCH_DATABASE_URL), fills it with realistic data
in SQL (dates over 15 years entered out of order, many defenders, organizations and
perpetrators, duplicates, every status and confidentiality), and measures side by side, in
one run, the median of BENCH_REPEAT runs after a warm-up:

  B1 import   the spreadsheet import vs its floor: COPY of the same rows with their history
              rows, and those rows' hash chain
  B2 admin    the incident list at BENCH_N vs at 10,000 incidents; queries per page
  B3 report   monthly_figures() vs hand-written SQL; a month of equal size at both sizes
  B4 export   the streamed CSV/JSON export vs COPY … TO STDOUT; peak memory
  B5 queries  case detail, incident list, admin edit form with 1 and with 50 children
  B6 public   the public bulletin's month page at BENCH_N vs at 10,000 incidents (each after
              publishing the month); the PDF's render time
  B7 queue    an import through the task queue (the worker's import, after its preview) vs
              the same file by the command; tasks per second through each backend
  B8 search   the search page at BENCH_N vs at 10,000 incidents: common words, a rare word,
              a word only in an archived page's text; as a coordinator and a documentalist

BENCH_ONLY (e.g. "B1,B3") measures only some of them; the database is left in place after a
run, for EXPLAIN and profiling. Writes bench-results.json and bench-results.md. Ratios, not
seconds, are the targets: they hold on a noisy machine.
"""

import contextlib
import csv
import datetime
import functools
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
N = int(os.environ.get("BENCH_N", "1000000"))
SMALL = min(10_000, N)
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
IMPORT_N = int(os.environ.get("BENCH_IMPORT_N", str(max(1000, min(N // 500, 2_000)))))
ONLY = set(os.environ.get("BENCH_ONLY", "B1,B2,B3,B4,B5,B6,B7,B8").upper().split(","))
QUEUE_TASKS = int(os.environ.get("BENCH_QUEUE_TASKS", "2000"))
MONTH = (2021, 7)  # the month of equal size at both data sizes
MONTH_SIZE = min(1000, SMALL // 10)
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/defensores_bench")
os.environ.update(
    DATABASE_URL=URL,
    DEBUG="1",
    DJANGO_SETTINGS_MODULE="config.settings",
    API_THROTTLE_RATE="1000000/minute",
    ALLOWED_HOSTS="testserver,127.0.0.1",
)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def fresh_database() -> None:
    import psycopg

    name = URL.rsplit("/", 1)[1]
    admin = URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


say(f"Fresh database {URL.rsplit('/', 1)[1]}; BENCH_N={N:,}, import N={IMPORT_N:,}")
fresh_database()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

call_command("migrate", verbosity=0)

STATES = [
    "VE-A", "VE-B", "VE-C", "VE-D", "VE-E", "VE-F", "VE-G", "VE-H", "VE-I", "VE-J", "VE-K",
    "VE-L", "VE-M", "VE-N", "VE-O", "VE-P", "VE-R", "VE-S", "VE-T", "VE-U", "VE-V", "VE-W",
    "VE-X", "VE-Y", "VE-Z",
]  # fmt: skip
CATEGORIES = [
    "security_force", "armed_forces", "public_official", "state_media", "public_institution",
    "pro_government_group", "non_state_armed_group", "unknown",
]  # fmt: skip
# CDJ's mix: mostly stigmatization, then intimidation, threats… (per 100 incidents).
TYPES = [("stigmatization", 55), ("intimidation", 15), ("threat", 8), ("judicial_harassment", 5),
         ("arbitrary_detention", 5), ("digital_attack", 5), ("raid", 2), ("other", 3),
         ("physical_assault", 2)]  # fmt: skip


def empty_ciphertext() -> str:
    # Encrypted fields hold ciphertext even when empty; one token serves every row.
    from core.encryption import encrypt

    return encrypt("")


def sql_array(values) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


def type_expression(seed: str) -> str:
    cases, upto = [], 0
    for code, share in TYPES:
        upto += share
        cases.append(f"WHEN ({seed}) % 100 < {upto} THEN '{code}'")
    return "CASE " + " ".join(cases) + " ELSE 'other' END"


BODIES = ["SEBIN", "DGCIM", "PNB", "GNB", "CICPC", "colectivos armados", "alcaldía"]
ACTS = [
    "detuvieron arbitrariamente a",
    "hostigaron a",
    "amenazaron por teléfono a",
    "allanaron la sede de",
    "señalaron en televisión a",
    "impidieron viajar a",
    "abrieron un proceso judicial contra",
]
PLACES = ["Caracas", "Maracaibo", "Coro", "Guasdualito", "Barquisimeto", "San Cristóbal",
          "Ciudad Guayana", "Mérida", "Cumaná", "Valencia", "Barinas"]  # fmt: skip


def description_expression(g: str) -> str:
    """A description in Spanish from the row number `g`: common words (a body, an act, a
    city) and a rare one (the person's number), for the search (B8)."""
    return (
        f"'Funcionarios de ' || ({sql_array(BODIES)})[1 + {g} % {len(BODIES)}] || ' "
        f"' || ({sql_array(ACTS)})[1 + ({g} / 7) % {len(ACTS)}] || ' la persona ' || {g} "
        f"|| ' en ' || ({sql_array(PLACES)})[1 + ({g} / 49) % {len(PLACES)}] || '.'"
    )


def execute(sql: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def generate(count: int, *, with_month: bool) -> None:
    """`count` incidents (with their cases, people, perpetrators, involvements, sources).
    With `with_month`, MONTH_SIZE of them fall in MONTH and the rest of that year gets its
    share; otherwise the rows avoid MONTH's year, so that month stays the same size."""
    started = time.monotonic()
    EMPTY = empty_ciphertext()  # noqa: N806
    execute("SELECT setseed(%s)", [0.42 if with_month else 0.17])
    people = max(count // 5, 100)
    orgs = max(count // 50, 50)
    perpetrators = 2000 if not scalar("SELECT count(*) FROM organizations_perpetrator") else 0
    if perpetrators:
        execute(f"""
            INSERT INTO organizations_perpetrator
                (public_id, name, acronym, category, kind, created_at, updated_at, needs_review,
                 name_key, full_key, acronym_key, version)
            SELECT gen_random_uuid(), 'Cuerpo ficticio ' || g, '',
                   ({sql_array(CATEGORIES)})[1 + g % {len(CATEGORIES)}],
                   CASE WHEN g % 4 = 0 THEN 'individual' ELSE 'institution' END,
                   now(), now(), false, 'cuerpo ficticio ' || g, '', '', 1
            FROM generate_series(1::bigint, {perpetrators}) g""")
        # Each individual is part of the body made just before it (rolled up in B3).
        execute("""
            UPDATE organizations_perpetrator SET parent_id = id - 1
            WHERE kind = 'individual' AND name LIKE 'Cuerpo ficticio %'""")
    org_from = scalar("SELECT coalesce(max(id), 0) FROM organizations_organization")
    execute(f"""
        INSERT INTO organizations_organization
            (public_id, name, acronym, kind, state, website, created_at, updated_at, needs_review,
             name_key, acronym_key, version)
        SELECT gen_random_uuid(), 'Organización ficticia ' || ({org_from} + g), '',
               'human_rights_ngo', ({sql_array(STATES)})[1 + g % 25], '', now(), now(), false,
               'organizacion ficticia ' || ({org_from} + g), '', 1
        FROM generate_series(1::bigint, {orgs}) g""")
    def_from = scalar("SELECT coalesce(max(id), 0) FROM organizations_defender")
    execute(f"""
        INSERT INTO organizations_defender
            (public_id, full_name, known_as, gender, state, identity_protected, phone, email,
             address, created_at, updated_at, needs_review, name_key, known_as_key, version,
             pseudonym_key)
        SELECT gen_random_uuid(), 'Persona Ficticia ' || ({def_from} + g), '', 'not_recorded',
               ({sql_array(STATES)})[1 + g % 25], g % 20 = 0, '{EMPTY}', '{EMPTY}', '{EMPTY}',
               now(), now(), false, ({def_from} + g) || ' ficticia persona', '', 1,
               gen_random_uuid()
        FROM generate_series(1::bigint, {people}) g""")
    execute(f"""
        INSERT INTO organizations_membership (defender_id, organization_id, role, version)
        SELECT d.id, (SELECT min(id) FROM organizations_organization) + d.id % {orgs}, '', 1
        FROM organizations_defender d WHERE d.id > {def_from} AND d.id % 2 = 0""")
    case_from = scalar("SELECT coalesce(max(id), 0) FROM cases_case")
    cases = (count + 3) // 4
    execute(f"""
        INSERT INTO cases_case
            (public_id, title, summary, status, confidentiality, state, place, created_at,
             updated_at, version, import_origin, import_ref, highlight, highlighted_at)
        SELECT gen_random_uuid(), 'Caso ficticio ' || ({case_from} + g), '',
               CASE WHEN g % 20 = 0 THEN 'draft' WHEN g % 20 = 1 THEN 'in_review'
                    WHEN g % 20 = 2 THEN 'verified' ELSE 'published' END,
               CASE WHEN g % 25 = 3 THEN 'restricted' WHEN g % 10 = 4 THEN 'internal'
                    ELSE 'public' END,
               ({sql_array(STATES)})[1 + g % 25], '', now() - (g || ' seconds')::interval,
               now() - (g || ' seconds')::interval, 1, '', '',
               -- one case in 5,000 highlighted (all of them published and public)
               CASE WHEN g % 5000 = 7 THEN 'Caso destacado de prueba' ELSE '' END,
               CASE WHEN g % 5000 = 7 THEN now() END
        FROM generate_series(1::bigint, {cases}) g""")
    year = MONTH[0]
    if with_month:
        date = f"""CASE
            WHEN g <= {MONTH_SIZE} THEN make_date({year}, {MONTH[1]}, 1 + (random() * 30)::int)
            WHEN g <= {count // 2} THEN make_date({year},
                (ARRAY[1,2,3,4,5,6,8,9,10,11,12])[1 + (random() * 10)::int],
                1 + (random() * 27)::int)
            ELSE make_date(2010 + (random() * 14)::int, 1 + (random() * 11)::int,
                           1 + (random() * 27)::int) END"""
    else:
        date = """make_date((ARRAY[2010,2011,2012,2013,2014,2015,2016,2017,2018,2019,2020,
                    2022,2023,2024])[1 + (random() * 13)::int],
                   1 + (random() * 11)::int, 1 + (random() * 27)::int)"""
    inc_from = scalar("SELECT coalesce(max(id), 0) FROM cases_incident")
    execute(f"""
        INSERT INTO cases_incident
            (public_id, case_id, type, occurred_on, date_precision, defender_id,
             organization_id, state, municipality, description, created_at, updated_at,
             version, import_origin, import_ref)
        SELECT gen_random_uuid(), {case_from} + 1 + (g - 1) / 4, {type_expression("g * 37")},
               d, p,
               CASE WHEN g % 2 = 0 THEN {def_from} + 1 + (g * 7919) % {people} END,
               CASE WHEN g % 2 = 1 THEN {org_from} + 1 + (g * 104729) % {orgs} END,
               CASE WHEN g % 20 = 0 THEN '' ELSE ({sql_array(STATES)})[1 + g % 25] END,
               '', {description_expression("g")}, now() - (g || ' seconds')::interval,
               now() - (g || ' seconds')::interval, 1, '', ''
        FROM (SELECT g, {date} AS d,
                     CASE WHEN g % 100 < 95 THEN 'day' WHEN g % 100 < 99 THEN 'month'
                          ELSE 'year' END AS p
              FROM generate_series(1::bigint, {count}) g) AS rows""")
    # Month and year precision store the first day (Incident.clean does the same).
    execute(f"""UPDATE cases_incident SET occurred_on = CASE date_precision
                   WHEN 'month' THEN date_trunc('month', occurred_on)::date
                   ELSE date_trunc('year', occurred_on)::date END
                WHERE id > {inc_from} AND date_precision <> 'day'""")
    # Two reports in a hundred repeat the previous incident (kept, never counted).
    execute(f"""UPDATE cases_incident SET duplicate_of_id = id - 1
                WHERE id > {inc_from + 1} AND id % 50 = 0""")
    p_min = scalar("SELECT min(id) FROM organizations_perpetrator")
    p_count = scalar("SELECT count(*) FROM organizations_perpetrator")
    execute(f"""
        INSERT INTO cases_involvement (incident_id, perpetrator_id, role, version)
        SELECT id, {p_min} + (id * 7919) % {p_count}, 'perpetrated', 1
        FROM cases_incident WHERE id > {inc_from}
        UNION ALL
        SELECT id, {p_min} + (id * 7919 + 1 + id % 7) % {p_count}, 'amplified', 1
        FROM cases_incident WHERE id > {inc_from} AND id % 5 = 0""")
    execute(f"""
        INSERT INTO cases_source
            (public_id, case_id, kind, title, publisher, url, reliability, witness, contact,
             confidential, file, sha256, created_at, updated_at, version)
        SELECT gen_random_uuid(), c.id, 'press', 'Nota ficticia ' || c.id, 'Medio ficticio',
               'https://example.org/' || c.id, 'probable', '{EMPTY}', '{EMPTY}', false, '', '',
               now(), now(), 1
        FROM cases_case c WHERE c.id > {case_from}
        UNION ALL
        SELECT gen_random_uuid(), c.id, 'testimony', 'Testimonio', '', '', 'probable',
               '{EMPTY}', '{EMPTY}', true, '', '', now(), now(), 1
        FROM cases_case c WHERE c.id > {case_from} AND c.id % 10 = 0""")
    # Each source supports every incident of its case.
    execute(f"""
        INSERT INTO cases_support (source_id, incident_id, version)
        SELECT s.id, i.id, 1 FROM cases_source s JOIN cases_incident i ON i.case_id = s.case_id
        WHERE s.case_id > {case_from}""")
    # One press source in ten has an archived copy of its link, with a page of text (B8).
    execute(f"""
        INSERT INTO cases_archivedcopy
            (source_id, url, state, attempts, next_attempt_at, fetched_at, final_url,
             http_status, content_type, file, size, sha256, truncated, text, note, created_at)
        SELECT s.id, s.url, 'done', 1, now(), now(), s.url, 200, 'text/html', '', 0, '', false,
               repeat('Según la nota publicada por el medio, los hechos ocurrieron en la '
                      || 'madrugada y fueron denunciados por la organización. ', 8)
               || ' Expediente ' || s.id || '. ' || {description_expression("s.id")},
               '', now()
        FROM cases_source s WHERE s.case_id > {case_from} AND s.kind = 'press'
                              AND s.case_id % 10 = 0""")
    check_name_keys()
    execute("ANALYZE")
    total = scalar("SELECT count(*) FROM cases_incident")
    say(f"  {count:,} incidents generated in {time.monotonic() - started:.1f} s "
        f"({total:,} in all)")  # fmt: skip


def check_name_keys() -> None:
    """The match keys written in SQL above are the ones the models compute (person_key sorts
    the words: the number first): checked on a sample."""
    from organizations.models import Defender, Organization, Perpetrator

    for model in (Defender, Organization, Perpetrator):
        for record in model.objects.order_by("?")[:50]:
            stored = {name: getattr(record, name) for name in model.NAME_KEY_FIELDS}
            assert stored == record.name_keys(), (model.__name__, stored, record.name_keys())


def median_seconds(run, repeat: int = REPEAT) -> float:
    run()  # warm-up: caches, query plans
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_mib(run) -> float:
    """Resident memory that `run` adds at its peak, in MiB: Linux resets the
    high-water mark on request (/proc/self/clear_refs), so each measurement is its own and
    counts everything (the database driver's buffers too), at no cost to the run."""
    clear_refs = Path("/proc/self/clear_refs")
    if not clear_refs.exists():
        return traced_peak_mib(run)
    clear_refs.write_text("5")
    before = _status_kib("VmRSS")
    run()
    # What the run added on top of the process it ran in (Django, libraries, caches); the
    # high-water mark is updated lazily, so a run that adds nothing can read a hair below.
    return max(0.0, (_status_kib("VmHWM") - before) / 1024)


def traced_peak_mib(run) -> float:
    """The peak of Python's own allocations during `run` (tracemalloc), in MiB: unlike the
    resident high-water mark, not hidden when the run reuses memory the process already
    holds; tracemalloc slows the run, so it is a run of its own, not timed."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# --- Who measures -----------------------------------------------------------------------


def staff_client(username: str = "bench", group: str = "Coordinador") -> Client:
    from django.contrib.auth.models import Group, User
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=group))
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def ally_client() -> Client:
    from django.contrib.auth.models import User

    from api.models import Ally
    from api.services import api_key_create

    ally, _ = Ally.objects.get_or_create(name="Aliada de medición")
    _key, secret = api_key_create(ally=ally, user=User.objects.get(username="bench"))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def get(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    size = 0
    if response.streaming:
        for chunk in response.streaming_content:
            size += len(chunk)
    else:
        size = len(response.content)
    return size


# Every admin page first reads the session, the user with the permissions and the
# second-factor device (and once a minute saves the session): the page's own are the rest.
FRAMEWORK_TABLES = ("django_session", "auth_", "otp_", "django_content_type")


def queries(client: Client, url: str, *, own: bool = False) -> int:
    # Once before counting: the idle timeout writes the session at most once a minute, and
    # whether this page is the one to do it depends on the clock.
    get(client, url)
    with CaptureQueriesContext(connection) as captured:
        get(client, url)
    if not own:
        return len(captured)
    return sum(
        1
        for q in captured.captured_queries
        if q["sql"] not in ("BEGIN", "COMMIT") and not any(t in q["sql"] for t in FRAMEWORK_TABLES)
    )


ADMIN_URLS = {
    "unfiltered": "/admin/cases/incident/",
    "month+type": f"/admin/cases/incident/?month={MONTH[0]}-{MONTH[1]:02d}"
    "&type__exact=stigmatization",
}


def bench_admin(client: Client) -> dict:
    out = {}
    for name, url in ADMIN_URLS.items():
        out[name] = {
            "seconds": median_seconds(lambda url=url: get(client, url)),
            "queries": queries(client, url),
            "own_queries": queries(client, url, own=True),
        }
    with CaptureQueriesContext(connection) as captured:
        get(client, ADMIN_URLS["unfiltered"])
    out["unfiltered"]["full_counts"] = sum(
        1
        for q in captured.captured_queries
        if "COUNT(*)" in q["sql"].upper()
        and "cases_incident" in q["sql"]
        and "WHERE" not in q["sql"].upper()
    )
    return out


# The selector's queries written by hand, one statement each, as a developer would who
# knows the schema: the lower bound for what Python adds.
# Each incident's case looked up by key (a join would hash every counted case: a scan that
# grows with the table, for the hand-written SQL as much as for the ORM).
COUNTED = """FROM cases_incident i
  WHERE (SELECT c.status FROM cases_case c WHERE c.id = i.case_id) IN ('verified', 'published')
  AND i.duplicate_of_id IS NULL"""
IN_MONTH = "i.occurred_on BETWEEN %(first)s AND %(last)s AND i.date_precision IN ('day', 'month')"
HAND_SQL = [
    f"""SELECT count(*) FILTER (WHERE {IN_MONTH}),
        count(*) FILTER (WHERE {IN_MONTH} AND i.defender_id IS NOT NULL),
        count(*) FILTER (WHERE {IN_MONTH} AND i.organization_id IS NOT NULL),
        count(DISTINCT i.defender_id) FILTER (WHERE {IN_MONTH}),
        count(DISTINCT i.organization_id) FILTER (WHERE {IN_MONTH}),
        count(DISTINCT i.case_id) FILTER (WHERE {IN_MONTH}),
        count(*) FILTER (WHERE i.occurred_on BETWEEN %(prev_first)s AND %(prev_last)s AND i.date_precision IN ('day', 'month')),
        count(*) FILTER (WHERE i.occurred_on BETWEEN %(jan)s AND %(last)s AND i.date_precision IN ('day', 'month')),
        count(*) FILTER (WHERE i.date_precision = 'year' AND i.occurred_on BETWEEN %(jan)s AND %(dec)s)
      {COUNTED} AND i.occurred_on BETWEEN %(from)s AND %(last)s""",
    f"SELECT i.type, count(*) {COUNTED} AND {IN_MONTH} GROUP BY i.type",
    f"SELECT i.state, count(*) {COUNTED} AND {IN_MONTH} GROUP BY i.state",
    f"""SELECT p.category, count(DISTINCT v.incident_id) FROM cases_involvement v
      JOIN organizations_perpetrator p ON p.id = v.perpetrator_id
      WHERE v.incident_id IN (SELECT i.id {COUNTED} AND {IN_MONTH}) GROUP BY p.category""",
    f"""SELECT p.name, p.acronym, p.category, count(DISTINCT v.incident_id) AS n
      FROM cases_involvement v JOIN organizations_perpetrator p ON p.id = v.perpetrator_id
      WHERE v.incident_id IN (SELECT i.id {COUNTED} AND {IN_MONTH})
      GROUP BY p.name, p.acronym, p.category ORDER BY n DESC, p.name LIMIT 10""",
    f"""WITH RECURSIVE roots(id, root_id) AS (
        SELECT id, id FROM organizations_perpetrator WHERE parent_id IS NULL
        UNION ALL
        SELECT p.id, r.root_id FROM organizations_perpetrator p JOIN roots r ON p.parent_id = r.id
      ), named AS (
        SELECT r.root_id, v.perpetrator_id, v.incident_id
        FROM cases_involvement v JOIN roots r ON r.id = v.perpetrator_id
        WHERE v.incident_id IN (SELECT i.id {COUNTED} AND {IN_MONTH})
      )
      SELECT n.root_id, NULL, b.name, b.acronym, b.category, count(DISTINCT n.incident_id)
      FROM named n JOIN organizations_perpetrator b ON b.id = n.root_id
      GROUP BY n.root_id, b.name, b.acronym, b.category
      UNION ALL
      SELECT n.root_id, n.perpetrator_id, b.name, b.acronym, b.category,
             count(DISTINCT n.incident_id)
      FROM named n JOIN organizations_perpetrator b ON b.id = n.perpetrator_id
      WHERE n.perpetrator_id <> n.root_id
      GROUP BY n.root_id, n.perpetrator_id, b.name, b.acronym, b.category""",
]


def hand_report(params) -> None:
    with connection.cursor() as cursor:
        for sql in HAND_SQL:
            cursor.execute(sql, params)
            cursor.fetchall()


def bench_report() -> dict:
    from reports.selectors import monthly_figures

    year, month = MONTH
    first = datetime.date(year, month, 1)
    params = {
        "first": first,
        "last": datetime.date(year, month, 31),
        "prev_first": datetime.date(year, month - 1, 1),
        "prev_last": datetime.date(year, month, 1) - datetime.timedelta(days=1),
        "jan": datetime.date(year, 1, 1),
        "dec": datetime.date(year, 12, 31),
        "from": min(datetime.date(year, month - 1, 1), datetime.date(year, 1, 1)),
    }
    ours = median_seconds(lambda: monthly_figures(year, month))
    hand = median_seconds(lambda: hand_report(params))
    total = monthly_figures(year, month)["total"]
    return {
        "selector_seconds": ours,
        "sql_seconds": hand,
        "ratio": ours / hand,
        "month_total": total,
    }


EXPORT_SQL = """
COPY (
  SELECT i.public_id, c.public_id, i.occurred_on, i.date_precision, i.type,
         coalesce(d.public_id, o.public_id),
         CASE WHEN d.identity_protected THEN 'protected' ELSE coalesce(d.full_name, o.name) END,
         (SELECT string_agg(p.name, '; ' ORDER BY v.id) FROM cases_involvement v
            JOIN organizations_perpetrator p ON p.id = v.perpetrator_id WHERE v.incident_id = i.id),
         i.state, i.municipality,
         (SELECT count(*) FROM cases_support su JOIN cases_source s ON s.id = su.source_id
            WHERE su.incident_id = i.id AND NOT s.confidential),
         greatest(i.updated_at, c.updated_at)
  FROM cases_incident i JOIN cases_case c ON c.id = i.case_id
  LEFT JOIN organizations_defender d ON d.id = i.defender_id
  LEFT JOIN organizations_organization o ON o.id = i.organization_id
  WHERE c.status = 'published' AND c.confidentiality = 'public' AND i.duplicate_of_id IS NULL
  {extra}
  ORDER BY i.occurred_on, i.id
) TO STDOUT WITH (FORMAT csv)
"""


def copy_out(extra: str = "") -> int:
    size = 0
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(EXPORT_SQL.format(extra=extra)) as copy:
            for block in copy:
                size += len(block)
    return size


def bench_export(client: Client) -> dict:
    out = {}
    for fmt in ("csv", "json"):
        url = f"/api/v1/incidents/export/?format={fmt}"
        out[fmt] = {
            "seconds": median_seconds(lambda url=url: get(client, url), repeat=max(1, REPEAT // 2))
        }
    out["copy_seconds"] = median_seconds(copy_out, repeat=max(1, REPEAT // 2))
    for fmt in ("csv", "json"):
        out[fmt]["ratio_to_copy"] = out[fmt]["seconds"] / out["copy_seconds"]
    # Peak memory: about 100,000 rows (a date range) and everything.
    counted = scalar("SELECT count(*) FROM cases_incident i JOIN cases_case c ON c.id = i.case_id "
                     "WHERE c.status = 'published' AND c.confidentiality = 'public' "
                     "AND i.duplicate_of_id IS NULL")  # fmt: skip
    out["rows"] = counted
    limit = scalar(
        "SELECT occurred_on FROM cases_incident ORDER BY occurred_on OFFSET %s LIMIT 1",
        [min(int(100_000 * scalar("SELECT count(*) FROM cases_incident") / max(counted, 1)),
             scalar("SELECT count(*) FROM cases_incident") - 1)],
    )  # fmt: skip
    out["peak_mib"] = {
        "subset": peak_mib(
            lambda: get(client, f"/api/v1/incidents/export/?format=csv&date_to={limit}")
        ),
        "all": peak_mib(lambda: get(client, "/api/v1/incidents/export/?format=csv")),
    }
    return out


def bench_queries(staff: Client, ally: Client) -> dict:
    from cases.models import Case, Incident, Involvement
    from organizations.models import Defender, Perpetrator

    out = {}
    for children in (1, 50):
        case = Case.objects.create(title=f"Caso de medición {children}", status="published",
                                   confidentiality="public")  # fmt: skip
        perpetrator = Perpetrator.objects.first()
        for n in range(children):
            incident = Incident.objects.create(
                case=case, type="threat", occurred_on=datetime.date(2019, 5, 1 + n % 28),
                defender=Defender.objects.create(full_name=f"Persona de medición {children}-{n}"),
            )  # fmt: skip
            Involvement.objects.create(incident=incident, perpetrator=perpetrator)
        out[children] = {
            "api_case_detail": queries(ally, f"/api/v1/cases/{case.public_id}/"),
            "api_incident_list": queries(ally, "/api/v1/incidents/?page_size=100"),
            "admin_incident_list": queries(staff, "/admin/cases/incident/"),
            "admin_case_form": queries(staff, f"/admin/cases/case/{case.pk}/change/"),
        }
    out["constant"] = out[1] == out[50]
    return out


def import_csv(rows: int, path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_import import rows as template_rows

    from cases.intake.template import COLUMNS

    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(template_rows(rows, seed=random.randrange(10**6)))


def _copied_models() -> list:
    """The tables an import writes rows to (history aside), in foreign-key order."""
    from cases.models import Case, Incident, Involvement, Source, Support
    from organizations.models import Defender, Organization, Perpetrator

    return [Perpetrator, Organization, Defender, Case, Incident, Involvement, Source, Support]


def _history_models() -> list:
    """Their history tables: the import writes one "created" row per row it creates."""
    return [model.history.model for model in _copied_models()]


def _max_ids() -> dict[str, int]:
    return {
        m._meta.db_table: scalar(
            f'SELECT coalesce(max("{m._meta.pk.column}"), 0) FROM "{m._meta.db_table}"'
        )
        for m in _copied_models() + _history_models()
    }


def export_import_rows(before: dict[str, int], after: dict[str, int]) -> list[tuple[str, bytes]]:
    """The rows an import created (ids past `before`), as COPY text ready to go back into the
    same tables: ids shifted past the current maximum (and foreign keys between these rows
    with them), fresh public ids, another import origin and names, so that every unique
    constraint holds."""
    shift = {table: after[table] - before[table] for table in before}
    out = []
    for model in _copied_models() + _history_models():
        table = model._meta.db_table
        # A history row's "id" is its record's id, shifted as that record is.
        recorded = getattr(model, "instance_type", None)
        columns, expressions = [], []
        for field in model._meta.concrete_fields:
            column = f'"{field.column}"'
            related = field.related_model._meta.db_table if field.is_relation else None
            if recorded is not None and field.name == "id":
                related = recorded._meta.db_table
            if field.primary_key:
                expression = f"{column} + {shift[table]}"
            elif related in shift:
                expression = (
                    f"CASE WHEN {column} > {before[related]} THEN {column} + {shift[related]} "
                    f"ELSE {column} END"
                )
            elif field.name in ("public_id", "pseudonym_key"):
                expression = "gen_random_uuid()"
            elif field.name == "import_origin":
                expression = f"{column} || '-copy'"
            elif field.name in ("name", "name_key") and table != "cases_source":
                expression = f"{column} || ' copia'"  # unique names (organizations, perpetrators)
            else:
                expression = column
            columns.append(column)
            expressions.append(expression)
        pk = f'"{model._meta.pk.column}"'
        select = (
            f'SELECT {", ".join(expressions)} FROM "{table}" WHERE {pk} > {before[table]} '
            f"ORDER BY {pk}"
        )
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            with cursor.connection.cursor().copy(f"COPY ({select}) TO STDOUT") as copy:
                for block in copy:
                    buffer.write(block)
        out.append((f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', buffer.getvalue()))
    return out


def copy_into_tables(copies: list[tuple[str, bytes]]) -> None:
    """COPY the rows into the real tables (their indexes, constraints and triggers apply), in
    one transaction, then roll it back."""
    from django.db import transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            for statement, data in copies:
                with cursor.connection.cursor().copy(statement) as copy:
                    copy.write(data)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred foreign keys checked
        transaction.set_rollback(True)


def copy_into_scratch(path: Path) -> None:
    """The old bound: the CSV text into an unlogged table of text columns."""
    columns = ", ".join(f'"{c}" text' for c in next(csv.reader(path.open())))
    execute(f"CREATE UNLOGGED TABLE bench_copy ({columns})")
    try:
        with connection.cursor() as cursor, path.open("rb") as source:
            with cursor.connection.cursor().copy(
                "COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy:
                while block := source.read(1 << 16):
                    copy.write(block)
    finally:
        execute("DROP TABLE bench_copy")


def chain_seconds(before: dict[str, int]) -> float:
    """The hash chain of the history rows an import wrote (ids past `before`): the payload
    and SHA-256 of each row, in order, from values already in memory — work in Python that
    any import keeping the chain must do, on top of storing the rows (median of REPEAT)."""
    tables = []
    for model in _history_models():
        names = [field.attname for field in model._meta.concrete_fields]
        start = before[model._meta.db_table]
        tables.append(
            (model, list(model.objects.filter(pk__gt=start).order_by("pk").values(*names)))
        )

    def chain():
        for model, rows in tables:
            previous = ""
            for values in rows:
                previous = model.hash_of(model.payload_of(values), previous)

    return median_seconds(chain)


def bench_import() -> dict:
    """Our import of `size` rows (history, validation and likely duplicates included): the
    median of REPEAT imports, each of a file of its own (new rows each time), after a warm-up
    import; against COPY of the very rows the last one wrote into the same tables; and, as
    before, against COPY of the CSV into a scratch table of text columns."""
    out = {}

    def run(path, origin, timing=None):
        started = time.perf_counter()
        # As in production: DEBUG's log of every statement (kept for B2's and B5's counts)
        # is not what an import costs.
        with contextlib.redirect_stdout(io.StringIO()), override_settings(DEBUG=False):
            # Quiet (verbosity 0): no progress lines in the bench's log.
            call_command(
                "import_incidents", str(path), "--status", "verified", "--origin", origin,
                verbosity=0,
            )  # fmt: skip
        if timing is not None:
            timing.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as tmp:
        warm_up = Path(tmp) / "calentamiento.csv"
        import_csv(IMPORT_N, warm_up)
        run(warm_up, "bench-warm-up")
        for size in (IMPORT_N, 10 * IMPORT_N):
            timing, peak = [], None
            for n in range(REPEAT):
                path = Path(tmp) / f"importar-{size}-{n}.csv"
                import_csv(size, path)
                before = _max_ids()
                once = functools.partial(run, path, f"b-{size}-{n}", timing)
                if peak is None:  # the first one's resident high-water mark
                    peak = peak_mib(once)
                else:
                    once()
            ours = statistics.median(timing)
            copies = export_import_rows(before, _max_ids())
            history = {model._meta.db_table for model in _history_models()}
            records = [(st, data) for st, data in copies if st.split('"')[1] not in history]
            rows = {statement.split('"')[1]: data.count(b"\n") for statement, data in records}
            copied = median_seconds(lambda records=records: copy_into_tables(records))
            # The same with the history rows our import wrote too (what "nothing lost,
            # everything audited" makes PostgreSQL store at the least).
            with_history = median_seconds(lambda copies=copies: copy_into_tables(copies))
            scratch = median_seconds(lambda path=path: copy_into_scratch(path))
            hashing = chain_seconds(before)
            floor = with_history + hashing
            # The last file again under another origin (new rows again, each a likely
            # duplicate of the row it repeats), traced.
            traced = traced_peak_mib(lambda path=path, size=size: run(path, f"traced-{size}"))
            out[size] = {"seconds": ours, "runs": timing, "rows_per_second": size / ours,
                         "peak_mib": peak, "copy_seconds": copied, "ratio_to_copy": ours / copied,
                         "copied_rows": rows, "scratch_copy_seconds": scratch,
                         "ratio_to_scratch_copy": ours / scratch, "python_peak_mib": traced,
                         "copy_with_history_seconds": with_history,
                         "ratio_to_copy_with_history": ours / with_history,
                         "chain_seconds": hashing, "floor_seconds": floor,
                         "ratio_to_floor": ours / floor}  # fmt: skip
            say(f"  B1 import {size:,} rows: median {ours:.1f} s of {REPEAT} "
                f"({min(timing):.1f}–{max(timing):.1f}; {size / ours:,.0f} rows/s), "
                f"COPY into the tables {copied:.2f} s ({sum(rows.values()):,} rows, "
                f"{ours / copied:.1f}×; with their history {with_history:.2f} s, "
                f"{ours / with_history:.1f}×; and their hash chain {hashing:.2f} s: "
                f"{ours / floor:.1f}× the sum), scratch COPY {scratch:.2f} s, peak {peak:.0f} MiB "
                f"(Python's own allocations {traced:.0f} MiB)")  # fmt: skip
    return out


def bench_public() -> dict:
    """B6: publish MONTH (a new version at each size), then the public bulletin's page for it,
    as anyone reads it (no login); and the bulletin's PDF made from the current figures."""
    from django.contrib.auth.models import User

    from reports.bulletin import bulletin_pdf
    from reports.selectors import monthly_figures, trend
    from reports.services import month_publish

    year, month = MONTH
    with override_settings(DEBUG=False):
        month_publish(year=year, month=month, user=User.objects.get(username="bench"))
        visitor = Client()
        url = f"/boletin/{year}/{month}/"
        get(visitor, url)  # 200, or it says which address failed (PUBLIC_BULLETIN: DEBUG=1)
        page = median_seconds(lambda: get(visitor, url))
        pdf = median_seconds(
            lambda: bulletin_pdf(
                figures=monthly_figures(year, month), trend=trend(year, month), year=year,
                month=month,
            )
        )  # fmt: skip
    say(f"  B6 public month page {page * 1000:.1f} ms; the PDF {pdf:.2f} s")
    return {"page_seconds": page, "pdf_seconds": pdf}


def search_queries() -> dict[str, str]:
    """B8's searches: common words, a rare one, a word only in an archived page's text."""
    archived = scalar("SELECT min(source_id) FROM cases_archivedcopy")
    return {
        "common word (sebin)": "sebin",
        "two words (detuvieron caracas)": "detuvieron caracas",
        "rare word (persona 4242)": "persona 4242",
        f"archived text only (expediente {archived})": f"expediente {archived}",
    }


def bench_search() -> dict:
    """B8: the search page, as a coordinator (who sees everything) and as a documentalist
    (restricted cases only of their team, confidential sources only of their cases)."""
    results = {}
    for role, client in (
        ("coordinator", staff_client()),
        ("documentalist", staff_client("bench_doc", "Documentalista")),
    ):
        for name, text in search_queries().items():
            url = f"/search/?q={text.replace(' ', '+')}"
            seconds = median_seconds(lambda url=url, client=client: get(client, url))
            results[f"{role}: {name}"] = seconds
            say(f"  B8 {role}, {name}: {seconds * 1000:.1f} ms")
    return results


def run_worker(backend: str) -> None:
    """Run every waiting task, as `db_worker --batch` or an RQ worker in burst mode does,
    in this process."""
    import signal

    if backend == "rq":
        import django_rq
        from django_tasks_rq import Job
        from rq import SimpleWorker

        queue = django_rq.get_queue("default", job_class=Job)
        worker = SimpleWorker([queue], connection=queue.connection, job_class=Job)
        worker.work(burst=True, logging_level="WARNING")  # not a line per task in the log
        return
    taken = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0, stdout=io.StringIO())
    for number, handler in taken.items():  # the worker keeps them otherwise
        signal.signal(number, handler)


def bench_queue() -> dict:
    """B7: the same file imported by the command and through the queue, alternately (the
    queue's import task re-reads and re-plans the file, checks the preview's digest and
    writes; its preview is timed apart); then QUEUE_TASKS tasks that do nothing through the
    database's queue and through RQ on Redis (skipped without Redis)."""
    from django.contrib.auth.models import User

    from cases.intake import tasks, write
    from cases.models import ImportBatch

    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_tasks

    user = User.objects.get(username="bench")
    command, queued, previews = [], [], []
    with tempfile.TemporaryDirectory() as tmp, override_settings(DEBUG=False):
        for n in range(REPEAT + 1):  # the first of each is a warm-up
            for path_kind in ("command", "queue"):
                path = Path(tmp) / f"b7-{path_kind}-{n}.csv"
                import_csv(IMPORT_N, path)
                started = time.perf_counter()
                if path_kind == "command":
                    call_command(
                        "import_incidents", str(path), "--status", "in_review",
                        "--origin", f"b7-command-{n}", verbosity=0, stdout=io.StringIO(),
                    )  # fmt: skip
                    command.append(time.perf_counter() - started)
                    continue
                with override_settings(TASKS={"default": settings.TASK_BACKENDS["database"]}):
                    batch = write.import_batch_upload(
                        user=user, data=path.read_bytes(), file_name=path.name,
                        origin=f"b7-queue-{n}",
                    )  # fmt: skip
                    tasks.import_preview.enqueue(batch.pk)
                    run_worker("database")
                    previews.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    tasks.queue(batch, ImportBatch.TaskKind.IMPORT)
                    run_worker("database")
                    queued.append(time.perf_counter() - started)
                    batch.refresh_from_db()
                    assert batch.status == "imported", (batch.task_state, batch.task_error)
    ours, theirs = statistics.median(queued[1:]), statistics.median(command[1:])
    out = {"rows": IMPORT_N, "queue_seconds": ours, "command_seconds": theirs,
           "preview_seconds": statistics.median(previews[1:]), "ratio": ours / theirs,
           "tasks": QUEUE_TASKS, "tasks_per_second": {}}  # fmt: skip
    say(f"  B7 import of {IMPORT_N:,} rows: through the queue {ours:.2f} s (its preview "
        f"{out['preview_seconds']:.2f} s before), by the command {theirs:.2f} s: "
        f"{ours / theirs:.2f}×")  # fmt: skip
    for backend in ("database", "rq"):
        if backend == "rq" and not redis_up():
            say("  B7 RQ: no Redis on TASKS_REDIS_URL, skipped")
            continue
        with override_settings(TASKS={"default": settings.TASK_BACKENDS[backend]}):
            started = time.perf_counter()
            for number in range(QUEUE_TASKS):
                bench_tasks.nothing.enqueue(number)
            enqueued = time.perf_counter() - started
            run_worker(backend)
            total = time.perf_counter() - started
        out["tasks_per_second"][backend] = {
            "enqueue": QUEUE_TASKS / enqueued,
            "end_to_end": QUEUE_TASKS / total,
        }
        say(f"  B7 {backend}: {QUEUE_TASKS:,} tasks enqueued at {QUEUE_TASKS / enqueued:,.0f}/s, "
            f"run end to end at {QUEUE_TASKS / total:,.0f}/s")  # fmt: skip
    return out


def redis_up() -> bool:
    import django_rq
    import redis

    try:
        connection = django_rq.get_connection("default")
        connection.ping()
    except redis.RedisError:
        return False
    connection.delete("rq:queue:default")  # nothing left from another run
    return True


def main() -> None:
    results = {"n": N, "small": SMALL, "repeat": REPEAT, "machine": platform.platform(),
               "cpus": os.cpu_count(), "postgres": scalar("SHOW server_version")}  # fmt: skip
    started = time.monotonic()
    say(f"Generating {SMALL:,} incidents")
    generate(SMALL, with_month=True)
    staff = staff_client()
    say("B2/B3 at the small size")
    small_admin = bench_admin(staff) if "B2" in ONLY else None
    small_report = bench_report() if "B3" in ONLY else None
    small_public = bench_public() if "B6" in ONLY else None
    small_search = bench_search() if "B8" in ONLY else None
    if N > SMALL:
        say(f"Growing to {N:,} incidents")
        generate(N - SMALL, with_month=False)
    execute("VACUUM ANALYZE")
    ally = ally_client()
    if "B2" in ONLY:
        say("B2 admin")
        big_admin = bench_admin(staff)
        results["B2_admin"] = {
            "small": small_admin, "large": big_admin,
            "ratio_unfiltered": big_admin["unfiltered"]["seconds"] / small_admin["unfiltered"]["seconds"],
            "ratio_filtered": big_admin["month+type"]["seconds"] / small_admin["month+type"]["seconds"],
        }  # fmt: skip
    if "B3" in ONLY:
        say("B3 monthly report")
        big_report = bench_report()
        assert big_report["month_total"] == small_report["month_total"], "the month must not grow"
        results["B3_report"] = {"small": small_report, "large": big_report,
                                "ratio_sizes": big_report["selector_seconds"] / small_report["selector_seconds"]}  # fmt: skip
    if "B6" in ONLY:
        say("B6 public bulletin")
        big_public = bench_public()
        results["B6_public"] = {
            "small": small_public, "large": big_public,
            "ratio": big_public["page_seconds"] / small_public["page_seconds"],
        }  # fmt: skip
    if "B8" in ONLY:
        say("B8 search")
        big_search = bench_search()
        results["B8_search"] = {
            "small": small_search, "large": big_search,
            "ratio": statistics.median(big_search.values()) / statistics.median(small_search.values()),
            "worst": max(big_search[k] / small_search[k] for k in big_search),
        }  # fmt: skip
    if "B4" in ONLY:
        say("B4 export")
        results["B4_export"] = bench_export(ally)
    if "B5" in ONLY:
        say("B5 query counts")
        results["B5_queries"] = bench_queries(staff, ally)
    if "B1" in ONLY:
        say("B1 import")
        results["B1_import"] = bench_import()
    if "B7" in ONLY:
        say("B7 the task queue")
        results["B7_queue"] = bench_queue()
    results["seconds"] = time.monotonic() - started
    Path("bench-results.json").write_text(json.dumps(results, indent=2, default=str))
    Path("bench-results.md").write_text(markdown(results))
    print(markdown(results))
    say(f"Done in {results['seconds']:.0f} s: bench-results.json, bench-results.md")


def markdown(r: dict) -> str:
    b1, b2, b3, b4, b5, b7 = (
        r.get(k, {})
        for k in ("B1_import", "B2_admin", "B3_report", "B4_export", "B5_queries", "B7_queue")
    )
    lines = [f"# Benchmarks at {r['n']:,} incidents (PostgreSQL {r['postgres']}, {r['cpus']} CPUs)", "",
             "| | measured (median) | ratio | target |", "|---|---|---|---|"]  # fmt: skip
    for size, m in b1.items():
        lines.append(f"| B1 import {int(size):,} rows | {m['seconds']:.1f} s ({m['rows_per_second']:,.0f} rows/s); "
                     f"the floor, COPY of its rows with their history and hash chain, {m['floor_seconds']:.2f} s "
                     f"(the rows alone {m['copy_seconds']:.2f} s); peak {m['peak_mib']:.0f} MiB resident, "
                     f"{m['python_peak_mib']:.0f} MiB of Python allocations "
                     f"| {m['ratio_to_floor']:.1f}× floor | ≤ 3.0×, ≤ 32 MiB of Python allocations |")  # fmt: skip
    if b2:
        for name, target in (("unfiltered", "≤ 1.25"), ("month+type", "≤ 1.5")):
            key = "ratio_unfiltered" if name == "unfiltered" else "ratio_filtered"
            lines.append(f"| B2 admin list, {name} | {b2['large'][name]['seconds'] * 1000:.0f} ms vs "
                         f"{b2['small'][name]['seconds'] * 1000:.0f} ms; {b2['large'][name]['queries']} queries, "
                         f"{b2['large'][name]['own_queries']} of them the list's own | "
                         f"{b2[key]:.2f} | {target}, ≤ 6 queries |")  # fmt: skip
    if b3:
        lines.append(f"| B3 monthly report | {b3['large']['selector_seconds'] * 1000:.1f} ms vs SQL "
                     f"{b3['large']['sql_seconds'] * 1000:.1f} ms | {b3['large']['ratio']:.2f}× SQL | ≤ 1.10 |")  # fmt: skip
        lines.append(f"| B3 same month, large vs small | {b3['large']['selector_seconds'] * 1000:.1f} ms vs "
                     f"{b3['small']['selector_seconds'] * 1000:.1f} ms | {b3['ratio_sizes']:.2f} | ≤ 1.5 |")  # fmt: skip
    if b4:
        for fmt in ("csv", "json"):
            lines.append(f"| B4 export {fmt} ({b4['rows']:,} rows) | {b4[fmt]['seconds']:.1f} s vs COPY "
                         f"{b4['copy_seconds']:.1f} s | {b4[fmt]['ratio_to_copy']:.1f}× COPY | ≤ 4× |")  # fmt: skip
        lines.append(f"| B4 peak memory added by the export | {b4['peak_mib']['subset']:.1f} MiB (~100k rows), "
                     f"{b4['peak_mib']['all']:.1f} MiB (all) | | ≤ 64 MiB, equal |")  # fmt: skip
    if b5:
        for key in (
            "api_case_detail",
            "api_incident_list",
            "admin_incident_list",
            "admin_case_form",
        ):
            lines.append(f"| B5 queries: {key} | {b5[1][key]} with 1 child, {b5[50][key]} with 50 | | constant |")  # fmt: skip
    b6 = r.get("B6_public", {})
    if b6:
        lines.append(f"| B6 public month page | {b6['large']['page_seconds'] * 1000:.1f} ms vs "
                     f"{b6['small']['page_seconds'] * 1000:.1f} ms at 10,000 | {b6['ratio']:.2f} | ≤ 1.1 |")  # fmt: skip
        lines.append(f"| B6 the bulletin's PDF | {b6['large']['pdf_seconds']:.2f} s (at 10,000: "
                     f"{b6['small']['pdf_seconds']:.2f} s) | | measured |")  # fmt: skip
    b8 = r.get("B8_search", {})
    if b8:
        for name, seconds in b8["large"].items():
            lines.append(f"| B8 search, {name} | {seconds * 1000:.1f} ms vs "
                         f"{b8['small'][name] * 1000:.1f} ms at 10,000 | "
                         f"{seconds / b8['small'][name]:.2f} | |")  # fmt: skip
        lines.append(f"| B8 search, median of the searches | | {b8['ratio']:.2f} "
                     f"(worst {b8['worst']:.2f}) | ≤ 2.0 |")  # fmt: skip
    if b7:
        lines.append(f"| B7 import of {b7['rows']:,} rows through the queue | {b7['queue_seconds']:.2f} s vs "
                     f"the command {b7['command_seconds']:.2f} s (its preview before: "
                     f"{b7['preview_seconds']:.2f} s) | {b7['ratio']:.2f}× | ≤ 1.1× |")  # fmt: skip
        for backend, rate in b7["tasks_per_second"].items():
            lines.append(f"| B7 tasks through {backend} ({b7['tasks']:,}) | enqueued {rate['enqueue']:,.0f}/s, "
                         f"run end to end {rate['end_to_end']:,.0f}/s | | measured |")  # fmt: skip
    lines.append("")
    lines.append(f"Total run: {r.get('seconds', 0):.0f} s.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    reset_queries()
    main()
