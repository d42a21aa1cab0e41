"""The team's three UI flows against a real `dagster dev` (webserver and daemon) on loopback, through the
webserver's GraphQL API: a backfill of every partition as one run (and a second backfill queueing with a scheduled
run on the warehouse pool), lineage inspection (column schemas and check
results on the graph from raw scan to the release), and the landing sensor starting a run when a scan lands. The asset
graph page is opened in headless Chromium and saved as a screenshot. Every process started here is stopped."""

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from nino_assets.cli import prepare_home
from nino_assets.shared.quarters import series_quarters
from nino_assets_tests.support.dagster_graphql import (
    FINISHED, LOCATION, REPOSITORY, Webserver, answers, backfill_runs, launch_backfill, launch_run,
    location_loaded, run_details, runs, wait_for_run)
from nino_assets_tests.support.browser import ARTEFACTS, launch_chromium
from nino_assets_tests.support.network import free_port
from nino_assets_tests.support.pipeline_world import people, write_records, write_world

pytestmark = pytest.mark.ui_flows

ROOT = Path(__file__).resolve().parents[2]
ALL_QUARTERS = series_quarters(date.today())
LANDED, NEW_QUARTER = ALL_QUARTERS[:-1], ALL_QUARTERS[-1]
"""Every quarter's scan has landed but the latest's, which the test drops in for the landing sensor."""
LINEAGE = ["raw_scan", "registrations", "geocoded_registrations", "finest_cells", "perturbed_counts",
           "supplementary_tables", "qa_report", "public_release"]


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    from nino_assets.shared.nino_home import NinoHome

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
        server.wait_until("the webserver", lambda: answers(server.url), timeout=180)
        server.wait_until("the code location", lambda: location_loaded(server), timeout=180)
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


def test_the_three_ui_flows(dagster_dev):
    server, home = dagster_dev
    # 1. backfill to 2002: a backfill of the main job over every landed quarter, launched as the UI launches it; the
    #    daemon makes it one run (single-run backfill policy), with every check, to the release's QA report
    backfill_id = launch_backfill(server, "main", LANDED)
    [run] = server.wait_until("the backfill's run", lambda: backfill_runs(server, backfill_id), timeout=180)
    assert wait_for_run(server, run["runId"], timeout=900)["status"] == "SUCCESS"
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        LANDED[0].partition_key, LANDED[-1].partition_key)
    assert len(backfill_runs(server, backfill_id)) == 1  # the whole range in that one run, none after it
    materialized = server.graphql(
        "{ assetNodes(assetKeys: [{path: [\"raw_scan\"]}]) { assetMaterializations(limit: 200) { runId "
        "partition } } }")["assetNodes"][0]["assetMaterializations"]
    assert {event["runId"] for event in materialized} == {run["runId"]}
    assert len({event["partition"] for event in materialized}) == len(LANDED)  # every quarter, in that one run
    assert any(event["runId"] == run["runId"] for event in server.graphql(
        "{ assetNodes(assetKeys: [{path: [\"qa_report\"]}]) { assetMaterializations(limit: 1) { runId } } }"
    )["assetNodes"][0]["assetMaterializations"])  # from the landing files to the release's QA report

    # 1b. a backfill and a scheduled quarter launched together queue on the warehouse pool (the run queue holds a run
    #     while the pool's one slot is taken): both succeed, and no step of one ran while a step of the other held
    #     the DuckDB file
    backfill_id = launch_backfill(server, "quarterly_data", LANDED[-4:])
    [recent] = server.wait_until("the second backfill's run", lambda: [
        run for run in backfill_runs(server, backfill_id) if run["status"] != "QUEUED"], timeout=180, every=1)
    scheduled_id = launch_run(server, "quarterly_data", LANDED[0])
    assert run_details(server, recent["runId"])["status"] not in FINISHED  # launched while the backfill runs
    together = [wait_for_run(server, run_id, timeout=600) for run_id in (recent["runId"], scheduled_id)]
    assert [details["status"] for details in together] == ["SUCCESS", "SUCCESS"]
    first, second = sorted(together, key=lambda details: details["startTime"])
    for step in first["stepStats"]:
        for other in second["stepStats"]:
            assert step["endTime"] <= other["startTime"] or other["endTime"] <= step["startTime"], (
                f"{step['stepKey']} and {other['stepKey']} held the warehouse at the same time")

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
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{server.url}/asset-groups", wait_until="networkidle", timeout=120_000)
        page.get_by_text("Global asset lineage").first.wait_for(timeout=60_000)
        # the first visit's newsletter dialog covers the graph
        welcome = page.get_by_role("button", name="Skip", exact=True).first
        try:
            welcome.click(timeout=15_000)
        except PlaywrightTimeout:
            pass  # not shown this time
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
