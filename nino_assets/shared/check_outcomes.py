"""The ledger of check outcomes the publication gate reads: each blocking check records, per quarter, whether it
passed on the data now in its table and what it observed (aggregates only)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import dagster as dg

from nino_assets.shared.partitions import quarter_range_label, quarters_of
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.warehouse import CHECK_OUTCOMES, WHOLE_TABLE, Warehouse, ensure_table


def record_outcomes(
    warehouse: Warehouse,
    run_id: str,
    asset: str,
    passed_by_check: Mapping[str, bool],
    quarters: Sequence[Quarter] = (),
    observed_by_check: Mapping[str, dict] | None = None,
) -> None:
    """Record what the checks found on these quarters of the asset (the whole table when there are none), with what
    each observed (aggregates only: the metadata its result shows)."""
    labels = [quarter.label for quarter in quarters] or [WHOLE_TABLE]
    names = list(passed_by_check)
    observed = [json.dumps((observed_by_check or {}).get(name, {}), sort_keys=True, default=str) for name in names]
    with warehouse.transaction() as connection:
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


def recorded_result(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, quarters, passed: bool,
              metadata: dict) -> dg.AssetCheckResult:
    """The check's result, with its outcome recorded for the publication gate."""
    [check_key] = [spec.key for spec in context.check_specs]
    observed = {key: value.data if isinstance(value, dg.JsonMetadataValue) else value
                for key, value in metadata.items()}
    record_outcomes(warehouse, context.run.run_id, check_key.asset_key.to_user_string(), {check_key.name: passed},
                    quarters, {check_key.name: observed})
    return dg.AssetCheckResult(passed=passed, metadata={"quarters": quarter_range_label(quarters), **metadata})
