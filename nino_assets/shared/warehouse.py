"""The DuckDB warehouse: one resource, one place for its file path, and the one way a partition is written."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


def ensure_table(connection: duckdb.DuckDBPyConnection, table: Table) -> None:
    connection.execute(table.create_statement())


def delete_partitions(connection: duckdb.DuckDBPyConnection, table: Table, quarters: Sequence[Quarter]) -> None:
    """Remove the rows of exactly these quarters, so that writing them again replaces rather than appends."""
    if table.partition_column is None:
        raise ValueError(f"{table.qualified_name} is not partitioned")
    labels = [quarter.label for quarter in quarters]
    connection.execute(
        f"DELETE FROM {table.qualified_name} WHERE {table.partition_column} IN (SELECT unnest($labels))",
        {"labels": labels},
    )
    void_check_outcomes(connection, table, labels)


def void_check_outcomes(connection: duckdb.DuckDBPyConnection, table: Table, labels: Sequence[str]) -> None:
    """What was checked is being replaced: its outcomes no longer speak for the table's data."""
    ensure_table(connection, CHECK_OUTCOMES)
    connection.execute(
        f"DELETE FROM {CHECK_OUTCOMES.qualified_name} WHERE asset = $asset AND quarter IN (SELECT unnest($labels))",
        {"asset": table.name, "labels": list(labels)},
    )


def stage(connection: duckdb.DuckDBPyConnection, asset_name: str, parameters: dict) -> str:
    """Run an asset's transform once into a temporary table, from which its outputs and counts are then taken."""
    staged = f"staged_{asset_name}"
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS {sql_text(asset_name)}", parameters)
    return staged


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
        f"SELECT count(*) FROM {table.qualified_name} WHERE {table.partition_column} IN (SELECT unnest($labels))",
        {"labels": [quarter.label for quarter in quarters]},
    ).fetchone()[0]
