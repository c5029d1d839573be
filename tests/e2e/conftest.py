"""Browser tests: Debian's Chromium driven by Playwright against a real server holding the
demo. Run with `make e2e` (E2E=1); `make test` skips them."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = os.environ.get("E2E_SCREENSHOTS", "")

if not os.environ.get("E2E"):
    collect_ignore_glob = ["test_*.py"]


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


SECOND_DOCUMENTALIST = """
from django.contrib.auth.models import Group, User
from django_otp.plugins.otp_totp.models import TOTPDevice
from demo.data import demo_password, demo_totp_key
user, created = User.objects.get_or_create(username="documentalista2", defaults={"is_staff": True})
if created:
    user.set_password(demo_password("documentalista2"))
    user.save()
    user.groups.add(Group.objects.get(name="Documentalista"))
    TOTPDevice.objects.create(user=user, name="default", key=demo_totp_key("documentalista2"))
"""


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    database = tmp_path_factory.mktemp("e2e") / "db.sqlite3"
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{database}"}
    env.pop("E2E_SCREENSHOTS", None)
    manage("migrate", "--no-input", "-v", "0", env=env)
    manage("load_demo", env=env)
    manage("shell", "-c", SECOND_DOCUMENTALIST, env=env)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # As make demo runs it: a worker beside the server, for imports.
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.5"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/admin/login/", timeout=2)  # noqa: S310 (loopback)
            break
        except OSError:
            time.sleep(0.2)
    yield SimpleNamespace(url=url, env=env)
    for running in (worker, process):
        running.terminate()
        running.wait(timeout=60)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's Chromium is needed: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    # bypass_csp lets the test inject axe-core; the pages' own CSP is tested elsewhere.
    context = browser.new_context(
        locale="es-VE",
        timezone_id="America/Caracas",
        viewport={"width": 1300, "height": 900},
        bypass_csp=True,
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    """Written to docs/img when E2E_SCREENSHOTS=docs/img (make screenshots)."""
    if SHOTS:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ROOT / SHOTS / f"{name}.png"), full_page=False)


def element_screenshot(locator, name: str) -> None:
    """One element (a chart), written as screenshot() writes a page."""
    if SHOTS:
        locator.screenshot(path=str(ROOT / SHOTS / f"{name}.png"))


def pdf_screenshot(pdf: bytes, name: str) -> None:
    """A PDF's first page as a picture (PDFium), written as screenshot() writes a page."""
    if SHOTS:
        import pypdfium2

        document = pypdfium2.PdfDocument(pdf)
        document[0].render(scale=1.2).to_pil().save(ROOT / SHOTS / f"{name}.png")
        document.close()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [n["target"] for n in v["nodes"]][:4],
        }
        for v in result["violations"]
        if v["impact"] in ("critical", "serious")
    ]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, print where the browser was and what the page said."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page")
    if report.when == "call" and report.failed and page is not None:
        try:
            notes = page.locator(".errornote, .errorlist, .messagelist").all_inner_texts()
            report.sections.append(("browser", f"url: {page.url}\nnotes: {notes}"))
            log = Path(os.environ.get("E2E_SERVER_LOG", "/nonexistent"))
            if log.exists():
                errors = [line for line in log.read_text().splitlines() if "Error" in line]
                report.sections.append(("server errors", "\n".join(errors[-20:]) or "none"))
        except Exception as error:  # noqa: BLE001  (diagnostics only)
            report.sections.append(("browser", f"could not read the page: {error}"))
