"""Shared fixtures: a data folder per test, and one build of the full synthetic series per test session."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from nino_assets.definitions import resources
from nino_assets.paths import NinoHome
from nino_assets.quarters import Quarter


@pytest.fixture
def nino_home(tmp_path: Path) -> NinoHome:
    home = NinoHome(root=str(tmp_path / "data"))
    home.scans.mkdir(parents=True)
    return home


def range_tags(quarters: list[Quarter]) -> dict[str, str]:
    """The tags a single-run backfill over these quarters carries."""
    return {
        "dagster/asset_partition_range_start": quarters[0].partition_key,
        "dagster/asset_partition_range_end": quarters[-1].partition_key,
    }


def materialize_quarters(
    assets: list, home: NinoHome, quarters: list[Quarter], instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    """Materialise partitioned assets over a range of quarters in one run, as a backfill does."""
    return dg.materialize(
        assets,
        resources=resources(home),
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=range_tags(quarters),
        raise_on_error=False,
    )


def query(home: NinoHome, sql: str, parameters=None) -> list[tuple]:
    with duckdb.connect(str(home.warehouse), read_only=True) as connection:
        return connection.execute(sql, parameters or {}).fetchall()
