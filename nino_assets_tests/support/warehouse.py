"""Helpers for tests that run assets and read the warehouse they wrote."""

from __future__ import annotations

import dagster as dg
import duckdb

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.definitions import WAREHOUSE_ASSETS, resources
from nino_assets.disclosure.assets import define_cell_macros
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.pipeline_world import write_world

PLACED_REGISTRATIONS = ("(SELECT * FROM stat.registrations "
                        "JOIN stat.geocoded_registrations USING (scan_quarter, line_number))")
"""Each counted registration with where geocoding placed it: what a test recounts cells from."""


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
    """A read-only query of the warehouse; a query of derived or perturbed cells gets the macros that make them."""
    with duckdb.connect(str(home.warehouse), read_only=True) as connection:
        if "_cells(" in sql:  # the macros bind to the cube's tables, which a young warehouse does not have yet
            define_cell_macros(connection)
        return connection.execute(sql, parameters or {}).fetchall()



def warehouse_contents(home: NinoHome, excluding: tuple[str, ...] = (),
                       columns_ignored: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """Every table of the warehouse (schema.name) but those excluded -> a digest of its rows in order, without the
    columns ignored: equal when the data is."""
    with duckdb.connect(str(home.warehouse), read_only=True) as connection:
        tables = [f"{schema}.{name}" for schema, name in connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "ORDER BY ALL").fetchall()]
        contents = {}
        for table in tables:
            if table in excluding:
                continue
            ignored = (columns_ignored or {}).get(table)
            rows = f"SELECT * EXCLUDE ({', '.join(ignored)}) FROM {table}" if ignored else f"FROM {table}"
            contents[table] = connection.execute(
                f"SELECT md5(string_agg(row::VARCHAR, '|' ORDER BY row::VARCHAR)) FROM ({rows}) AS row").fetchone()[0]
        return contents

DERIVED_CELLS = """
    SELECT c.quarter, c.period_type, n.code AS nationality, a.code AS age, s.code AS sex, g.code AS geography,
           c.nationality_level, c.age_level, c.sex_level, c.geography_level, c.registrations, c.cell_key
    FROM derived_cells($periods, $classifications, $record_key_range) AS c
    JOIN stat.cube_dimensions AS n ON n.member_id = c.nationality_member
    JOIN stat.cube_dimensions AS a ON a.member_id = c.age_member
    JOIN stat.cube_dimensions AS s ON s.member_id = c.sex_member
    JOIN stat.cube_dimensions AS g ON g.member_id = c.geography_member
"""
"""Cells derived from the finest cells, with their members' codes: `$periods` and `$classifications` as
`derived_cells` takes them."""


def derived_cells(home: NinoHome, periods: list[Quarter], classifications) -> dict[tuple, tuple[int, int]]:
    """(quarter, period type, nationality, age, sex, geography codes) -> (count, cell key) of the derived cells."""
    rows = query(home, DERIVED_CELLS, {"periods": [quarter.label for quarter in periods],
                                       "classifications": [c.as_struct() for c in classifications],
                                       "record_key_range": RECORD_KEY_RANGE})
    return {row[:6]: row[10:] for row in rows}


def materialize_world(home: NinoHome, scans: dict[Quarter, list]) -> dg.ExecuteInProcessResult:
    """Write a hand-made world (its scans and the lookup) and run the warehouse's assets over its quarters."""
    write_world(home, scans)
    result = materialize_quarters(WAREHOUSE_ASSETS, home, sorted(scans))
    assert result.success
    return result
