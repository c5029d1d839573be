"""Archived copies of source links, against a local HTTP server: a page archived with its
hash and text; a redirect to a private address refused; an oversize page cut off with a
note; a site that is down tried again; the copy seen only by who may see the source; and
verify_sources finding a file altered by one byte."""

import datetime
import hashlib
import http.server
import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases import archiving
from cases import services as case_services
from cases.models import ArchivedCopy, Source
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db
PAGE = (
    "<html><head><style>p{}</style><script>var CENTINELA=1;</script></head>"
    "<body><h1>Detención en Coro</h1><p>El SEBIN detuvo a tres activistas.</p></body></html>"
).encode()


class Site:
    """A local web server whose pages are scripted: path → list of (status, headers, body)
    answered in turn (the last one again afterwards)."""

    def __init__(self):
        self.routes = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                answers = outer.routes.get(self.path, [(404, {}, b"no")])
                status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def url(self, path):
        return f"http://{self.host}{path}"


@pytest.fixture
def site(settings):
    site = Site()
    settings.ARCHIVE_TRUSTED_HOSTS = [site.host]  # this test server only
    yield site
    site.server.shutdown()
    site.server.server_close()


def source_with(url, django_capture_on_commit_callbacks, user, **fields):
    case = CaseFactory(status="draft", confidentiality="internal")
    with django_capture_on_commit_callbacks(execute=True):
        source = case_services.source_create(
            user=user, case=case, kind="press", title="Nota", url=url, **fields
        )
    return source


def test_a_page_is_archived_with_its_hash_and_text(
    site, documentalist, django_capture_on_commit_callbacks
):
    site.routes["/nota"] = [(200, {"Content-Type": "text/html; charset=utf-8"}, PAGE)]
    source = source_with(site.url("/nota"), django_capture_on_commit_callbacks, documentalist)
    copy = source.archives.get()
    assert (copy.state, copy.http_status, copy.truncated) == ("done", 200, False)
    with copy.file.open("rb") as stored:
        assert stored.read() == PAGE
    assert copy.sha256 == hashlib.sha256(PAGE).hexdigest() and copy.size == len(PAGE)
    assert "Detención en Coro" in copy.text and "CENTINELA" not in copy.text
    assert copy.fetched_at is not None
    # Saved again with the same link: not fetched twice.
    case_services.source_save(source=source, user=documentalist)
    assert source.archives.count() == 1


def test_a_redirect_to_a_private_address_is_refused(
    site, documentalist, django_capture_on_commit_callbacks
):
    site.routes["/salto"] = [(302, {"Location": "http://127.0.0.2:8080/admin/"}, b"")]
    source = source_with(site.url("/salto"), django_capture_on_commit_callbacks, documentalist)
    copy = source.archives.get()
    assert copy.state == "refused" and not copy.file
    assert "red privada o local" in copy.note
    assert archiving.archive_due(timezone.now() + datetime.timedelta(days=1)) == 0  # never again


def test_a_private_address_is_refused_before_any_connection(
    documentalist, django_capture_on_commit_callbacks
):
    for url in (
        "http://127.0.0.1:9/",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:9/x",
    ):
        source = source_with(url, django_capture_on_commit_callbacks, documentalist)
        assert source.archives.get().state == "refused", url


def test_an_oversize_page_is_cut_off_with_a_note(
    site, settings, documentalist, django_capture_on_commit_callbacks
):
    settings.ARCHIVE_MAX_BYTES = 2048
    site.routes["/larga"] = [(200, {"Content-Type": "text/plain"}, b"x" * 10_000)]
    copy = source_with(
        site.url("/larga"), django_capture_on_commit_callbacks, documentalist
    ).archives.get()
    assert (copy.state, copy.size, copy.truncated) == ("done", 2048, True)
    assert "Cortada" in copy.note


def test_a_site_that_is_down_is_tried_again(
    site, documentalist, django_capture_on_commit_callbacks
):
    site.routes["/caida"] = [
        (503, {}, b"down"),
        (200, {"Content-Type": "text/html"}, PAGE),
    ]
    copy = source_with(
        site.url("/caida"), django_capture_on_commit_callbacks, documentalist
    ).archives.get()
    assert (copy.state, copy.attempts) == ("pending", 1) and "503" in copy.note
    assert archiving.archive_due(timezone.now()) == 0  # not before its next try
    assert archiving.archive_due(timezone.now() + datetime.timedelta(minutes=6)) == 1
    copy.refresh_from_db()
    assert (copy.state, copy.attempts, copy.http_status) == ("done", 2, 200)


def test_a_copy_is_seen_only_by_who_may_see_the_source(
    site, client_for, documentalist, reviewer, coordinator, django_capture_on_commit_callbacks
):
    site.routes["/nota"] = [(200, {"Content-Type": "text/html"}, PAGE)]
    source = source_with(
        site.url("/nota"), django_capture_on_commit_callbacks, documentalist, confidential=True
    )
    source.case.team.add(documentalist)
    copy = source.archives.get()
    url = copy.file.url
    assert client_for(reviewer).get(url).status_code == 404  # confidential: not on the team
    response = client_for(coordinator).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PAGE


def test_verify_sources_finds_a_file_altered_by_one_byte(
    site, documentalist, django_capture_on_commit_callbacks
):
    site.routes["/nota"] = [(200, {"Content-Type": "text/html"}, PAGE)]
    copy = source_with(
        site.url("/nota"), django_capture_on_commit_callbacks, documentalist
    ).archives.get()
    out = io.StringIO()
    call_command("verify_sources", stdout=out)
    assert "1 archivos revisados, 0 con un problema" in out.getvalue()
    path = copy.file.path
    with open(path, "r+b") as stored:
        first = stored.read(1)
        stored.seek(0)
        stored.write(bytes([first[0] ^ 1]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 con un problema"):
        call_command("verify_sources", stdout=io.StringIO(), stderr=err)
    assert "Cambió desde que se guardó" in err.getvalue() and copy.file.name in err.getvalue()
    assert Source.objects.count() == 1 and ArchivedCopy.objects.count() == 1
