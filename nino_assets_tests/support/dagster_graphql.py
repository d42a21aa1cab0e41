"""Driving a Dagster webserver as the UI does, through its GraphQL API: launching backfills and runs, and waiting
for them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from nino_assets.shared.quarters import Quarter

LOCATION = "nino_stats"
REPOSITORY = "__repository__"


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


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=5):
            return True
    except OSError:
        return False


def location_loaded(server: Webserver) -> bool:
    data = server.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                          "locationOrLoadError { __typename } } } } }")
    entries = data["workspaceOrError"]["locationEntries"]
    return any(entry["name"] == LOCATION and entry["loadStatus"] == "LOADED"
               and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation" for entry in entries)


def runs(server: Webserver, tags: list[dict]) -> list[dict]:
    data = server.graphql("query ($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results { "
                          "runId status tags { key value } } } } }", {"filter": {"tags": tags}})
    return data["runsOrError"]["results"]


def launch_backfill(server: Webserver, job: str, quarters: list[Quarter]) -> str:
    """A backfill of a job over these quarters, as the UI's "Materialize all" launches it; its id."""
    launched = server.graphql(
        "mutation ($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) { __typename "
        "... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }",
        {"params": {"selector": {"partitionSetName": f"{job}_partition_set", "repositorySelector": {
            "repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}},
            "partitionNames": [quarter.partition_key for quarter in quarters]}},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def launch_run(server: Webserver, job: str, quarter: Quarter) -> str:
    """One run of a job for one quarter, as a schedule or sensor launches it; its id."""
    launched = server.graphql(
        "mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename "
        "... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }",
        {"params": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
                    "executionMetadata": {"tags": [{"key": "dagster/partition", "value": quarter.partition_key}]}}},
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def backfill_runs(server: Webserver, backfill_id: str) -> list[dict]:
    return runs(server, [{"key": "dagster/backfill", "value": backfill_id}])


def run_details(server: Webserver, run_id: str) -> dict:
    return server.graphql(
        "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status startTime endTime "
        "stepStats { stepKey startTime endTime } } } }", {"id": run_id})["runOrError"]


def wait_for_run(server: Webserver, run_id: str, timeout: float) -> dict:
    return server.wait_until(f"run {run_id}", lambda: (details := run_details(server, run_id))["status"] in FINISHED
                             and details, timeout=timeout, every=3)
