"""The bulletin of the full synthetic series: every number traced to the published tables, rendered in headless
Chromium without console errors, each chart saved as a screenshot, and no serious accessibility violation (axe-core)."""

import csv
import html
import html.parser
import json
import re
from datetime import date
from pathlib import Path

import pytest

from nino_assets.publication.supplementary_tables import LAYOUTS
from nino_assets.publication.wording import prose_count, prose_percent
from nino_assets_tests.support.browser import ARTEFACTS, launch_chromium

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")



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
            self._open = {"kind": attributes["data-kind"], "cells": json.loads(attributes["data-cells"]),
                          "exact": attributes["data-exact"], "text": ""}

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
        percent = figure["kind"].startswith("percent")
        assert figure["exact"] == (f"{abs(value):.1f}%" if percent else f"{abs(value):,}"), figure
        assert figure["text"] == (prose_percent(value) if percent else prose_count(value)), figure
        if figure["kind"] == "value":
            assert a % 10 == 0
    # outside the marked figures, the main points hold no number but labels (quarters and years)
    main_points = re.search(r'<h2 id="main-points">.*?</section>', page, re.S).group(0)
    unmarked = re.sub(r'<span class="figure".*?</span>', "", main_points)
    unmarked = re.sub(f"<[^>]+>|\\b({'|'.join(MONTHS)}) \\d{{4}}\\b", "", unmarked)
    assert not re.findall(r"\d", unmarked), unmarked  # but the periods' years, every number is a marked figure


def test_chart_data_tables_are_the_published_cells(release_folder):
    page = (release_folder / "bulletin" / "index.html").read_text(encoding="utf-8")
    cells = table_cells(release_folder)
    published = {value for value in cells.values()}
    for table in re.findall(r"<table>.*?</table>", page, re.S):
        for value in re.findall(r"<td>([^<]*)</td>", table):
            assert value.replace(",", "") in published, value


def test_the_same_tables_give_the_same_bulletin(release_folder, full_series):
    from nino_assets.publication.bulletin import Masthead, ReleaseTables, render

    discontinuities = [{"discontinuity_id": "x", "start_date": "2004-05-01", "title": "EU8 accession",
                        "description": "A break."}]
    tables = ReleaseTables(release_folder / "tables")
    reference = full_series.quarters[-1]
    header = Masthead("Official statistics", date(2026, 11, 26), None, "A. Person", "a@example.gov.uk", "0300")
    assert render(tables, reference, discontinuities, 10, header) == render(
        tables, reference, discontinuities, 10, header)


def test_periods_and_the_header_block_read_as_a_statistics_release(release_folder, full_series):
    from nino_assets.reference.assets import RELEASE_CALENDAR_FILE
    from nino_assets.release.calendar import load_calendar, release_of

    page = (release_folder / "bulletin" / "index.html").read_text(encoding="utf-8")
    reference = full_series.quarters[-1]
    prose = re.sub(r"<script.*?</script>|<table>.*?</table>|<[^>]+>", " ", page, flags=re.S)
    prose = re.sub(r'data-[a-z]+="[^"]*"', "", prose)
    assert not re.findall(r"\b\d{4}-[Qq][1-4]\b", prose)  # periods in words, never "2026-Q3" (nor "2026-q3")
    ending = f"year ending {reference.end:%B %Y}"
    assert f"<h1>National Insurance number allocations to adult overseas nationals: {ending}</h1>" in page
    calendar = load_calendar(RELEASE_CALENDAR_FILE)
    published = release_of(calendar, reference).release_date
    assert f"<dt>Published</dt><dd>{published.day} {published:%B %Y}</dd>" in page
    following = [release.release_date for release in calendar if release.reference == reference.next()]
    expected = f"{following[0].day} {following[0]:%B %Y}" if following else "to be announced"
    assert f"<dt>Next release</dt><dd>{expected}</dd>" in page
    assert "Alex Morgan" in page  # the statistician responsible, from the team file
    # what users quote first: the year and its change, then the EU / non-EU split
    points = re.findall(r"<li>(.*?)</li>", re.search(r'<h2 id="main-points">.*?</section>', page, re.S).group(0))
    assert points[0].startswith(f"In the {ending}, ") and "EU nationals" in points[1] and "non-EU" in points[1]
    charts = re.findall(r'<section aria-labelledby="([a-z-]+)"><h2.*?</section>', page, re.S)
    sections = re.findall(r'<section aria-labelledby="[a-z-]+"><h2.*?</section>', page, re.S)
    with_charts = [section for section in sections if 'class="chart"' in section]
    assert len(with_charts) == 5 and all('<p class="source">Source: ' in section for section in with_charts), charts


def test_the_map_shades_every_local_authority_and_names_those_with_most(release_folder):
    from nino_assets.publication.hex_map import load_layout

    page = (release_folder / "bulletin" / "index.html").read_text(encoding="utf-8")
    section = re.search(r'<section aria-labelledby="local-authorities">.*?</section>', page, re.S).group(0)
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td></tr>', section)
    names = {hexagon.name for hexagon in load_layout()}
    assert {html.unescape(name) for name, _ in rows} <= names and len(rows) >= 350
    counts = [int(count.replace(",", "")) for _, count in rows]
    assert counts == sorted(counts, reverse=True)
    top = [html.unescape(name) for name, _ in rows[:3]]
    assert all(name in html.unescape(section) for name in top)
    cells = table_cells(release_folder)
    for name, count in rows:
        [value] = [value for (table, labels, column), value in cells.items()
                   if table.startswith("table_4_") and labels[1] == html.unescape(name)
                   and column == "All nationalities"]
        assert int(value) == int(count.replace(",", ""))


def test_rendered_in_chromium_without_errors_and_accessible(release_folder):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    errors = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((release_folder / "bulletin" / "index.html").as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 10")
        charts = page.locator(".js-plotly-plot")
        assert charts.count() == 5
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
