"""End to end in Debian's headless Chromium, driven by Playwright (no browser is downloaded): the real server as a
subprocess on a free port; log in, upload, search, open the dossier, place a hold, verify the audit chain.

Screenshots of the main pages go to tests/e2e/screenshots/ (git-ignored), as artifacts of the run.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DB_KIND, missing_service
from tests.fixtures.samples import PNG_1PX, pdf_bytes

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "e2e password long enough"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def browser():
    if DB_KIND != "sqlite":
        pytest.skip("the browser tests run once, in the SQLite pass")
    if not CHROMIUM.exists():
        missing_service("Debian's chromium is not installed (scripts/chromium.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _archive(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], env=env, cwd=ROOT,
                            input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser):
    data = tmp_path_factory.mktemp("e2e-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_DATA_DIR=str(data), ARCHIVE_WEB_THREADS="4")
    _archive(env, "db", "upgrade")
    for username, role in (("rm", "records_manager"), ("admin", "admin"), ("auditor", "auditor")):
        _archive(env, "users", "create", "--username", username, "--role", role, stdin=PASSWORD + "\n")
    port = _free_port()
    log = (data / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-c", "from web.cli import main; main()", "serve", "--host",
                                "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _wait_until_up(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/login", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the server did not come up within 60 s")


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, locale="en-GB", viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.csp_violations = []
    opened.on("console", lambda message: "Content Security Policy" in message.text
              and opened.csp_violations.append(message.text))
    yield opened
    context.close()


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_selector("text=What needs attention")


def test_file_search_open_hold_and_verify_in_a_real_browser(page, tmp_path):
    page.goto("/login")
    shoot(page, "login")
    sign_in(page, "rm")
    files = []
    for name, content in (("invoice-e2e.pdf", pdf_bytes("Facture E2E-4711 montant 120 EUR")),
                          ("delivery-e2e.pdf", pdf_bytes("Bon de livraison E2E-4711")), ("scan.png", PNG_1PX)):
        path = tmp_path / name
        path.write_bytes(content)
        files.append(str(path))

    page.click("nav >> text=Upload")
    page.select_option("select[name=doc_type]", "invoice")
    page.fill("input[name=customer]", "C-E2E")
    page.fill("input[name=customer_name]", "Durand & Fils <SA>")
    page.fill("input[name=order]", "PO-E2E")
    page.set_input_files("#files", files)
    page.click("text=File the documents")
    page.wait_for_selector("#receipts li.receipt.good >> nth=2")
    assert page.locator("#receipts li.receipt.good").count() == 3
    assert page.locator("#receipts li.receipt code").first.inner_text().startswith("sha256:")
    shoot(page, "upload")

    for _ in range(60):  # the in-process worker indexes after the commit
        page.goto("/search?q=order:PO-E2E")
        if page.locator("ol.hits > li").count() == 3:
            break
        time.sleep(0.5)
    assert page.locator("ol.hits > li").count() == 3
    assert page.locator("aside .facets").first.is_visible()
    shoot(page, "search")

    page.locator("ol.hits .meta a", has_text="PO-E2E").first.click()
    page.wait_for_selector("text=Reconciliation")
    assert page.locator("article.card").count() == 3
    shoot(page, "dossier")
    page.fill("section >> input[name=reason]", "customer dispute")
    page.fill("section >> input[name=case_reference]", "CASE-E2E")
    page.click("text=Place a hold on this order")
    page.wait_for_selector("text=Legal hold placed on 3 documents.")
    assert page.locator("article.card .badge.hold").count() == 3

    dossier = page.url
    for index in range(3):  # the PDF invoice's card, not the scan's
        page.goto(dossier)
        page.locator("article.card h3 a").nth(index).click()
        page.wait_for_selector("text=Retention and holds")
        if page.locator("figure.page img").count():
            break
    page.wait_for_load_state("load")  # (no wait_for_function: a string predicate is an eval, which our CSP forbids)
    first_page = page.locator("figure.page img").first
    assert "/pages/1.png" in first_page.get_attribute("src")
    # decode() waits for the lazy image to arrive; a PDF shown in a sandboxed frame would stay blank in Chromium
    assert first_page.evaluate("image => image.decode().then(() => image.naturalWidth)") > 0
    shoot(page, "document")
    first_page.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "document-preview.png"))

    page.click("nav >> text=Customers")
    page.click("text=C-E2E")
    page.wait_for_selector("text=Durand & Fils <SA>")
    shoot(page, "customer")

    page.click("nav >> text=Audit")
    page.wait_for_selector("text=hold.placed")
    shoot(page, "audit")
    page.click("text=Verify the chain and checkpoints")
    assert page.inner_text("#verdict") == "The audit chain is intact."
    shoot(page, "audit-verify")

    for name, url in (("home", "/"), ("review", "/review"), ("retention", "/retention")):
        page.goto(url)
        shoot(page, name)
    assert page.locator("text=CASE-E2E").count() == 1
    assert page.csp_violations == []


def test_admin_and_french_pages_in_a_real_browser(browser, server):
    context = browser.new_context(base_url=server, locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_selector("text=Ce qui demande votre attention")
    page.goto("/admin")
    page.wait_for_selector("text=Clés de signature")
    shoot(page, "admin")
    page.goto("/upload")
    shoot(page, "upload-fr")
    context.close()


def test_auditors_see_pages_without_forms_in_a_real_browser(page):
    sign_in(page, "auditor")
    page.goto("/retention")
    assert page.locator("main form[method=post]").count() == 0
    page.goto("/upload")
    assert page.locator("h1").inner_text().startswith("Not allowed")
