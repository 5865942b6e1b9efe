"""The partnership review end to end (issue 15).

Through the real pipeline: the committed scenario replayed over HTTP into
`partnerpulse up`, then `partnerpulse report --all` asks the classifier's API for
every client's report, as HTML and as PDF; the figures read back from both (the
HTML's `data-figure`s, the PDF's text by `pdftotext`) are those computed from the
scenario's truth.json and deliveries (tests/report_truth.py). And the HTML in a real
headless Chromium: no console errors, a screenshot, a print to PDF.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.print_page_options import PrintOptions

from services.events.outputs import Behaviour
from services.events.wording import WORDS as HABITS
from services.platform import local_http
from services.report.build import build_report
from services.report.model import Period
from services.report.period import quarter
from services.report.render import render_html
from services.runtime.auth import bearer
from services.scenario.evaluate import evaluate
from services.scenario.files import ScenarioFiles, load_scenario
from services.scenario.stack import Stack
from tests.report_truth import Expected, engine_states, expected

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "scenarios" / "families-30d"
ARTIFACTS = REPO / "var" / "test-artifacts"


def q1() -> Period:
    period = quarter("2026Q1")
    assert isinstance(period, Period)
    return period


def html_figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([a-z-]+)">([^<]*)<', html))


def html_habits(html: str) -> set[str]:
    found = re.search(r'data-behaviours="([a-z_ ]*)">([^<]*)<', html)
    assert found is not None
    behaviours = set(found.group(1).split())
    assert found.group(2) == ("; ".join(HABITS[Behaviour(b)].title for b in sorted(
        behaviours, key=list(Behaviour).index)) or "none")  # fmt: skip
    return behaviours


def pdf_habits(pdf: Path) -> set[str]:
    """The habits whose constructive title the PDF's text shows."""
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    flat = " ".join(text.stdout.split())
    return {b.value for b, words in HABITS.items() if words.title in flat}


