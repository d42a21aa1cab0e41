"""Publication stage: the outputs of one release, for the whole series to its reference quarter, behind the gate.

Outputs are built only from published cells (perturbed, rounded) and only after `gate.enforce` has found every
blocking check upstream passed on every quarter they cover. They are written to the release's working folder,
`outputs/releases/<reference quarter>/`; the release stage makes them public at the announced time. The same
warehouse gives byte-identical files.
"""

import hashlib
from pathlib import Path

import dagster as dg
import polars as pl

from nino_assets import gate
from nino_assets.disclosure import PERTURBED_COUNTS
from nino_assets.ods import ods_bytes
from nino_assets.paths import NinoHome
from nino_assets.quarters import SERIES_START, Quarter, quarters_between
from nino_assets.supplementary_tables import LAYOUTS, PUBLICATION_TITLE, build_table, workbook_sheets
from nino_assets.warehouse import CHECK_OUTCOMES, WHOLE_TABLE, Warehouse

OWNERS = ["team:nino-publication"]
GROUP = "publication"


class Release(dg.ConfigurableResource):
    """Which release the publication assets build: its reference quarter (the last quarter it covers)."""

    reference_quarter: str = ""
    """e.g. "2026-Q3"; empty means the latest quarter in the warehouse (of its perturbed counts, or failing those,
    of the quarters its checks have looked at, so that the gate can say what stopped them)."""

    def reference(self, warehouse: Warehouse) -> Quarter:
        if self.reference_quarter:
            return Quarter.from_label(self.reference_quarter)
        if not Path(warehouse.database).exists():
            raise gate.PublicationRefused(f"there is no warehouse at {warehouse.database}: there is nothing to publish")
        with warehouse.get_connection() as connection:
            present = {row[0] for row in connection.execute(
                "SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()}
            for table, column in ((PERTURBED_COUNTS, "quarter"), (CHECK_OUTCOMES, "quarter")):
                if table.qualified_name in present:
                    [(latest,)] = connection.execute(
                        f"SELECT max({column}) FROM {table.qualified_name} WHERE {column} <> $whole_table",
                        {"whole_table": WHOLE_TABLE}).fetchall()
                    if latest:
                        return Quarter.from_label(latest)
        raise gate.PublicationRefused("the warehouse holds no quarter yet: there is nothing to publish")

    def folder(self, home: NinoHome, reference: Quarter) -> Path:
        return home.outputs / "releases" / reference.label


def file_metadata(folder: Path, files: list[Path]) -> dict:
    """Each file's size and SHA-256, as a table in the UI."""
    rows = [
        dg.TableRecord({"file": str(path.relative_to(folder)), "bytes": path.stat().st_size,
                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
        for path in files
    ]
    return {
        "folder": dg.MetadataValue.path(str(folder)),
        "files": dg.MetadataValue.table(rows, schema=dg.TableSchema(columns=[
            dg.TableColumn("file", "string"), dg.TableColumn("bytes", "int"), dg.TableColumn("sha256", "string")])),
        "total_bytes": sum(path.stat().st_size for path in files),
    }


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"ods", "csv"},
    pool="warehouse",
    deps=[PERTURBED_COUNTS.name],
    description=(
        "The release's supplementary tables: one ODS workbook (cover, contents, notes, one table per sheet) and a "
        "CSV of each table, from published cells only (perturbed, then rounded to the nearest 10). Refused unless "
        "every blocking check upstream has passed on every quarter of the series to the reference quarter."
    ),
)
def supplementary_tables(
    context: dg.AssetExecutionContext, warehouse: Warehouse, nino_home: NinoHome, release: Release
) -> dg.MaterializeResult:
    reference = release.reference(warehouse)
    gate_seen = gate.enforce(context, warehouse, quarters_between(Quarter.containing(SERIES_START), reference))
    with warehouse.get_connection() as connection:
        tables = [build_table(connection, layout, reference) for layout in LAYOUTS]
    folder = release.folder(nino_home, reference) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for table in tables:
        path = folder / f"table_{table.layout.number}_{table.layout.name}.csv"
        table.frame.write_csv(path)
        files.append(path)
    workbook = folder / f"nino-supplementary-tables-{reference.label}.ods"
    workbook.write_bytes(ods_bytes(workbook_sheets(tables, reference), f"{PUBLICATION_TITLE}, {reference.label}"))
    files.insert(0, workbook)
    return dg.MaterializeResult(
        metadata={
            "reference_quarter": reference.label,
            **gate_seen,
            **file_metadata(folder, files),
            "tables": dg.MetadataValue.md("\n".join(
                f"- {table.layout.sheet_name}: {table.title} ({table.frame.height} rows x {table.frame.width} "
                "columns)" for table in tables)),
        }
    )


publication_assets = [supplementary_tables]
