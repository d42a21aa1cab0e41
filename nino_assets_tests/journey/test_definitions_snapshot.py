"""A snapshot of the definitions (assets, checks, jobs, schedules, sensors, resources): a change to the graph is a
visible diff of `definitions_snapshot.txt`. After a change made on purpose, write the new snapshot with
`NINO_WRITE_SNAPSHOT=1 pytest nino_assets_tests/journey/test_definitions_snapshot.py` and commit it."""

from __future__ import annotations

import os
from pathlib import Path

from nino_assets.definitions import defs

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.txt")


def describe_definitions() -> str:
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string()):
        node = graph.get(key)
        deps = ", ".join(sorted(parent.to_user_string() for parent in node.parent_keys))
        partitions = "quarterly" if node.partitions_def else "unpartitioned"
        lines.append(f"asset {key.to_user_string()} [{node.group_name}, {partitions}] <- {deps or '-'}")
        for check_key in sorted(node.check_keys, key=lambda check: check.name):
            check = graph.get(check_key)
            lines.append(f"  check {check_key.name}{' (blocking)' if check.blocking else ''}")
    for job in sorted(defs.resolve_all_job_defs(), key=lambda job: job.name):
        if job.name.startswith("__"):
            continue
        assets = ", ".join(sorted(key.to_user_string() for key in job.asset_layer.selected_asset_keys))
        lines.append(f"job {job.name}: {assets or 'ops only'}")
    for schedule in sorted(defs.schedules, key=lambda schedule: schedule.name):
        lines.append(f"schedule {schedule.name}: {schedule.cron_schedule} ({schedule.execution_timezone}) -> "
                     f"{schedule.job_name}")
    for sensor in sorted(defs.sensors, key=lambda sensor: sensor.name):
        lines.append(f"sensor {sensor.name} -> {sensor.job_name}")
    lines.append(f"resources: {', '.join(sorted(defs.resources))}")
    return "\n".join(lines) + "\n"


def test_the_definitions_are_as_the_snapshot_says():
    described = describe_definitions()
    if os.environ.get("NINO_WRITE_SNAPSHOT"):
        SNAPSHOT.write_text(described, encoding="utf-8")
    assert described == SNAPSHOT.read_text(encoding="utf-8"), (
        "the definitions changed: review the difference, then rewrite the snapshot (see this module's docstring)")
