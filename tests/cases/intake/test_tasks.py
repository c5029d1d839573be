"""Imports through the real task queues: the database's (the default) and RQ on the local
Redis, each worker run as the command an operator runs."""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from openpyxl import load_workbook

from cases.intake import tasks, write
from cases.models import Case, ImportBatch, Incident
from notifications.models import Notification
from tests.cases.intake.rows import admin_confirm, admin_upload, as_csv, row

ROOT = Path(__file__).resolve().parents[3]
TEST_REDIS = "redis://127.0.0.1:6379/15"  # a database of its own, emptied by these tests
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="other processes need a database they can reach"
)


def redis_or_skip():
    import redis

    client = redis.Redis.from_url(TEST_REDIS)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("RQ needs Redis on 127.0.0.1:6379")
    client.flushdb()
    return client


class Queue:
    """One of the two backends: what is waiting in it, and a worker that empties it."""

    def __init__(self, name, settings, monkeypatch=None):
        self.name = name
        if monkeypatch is not None:
            # A worker checks its connection between tasks, and closes one inside a
            # transaction: this test's, which holds what the worker must see.
            monkeypatch.setattr(
                "django_tasks_db.management.commands.db_worker.close_old_connections",
                lambda: None,
            )
        if name == "rq":
            self.redis = redis_or_skip()
            settings.RQ_QUEUES = {"default": {"URL": TEST_REDIS, "DEFAULT_TIMEOUT": 600}}
            settings.TASKS = {"default": settings.TASK_BACKENDS["rq"]}
        else:
            settings.TASKS = {"default": settings.TASK_BACKENDS["database"]}

    def waiting(self) -> int:
        if self.name == "rq":
            import django_rq

            return django_rq.get_queue("default").count
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.ready().count()

    def work(self) -> None:
        """Run every waiting task, as `manage.py db_worker --batch` or an RQ worker in burst
        mode would (in this process, to see this test's transaction)."""
        if self.name == "rq":
            import django_rq
            from django_tasks_rq import Job
            from rq import SimpleWorker

            queue = django_rq.get_queue("default", job_class=Job)
            SimpleWorker([queue], connection=queue.connection, job_class=Job).work(burst=True)
        else:
            # The worker takes over SIGINT and SIGTERM and keeps them: given back after.
            taken = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
            call_command("db_worker", "--batch", "--no-startup-delay", stdout=io.StringIO())
            for number, handler in taken.items():
                signal.signal(number, handler)


@pytest.fixture(params=["database", "rq"])
def queue(request, settings, monkeypatch):
    return Queue(request.param, settings, monkeypatch)


def test_an_upload_is_previewed_then_imported_by_a_worker(
    queue, client_for, reviewer, django_capture_on_commit_callbacks
):
    client = client_for(reviewer)
    rows = [row(referencia=str(n), caso=f"Caso {n}") for n in range(1, 4)]
    response = admin_upload(client, rows, django_capture_on_commit_callbacks)
    batch = ImportBatch.objects.get()
    assert (batch.task_kind, batch.task_state, queue.waiting()) == ("preview", "queued", 1)
    waiting = client.get(response["Location"])
    assert b'id="work-bar"' in waiting.content and b"progress.js" in waiting.content

    queue.work()
    batch.refresh_from_db()
    assert (batch.task_state, batch.rows_created) == ("done", 3)
    assert client.get(response["Location"]).context["counts"]["rows_created"] == 3

    # Confirmed twice (two tabs): one import.
    admin_confirm(client, batch, django_capture_on_commit_callbacks)
    second = admin_confirm(client, batch, django_capture_on_commit_callbacks)
    assert second.status_code == 302 and queue.waiting() == 1
    progress = client.get(f"/admin/cases/importbatch/{batch.public_id}/progress/").json()
    assert (progress["kind"], progress["state"], progress["finished"]) == (
        "import",
        "queued",
        False,
    )

    queue.work()
    batch.refresh_from_db()
    assert (batch.status, batch.task_state) == ("imported", "done")
    assert Incident.objects.count() == 3
    # Its uploader was told of each end: the preview ready, then the import done.
    told = Notification.objects.filter(recipient=reviewer, kind="import_done")
    assert told.count() == 2
    page = client.get(f"/admin/cases/importbatch/{batch.pk}/change/").content.decode()
    for case in Case.objects.all():
        assert f'href="/admin/cases/case/{case.pk}/change/"' in page


