"""The intake, review, report and lawyer flows, in Spanish, as people use them."""

import io
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django_otp.oath import totp
from pypdf import PdfReader

from demo.data import demo_password, demo_totp_key
from tests.e2e.conftest import (
    axe_violations,
    element_screenshot,
    pdf_screenshot,
    screenshot,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
USED_CODES = set()


def code(username: str) -> str:
    """The current code of a demo account's authenticator (from its known secret). A code
    is accepted once: a second sign-in of the same account waits for the next one."""
    key = bytes.fromhex(demo_totp_key(username))
    while (username, current := f"{totp(key):06d}") in USED_CODES:
        time.sleep(1)
    USED_CODES.add((username, current))
    return current


def login(page, server, username, *, token=None):
    page.goto(server.url + "/admin/")
    page.fill("#id_auth-username", username)
    page.fill("#id_auth-password", demo_password(username))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.fill("#id_token-otp_token", token or code(username))
    with page.expect_navigation():
        page.keyboard.press("Enter")


def pick(page, field_id, text):
    """Choose `text` in a select2 autocomplete."""
    page.locator(f"#{field_id}").locator(
        "xpath=following-sibling::span[contains(@class,'select2')]"
    ).first.click()
    page.locator(".select2-container--open .select2-search__field").fill(text)
    option = page.locator(".select2-results__option:not(.loading-results)", has_text=text).first
    option.click()


def run_action(page, server, title, action):
    page.goto(server.url + "/admin/cases/case/?q=" + title.split()[0])
    row = page.locator("#result_list tr", has_text=title)
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    with page.expect_navigation():
        page.click("button[name=index]")


def test_1_a_coordinator_needs_password_and_code(page, server):
    right = code("coordinadora")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    login(page, server, "coordinadora", token=wrong)
    assert page.locator("#id_token-otp_token").is_visible()  # refused, still asked
    screenshot(page, "login-second-factor")
    page.wait_for_timeout(1500)  # django-otp throttles: a retry waits a second after a failure
    page.fill("#id_token-otp_token", right)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/admin/")
    assert "El equipo esta semana" in page.content()  # the coordinator's home page


CASE_TITLE = "Ataque de prueba e2e en Barquisimeto"


def test_2_a_documentalist_records_a_case_and_sends_it_to_review(page, server):
    login(page, server, "documentalista")
    page.goto(server.url + "/admin/cases/case/add/")
    assert axe_violations(page) == []
    page.fill("#id_title", CASE_TITLE)
    page.select_option("#id_state", "VE-K")
    page.select_option("#id_incidents-0-type", "intimidation")
    page.fill("#id_incidents-0-occurred_on", "15/07/2021")
    pick(page, "id_incidents-0-defender", "Ana Ejemplar")
    pick(page, "id_incidents-0-involvements-0-perpetrator", "SEBIN")
    page.locator(".djn-add-handler.djn-model-cases-incident").last.click()
    page.select_option("#id_incidents-1-type", "raid")
    page.fill("#id_incidents-1-occurred_on", "15/07/2021")
    pick(page, "id_incidents-1-organization", "Red Ejemplo de Derechos Humanos")
    pick(page, "id_incidents-1-involvements-0-perpetrator", "SEBIN")
    page.select_option("#id_sources-0-kind", "press")
    page.fill("#id_sources-0-title", "Nota de prensa sobre el allanamiento")
    screenshot(page, "case-form")
    # A click by coordinates could land on "Save and add another" if the long form is still
    # settling (select2 closing); dispatching the click on the button itself cannot.
    with page.expect_navigation():
        page.locator("input[name=_save]").dispatch_event("click")
    errors = page.locator(".errornote, .errorlist").all_inner_texts()
    assert errors == [] and page.url.endswith("/admin/cases/case/"), (page.url, errors)
    run_action(page, server, CASE_TITLE, "submit_for_review")
    assert "1 caso actualizado" in page.content()


def move(page, label, reason=""):
    """Press a workflow button on the case page, then confirm on its page."""
    with page.expect_navigation():
        page.get_by_role("link", name=label, exact=True).click()
    if reason:
        page.fill("#id_reason", reason)
    with page.expect_navigation():
        page.locator("input[type=submit].default").click()
    assert "está ahora" in page.locator(".messagelist").inner_text(), page.content()


def test_3_a_reviewer_sends_a_case_back_from_her_home_page(page, server):
    login(page, server, "revisora")
    assert page.url.endswith("/admin/")
    queue = page.locator("#review-queue")
    assert CASE_TITLE in queue.inner_text() and "documentalista" in queue.inner_text()
    assert axe_violations(page) == []
    screenshot(page, "home-reviewer")
    with page.expect_navigation():
        queue.get_by_role("link", name=CASE_TITLE).click()
    move(page, "Devolver a quien lo documentó", reason="Falta la hora de la detención")


def test_3b_the_documentalist_finds_why_fixes_it_and_sends_it_again(page, server):
    login(page, server, "documentalista")
    sent_back = page.locator("#sent-back")
    assert "Falta la hora de la detención" in sent_back.inner_text()
    assert axe_violations(page) == []
    screenshot(page, "home-documentalist")
    with page.expect_navigation():
        sent_back.get_by_role("link", name=CASE_TITLE).click()
    page.fill("#id_summary", "Detenidos a las 6:00 en su sede.")
    with page.expect_navigation():
        page.locator("input[name=_continue]").dispatch_event("click")
    assert page.locator(".errornote").count() == 0
    move(page, "Enviar a revisión")


def test_3c_the_reviewer_verifies_and_publishes_and_the_report_changes(page, server):
    login(page, server, "revisora")
    page.goto(server.url + "/reports/monthly/2021/7/")
    assert "se registraron 140 ataques" in page.content()
    screenshot(page, "monthly-report")  # the seed bulletin, as the demo has it
    page.goto(server.url + "/admin/")
    with page.expect_navigation():
        page.locator("#review-queue").get_by_role("link", name=CASE_TITLE).click()
    move(page, "Verificar")
    with page.expect_navigation():
        page.get_by_role("link", name="Publicar", exact=True).click()
    assert "nunca lo recibirán" in page.content()  # an internal case: allies will not get it
    with page.expect_navigation():
        page.locator("input[type=submit].default").click()
    page.goto(server.url + "/reports/monthly/2021/7/")
    content = page.content()
    assert "se registraron 142 ataques" in content
    chart = page.locator("#by-type-desc").text_content()
    assert "Intimidación y hostigamiento: 15" in chart and "Allanamiento: 3" in chart
    assert axe_violations(page) == []


def test_3d_the_reviewer_publishes_july_and_a_visitor_reads_it_without_login(page, server, browser):
    login(page, server, "revisora")
    page.goto(server.url + "/reports/monthly/2021/7/")
    with page.expect_navigation():
        page.click("text=Publicar estas cifras…")
    assert "congela" in page.content()  # what publishing freezes, before it does
    assert "Casos destacados" in page.content() and "El director de FundaRedes" in page.content()
    with page.expect_navigation():
        page.click("input[type=submit].default")
    assert "PDF publicado (v1)" in page.content()

    # bypass_csp: for axe-core, injected by the test, as in the other flows.
    visitor = browser.new_context(
        locale="es-VE", viewport={"width": 375, "height": 800}, bypass_csp=True
    )
    visitor_page = visitor.new_page()
    try:
        visitor_page.goto(server.url + "/boletin/")
        with visitor_page.expect_navigation():
            visitor_page.click("text=Julio de 2021")
        content = visitor_page.content()
        assert "se registraron 142 ataques" in content and "<svg" in content
        assert "Caso destacado: «Detención de Javier Tarazona" in content
        assert "revisora" not in content
        assert visitor_page.evaluate("document.documentElement.scrollWidth") <= 375
        # The map: each federal entity shaded, its counts in a table beside it.
        drawn = visitor_page.locator('svg[aria-labelledby="map-title map-desc"]')
        drawn.scroll_into_view_if_needed()
        assert drawn.locator("path").count() == 25 and drawn.bounding_box()["width"] <= 375
        assert visitor_page.get_by_role("table", name="Ataques por entidad federal").is_visible()
        element_screenshot(drawn, "bulletin-map")
        pdf = visitor_page.request.get(server.url + "/boletin/2021/7/boletin.pdf")
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
        pages = PdfReader(io.BytesIO(pdf.body())).pages
        text = " ".join(pages[0].extract_text().split())
        assert "se registraron 142 ataques" in text and "Caso destacado" in text
        assert "Casos publicados del mes" in " ".join(p.extract_text() for p in pages)
        pdf_screenshot(pdf.body(), "bulletin-pdf")
        visitor_page.add_script_tag(path=str(ROOT / "tests/e2e/node_modules/axe-core/axe.min.js"))
        result = visitor_page.evaluate("async () => await axe.run(document)")
        serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == []
        screenshot(visitor_page, "public-bulletin")
    finally:
        visitor.close()


def test_4_a_colleague_cannot_find_a_restricted_case(page, server):
    login(page, server, "documentalista2")
    page.goto(server.url + "/admin/cases/case/")
    assert "pidió reserva" not in page.content()
    page.goto(server.url + "/admin/cases/case/?q=reserva")
    assert "pidió reserva" not in page.content()
    page.goto(server.url + "/admin/cases/incident/add/")
    page.locator("#id_case").locator(
        "xpath=following-sibling::span[contains(@class,'select2')]"
    ).first.click()
    page.locator(".select2-container--open .select2-search__field").fill("reserva")
    page.wait_for_selector(".select2-results__option:not(.loading-results)")
    assert "pidió reserva" not in page.locator(".select2-results").inner_text()
    # Nor through the search box at the top of every page.
    page.fill(".site-search input[type=search]", "pidio reserva")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/search/" in page.url and "pidió reserva" not in page.content()
    assert "Nada de lo que puede ver" in page.content()


def test_4b_a_documentalist_finds_tarazona_without_accents(page, server):
    login(page, server, "documentalista")
    page.fill(".site-search input[type=search]", "detencion coro")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    results = page.locator(".search-page")
    assert "Detención de Javier Tarazona" in results.inner_text()
    assert page.locator(".search-page mark").count() > 0
    assert axe_violations(page) == []
    screenshot(page, "search")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_5_a_lawyer_follows_tarazona(page, server):
    login(page, server, "abogada")
    assert page.url.endswith("/legal/")  # a lawyer's home page
    assert axe_violations(page) == []
    screenshot(page, "legal-dashboard")
    row = page.locator("#past tr", has_text="Javier Tarazona")
    assert "1675" in row.inner_text()
    with page.expect_navigation():
        row.locator("a").click()
    assert re.search(r"/legal/detentions/[0-9a-f-]+/$", page.url)
    text = page.content()
    assert "1675" in text and "El Helicoide" in text and "No hubo traslado" in text
    screenshot(page, "detention-timeline")


def test_5b_a_lawyer_runs_her_week(page, server):
    login(page, server, "abogada")
    # The bell: the invented arrest of last week is news in her caseload.
    bell = page.locator("a.bell")
    assert "1" in bell.inner_text()
    with page.expect_navigation():
        bell.click()
    note = page.get_by_role("link", name=re.compile("Nueva detención: Activista Ficticio"))
    screenshot(page, "notifications")
    with page.expect_navigation():
        note.click()
    assert "/legal/detentions/" in page.url and "Activista Ficticio de Mérida" in page.content()
    assert page.locator("a.bell strong").count() == 0  # read now
    page.goto(server.url + "/legal/")
    with page.expect_navigation():
        page.click("text=Audiencias de la semana")
    # The demo's invented arrest has a hearing this Thursday at 10:00, and one next week.
    thursday = page.locator("section.day").nth(3)
    assert "10:00" in thursday.inner_text() and "Tribunal 1.º de Control" in thursday.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert axe_violations(page) == []
    screenshot(page, "legal-agenda")
    page.select_option("select[name=week]", "next")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "09:30" in page.locator("section.day").nth(1).inner_text()
    with page.expect_navigation():
        page.click("text=Activista Ficticio de Mérida")
    assert "/legal/detentions/" in page.url
    assert "Próxima audiencia" in page.content()


def test_6_a_documentalist_narrows_the_incidents_to_a_month(page, server):
    login(page, server, "documentalista")
    page.goto(server.url + "/admin/cases/incident/")
    filters = page.locator("#changelist-filter")
    with page.expect_navigation():
        filters.get_by_role("link", name="Estigmatización y difamación").click()
    picker = filters.locator("form.month-picker")
    # July 2021 is older than the last twelve months' links: only the picker reaches it.
    picker.get_by_label("Otro mes").fill("2021-07")
    with page.expect_navigation():
        picker.get_by_role("button", name="Mostrar").click()

    query = parse_qs(urlsplit(page.url).query)
    assert query["month"] == ["2021-07"] and query["type__exact"] == ["stigmatization"], page.url
    assert picker.locator("xpath=ancestor::li[1]").get_attribute("class") == "selected"
    assert picker.get_by_label("Otro mes").input_value() == "2021-07"
    screenshot(page, "incident-month-filter")
    count = page.locator("p.paginator").inner_text()
    found = re.search(r"^(\d+) incidentes$", count, re.MULTILINE)
    assert found, count
    # The seed has more than a page (100 rows) of them: the second page keeps both filters.
    dates = page.locator("#result_list td.field-occurred_on").all_inner_texts()
    types = page.locator("#result_list .field-type").all_inner_texts()
    with page.expect_navigation():
        page.locator("p.paginator").get_by_role("link", name="2", exact=True).click()
    dates += page.locator("#result_list td.field-occurred_on").all_inner_texts()
    types += page.locator("#result_list .field-type").all_inner_texts()
    assert len(dates) == int(found[1]), (len(dates), count)
    assert all(date.endswith(" de julio de 2021") for date in dates), dates
    assert set(types) == {"Estigmatización y difamación"}, types


def test_6b_an_analyst_reads_the_api_documentation(page, server):
    login(page, server, "analista")
    page.goto(server.url + "/api/v1/docs/")
    page.wait_for_selector(".opblock-summary-path")  # the operations, drawn by Swagger UI
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/incidents/" in paths and "/api/v1/changes/" in paths, paths
    screenshot(page, "api-docs")


def test_6c_a_coordinator_creates_an_account_that_signs_in_at_once(page, server):
    login(page, server, "coordinadora")
    assert axe_violations(page) == []
    screenshot(page, "home-coordinator")
    page.goto(server.url + "/admin/auth/user/add/")
    roles = page.locator("input[name=role]")
    assert roles.count() == 5 and roles.first.get_attribute("type") == "radio"  # one role
    page.fill("#id_username", "nueva.documentalista")
    page.fill("#id_first_name", "Nueva")
    page.fill("#id_last_name", "Documentalista")
    page.get_by_label("Documentalista", exact=True).check()
    page.fill("#id_password1", "una-clave-larga-de-prueba-2026")
    page.fill("#id_password2", "una-clave-larga-de-prueba-2026")
    with page.expect_navigation():
        page.locator("input[name=_save]").dispatch_event("click")
    assert page.locator(".errornote").count() == 0, page.content()
    page.context.clear_cookies()
    page.goto(server.url + "/admin/")
    page.fill("#id_auth-username", "nueva.documentalista")
    page.fill("#id_auth-password", "una-clave-larga-de-prueba-2026")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # Straight to enrolling an authenticator: not back to an empty login form.
    assert "/account/two_factor/setup/" in page.url, page.url


def test_6d_an_analyst_lands_on_the_months(page, server):
    login(page, server, "analista")
    months = page.locator("#months").inner_text().lower()
    assert "contados ahora" in months and "julio 2021" in months  # the demo's last months
    assert axe_violations(page) == []
    screenshot(page, "home-analyst")


def big_file(path, count: int) -> None:
    """`count` rows in the template, as make bench generates them (invented names)."""
    import csv
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_import import rows

    from cases.intake.template import COLUMNS

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows(count, seed=2026))


