"""The table builder in headless Chromium, on the query service over the service tests' cube released as 2002-Q4
(its file also holds 2003-Q1): a table built by clicking is the same query's `/table` answer cell for cell, its CSV
is the table shown, years are groups of four quarters counted as one cell, an unreleased quarter cannot be chosen, the API's refusals are told in plain words, a huge table
is shown in part and said so, and axe-core finds no serious violation."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, sync_playwright

from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.service_world import KEYS, QUARTERS, release
from nino_assets_tests.support.service_client import (
    AGE_FIELD,
    DATABASE,
    GEOGRAPHY_FIELD,
    MEASURE,
    NATIONALITY_FIELD,
    QUARTER_FIELD,
    SEX_FIELD,
    member_value,
    quarter_value,
    serving_in_thread,
)
from nino_assets_tests.support.browser import ARTEFACTS, launch_chromium

RELEASED = Quarter(2002, 4)
"""The release's reference quarter: the cube's file holds one quarter more, which must not be offered."""
CELL_LIMIT, RATE_LIMIT = 200_000, 200
MAX_RENDERED_CELLS = 50_000
"""As the page caps what it renders (table_builder.js)."""

@pytest.fixture(scope="module")
def service(world, tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("table_builder") / "service" / "releases"
    release(world.cube, root, RELEASED)
    with serving_in_thread(world.settings(root, cell_limit=CELL_LIMIT, rate_limit=RATE_LIMIT)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@dataclass
class Builder:
    """The page, driven as a user would, and what its console said."""

    page: Page
    errors: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    """The path of every request the page made."""

    def connect(self, key: str) -> None:
        self.page.get_by_label("API key", exact=True).fill(key)
        self.page.get_by_role("button", name="Use this key").click()

    def ready(self) -> None:
        self.page.locator("#query-form").wait_for()

    def field(self, label: str):
        return self.page.get_by_role("group", name=label, exact=True)

    def place(self, label: str, where: str) -> None:
        self.field(label).get_by_label("Place in the table").select_option(label=where)

    def choose(self, label: str, values: list[str]) -> None:
        group = self.field(label)
        group.get_by_label("Only the values I choose").check()
        for value in values:
            group.get_by_label(value, exact=True).check()

    def total(self, label: str) -> None:
        self.field(label).get_by_label("Show a total").check()

    def choices(self, label: str) -> list[list[str]]:
        """Each value offered for a field: its label and the value id it sends."""
        return self.field(label).locator("ul.values li").evaluate_all(
            "items => items.map(item => [item.textContent, item.querySelector('input').value])")

    def build(self) -> dict:
        """Builds the table and returns the query the page sent."""
        with self.page.expect_request(lambda request: request.url.endswith("/table")) as sent:
            self.page.get_by_role("button", name="Build the table").click()
        return sent.value.post_data_json

    def built(self) -> None:
        self.page.locator("#status").filter(has_text="Table built").wait_for()

    def shown(self) -> dict:
        return self.page.locator("#table-wrap table").evaluate(
            "table => ({caption: table.caption.textContent,"
            " header: [...table.tHead.rows[0].cells].map(cell => cell.textContent),"
            " rows: [...table.tBodies[0].rows].map(row => [...row.cells].map(cell => cell.textContent))})")

    def told(self, region: str) -> str:
        return self.page.locator(f"#{region}").text_content()


@pytest.fixture
def builder(service, browser) -> Iterator[Builder]:  # the service (and its Dagster build) before the browser
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    builder = Builder(context.new_page())
    builder.page.on("console", lambda message: builder.errors.append(message.text) if message.type == "error" else None)
    builder.page.on("pageerror", lambda error: builder.errors.append(str(error)))
    builder.page.on("request", lambda request: builder.asked.append(urlsplit(request.url).path))
    builder.page.goto(page_url(service))
    yield builder
    context.close()


def page_url(service: str) -> str:
    return service.removesuffix("webapi/rest/v1/") + "table-builder"


def refused(errors: list[str], status: int) -> list[str]:
    """The console errors but Chromium's own note of the request refused with `status`."""
    note = f"Failed to load resource: the server responded with a status of {status} "
    return [error for error in errors if not error.startswith(note)]


