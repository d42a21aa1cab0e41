"""The ledger of check outcomes the publication gate reads: each blocking check records, per quarter, whether it
passed on the data now in its table and what it observed (aggregates only); and which checks must have passed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from dataclasses import dataclass

import dagster as dg
import duckdb

from nino_assets.shared.partitions import quarters_of
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.warehouse import CHECK_OUTCOMES, WHOLE_TABLE, ensure_table

QUARTERS_NAMED = 4
"""A refusal names this many quarters of a check, then says how many more."""


def record_outcomes(
    connection: duckdb.DuckDBPyConnection,
    run_id: str,
    asset: str,
    passed_by_check: Mapping[str, bool],
    quarters: Sequence[Quarter] = (),
    observed_by_check: Mapping[str, dict] | None = None,
) -> None:
    """Record what the checks found on these quarters of the asset (the whole table when there are none), with what
    each observed (aggregates only: the metadata its result shows), in the caller's transaction."""
    labels = [quarter.label for quarter in quarters] or [WHOLE_TABLE]
    names = list(passed_by_check)
    observed = [json.dumps((observed_by_check or {}).get(name, {}), sort_keys=True, default=str) for name in names]
    ensure_table(connection, CHECK_OUTCOMES)
    connection.execute(
        f"""
        INSERT OR REPLACE INTO {CHECK_OUTCOMES.qualified_name} BY NAME
        SELECT $asset AS asset, checks.check_name, quarters.quarter, checks.passed, checks.observed,
               $run_id AS run_id, now() AT TIME ZONE 'UTC' AS evaluated_at
        FROM (SELECT unnest($names) AS check_name, unnest($passed) AS passed, unnest($observed) AS observed)
            AS checks,
             (SELECT unnest($labels) AS quarter) AS quarters
        """,
        {"asset": asset, "names": names, "passed": [passed_by_check[name] for name in names],
         "observed": observed, "labels": labels, "run_id": run_id},
    )


def run_quarters(context) -> tuple[list, dict]:
    quarters = quarters_of(context)
    return quarters, {"labels": [quarter.label for quarter in quarters]}


@dataclass(frozen=True)
class GatedCheck:
    asset: str
    check_name: str
    partitioned: bool

    @property
    def label(self) -> str:
        return f"{self.asset} / {self.check_name}"


def blocking_checks_of(asset_graph, asset_keys) -> list[GatedCheck]:
    """Every blocking check of the given assets."""
    checks = []
    for asset_key in asset_keys:
        for check_key in asset_graph.get(asset_key).check_keys:
            check_node = asset_graph.get(check_key)
            if check_node.blocking:
                checks.append(GatedCheck(asset_key.to_user_string(), check_key.name,
                                         partitioned=check_node.partitions_def is not None))
    return sorted(checks, key=lambda check: check.label)


def blocking_checks_upstream(asset_graph, asset_key: dg.AssetKey) -> list[GatedCheck]:
    """Every blocking check of every asset the given asset draws on, directly or not."""
    return blocking_checks_of(asset_graph, asset_graph.get_ancestor_asset_keys(asset_key))


def _unpassed(connection: duckdb.DuckDBPyConnection, checks: Sequence[GatedCheck], quarters: Sequence[str]) -> list:
    """(asset, check, problem, quarters) for each check that has not passed on every quarter it must have."""
    if not checks:
        return []
    ensure_table(connection, CHECK_OUTCOMES)
    return connection.execute(
        f"""
        WITH gated AS (
            SELECT unnest($assets) AS asset, unnest($names) AS check_name, unnest($partitioned) AS partitioned
        ),
        required AS (
            SELECT gated.asset, gated.check_name, quarters.quarter
            FROM gated
            JOIN (SELECT unnest($quarters) AS quarter UNION ALL SELECT $whole_table) AS quarters
              ON gated.partitioned = (quarters.quarter <> $whole_table)
        )
        SELECT required.asset, required.check_name,
               CASE WHEN outcomes.passed IS NULL THEN 'not evaluated on the data now in the warehouse'
                    ELSE 'failed' END AS problem,
               list(required.quarter ORDER BY required.quarter) AS quarters
        FROM required
        LEFT JOIN {CHECK_OUTCOMES.qualified_name} AS outcomes USING (asset, check_name, quarter)
        WHERE outcomes.passed IS DISTINCT FROM true
        GROUP BY ALL
        ORDER BY problem, required.asset, required.check_name
        """,
        {"assets": [check.asset for check in checks], "names": [check.check_name for check in checks],
         "partitioned": [check.partitioned for check in checks], "quarters": list(quarters),
         "whole_table": WHOLE_TABLE},
    ).fetchall()


def refusals(connection: duckdb.DuckDBPyConnection, checks: Sequence[GatedCheck], quarters: Sequence[str]) -> list[str]:
    """One line per check that has not passed on every quarter it must have: which, how, and on which quarters."""
    return [f"{asset} / {check_name}: {problem} ({_name_quarters(failed)})"
            for asset, check_name, problem, failed in _unpassed(connection, checks, quarters)]


def quarters_passed(connection: duckdb.DuckDBPyConnection, checks: Sequence[GatedCheck],
                    quarters: Sequence[str]) -> list[str]:
    """The quarters on which every one of the checks has passed."""
    unpassed = {quarter for *_, failed in _unpassed(connection, checks, quarters) for quarter in failed}
    return [quarter for quarter in quarters if quarter not in unpassed]


def _name_quarters(labels: list[str]) -> str:
    if labels == [WHOLE_TABLE]:
        return "whole table"
    named = ", ".join(labels[:QUARTERS_NAMED])
    more = len(labels) - QUARTERS_NAMED
    return named + (f" and {more} more quarters" if more > 0 else "")
