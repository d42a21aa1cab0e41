"""The DuckDB warehouse: one resource, one place for its file path, and the one way a partition is written."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from nino_assets.shared.package_files import sql_text
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.tables import QUALITY, RAW, REFERENCE, STATISTICS, Column, Table

SCHEMAS = (RAW, REFERENCE, STATISTICS, QUALITY)
WHOLE_TABLE = "all"
"""The quarter under which a check on an unpartitioned table records its outcome."""
ACCEPTED_SUFFIX = "__accepted"
"""Names the copy of a table's (or a ledger's) rows as last accepted, beside it in its schema."""

CHECK_OUTCOMES = Table(
    schema=QUALITY,
    name="check_outcomes",
    description="The latest outcome of every blocking check on the data now in each table, per quarter. A write "
    "of a table's quarters deletes their outcomes in the same transaction: data not yet checked has none.",
    columns=(
        Column("asset", "VARCHAR", "The checked asset (its table's name).", nullable=False),
        Column("check_name", "VARCHAR", "The asset check's name.", nullable=False),
        Column("quarter", "VARCHAR", f"The quarter checked; '{WHOLE_TABLE}' for an unpartitioned table.",
               nullable=False),
        Column("passed", "BOOLEAN", "Whether the check passed.", nullable=False),
        Column("observed", "VARCHAR", "What it observed over the run's quarters (JSON of counts and rates only), "
               "for the QA report."),
        Column("run_id", "VARCHAR", "The Dagster run that evaluated it.", nullable=False),
        Column("evaluated_at", "TIMESTAMP", "When (UTC).", nullable=False),
    ),
    primary_key=("asset", "check_name", "quarter"),
)

LAYER_DELIVERIES = Table(
    schema=QUALITY,
    name="layer_deliveries",
    description="The scan delivery each layer holds, per quarter: its SHA-256, written with the layer's rows.",
    columns=(
        Column("layer", "VARCHAR", "The asset whose table holds the quarter.", nullable=False),
        Column("quarter", "VARCHAR", "The scan quarter.", nullable=False),
        Column("delivery_sha256", "VARCHAR", "SHA-256 of the scan file the quarter's rows come from.",
               nullable=False),
    ),
    primary_key=("layer", "quarter"),
)


PENDING_QUARTERS = Table(
    schema=QUALITY,
    name="pending_quarters",
    description="Quarters of a table written since their delivery was last accepted. Until the new delivery is "
    "accepted (every layer holds it and has passed every blocking check) or refused, the quarter's rows as last "
    f"accepted are kept in `<table>{ACCEPTED_SUFFIX}` beside the table (so the raw layer's stay in `raw`), with its "
    f"check outcomes and delivery in the ledgers' `{ACCEPTED_SUFFIX}` copies.",
    columns=(
        Column("table_name", "VARCHAR", "The table written (schema.name).", nullable=False),
        Column("quarter", "VARCHAR", "The quarter written.", nullable=False),
        Column("partition_column", "VARCHAR", "The table's quarter column.", nullable=False),
        Column("pending_since", "TIMESTAMP", "When the quarter was first written after its last acceptance (UTC).",
               nullable=False),
    ),
    primary_key=("table_name", "quarter"),
)
LEDGERS = ((CHECK_OUTCOMES, "asset"), (LAYER_DELIVERIES, "layer"))
"""The ledgers that speak for a table's quarters, each with the column naming the table: written with its rows."""


# DuckDB takes up to 80% of the machine's memory by default; the pipeline is held well inside the 6 GiB a run may
# use, and spills to the warehouse's temporary folder beyond it.
DEFAULT_CONNECTION_CONFIG = {"memory_limit": "3GB", "preserve_insertion_order": False}


