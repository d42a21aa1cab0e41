"""Quality gate: every suite in `expectations/` becomes blocking asset checks on the asset it is named after.

One check per expectation, so that the UI shows which rule failed and by how much. A check validates the
partitions just materialised (a single-run backfill's whole range at once) inside DuckDB, on a query of only the
columns the suite reads, and records its outcomes for the publication gate (`publication/gate.py`), judging
the delivery it checked whole or refused (`shared/acceptance.py`). Adding a suite
file adds its checks: no Python changes.

A rule's value is written once, in its home: a suite refers to it as `{"$PARAMETER": "<name>"}` (GX's suite
parameters), and the definitions say where each name's value comes from (`SuiteParameters`).
"""

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dagster as dg

from nino_assets.shared.acceptance import record_and_judge
from nino_assets.shared.expectations import Suite, load_suites, validate
from nino_assets.shared.partitions import quarter_range_label, quarterly_partitions, quarters_of
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.tables import Table
from nino_assets.shared.warehouse import Warehouse


@dataclass(frozen=True)
class SuiteParameters:
    """The values suites refer to by name, from the run's resources (those named here) and the rules' homes."""

    resource_keys: frozenset[str]
    values: Callable[[object], Mapping[str, object]]  # the run's resources -> each parameter's value


def _describe(expectation: dict) -> str:
    arguments = ", ".join(f"{key}={value}" for key, value in expectation.get("kwargs", {}).items())
    notes = expectation.get("meta", {}).get("notes")
    return f"{expectation['type']}({arguments})" + (f": {notes}" if notes else "")


def suite_checks(suite: Suite, table: Table, parameters: SuiteParameters) -> dg.AssetChecksDefinition:
    partitions_def = quarterly_partitions if table.partition_column else None
    specs = [
        dg.AssetCheckSpec(
            name,
            asset=suite.asset_name,
            blocking=True,
            partitions_def=partitions_def,
            description=_describe(expectation),
            metadata={"suite": suite.source},
        )
        for name, expectation in zip(suite.check_names(), suite.expectations)
    ]

    @dg.multi_asset_check(specs=specs, name=f"{suite.asset_name}_expectations", pool="warehouse",
                          required_resource_keys={"warehouse", "journey", *parameters.resource_keys})
    def _check(context: dg.AssetCheckExecutionContext):
        warehouse: Warehouse = context.resources.warehouse
        quarters = quarters_of(context) if table.partition_column else []
        labels = [quarter.label for quarter in quarters]
        with warehouse.get_connection() as connection:
            outcomes, cost = validate_in_warehouse(connection, suite, table, labels,
                                                   dict(parameters.values(context.resources)))
        by_name = {outcome.check_name: outcome for outcome in outcomes}
        ordered = [by_name[name] for name in suite.check_names()]
        decided = record_and_judge(context, warehouse, context.resources.journey, suite.asset_name,
                                   {outcome.check_name: outcome.passed for outcome in ordered}, quarters,
                                   {outcome.check_name: outcome.observed for outcome in ordered})
        for outcome in ordered:
            yield dg.AssetCheckResult(
                asset_key=suite.asset_name,
                check_name=outcome.check_name,
                passed=outcome.passed,
                metadata={
                    "quarters": quarter_range_label(quarters) if quarters else "whole table",
                    **cost,
                    **{key: value for key, value in outcome.observed.items()},
                    "tolerances": dg.MetadataValue.json(json.loads(json.dumps(outcome.tolerances, default=str))),
                    **decided,
                },
            )

    return _check


def batch_query(suite: Suite, table: Table, labels: list[str]) -> str:
    """The rows a suite judges: the columns it reads, of the run's quarters (or the whole table)."""
    sql = f"SELECT {', '.join(suite.columns() or [table.column_names[0]])} FROM {table.qualified_name}"
    if labels:
        # quarter labels only (YYYY-Qn, read back from the partition keys), so they are safe to write into the query
        quarters = ", ".join(f"'{Quarter.from_label(label).label}'" for label in labels)
        sql += f" WHERE {table.partition_column} IN ({quarters})"
    return sql


def validate_in_warehouse(connection, suite: Suite, table: Table, labels: list[str],
                          parameters: dict) -> tuple[list, dict]:
    """Validate a suite over the run's quarters inside DuckDB; its outcomes and what that cost."""
    started = time.perf_counter()
    outcomes = validate(suite, connection, batch_query(suite, table, labels), parameters)
    seconds = time.perf_counter() - started
    return outcomes, {"suite_seconds": round(seconds, 3), "engine": "GX SQL on DuckDB"}


def build_suite_checks(tables: list[Table], parameters: SuiteParameters) -> list[dg.AssetChecksDefinition]:
    """The checks of every suite, each on the table of the asset it is named after."""
    by_asset = {table.name: table for table in tables}
    checks = []
    for suite in load_suites():
        if suite.asset_name not in by_asset:
            raise ValueError(f"{suite.source}: no asset named {suite.asset_name!r} writes a warehouse table")
        checks.append(suite_checks(suite, by_asset[suite.asset_name], parameters))
    return checks