def follow(page, *, until: str, seen: list, timeout: float = 600) -> None:
    """Note what the progress shows (stage and bar) until `until` is on the page."""
    deadline = time.monotonic() + timeout
    while page.locator(until).count() == 0:
        assert time.monotonic() < deadline, f"{until} never came; progress seen: {seen[-5:]}"
        bar = page.locator("#work-bar")
        if bar.count():
            shown = (page.locator("#work-stage").text_content(), bar.get_attribute("value"))
            if not seen or seen[-1] != shown:
                seen.append(shown)
        page.wait_for_timeout(300)


def test_6e_a_documentalist_imports_80000_rows_in_the_background(page, server, tmp_path):
    path = tmp_path / "base-grande.csv"
    big_file(path, 80_000)
    login(page, server, "documentalista")
    page.goto(server.url + "/admin/cases/importbatch/upload/")
    page.set_input_files("#id_file", str(path))
    page.fill("#id_origin", "Base grande e2e")
    with page.expect_navigation():
        page.click("input[type=submit]")
    seen = []
    follow(page, until="#work-stage", seen=seen, timeout=60)
    page.wait_for_timeout(1500)
    follow(page, until="#work-stage", seen=seen, timeout=60)
    screenshot(page, "import-progress")
    # Left for the home page, and back by its list of imports.
    page.goto(server.url + "/admin/")
    with page.expect_navigation():
        page.locator("#imports a", has_text="Base grande e2e").first.click()
    with page.expect_navigation():
        page.click("text=Vista previa y confirmación")  # the batch's page links its preview
    follow(page, until="input[value='Confirmar la importación']", seen=seen)
    assert "80" in page.locator("table").first.text_content()  # 80 000 rows
    with page.expect_navigation():
        page.click("input[value='Confirmar la importación']")
    follow(page, until="text=casos que creó esta importación", seen=seen)
    stages = {stage for stage, _value in seen}
    assert len(stages) >= 3, seen  # the work was seen moving, stage after stage
    assert any(value not in (None, "0") for _stage, value in seen), seen
    first_case = page.locator("a[href*='/admin/cases/case/']").first
    with page.expect_navigation():
        first_case.click()
    assert "/admin/cases/case/" in page.url and page.locator("#case_form").count() == 1


def test_7_five_wrong_passwords_lock_an_account(page, server):
    # Last: it locks analista from 127.0.0.1 (username and address together), and no flow
    # after it should depend on that account.
    for _ in range(5):
        page.goto(server.url + "/admin/login/")
        page.fill("#id_auth-username", "analista")
        page.fill("#id_auth-password", "equivocada")
        with page.expect_navigation():
            page.keyboard.press("Enter")
    page.goto(server.url + "/admin/login/")
    page.fill("#id_auth-username", "analista")
    page.fill("#id_auth-password", demo_password("analista"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Cuenta bloqueada" in page.content()
    assert page.locator("#id_token-otp_token").count() == 0