class Warehouse(DuckDBResource):
    """DuckDB through dagster-duckdb. Connections are opened per use, never at import time, and always closed."""

    connection_config: dict = DEFAULT_CONNECTION_CONFIG

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed when the block ends, rolled back if it raises."""
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as connection:
            try:
                connection.execute("BEGIN TRANSACTION")
                for schema in SCHEMAS:
                    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                # dagster-duckdb closes only on a clean exit; close here so the file lock is released at once
                connection.close()
                raise


class WarehouseSchemaError(RuntimeError):
    """A table in the warehouse is not the one this version defines: it was built by another version."""


def ensure_table(connection: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Create the table if it is missing; refuse one whose columns are not this version's (a warehouse built by an
    earlier version), which would otherwise take rows cast to its old types."""
    connection.execute(table.create_statement())
    found = connection.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = $schema AND table_name = $table ORDER BY column_index",
        {"schema": table.schema, "table": table.name},
    ).fetchall()
    [expected_types] = connection.execute(
        "SELECT [" + ", ".join(f"typeof(CAST(NULL AS {column.sql_type}))" for column in table.columns) + "]"
    ).fetchone()
    expected = list(zip(table.column_names, expected_types))
    if found != expected:
        unexpected = [f"{name} {kind}" for name, kind in found if (name, kind) not in expected]
        lacking = [f"{name} {kind}" for name, kind in expected if (name, kind) not in found]
        difference = "; ".join([*([f"it has {', '.join(unexpected)}"] if unexpected else []),
                                *([f"this version has {', '.join(lacking)}"] if lacking else [])])
        raise WarehouseSchemaError(
            f"{table.qualified_name} in the warehouse is not this version's "
            f"({difference or 'columns in another order'}): the warehouse was built by another version of nino-stats; "
            "build a new one with a backfill of the whole series."
        )


def delete_partitions(connection: duckdb.DuckDBPyConnection, table: Table, quarters: Sequence[Quarter]) -> None:
    """Remove the rows of exactly these quarters, so that writing them again replaces rather than appends."""
    if table.partition_column is None:
        raise ValueError(f"{table.qualified_name} is not partitioned")
    labels = [quarter.label for quarter in quarters]
    keep_accepted_state(connection, table, labels)
    connection.execute(
        f"DELETE FROM {table.qualified_name} WHERE {table.partition_column} = ANY($labels)",
        {"labels": labels},
    )
    void_check_outcomes(connection, table, labels)


def quarter_state(table_name: str, partition_column: str, labels: Sequence[str]) -> list[tuple[str, str, dict]]:
    """What a table's quarters are, as (table, condition, parameters) triples: its rows, and its rows in the ledgers
    that speak for it."""
    name = table_name.split(".")[1]
    return [(table_name, f"{partition_column} = ANY($labels)", {"labels": list(labels)}),
            *((ledger.qualified_name, f"quarter = ANY($labels) AND {key} = $name",
               {"labels": list(labels), "name": name}) for ledger, key in LEDGERS)]


def keep_accepted_state(connection: duckdb.DuckDBPyConnection, table: Table, labels: Sequence[str]) -> None:
    """Before a table's quarters are first rewritten since their last accepted delivery, keep their rows, check
    outcomes and delivery as accepted, so that a refused delivery leaves the warehouse as it was
    (`shared.acceptance`). A quarter already pending keeps the state kept when it became pending."""
    ensure_table(connection, PENDING_QUARTERS)
    newly_pending = [label for (label,) in connection.execute(
        f"SELECT label FROM (SELECT unnest($labels) AS label) WHERE label NOT IN "
        f"(SELECT quarter FROM {PENDING_QUARTERS.qualified_name} WHERE table_name = $table)",
        {"labels": list(labels), "table": table.qualified_name},
    ).fetchall()]
    if not newly_pending:
        return
    for source, _ in LEDGERS:
        ensure_table(connection, source)
    for source, condition, parameters in quarter_state(table.qualified_name, table.partition_column, newly_pending):
        copy = source + ACCEPTED_SUFFIX
        connection.execute(f"CREATE TABLE IF NOT EXISTS {copy} AS FROM {source} LIMIT 0")
        connection.execute(f"INSERT INTO {copy} FROM {source} WHERE {condition}", parameters)
    connection.execute(
        f"INSERT INTO {PENDING_QUARTERS.qualified_name} SELECT $table, unnest($labels), $column, "
        "now() AT TIME ZONE 'UTC'",
        {"table": table.qualified_name, "labels": newly_pending, "column": table.partition_column},
    )