def pdf_figures(pdf: Path) -> dict[str, str]:
    """The key figures' "label: value" lines of the PDF's text."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return {k.strip(): v for k, v in re.findall(r"• ([A-Za-z ]+): ([^\s(]+(?:, [a-z_]+)*)", text)}


def assert_shows(figures: dict[str, str], truth: Expected, where: str) -> None:
    visits = {"proactive": int(figures["visits-proactive-n"]), "reactive": 0}
    visits["reactive"] = int(figures["visits-reactive"])
    assert visits == truth.visits, where
    assert float(figures["hours-proactive"]) == pytest.approx(truth.hours["proactive"], abs=0.006)
    assert float(figures["hours-reactive"]) == pytest.approx(truth.hours["reactive"], abs=0.006)
    assert float(figures["rhem"]) == pytest.approx(truth.rhem, abs=1e-4), where
    for status in ("presented", "accepted", "declined"):
        assert int(figures[f"recommendations-{status}"]) == truth.recommendations[status], where


def by_label(pdf: dict[str, str]) -> dict[str, str]:
    """The PDF's labels as the HTML's figure names."""
    names = {
        "Visits proactive": "visits-proactive-n",
        "Visits reactive": "visits-reactive",
        "Hours proactive": "hours-proactive",
        "Hours reactive": "hours-reactive",
        "RHEM": "rhem",
    }
    for status in ("presented", "accepted", "declined"):
        names[f"Recommendations {status}"] = f"recommendations-{status}"
    return {name: pdf[label] for label, name in names.items()}


@pytest.mark.acceptance
def test_reports_from_the_pipeline_show_the_figures_of_the_truth(tmp_path: Path) -> None:
    files = load_scenario(SCENARIO)
    with (
        (tmp_path / "console.txt").open("w") as log,
        Stack(files.tenant_file, tmp_path / "pipeline") as stack,
    ):
        endpoints = stack.start()
        scores = evaluate(files, Console(file=log, width=120), endpoints=endpoints)
        assert scores.accounting.lost == 0
        token = (tmp_path / "pipeline" / "api-token").read_text().strip()
        api = endpoints.classifier_url
        client_id = files.tenant.clients[0].id
        refusals = {
            "no token": local_http.get(f"{api}/v1/clients/{client_id}/report"),
            "bad quarter": local_http.get(
                f"{api}/v1/clients/{client_id}/report",
                params={"quarter": "2026Q7"},
                headers=bearer(token),
                trust_env=False,
            ),
            "unknown client": local_http.get(
                f"{api}/v1/clients/nobody/report.pdf", headers=bearer(token), trust_env=False
            ),
        }
        assert {k: r.status_code for k, r in refusals.items()} == {
            "no token": 401,
            "bad quarter": 400,
            "unknown client": 404,
        }
        assert "2026Q7" in refusals["bad quarter"].json()["error"]
        signalled = {
            c.id: {
                s["behaviour"]
                for s in local_http.get(
                    f"{api}/v1/clients/{c.id}", headers=bearer(token), trust_env=False
                ).json()["signals"]
                if s["status"] != "withdrawn"
            }
            for c in files.tenant.clients
        }
        for fmt in ("html", "pdf"):
            run = subprocess.run(
                [sys.executable, "-m", "services.cli", "report", "--all", "--quarter", "2026Q1",
                 "--format", fmt, "--out", str(tmp_path / fmt), "--classifier-url", api],
                cwd=tmp_path,
                env={**os.environ, "PARTNERPULSE_API_TOKEN": token},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout + run.stderr
    period = q1()
    for client in files.tenant.clients:
        truth = expected(files, client.id, period.start, period.end)
        html = (tmp_path / "html" / f"{client.id}-2026Q1.html").read_text()
        pdf = tmp_path / "pdf" / f"{client.id}-2026Q1.pdf"
        assert pdf.read_bytes().startswith(b"%PDF-")
        assert_shows(html_figures(html), truth, f"{client.id} html")
        assert_shows(by_label(pdf_figures(pdf)), truth, f"{client.id} pdf")
        for where, habits in (("html", html_habits(html)), ("pdf", pdf_habits(pdf))):
            assert habits <= truth.behaviours, (client.id, where)  # never a false accusation
            assert habits == signalled[client.id], (client.id, where)
    # A demo client's PDF renders to PNG pages (Debian's poppler-utils).
    pages = tmp_path / "pages"
    pdf = tmp_path / "pdf" / f"{files.tenant.clients[0].id}-2026Q1.pdf"
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(pages)], check=True)
    assert len(list(tmp_path.glob("pages-*.png"))) >= 8  # summary ... agenda, appendix


@pytest.fixture(scope="module")
def scenario_html() -> str:
    files: ScenarioFiles = load_scenario(SCENARIO)
    folded = engine_states(files)
    # The client the scenario ends red: habits, evidence and visits to show.
    red = next(c for c, band in files.truth.health.items() if band.value == "red")
    client = next(c for c in files.tenant.clients if c.id == red)
    return render_html(build_report(folded.states[client.id], files.tenant, client, q1()))


@pytest.mark.acceptance
def test_the_report_in_a_real_headless_chromium(scenario_html: str, tmp_path: Path) -> None:
    """Debian's chromium with chromium-driver, through selenium: the page loads without
    a console error, a screenshot is kept as a test artifact, and it prints to PDF."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        missing = "no chromium and chromium-driver: apt-get install chromium chromium-driver"
        if os.geteuid() == 0:  # root could have installed them (.ci/run does)
            pytest.fail(missing)
        pytest.skip(missing + " (as root; this user cannot)")

    page = tmp_path / "report.html"
    page.write_text(scenario_html)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1024,1400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.get(page.as_uri())
        assert driver.title.startswith("Partnership review: ") and driver.title.endswith(", 2026Q1")
        charts = driver.execute_script(
            "return Array.from(document.images).filter(i => i.classList.contains('chart'))"
            ".map(i => [i.complete, i.naturalWidth])"
        )
        assert len(charts) == 5 and all(done and width > 0 for done, width in charts)
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "report-chromium.png"
        assert driver.save_screenshot(str(shot))
        printed = base64.b64decode(driver.print_page(PrintOptions()))
    finally:
        driver.quit()
    assert shot.stat().st_size > 10_000
    assert printed.startswith(b"%PDF-")
    (tmp_path / "printed.pdf").write_bytes(printed)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "printed.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Every visit of the period" in text and "Agenda" in text