def expected_table(answer: dict) -> dict:
    """The table a /table answer reads as, worked out here apart from the page: its last field in the columns, the
    others in the rows (the first slowest), numbers with thousands separators."""
    *row_fields, column_field = answer["fields"]

    def labels(dimension: dict) -> list[str]:
        return [" + ".join(item["labels"]) for item in dimension["items"]]

    def flat(values) -> list[float]:
        return [cell for inner in values for cell in flat(inner)] if isinstance(values, list) else [values]

    cells, width = flat(answer["cubes"][MEASURE]["values"]), len(column_field["items"])
    assert all(cell == int(cell) for cell in cells)
    names = [dimension["label"] for dimension in answer["fields"]]
    return {"caption": f"NINo registrations by {', '.join(names[:-1])} and {names[-1]}",
            "header": [*names[:-1], *labels(column_field)],
            "rows": [[*row, *(f"{int(cell):,}" for cell in cells[number * width:(number + 1) * width])]
                     for number, row in enumerate(product(*map(labels, row_fields)))]}


def test_a_table_built_by_clicking_is_the_services_answer_and_its_csv_the_table_shown(builder, service):
    builder.connect(KEYS[0])
    builder.ready()
    builder.place("Quarter of registration", "Rows")
    builder.choose("Quarter of registration", ["2002-Q4", "2002-Q2"])
    builder.total("Quarter of registration")
    builder.place("Sex", "Columns")
    builder.total("Sex")
    sent = builder.build()
    builder.built()

    quarters = [[quarter_value(Quarter(2002, 2))], [quarter_value(Quarter(2002, 4))]]  # in the schema's order
    sexes = [[member_value("sex", "sex", "F")], [member_value("sex", "sex", "M")]]
    assert sent == {"database": DATABASE, "measures": [MEASURE], "dimensions": [[QUARTER_FIELD], [SEX_FIELD]],
                    "recodes": {QUARTER_FIELD: {"map": quarters, "total": True},
                                SEX_FIELD: {"map": sexes, "total": True}}}
    direct = requests.post(f"{service}table", json=sent, headers={"APIKey": KEYS[0]})
    direct.raise_for_status()
    shown = builder.shown()
    assert shown == expected_table(direct.json())
    assert shown["header"] == ["Quarter of registration", "Female", "Male", "Total"]
    assert [row[0] for row in shown["rows"]] == ["2002-Q2", "2002-Q4", "Total"]
    assert any("," in cell for row in shown["rows"] for cell in row[1:])  # thousands separators are exercised

    with builder.page.expect_download() as download:
        builder.page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename == "nino-registrations.csv"
    header, *rows = list(csv.reader(Path(download.value.path()).read_text(encoding="utf-8").splitlines()))
    assert header == shown["header"]
    assert rows == [[label, *(cell.replace(",", "") for cell in cells)] for label, *cells in shown["rows"]]

    ARTEFACTS.mkdir(exist_ok=True)
    builder.page.screenshot(path=str(ARTEFACTS / "table_builder.png"), full_page=True)
    results = Axe().run(builder.page)
    (ARTEFACTS / "table_builder_axe.json").write_text(json.dumps(results.response["violations"], indent=2))
    violations = [(violation["id"], violation["impact"], len(violation["nodes"]))
                  for violation in results.response["violations"]]
    assert not [violation for violation in violations if violation[1] in ("serious", "critical")], violations
    assert builder.errors == []
    # the page's own files, then the public API alone: the schema and tables
    api = [path for path in builder.asked if not path.startswith("/table-builder")]
    assert api and all(path.startswith("/webapi/rest/v1/schema") or path == "/webapi/rest/v1/table" for path in api)


