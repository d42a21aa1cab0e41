"""Quality gate: every suite in `expectations/` becomes blocking asset checks on the asset it is named after.

One check per expectation, so that the UI shows which rule failed and by how much. A check validates the
partitions just materialised (a single-run backfill's whole range, in batches of whole quarters when every
expectation is row-wise), handed over from DuckDB with only the columns the suite reads, and records its outcomes
for the publication gate (`gate.py`). Adding a suite file adds its checks: no Python changes.
"""

import json
import time

import dagster as dg

from nino_assets.expectations import Suite, load_suites, merge_batches, validate
from nino_assets.gate import record_outcomes
from nino_assets.partitions import quarter_range_label, quarterly_partitions, quarters_of
from nino_assets.tables import Table
from nino_assets.warehouse import Warehouse


BATCH_ROWS = 4_000_000
"""A row-wise suite validates at most about this many rows at once: GX works in memory, and the cube's hundred
million cells in one frame took 8 GiB."""


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
        quarters = quarters_of(context) if table.partition_column else []
        labels = [quarter.label for quarter in quarters]
        outcomes, costs = {}, {}
        with warehouse.get_connection() as connection:
            for part in suite.parts():
                part_outcomes, cost = validate_part(connection, part, table, labels)
                outcomes.update((outcome.check_name, outcome) for outcome in part_outcomes)
                costs.update((outcome.check_name, cost) for outcome in part_outcomes)
        ordered = [outcomes[name] for name in suite.check_names()]
        record_outcomes(warehouse, context.run.run_id, suite.asset_name,
                        {outcome.check_name: outcome.passed for outcome in ordered}, quarters,
                        {outcome.check_name: outcome.observed for outcome in ordered})
        for outcome in ordered:
            yield dg.AssetCheckResult(
                asset_key=suite.asset_name,
                check_name=outcome.check_name,
                passed=outcome.passed,
                metadata={
                    "quarters": quarter_range_label(quarters) if quarters else "whole table",
                    **costs[outcome.check_name],
                    **{key: value for key, value in outcome.observed.items()},
                    "tolerances": dg.MetadataValue.json(json.loads(json.dumps(outcome.tolerances, default=str))),
                },
            )

    return _check


def validate_part(connection, part: Suite, table: Table, labels: list[str]) -> tuple[list, dict]:
    """Validate one part of a suite over the run's quarters, batch by batch; its outcomes and what that cost."""
    hashed = part.hashed_columns()
    columns = ", ".join(f"CASE WHEN {name} IS NOT NULL THEN hash({name}) END AS {name}" if name in hashed else name
                        for name in part.columns() or [table.column_names[0]])
    handed_over = validated = 0.0
    rows_validated = 0
    batch_outcomes = []
    for batch in validation_batches(connection, part, table, labels):
        sql = f"SELECT {columns} FROM {table.qualified_name}"
        if batch is not None:
            sql += f" WHERE {table.partition_column} IN (SELECT unnest($labels))"
        started = time.perf_counter()
        # through Arrow, from a relation (no extra copy): Arrow-backed strings, several times faster than objects
        frame = connection.sql(sql, params={"labels": batch} if batch else {}).to_arrow_table().to_pandas()
        handed_over += time.perf_counter() - started
        batch_outcomes.append(validate(part, frame))
        validated += time.perf_counter() - started
        rows_validated += len(frame)
        del frame
    outcomes = batch_outcomes[0] if len(batch_outcomes) == 1 else merge_batches(batch_outcomes)
    return outcomes, {"rows_validated": rows_validated, "batches": len(batch_outcomes),
                      "hand_over_seconds": round(handed_over, 3), "suite_seconds": round(validated - handed_over, 3)}


def validation_batches(connection, suite: Suite, table: Table, labels: list[str]) -> list[list[str] | None]:
    """The batches a suite validates: the whole range at once (None: the whole table), or for a row-wise suite,
    consecutive whole quarters of up to BATCH_ROWS rows each, so that memory stays bounded on the cube."""
    if not labels:
        return [None]
    if not suite.row_wise:
        return [labels]
    rows_by_quarter = dict(connection.execute(
        f"SELECT {table.partition_column}, count(*) FROM {table.qualified_name} "
        f"WHERE {table.partition_column} IN (SELECT unnest($labels)) GROUP BY ALL", {"labels": labels}).fetchall())
    batches: list[list[str]] = [[]]
    batch_rows = 0
    for label in labels:
        rows = rows_by_quarter.get(label, 0)
        if batches[-1] and batch_rows + rows > BATCH_ROWS:
            batches.append([])
            batch_rows = 0
        batches[-1].append(label)
        batch_rows += rows
    return batches


def build_suite_checks(tables_by_asset: dict[str, Table]) -> list[dg.AssetChecksDefinition]:
    checks = []
    for suite in load_suites():
        if suite.asset_name not in tables_by_asset:
            raise ValueError(f"{suite.path}: no asset named {suite.asset_name!r} writes a warehouse table")
        checks.append(suite_checks(suite, tables_by_asset[suite.asset_name]))
    return checks
