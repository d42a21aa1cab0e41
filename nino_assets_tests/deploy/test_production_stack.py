"""The production stack as a team runs it, with real servers: a PostgreSQL server started here (initdb into a
temporary folder, loopback only), and `nino deploy` starting the code server, webserver and daemon against it. Then,
through the webserver's GraphQL API: a backfill as one run; run history and materialisations surviving restarts of
the webserver, the daemon and the whole stack; a run whose daemon, code server and process are killed with `kill -9`
failed by run monitoring and retried to success, the warehouse consistent; a backfill and a scheduled quarter
queueing on the warehouse pool; nothing but loopback listened on; every process stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from nino_assets.clean.assets import REGISTRATIONS
from nino_assets.definitions import PUBLICATION_GATE
from nino_assets.deploy.stack import STATE_FILE
from nino_assets.shared.deliveries import disagreements
from nino_assets.shared.instance import process_is_running
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import SERIES_START, Quarter, quarters_between
from nino_assets_tests.support.dagster_graphql import (
    FINISHED, Webserver, answers, backfill_runs, launch_backfill, launch_run, location_loaded, run_details, runs,
    wait_for_run)
from nino_assets_tests.support.network import descendants, free_port, listening_addresses
from nino_assets_tests.support.pipeline_world import people, write_world
from nino_assets_tests.support.postgres_server import PostgresServer

pytestmark = pytest.mark.production_stack

QUARTERS = quarters_between(Quarter.containing(SERIES_START), Quarter.from_label("2002-Q4"))
PER_QUARTER = 12


class DeployedStack:
    """`nino deploy` as a process of the test, and what it says of its processes."""

    def __init__(self, home: NinoHome, environment: dict[str, str], port: int, code_server_port: int):
        self.home, self.environment = home, environment
        self.port, self.code_server_port = port, code_server_port
        self.server = Webserver(port)
        self.process: subprocess.Popen | None = None

    def launch(self) -> None:
        with (self.home.root_path / "nino_deploy.log").open("a") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("nino")), "deploy", "--port", str(self.port),
                 "--code-server-port", str(self.code_server_port)],
                env=self.environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self) -> None:
        self.launch()
        self.server.wait_until("the webserver", lambda: self.process.poll() is None and answers(self.server.url)
                               or self._failed(), timeout=300)
        self.server.wait_until("the code location", lambda: location_loaded(self.server), timeout=300)

    def _failed(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"nino deploy exited with {self.process.returncode}: "
                                 + (self.home.root_path / "nino_deploy.log").read_text()[-3000:])
        return False

    def pids(self) -> dict[str, int]:
        """The stack's processes by name, as `nino deploy` last wrote them."""
        return json.loads((self.home.deployment_home / STATE_FILE).read_text())["processes"]

    def all_processes(self) -> set[int]:
        """`nino deploy` and every process below it (the three, and the runs' processes)."""
        return {self.process.pid} | descendants(self.process.pid)

    def wait_for_new(self, name: str, old_pid: int) -> int:
        pid = self.server.wait_until(f"a new {name}", lambda: (pid := self.pids().get(name)) != old_pid and pid,
                                     timeout=120, every=1)
        self.server.wait_until("the webserver", lambda: answers(self.server.url), timeout=300)
        self.server.wait_until("the code location", lambda: location_loaded(self.server), timeout=300)
        return pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    root = tmp_path_factory.mktemp("production")
    home = NinoHome(root=str(root / "data"))
    write_world(home, {quarter: people(index, quarter, PER_QUARTER) for index, quarter in enumerate(QUARTERS)})
    database = PostgresServer.start()
    url_file = root / "postgres_url"  # handed over as a file, as a container platform hands over a secret
    url_file.write_text(database.url + "\n", encoding="utf-8")
    url_file.chmod(0o600)
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("DAGSTER_HOME", "NINO_DAGSTER_POSTGRES_URL")}
    environment |= {"NINO_HOME": str(home.root_path), "NINO_DAGSTER_POSTGRES_URL_FILE": str(url_file),
                    "NINO_PSEUDONYM_KEY": "a key of the test's own, not the development key"}
    stack = DeployedStack(home, environment, free_port(), free_port())
    try:
        stack.start()
        yield stack, database
    finally:
        left = stack.all_processes() if stack.process.poll() is None else set()
        stack.stop()
        for pid in left:  # whatever a failed test left running
            if process_is_running(pid):
                os.kill(pid, signal.SIGKILL)
        database.stop()


def statuses(server: Webserver) -> dict[str, str]:
    return {run["runId"]: run["status"] for run in runs(server, [])}


def materialized_partitions(server: Webserver, asset: str) -> list[tuple[str, str]]:
    events = server.graphql(
        "query ($key: AssetKeyInput!) { assetNodes(assetKeys: [$key]) { assetMaterializations(limit: 500) { runId "
        "partition } } }", {"key": {"path": [asset]}})["assetNodes"][0]["assetMaterializations"]
    return sorted((event["runId"], event["partition"]) for event in events)


def run_events(server: Webserver, run_id: str) -> list[str]:
    data = server.graphql(
        "query ($id: ID!) { logsForRun(runId: $id, limit: 5000) { ... on EventConnection { events { __typename "
        "... on MessageEvent { message } } } } }", {"id": run_id})
    return [event.get("message") or "" for event in data["logsForRun"]["events"]]


