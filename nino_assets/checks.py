"""Quality gate: every suite in `expectations/` becomes blocking asset checks on the asset it is named after.

One check per expectation, so that the UI shows which rule failed and by how much. A check validates the
partitions just materialised and records its outcome for the publication gate (`gate.py`) (a single-run backfill's whole range in one pass), handed over from DuckDB with only
the columns the suite reads. Adding a suite file adds its checks: no Python changes.
"""

import json
import time

import dagster as dg

from nino_assets.expectations import Suite, load_suites, validate
from nino_assets.gate import record_outcomes
from nino_assets.partitions import quarter_range_label, quarterly_partitions, quarters_of
from nino_assets.tables import Table
from nino_assets.warehouse import Warehouse


def _describe(expectation: dict) -> str:
    arguments = ", ".join(f"{key}={value}" for key, value in expectation.get("kwargs", {}).items())
    notes = expectation.get("meta", {}).get("notes")
    return f"{expectation['type']}({arguments})" + (f": {notes}" if notes else "")


def suite_checks(suite: Suite, table: Table) -> dg.AssetChecksDefinition:
    partitions_def = quarterly_partitions if table.partition_column else None
    specs = [
        dg.AssetCheckSpec(
            name,
            asset=suite.asset_name,
            blocking=True,
            partitions_def=partitions_def,
            description=_describe(expectation),
            metadata={"suite": suite.path.name},
        )
        for name, expectation in zip(suite.check_names(), suite.expectations)
    ]

    @dg.multi_asset_check(specs=specs, name=f"{suite.asset_name}_expectations", pool="warehouse")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        columns = ", ".join(suite.columns() or [table.column_names[0]])
        sql = f"SELECT {columns} FROM {table.qualified_name}"
        parameters: dict = {}
        scope = "whole table"
        quarters = []
        if table.partition_column:
            quarters = quarters_of(context)
            sql += f" WHERE {table.partition_column} IN (SELECT unnest($labels))"
            parameters = {"labels": [quarter.label for quarter in quarters]}
            scope = quarter_range_label(quarters)
        started = time.perf_counter()
        with warehouse.get_connection() as connection:
            # through Arrow, from a relation (no extra copy): Arrow-backed strings, several times faster than objects
            frame = connection.sql(sql, params=parameters).to_arrow_table().to_pandas()
        handed_over = time.perf_counter() - started
        outcomes = validate(suite, frame)
        validated = time.perf_counter() - started - handed_over
        record_outcomes(warehouse, context.run.run_id, suite.asset_name,
                        {outcome.check_name: outcome.passed for outcome in outcomes}, quarters)
        for outcome in outcomes:
            yield dg.AssetCheckResult(
                asset_key=suite.asset_name,
                check_name=outcome.check_name,
                passed=outcome.passed,
                metadata={
                    "quarters": scope,
                    "rows_validated": len(frame),
                    **{key: value for key, value in outcome.observed.items()},
                    "tolerances": dg.MetadataValue.json(json.loads(json.dumps(outcome.tolerances, default=str))),
                    "hand_over_seconds": round(handed_over, 3),
                    "suite_seconds": round(validated, 3),
                },
            )

    return _check


def build_suite_checks(tables_by_asset: dict[str, Table]) -> list[dg.AssetChecksDefinition]:
    checks = []
    for suite in load_suites():
        if suite.asset_name not in tables_by_asset:
            raise ValueError(f"{suite.path}: no asset named {suite.asset_name!r} writes a warehouse table")
        checks.append(suite_checks(suite, tables_by_asset[suite.asset_name]))
    return checks