def test_years_are_groups_of_four_quarters_the_service_counts_as_one_cell(builder, service):
    builder.connect(KEYS[0])
    builder.ready()
    builder.place("Quarter of registration", "Rows")
    builder.field("Quarter of registration").get_by_label("Level").select_option(label="Years to the end of each quarter")
    assert [label for label, _ in builder.choices("Quarter of registration")] == ["Year to the end of 2002-Q4"]
    builder.place("Nationality", "Columns")
    builder.field("Nationality").get_by_label("Level").select_option(label="EU or non-EU nationality")
    builder.total("Nationality")
    sent = builder.build()
    builder.built()
    year = [quarter_value(quarter) for quarter in QUARTERS if quarter <= RELEASED]
    assert sent["recodes"][QUARTER_FIELD] == {"map": [year], "total": False}
    answer = requests.post(f"{service}table", json=sent, headers={"APIKey": KEYS[0]}).json()
    expected = expected_table(answer)
    expected["rows"] = [["Year to the end of 2002-Q4", *row[1:]] for row in expected["rows"]]  # the year named
    shown = builder.shown()
    assert shown == expected
    assert shown["header"] == ["Quarter of registration", "European Union", "Non-EU", "Other / unknown", "Total"]
    # the year is one cell perturbed from its own records, not the sum of its perturbed quarters
    by_quarter = dict(sent, recodes={**sent["recodes"], QUARTER_FIELD: {"map": [[q] for q in year], "total": False}})
    quarters = requests.post(f"{service}table", json=by_quarter, headers={"APIKey": KEYS[0]}).json()

    def flat(values) -> list[float]:
        return [cell for inner in values for cell in flat(inner)] if isinstance(values, list) else [values]

    sums = [sum(column) for column in zip(*[flat(row) for row in quarters["cubes"][MEASURE]["values"]])]
    assert flat(answer["cubes"][MEASURE]["values"]) != sums
    builder.field("Quarter of registration").get_by_label("Level").select_option(label="Calendar years")
    assert [label for label, _ in builder.choices("Quarter of registration")] == ["Calendar year 2002"]
    assert builder.errors == []


def test_fields_in_the_rows_nest_the_first_slowest(builder, service):
    builder.connect(KEYS[0])
    builder.ready()
    builder.place("Age band at registration", "Rows")
    bands = [label for label, _ in builder.choices("Age band at registration")][-2:]
    builder.choose("Age band at registration", bands)
    builder.place("Sex", "Rows")
    builder.total("Sex")
    builder.place("Quarter of registration", "Columns")
    sent = builder.build()
    builder.built()
    assert [dimension for [dimension] in sent["dimensions"]] == [AGE_FIELD, SEX_FIELD, QUARTER_FIELD]
    shown = builder.shown()
    assert shown == expected_table(requests.post(f"{service}table", json=sent, headers={"APIKey": KEYS[0]}).json())
    assert [row[:2] for row in shown["rows"]] == [[band, sex] for band in bands for sex in ("Female", "Male", "Total")]
    assert builder.errors == []