def test_the_production_stack(production):
    stack, database = production
    server = stack.server

    # a backfill of the main job over the series runs to success as one run, in a process of its own
    backfill_id = launch_backfill(server, "main", QUARTERS)
    [run] = server.wait_until("the backfill's run", lambda: backfill_runs(server, backfill_id), timeout=180)
    assert wait_for_run(server, run["runId"], timeout=900)["status"] == "SUCCESS"
    assert len(backfill_runs(server, backfill_id)) == 1
    assert {partition for _, partition in materialized_partitions(server, "raw_scan")} == {
        quarter.partition_key for quarter in QUARTERS}
    assert any(message.startswith("Started process for run") for message in run_events(server, run["runId"]))

    # nothing but loopback is listened on: not the webserver, the code server nor the database
    listened = listening_addresses(stack.all_processes() | {database.postmaster_pid()})
    addresses = {address for found in listened.values() for address in found}
    assert {f"127.0.0.1:{stack.port}", f"127.0.0.1:{stack.code_server_port}",
            f"127.0.0.1:{database.port}"} <= addresses
    assert all(address.startswith("127.0.0.1:") for address in addresses), listened

    # run history and materialisations survive a restart of the webserver, and of the daemon killed with kill -9
    history = statuses(server), materialized_partitions(server, "raw_scan")
    pids = stack.pids()
    os.kill(pids["webserver"], signal.SIGTERM)
    stack.wait_for_new("webserver", pids["webserver"])
    assert (statuses(server), materialized_partitions(server, "raw_scan")) == history
    os.kill(pids["daemon"], signal.SIGKILL)
    stack.wait_for_new("daemon", pids["daemon"])
    assert (statuses(server), materialized_partitions(server, "raw_scan")) == history

    # in the middle of a backfill, the daemon, the code server and the run's process are killed with kill -9 (as
    # the OOM killer or a power cut would): `nino deploy` restarts the two, run monitoring fails the run, whose
    # process is gone, and the run is retried from its failure to success
    backfill_id = launch_backfill(server, "quarterly_data", QUARTERS)
    [crashed] = server.wait_until("the backfill's run to be under way", lambda: [
        run for run in backfill_runs(server, backfill_id)
        if run["status"] == "STARTED" and run_details(server, run["runId"])["stepStats"]], timeout=300, every=1)
    pids = stack.pids()
    run_processes = descendants(pids["code-server"])
    assert run_processes, "the run has no process of its own"
    for pid in (pids["daemon"], pids["code-server"], *run_processes):
        os.kill(pid, signal.SIGKILL)
    stack.wait_for_new("code-server", pids["code-server"])
    failed = wait_for_run(server, crashed["runId"], timeout=300)
    assert failed["status"] == "FAILURE"
    assert any("is gone" in message for message in run_events(server, crashed["runId"]))  # run monitoring's word
    [retry] = server.wait_until("the retry", lambda: runs(server, [
        {"key": "dagster/parent_run_id", "value": crashed["runId"]}]), timeout=300, every=3)
    assert wait_for_run(server, retry["runId"], timeout=600)["status"] == "SUCCESS"
    assert not [status for status in statuses(server).values() if status not in FINISHED]  # none stuck
    with duckdb.connect(str(stack.home.warehouse)) as warehouse:  # no run is in progress to hold it
        labels = [quarter.label for quarter in QUARTERS]
        assert disagreements(warehouse, PUBLICATION_GATE.journey.layers, labels) == []
        counted = dict(warehouse.execute(
            f"SELECT scan_quarter, count(*) FROM {REGISTRATIONS.qualified_name} GROUP BY ALL").fetchall())
        assert counted == {label: PER_QUARTER for label in labels}

    # a backfill and a scheduled quarter launched together: the second queues until the first has ended, as the
    # warehouse pool (limit 1, run granularity) holds it
    backfill_id = launch_backfill(server, "quarterly_data", QUARTERS[-2:])
    [backfill_run] = server.wait_until("the backfill's run", lambda: backfill_runs(server, backfill_id), timeout=180,
                                       every=0.5)
    scheduled_id = launch_run(server, "quarterly_data", QUARTERS[0])
    server.wait_until("one run in progress, the other queued behind it", lambda: sorted(
        run_details(server, run_id)["status"] for run_id in (backfill_run["runId"], scheduled_id)) in (
        ["QUEUED", "STARTED"], ["QUEUED", "STARTING"]), timeout=180, every=0.5)
    together = [wait_for_run(server, run_id, timeout=600) for run_id in (backfill_run["runId"], scheduled_id)]
    assert [details["status"] for details in together] == ["SUCCESS", "SUCCESS"]
    first, second = sorted(together, key=lambda details: details["startTime"])
    assert first["endTime"] <= second["startTime"]

    # the whole stack stopped and started again: the run history is PostgreSQL's, not a process's
    history = statuses(server), materialized_partitions(server, "raw_scan")
    before = stack.all_processes()
    stack.stop()
    assert not [pid for pid in before if process_is_running(pid)], "a process outlived nino deploy"
    stack.start()
    assert (statuses(server), materialized_partitions(server, "raw_scan")) == history

    # stopped: every process the stack started is gone
    before = stack.all_processes()
    stack.stop()
    assert not [pid for pid in before if process_is_running(pid)], "a process outlived nino deploy"

    # stopped while it starts (SIGTERM as soon as the code server is up): it stops what it started, at once
    stack.launch()
    server.wait_until("the code server to start", lambda: (stack.home.deployment_home / STATE_FILE).exists(),
                      timeout=120, every=0.2)
    starting = stack.all_processes()
    assert len(starting) >= 2  # nino deploy and the code server
    stack.stop()
    assert stack.process.returncode == 0
    assert not [pid for pid in starting if process_is_running(pid)], "a process outlived nino deploy"

    # and the database server
    postmaster = database.postmaster_pid()
    database.stop()
    assert not process_is_running(postmaster)
