"""Warehouse table specifications: one declaration gives the DDL, the column schema shown in the UI and column lineage.

Each stage module declares its tables here-shaped, next to the asset that writes them, so that a table's columns,
their meaning and where each comes from are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

# Warehouse schemas by layer. Personal data lives in `raw` only; nothing outside it may hold a NINo, a date of
# birth, a postcode or a raw record.
RAW = "raw"
REFERENCE = "reference"
STATISTICS = "stat"
QUALITY = "quality"
"""Outcomes of the quality checks, per asset, check and quarter: what the publication gate reads."""

NEAR_UNIQUE_TEXT = "zstd"
"""The compression of text columns whose values are nearly all different (NINos, postcodes): DuckDB's own choice
for text, a dictionary, finds little to share in them and is slow to write. Measured on the whole series (16.4
million NINos): 2.5 s to write and 536 blocks with the dictionary, 1.0 s and 134 blocks with zstd."""


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    description: str
    # (upstream asset key path, upstream column) pairs this column is derived from
    derived_from: tuple[tuple[str, str], ...] = ()
    nullable: bool = True
    # DuckDB's compression for the column when not its own choice (storage only: the values are the same)
    compression: str | None = None

    @property
    def definition(self) -> str:
        return (f"{self.name} {self.sql_type}" + (f" USING COMPRESSION {self.compression}" if self.compression else "")
                + ("" if self.nullable else " NOT NULL"))


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    description: str
    columns: tuple[Column, ...]
    # the column holding the quarter label of a partitioned table's partition
    partition_column: str | None = None
    primary_key: tuple[str, ...] = field(default=())

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def create_statement(self) -> str:
        definitions = [column.definition for column in self.columns]
        if self.primary_key:
            definitions.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.qualified_name} (\n  " + ",\n  ".join(definitions) + "\n)"

    def dagster_schema(self) -> dg.TableSchema:
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=column.name,
                    type=column.sql_type,
                    description=column.description,
                    constraints=dg.TableColumnConstraints(nullable=column.nullable),
                )
                for column in self.columns
            ]
        )

    def column_lineage(self) -> dg.TableColumnLineage:
        return dg.TableColumnLineage(
            deps_by_column={
                column.name: [
                    dg.TableColumnDep(asset_key=dg.AssetKey(asset), column_name=upstream_column)
                    for asset, upstream_column in column.derived_from
                ]
                for column in self.columns
                if column.derived_from
            }
        )

    def definition_metadata(self) -> dict[str, object]:
        """Metadata that belongs on the asset definition: what the table is, before anything is materialised."""
        metadata: dict[str, object] = {
            "dagster/table_name": f"nino.{self.qualified_name}",
            "dagster/column_schema": self.dagster_schema(),
        }
        if any(column.derived_from for column in self.columns):
            metadata["dagster/column_lineage"] = self.column_lineage()
        return metadata
