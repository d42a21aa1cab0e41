"""The team's three UI flows against a real `dagster dev` (webserver and daemon) on loopback, through the
webserver's GraphQL API: a backfill of every partition as one run, lineage inspection (column schemas and check
results on the graph from raw scan to the release), and the landing sensor starting a run when a scan lands. The asset
graph page is opened in headless Chromium and saved as a screenshot. Every process started here is stopped."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nino_assets.cli import prepare_home
from nino_assets.quarters import Quarter, series_quarters
from nino_assets_tests.pipeline_world import Record, write_records, write_world

pytestmark = pytest.mark.ui_flows

ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = ROOT / "test-artefacts"
ALL_QUARTERS = series_quarters(date.today())
LANDED, NEW_QUARTER = ALL_QUARTERS[:-1], ALL_QUARTERS[-1]
"""Every quarter's scan has landed but the latest's, which the test drops in for the landing sensor."""
LOCATION = "nino_stats"
REPOSITORY = "__repository__"
LINEAGE = ["raw_scan", "registrations", "geocoded_registrations", "registration_counts", "perturbed_counts",
           "supplementary_tables", "qa_report", "public_release"]


def people(index: int, quarter: Quarter, count: int = 12) -> list[Record]:
    """A few registrations a quarter, with NINos unique across the series."""
    return [Record(nino=f"AB{100 * index + number:06d}C", registration_date=f"{quarter.start:%Y-%m}-11")
            for number in range(count)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Webserver:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(f"{self.url}/graphql", method="POST",
                                         data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:  # GraphQL says why in the body
            raise AssertionError(f"{error}: {error.read().decode()[:2000]}") from None
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_until(self, what: str, condition, timeout: float, every: float = 2.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    from nino_assets.paths import NinoHome

    home = NinoHome(root=str(tmp_path_factory.mktemp("ui_flows") / "data"))
    saved = {name: os.environ.get(name) for name in ("NINO_HOME", "DAGSTER_HOME")}
    prepare_home(home)
    write_world(home, {quarter: people(index, quarter) for index, quarter in enumerate(LANDED)})
    port = free_port()
    environment = {**os.environ, "NINO_HOME": str(home.root_path), "DAGSTER_HOME": str(home.dagster_home)}
    log = (home.root_path / "dagster_dev.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(ROOT / "workspace.yaml"),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = Webserver(port)
    try:
        server.wait_until("the webserver", lambda: _answers(server.url), timeout=180)
        server.wait_until("the code location", lambda: _location_loaded(server), timeout=180)
        yield server, home
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # dagster dev, its webserver, daemon and code server
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=5):
            return True
    except OSError:
        return False


def _location_loaded(server: Webserver) -> bool:
    data = server.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                          "locationOrLoadError { __typename } } } } }")
    entries = data["workspaceOrError"]["locationEntries"]
    return any(entry["name"] == LOCATION and entry["loadStatus"] == "LOADED"
               and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation" for entry in entries)


def runs(server: Webserver, tags: list[dict]) -> list[dict]:
    data = server.graphql("query ($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results { "
                          "runId status tags { key value } } } } }", {"filter": {"tags": tags}})
    return data["runsOrError"]["results"]


def test_the_three_ui_flows(dagster_dev):
    server, home = dagster_dev
    # 1. backfill to 2002: the main job over every landed quarter as one run (the UI's single-run backfill of a
    #    range), with every check; the daemon's run queue launches it
    launched = server.graphql(
        "mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename "
        "... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }",
        {"params": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": "main"},
                    "executionMetadata": {"tags": [
                        {"key": "dagster/asset_partition_range_start", "value": LANDED[0].partition_key},
                        {"key": "dagster/asset_partition_range_end", "value": LANDED[-1].partition_key}]}}},
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def run_status():
        status = server.graphql("query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                                {"id": run_id})["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None
    assert server.wait_until("the backfill run", run_status, timeout=900, every=5) == "SUCCESS"
    materialized = server.graphql(
        "{ assetNodes(assetKeys: [{path: [\"raw_scan\"]}]) { assetMaterializations(limit: 200) { runId "
        "partition } } }")["assetNodes"][0]["assetMaterializations"]
    assert {event["runId"] for event in materialized} == {run_id}
    assert len({event["partition"] for event in materialized}) == len(LANDED)  # every quarter, in that one run

    # 2. lineage inspection: raw scan to release, with column schemas and check results
    graph = server.graphql(
        "{ assetNodes { assetKey { path } dependencyKeys { path } metadataEntries { label __typename } "
        "assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }")["assetNodes"]
    by_key = {node["assetKey"]["path"][0]: node for node in graph}
    for upstream, downstream in zip(LINEAGE, LINEAGE[1:]):
        parents = {key["path"][0] for key in by_key[downstream]["dependencyKeys"]}
        assert upstream in parents or _reaches(by_key, upstream, downstream), (upstream, downstream)
    for asset in LINEAGE[:5]:
        labels = {entry["label"] for entry in by_key[asset]["metadataEntries"]}
        assert "dagster/column_schema" in labels, asset
        checks = by_key[asset]["assetChecksOrError"]["checks"]
        assert checks and all(check["blocking"] for check in checks)
        for check in checks:
            [latest] = server.graphql(
                "query ($key: AssetKeyInput!, $name: String!) { assetCheckExecutions(assetKey: $key, checkName: $name, "
                "limit: 1) { status } }", {"key": {"path": [asset]}, "name": check["name"]})["assetCheckExecutions"]
            assert latest["status"] == "SUCCEEDED", (asset, check["name"])

    # 3. the quarterly schedule and the landing sensor switched on; a new quarter's scan starts its run
    for mutation, selector, name in (("startSchedule", "scheduleSelector", "release_outputs_schedule"),
                                     ("startSensor", "sensorSelector", "landing_sensor")):
        kind = "scheduleName" if mutation == "startSchedule" else "sensorName"
        result = server.graphql(
            f"mutation ($selector: {selector[0].upper() + selector[1:]}!) {{ {mutation}({selector}: $selector) "
            "{ __typename } }", {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                                            kind: name}})
        assert result[mutation]["__typename"] in ("ScheduleStateResult", "Sensor"), result
    write_records(home, NEW_QUARTER, people(len(LANDED), NEW_QUARTER))
    sensed = server.wait_until(
        "the landing sensor's run",
        lambda: [run for run in runs(server, [{"key": "nino/scan", "value": f"mws_{NEW_QUARTER.label}.txt"}])
                 if run["status"] in ("SUCCESS", "FAILURE")],
        timeout=300, every=5)
    assert sensed[0]["status"] == "SUCCESS"

    # the asset graph page, rendered in headless Chromium
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{server.url}/asset-groups", wait_until="networkidle", timeout=120_000)
        page.get_by_text("Global asset lineage").first.wait_for(timeout=60_000)
        for group in ("ingest", "clean", "geography", "cubes", "disclosure", "publication", "release"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)  # each stage's group in the graph
        page.screenshot(path=str(ARTEFACTS / "ui_asset_graph.png"))
        browser.close()


def _reaches(by_key: dict, upstream: str, downstream: str) -> bool:
    """Whether `downstream` depends on `upstream` through other assets."""
    seen, frontier = set(), [downstream]
    while frontier:
        key = frontier.pop()
        for parent in by_key[key]["dependencyKeys"]:
            name = parent["path"][0]
            if name == upstream:
                return True
            if name not in seen:
                seen.add(name)
                frontier.append(name)
    return False
