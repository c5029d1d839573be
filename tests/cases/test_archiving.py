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
    case = CaseFactory(status="draft", confidentiality="restricted")
    case.team.add(documentalist)
    with django_capture_on_commit_callbacks(execute=True):
        source = case_services.source_create(
            user=documentalist, case=case, kind="press", title="Nota", url=site.url("/nota")
        )
    url = source.archives.get().file.url
    assert client_for(reviewer).get(url).status_code == 404  # a restricted case, not theirs
    response = client_for(coordinator).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PAGE


def test_a_confidential_sources_link_is_not_fetched(
    site, documentalist, django_capture_on_commit_callbacks
):
    """Our request would tell its site that we hold the link."""
    site.routes["/secreto"] = [(200, {"Content-Type": "text/html"}, PAGE)]
    source = source_with(
        site.url("/secreto"), django_capture_on_commit_callbacks, documentalist, confidential=True
    )
    assert not source.archives.exists()


def test_a_slow_or_broken_site_cannot_hold_or_break_the_worker(settings):
    import socket
    import threading
    import time

    from core import safe_http

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def trickle():
        conn, _ = listener.accept()
        conn.recv(1000)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _n in range(12):
            time.sleep(0.5)
            try:
                conn.sendall(b"x")
            except OSError:
                break
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(safe_http.Unreachable):
        safe_http.fetch(
            f"http://127.0.0.1:{port}/",
            max_bytes=1000,
            timeout=1,
            trusted=frozenset({f"127.0.0.1:{port}"}),
        )
    assert time.monotonic() - started < 3  # the whole fetch, not each read
    listener.close()
    for url in ("http://example.com:99999/", "http://[::1/"):
        with pytest.raises(safe_http.Refused):
            safe_http.fetch(url, max_bytes=10, timeout=1)


@pytest.mark.parametrize(
    "address",
    ["::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "fec0::1", "::127.0.0.1"],
)
def test_an_ipv6_address_carrying_a_private_one_is_not_public(address):
    import ipaddress

    from core.safe_http import is_public

    assert not is_public(ipaddress.ip_address(address))
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))


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