def void_check_outcomes(connection: duckdb.DuckDBPyConnection, table: Table, labels: Sequence[str]) -> None:
    """What was checked is being replaced: its outcomes no longer speak for the table's data."""
    ensure_table(connection, CHECK_OUTCOMES)
    connection.execute(
        f"DELETE FROM {CHECK_OUTCOMES.qualified_name} WHERE asset = $asset AND quarter = ANY($labels)",
        {"asset": table.name, "labels": list(labels)},
    )


def stage(connection: duckdb.DuckDBPyConnection, asset_name: str, parameters: dict) -> str:
    """Run an asset's transform once into a temporary table, from which its outputs and counts are then taken."""
    staged = f"staged_{asset_name}"
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS {sql_text(asset_name)}", parameters)
    return staged


BATCH_ROWS = 2_000_000
"""A range of quarters is transformed a batch of consecutive quarters at a time, each of at most this many input rows
(or one quarter), so that a backfill's record-level transforms work in memory instead of spilling to disk. Every rule
looks within a quarter or at the quarters before it, which earlier batches have written, so a batch gives the rows
the whole range would."""

Item = TypeVar("Item")


def in_batches(sizes: Sequence[tuple[Item, int]], limit: int | None = None) -> list[list[Item]]:
    """The items in order, in consecutive batches whose sizes add up to at most `limit` (BATCH_ROWS unless given), or
    of one item."""
    limit = BATCH_ROWS if limit is None else limit
    batches: list[list[Item]] = []
    filled = 0
    for item, size in sizes:
        if not batches or filled + size > limit:
            batches.append([])
            filled = 0
        batches[-1].append(item)
        filled += size
    return batches


def quarter_batches(connection: duckdb.DuckDBPyConnection, source: Table, quarters: Sequence[Quarter],
                    multiple: int = 1) -> list[list[Quarter]]:
    """These quarters in batches (`in_batches`) of up to `multiple` x BATCH_ROWS rows, by the rows each holds in the
    table a transform reads."""
    rows = dict(connection.execute(
        f"SELECT {source.partition_column}, count(*) FROM {source.qualified_name} "
        f"WHERE {source.partition_column} = ANY($labels) GROUP BY ALL",
        {"labels": [quarter.label for quarter in quarters]},
    ).fetchall())
    return in_batches([(quarter, rows.get(quarter.label, 0)) for quarter in sorted(quarters)], multiple * BATCH_ROWS)


def replace_partitions(
    connection: duckdb.DuckDBPyConnection,
    table: Table,
    quarters: Sequence[Quarter],
    select_sql: str,
    parameters: dict | None = None,
) -> None:
    """Replace exactly these quarters' rows of a partitioned table with a query's rows (matched by column name)."""
    ensure_table(connection, table)
    delete_partitions(connection, table, quarters)
    connection.execute(f"INSERT INTO {table.qualified_name} BY NAME {select_sql}", parameters or {})


def replace_table(connection: duckdb.DuckDBPyConnection, table: Table, select_sql: str, parameters=None) -> int:
    """Replace an unpartitioned table's rows with a query's; returns the row count."""
    ensure_table(connection, table)
    connection.execute(f"DELETE FROM {table.qualified_name}")
    void_check_outcomes(connection, table, [WHOLE_TABLE])
    connection.execute(f"INSERT INTO {table.qualified_name} BY NAME {select_sql}", parameters or {})
    return count_rows(connection, table)


def count_rows(connection: duckdb.DuckDBPyConnection, table: Table, quarters: Sequence[Quarter] = ()) -> int:
    if not quarters:
        return connection.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]
    return connection.execute(
        f"SELECT count(*) FROM {table.qualified_name} WHERE {table.partition_column} = ANY($labels)",
        {"labels": [quarter.label for quarter in quarters]},
    ).fetchone()[0]
