"""The bulletin of the full synthetic series: every number traced to the published tables, rendered in headless
Chromium without console errors, each chart saved as a screenshot, and no serious accessibility violation (axe-core)."""

import csv
import html.parser
import json
import re
from pathlib import Path

import pytest

from nino_assets.publication.supplementary_tables import LAYOUTS

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def release_folder(full_series):
    folder = full_series.home.outputs / "releases" / full_series.quarters[-1].label
    assert (folder / "bulletin" / "index.html").exists(), "the main job did not write the bulletin"
    return folder


class Figures(html.parser.HTMLParser):
    """Every <span class="figure"> of a page: its cells, its kind, and the text shown."""

    def __init__(self):
        super().__init__()
        self.figures, self._open = [], None

    def handle_starttag(self, tag, attributes):
        attributes = dict(attributes)
        if tag == "span" and attributes.get("class") == "figure":
            self._open = {"kind": attributes["data-kind"], "cells": json.loads(attributes["data-cells"]), "text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.figures.append(self._open)
            self._open = None


def table_cells(folder: Path) -> dict:
    cells = {}
    for layout in LAYOUTS:
        stem = f"table_{layout.number}_{layout.name}"
        with (folder / "tables" / f"{stem}.csv").open(newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
        width = len(layout.row_columns)
        for row in rows:
            for column, value in zip(header[width:], row[width:]):
                cells[(stem, tuple(row[:width]), column)] = value
    return cells


def test_every_number_in_the_main_points_traces_back_to_table_cells(release_folder):
    page = (release_folder / "bulletin" / "index.html").read_text(encoding="utf-8")
    parser = Figures()
    parser.feed(page)
    cells = table_cells(release_folder)
    assert len(parser.figures) >= 10
    for figure in parser.figures:
        groups = [[int(cells[(table, tuple(row), column)]) for table, row, column in figure["cells"][side]]
                  for side in ("a", "b")]
        a, b = sum(groups[0]), sum(groups[1])
        value = {"value": a, "difference": a - b, "percent_change": 100 * (a - b) / b if b else None,
                 "percent_share": 100 * a / b if b else None}[figure["kind"]]
        shown = f"{abs(value):.1f}%" if figure["kind"].startswith("percent") else f"{abs(value):,}"
        assert figure["text"] == shown, figure
        if figure["kind"] == "value":
            assert a % 10 == 0
    # outside the marked figures, the main points hold no number but labels (quarters and years)
    main_points = re.search(r'<h2 id="main-points">.*?</section>', page, re.S).group(0)
    unmarked = re.sub(r'<span class="figure".*?</span>', "", main_points)
    unmarked = re.sub(r"\b\d{4}-Q[1-4]\b|<[^>]+>", "", unmarked)
    assert not re.findall(r"\d", unmarked), unmarked


def test_chart_data_tables_are_the_published_cells(release_folder):
    page = (release_folder / "bulletin" / "index.html").read_text(encoding="utf-8")
    cells = table_cells(release_folder)
    published = {value for value in cells.values()}
    for table in re.findall(r"<table>.*?</table>", page, re.S):
        for value in re.findall(r"<td>([^<]*)</td>", table):
            assert value.replace(",", "") in published, value


def test_the_same_tables_give_the_same_bulletin(release_folder, full_series):
    from nino_assets.publication.bulletin import ReleaseTables, render

    discontinuities = [{"discontinuity_id": "x", "start_date": "2004-05-01", "title": "EU8 accession",
                        "description": "A break."}]
    tables = ReleaseTables(release_folder / "tables")
    reference = full_series.quarters[-1]
    assert render(tables, reference, discontinuities, 10) == render(tables, reference, discontinuities, 10)


def test_rendered_in_chromium_without_errors_and_accessible(release_folder):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((release_folder / "bulletin" / "index.html").as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 8")
        charts = page.locator(".js-plotly-plot")
        assert charts.count() == 4
        for index in range(charts.count()):
            chart = charts.nth(index)
            chart.scroll_into_view_if_needed()
            chart.screenshot(path=str(ARTEFACTS / f"bulletin_chart_{chart.get_attribute('id')}.png"))
        page.screenshot(path=str(ARTEFACTS / "bulletin_page.png"), full_page=True)
        results = Axe().run(page)
        browser.close()
    assert errors == []
    violations = [(violation["id"], violation["impact"], len(violation["nodes"]))
                  for violation in results.response["violations"]]
    (ARTEFACTS / "bulletin_axe.json").write_text(json.dumps(results.response["violations"], indent=2))
    assert not [violation for violation in violations if violation[1] in ("serious", "critical")], violations