def test_the_page_is_used_from_the_keyboard_with_focus_shown(builder):
    page = builder.page

    def focused(script: str):
        return page.evaluate(f"(element => {script})(document.activeElement)")

    page.keyboard.press("Tab")
    assert focused("element.textContent") == "Skip to main content"
    assert focused("getComputedStyle(element).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert focused("element.id") == "main"
    page.get_by_label("API key", exact=True).focus()
    page.keyboard.type(KEYS[0])
    page.keyboard.press("Enter")
    builder.ready()
    builder.field("Sex").get_by_label("Place in the table").focus()
    page.keyboard.press("ArrowDown")
    assert focused("element.value") == "row"
    page.keyboard.press("Tab")
    assert focused("element.labels[0].textContent") == "All values"
    page.get_by_role("button", name="Build the table").focus()
    page.keyboard.press("Enter")
    builder.built()
    assert focused("element.id") == "result-heading"
    assert [row[0] for row in builder.shown()["rows"]] == ["Female", "Male"]
    assert builder.errors == []


def test_the_page_is_served_without_a_key_and_nothing_else_beside_it(service):
    folder = requests.get(page_url(service), allow_redirects=False)
    assert (folder.status_code, folder.headers["location"]) == (308, "table-builder/")
    for name, media_type in (("", "text/html"), ("table_builder.js", "text/javascript"),
                             ("table_builder.css", "text/css")):
        served = requests.get(f"{page_url(service)}/{name}")
        assert served.status_code == 200 and served.headers["content-type"].startswith(media_type)
        assert "script-src 'self'" in served.headers["content-security-policy"]
    missing = requests.get(f"{page_url(service)}/app.py")
    assert (missing.status_code, missing.json()["errorType"]) == (404, "notFound")


def test_only_released_quarters_are_offered_and_the_list_can_be_filtered(builder):
    builder.connect(KEYS[0])
    builder.ready()
    builder.place("Quarter of registration", "Rows")
    released = [quarter for quarter in QUARTERS if quarter <= RELEASED]
    assert QUARTERS[-1] > RELEASED
    assert builder.choices("Quarter of registration") == [[q.label, quarter_value(q)] for q in released]
    group = builder.field("Quarter of registration")
    group.get_by_label("Only the values I choose").check()
    group.get_by_label("Filter the values").fill("q4")
    assert group.locator("ul.values li:visible").all_text_contents() == ["2002-Q4"]
    group.get_by_role("button", name="Select all shown").click()
    assert group.get_by_text("1 of 4 values chosen").is_visible()
    assert builder.errors == []


def test_a_wrong_key_is_told_in_plain_words(builder):
    builder.connect("not-a-key")
    builder.page.locator("#error").filter(has_text="did not accept this API key").wait_for()
    assert builder.page.locator("#query-form").is_hidden()
    assert refused(builder.errors, 403) == []


def test_a_table_over_the_cell_limit_is_told_in_plain_words(builder):
    builder.connect(KEYS[0])
    builder.ready()
    builder.place("Nationality", "Rows")
    builder.place("Area of residence at registration", "Rows")
    builder.place("Quarter of registration", "Columns")
    builder.build()
    builder.page.locator("#error").filter(has_text="larger than the service allows").wait_for()
    assert f"the limit is {CELL_LIMIT:,}" in builder.told("error")
    assert builder.page.locator("#result").is_hidden()
    assert refused(builder.errors, 422) == []


def test_a_key_out_of_requests_is_told_when_it_may_ask_again(builder, service):
    builder.connect(KEYS[1])
    builder.ready()
    builder.place("Sex", "Rows")
    with requests.Session() as session:  # the rest of the key's window, used up
        session.headers["APIKey"] = KEYS[1]
        for _ in range(session.get(f"{service}rate_limit").json()["remaining"]):
            session.get(f"{service}info").raise_for_status()
    builder.build()
    builder.page.locator("#error").filter(has_text="used all of its requests").wait_for()
    assert "You can ask again after" in builder.told("error")
    assert refused(builder.errors, 429) == []


def test_a_huge_table_is_shown_in_part_and_said_so_while_the_csv_holds_it_all(builder):
    builder.connect(KEYS[0])
    builder.ready()
    builder.place("Area of residence at registration", "Rows")
    builder.place("Nationality", "Columns")
    sent = builder.build()
    started = time.perf_counter()
    builder.built()
    seconds = time.perf_counter() - started
    assert [dimension for [dimension] in sent["dimensions"]] == [GEOGRAPHY_FIELD, NATIONALITY_FIELD]
    areas, nationalities = (len(sent["recodes"][field]["map"]) for field in (GEOGRAPHY_FIELD, NATIONALITY_FIELD))
    assert areas * nationalities > MAX_RENDERED_CELLS
    shown = MAX_RENDERED_CELLS // nationalities
    assert builder.page.locator("#table-wrap tbody tr").count() == shown
    assert f"The table has {areas:,} rows; the first {shown:,} are shown here" in builder.told("result-note")
    with builder.page.expect_download() as download:
        builder.page.get_by_role("button", name="Download CSV").click()
    assert len(Path(download.value.path()).read_text(encoding="utf-8").splitlines()) == 1 + areas
    assert seconds < 10, f"the table took {seconds:.1f} s to be shown"
    assert builder.errors == []