def test_a_file_changed_after_its_preview_is_refused_and_nothing_written(
    queue, client_for, reviewer, django_capture_on_commit_callbacks
):
    client = client_for(reviewer)
    admin_upload(client, [row()], django_capture_on_commit_callbacks)
    queue.work()
    batch = ImportBatch.objects.get()
    admin_confirm(client, batch, django_capture_on_commit_callbacks)
    Path(batch.file.path).write_bytes(as_csv([row(victima="Otra persona")]))

    queue.work()

    batch.refresh_from_db()
    assert (batch.status, batch.task_state) == ("preview", "failed")
    assert "cambió desde que se subió" in batch.task_error
    assert not Incident.objects.exists()
    page = client.get(f"/admin/cases/importbatch/{batch.pk}/change/").content.decode()
    assert batch.task_error in page and "Intentar de nuevo la importación" in page


def test_records_changed_since_the_preview_make_a_new_preview_not_an_import(
    queue, client_for, reviewer, django_capture_on_commit_callbacks
):
    client = client_for(reviewer)
    admin_upload(client, [row()], django_capture_on_commit_callbacks)
    queue.work()
    batch = ImportBatch.objects.get()
    admin_confirm(client, batch, django_capture_on_commit_callbacks)
    # Meanwhile someone imports the same person: the preview's "new defender" is stale.
    from tests.cases.intake.rows import run

    run(reviewer, [row(referencia="9", caso="Otro")], status="in_review")

    with django_capture_on_commit_callbacks(execute=True):
        queue.work()  # the import finds the change and queues a preview
    queue.work()  # which runs

    batch.refresh_from_db()
    assert (batch.status, batch.task_kind, batch.task_state) == ("preview", "preview", "done")
    assert "cambiaron desde la vista previa" in batch.task_error
    assert Incident.objects.count() == 1  # only the other import's
    page = client.get(f"/admin/cases/importbatch/{batch.public_id}/preview/").content.decode()
    assert "cambiaron desde la vista previa" in page


def worker_env(settings) -> dict:
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "1",  # the development keys, as the tests use
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TASKS_BACKEND": "rq",
        "TASKS_REDIS_URL": TEST_REDIS,
    }


@pytest.fixture
def committed(transactional_db):
    """Rows other processes can see (committed), emptied afterwards by Django's flush, which
    the append-only triggers would refuse: they are set aside for this connection, which
    Django closes right after the flush."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")


@postgres_only
def test_two_rq_workers_share_a_batch_of_tasks_none_lost_none_done_twice(
    committed, reviewer, settings
):
    Queue("rq", settings)
    batches = []
    for n in range(12):
        batch = write.import_batch_upload(
            user=reviewer, data=as_csv([row(referencia=str(n))]), file_name=f"f{n}.csv"
        )
        tasks.import_preview.enqueue(batch.pk)
        batches.append(batch)
    command = [sys.executable, "manage.py", "rqworker", "default", "--burst"]
    command += ["--job-class", "django_tasks_rq.Job"]
    workers = [
        subprocess.Popen(
            command, cwd=ROOT, env=worker_env(settings), stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=180)
        assert worker.returncode == 0, output

    for batch in batches:
        batch.refresh_from_db()
        assert (batch.task_state, batch.rows_created) == ("done", 1)
        started = batch.history.filter(history_change_reason="Comenzó en segundo plano")
        assert started.count() == 1


KILLED_MIDWAY = """
import os, signal, sys
import django
django.setup()
from cases.intake import tasks, write

write.IMPORT_CHUNK = 2
real = write._import_create
chunks = []

def create_then_die(*args, **kwargs):
    chunks.append(1)
    if len(chunks) == 2:  # the first chunk is written, inside the import's transaction
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

write._import_create = create_then_die
tasks.import_run.call(int(sys.argv[1]))
"""


@postgres_only
def test_a_worker_killed_mid_import_leaves_nothing_and_the_import_can_be_retried(
    committed, reviewer, settings
):
    settings.TASKS = {"default": settings.TASK_BACKENDS["database"]}  # queued, not run
    rows = [row(referencia=str(n), caso=f"Caso {n}") for n in range(6)]
    batch = write.import_batch_upload(user=reviewer, data=as_csv(rows), file_name="seis.csv")
    tasks.import_preview.call(batch.pk)
    assert tasks.queue(batch, ImportBatch.TaskKind.IMPORT)

    env = {**worker_env(settings), "TASKS_BACKEND": "database"}
    script = textwrap.dedent(KILLED_MIDWAY)
    killed = subprocess.run(
        [sys.executable, "-c", script, str(batch.pk)], cwd=ROOT, env=env, timeout=180
    )
    assert killed.returncode == -9

    batch.refresh_from_db()
    assert (batch.status, batch.task_state) == ("preview", "running")
    assert not Incident.objects.exists() and not Case.objects.exists()
    assert not tasks.is_stale(batch)
    settings.TASK_STALE_MINUTES = 0  # as if its silence had lasted
    time.sleep(0.01)
    assert tasks.is_stale(batch)
    assert tasks.queue(batch, ImportBatch.TaskKind.IMPORT)  # the page's "try again"
    tasks.import_run.call(batch.pk)  # as the next worker does

    batch.refresh_from_db()
    assert (batch.status, batch.task_state) == ("imported", "done")
    assert Incident.objects.count() == 6


def other_client(user):
    from django.test import Client

    from tests.conftest import verified_login

    return verified_login(Client(), user)


def test_a_long_export_is_made_by_a_worker_and_left_for_its_asker_only(
    queue, client_for, documentalist, reviewer, settings, django_capture_on_commit_callbacks
):
    from accounts.models import SecurityEvent
    from cases.models import IncidentExport
    from tests.factories import CaseFactory, IncidentFactory

    settings.EXPORT_INLINE_ROWS = 2
    for day in (1, 2, 3):
        IncidentFactory(occurred_on=f"2021-07-0{day}", type="raid")
    IncidentFactory(case=CaseFactory(confidentiality="restricted"), type="raid")
    IncidentFactory(occurred_on="2021-08-01", type="threat")
    client = client_for(documentalist)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/admin/cases/incident/export/?type__exact=raid&format=xlsx")
    export = IncidentExport.objects.get()
    assert response.status_code == 302 and str(export.public_id) in response["Location"]
    assert (export.state, queue.waiting()) == ("queued", 1)
    assert b'id="work-bar"' in client.get(response["Location"]).content

    queue.work()

    export.refresh_from_db()
    assert (export.state, export.rows) == ("done", 3)  # the list's filter; not the restricted
    page = client.get(response["Location"]).content.decode()
    download = f"/admin/cases/incident/export/{export.public_id}/file/"
    assert download in page
    assert other_client(reviewer).get(download).status_code == 404  # only whoever asked
    assert not SecurityEvent.objects.filter(kind="export").exists()
    got = client.get(download)
    assert got.status_code == 200 and got["Content-Type"].startswith("application/vnd.openxml")
    workbook = load_workbook(io.BytesIO(b"".join(got.streaming_content)), read_only=True)
    assert len(list(workbook.worksheets[0].iter_rows())) == 4  # the header and three raids
    assert SecurityEvent.objects.get(kind="export").user == documentalist

    # Past its time the link is refused and the file deleted.
    export.expires_at = export.created_at
    export.save(update_fields=["expires_at"])
    assert client.get(download).status_code == 404
    tasks.exports_prune()
    export.refresh_from_db()
    assert not export.file
    assert "enlace venció" in client.get(response["Location"]).content.decode()


def test_a_short_export_is_still_made_at_once(client_for, documentalist):
    from tests.factories import IncidentFactory

    IncidentFactory()
    response = client_for(documentalist).get("/admin/cases/incident/export/")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
