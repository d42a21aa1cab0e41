"""Publication stage: the outputs of one release, for the whole series to its reference quarter, behind the gate.

Outputs are built only from published cells (perturbed, rounded) and only after `gate.enforce` has found every
blocking check upstream passed on every quarter they cover. They are written to the release's working folder,
`outputs/releases/<reference quarter>/`; the release stage makes them public at the announced time. The same
warehouse gives byte-identical files.
"""

import csv
import hashlib
import json
from pathlib import Path

import dagster as dg
from plotly.offline import get_plotlyjs

from nino_assets.cubes.assets import CUBE_DIMENSIONS, FINEST_CELLS
from nino_assets.publication import gate
from nino_assets.reference.assets import DISCONTINUITIES, REFERENCE_DATA, RELEASE_CALENDAR_FILE
from nino_assets.release.calendar import load_calendar
from nino_assets.publication.gate import PublicationGate
from nino_assets.publication.bulletin import PLOTLY_FILE, ReleaseTables, masthead, render
from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.disclosure.assets import PERTURBED_COUNTS, PTABLE, PTABLE_RULE, DisclosureControl
from nino_assets.publication.ods import ods_bytes
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import SERIES_START, Quarter, quarters_between
from nino_assets.publication.supplementary_tables import LAYOUTS, PUBLICATION_TITLE, build_table, workbook_sheets
from nino_assets.shared.released_files import CUBE_FILE, CUBE_MANIFEST, PTABLE_FILE
from nino_assets.shared.warehouse import CHECK_OUTCOMES, WHOLE_TABLE, Warehouse, sql_text

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
        return home.working_release(reference.label)


def gated_reference(context: dg.AssetExecutionContext, warehouse: Warehouse, release: Release,
                    publication_gate: PublicationGate) -> tuple[Quarter, dict]:
    """The release's reference quarter, once the gate has passed every quarter from the series' start to it."""
    reference = release.reference(warehouse)
    quarters = quarters_between(Quarter.containing(SERIES_START), reference)
    return reference, publication_gate.enforce(context, warehouse, quarters)


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
        "CSV of each table, from published cells only (perturbed, then rounded to the rounding base). Refused unless "
        "every blocking check upstream has passed on every quarter of the series to the reference quarter."
    ),
)
def supplementary_tables(
    context: dg.AssetExecutionContext, warehouse: Warehouse, nino_home: NinoHome, release: Release,
    disclosure_control: DisclosureControl, publication_gate: dg.ResourceParam[PublicationGate],
) -> dg.MaterializeResult:
    reference, gate_seen = gated_reference(context, warehouse, release, publication_gate)
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
    workbook.write_bytes(ods_bytes(workbook_sheets(tables, reference, disclosure_control.rounding_base), f"{PUBLICATION_TITLE}, {reference.label}"))
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


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"html", "plotly"},
    pool="warehouse",
    deps=[supplementary_tables, DISCONTINUITIES.name],
    description=(
        "The statistical bulletin (HTML, works offline with plotly.js beside it): main points, charts with text "
        "descriptions and data tables, discontinuities, strengths and limitations. Every number in it is a cell of "
        "the supplementary tables or derived from such cells, and is marked with the cells it comes from."
    ),
)
def bulletin(
    context: dg.AssetExecutionContext, warehouse: Warehouse, nino_home: NinoHome, release: Release,
    disclosure_control: DisclosureControl, publication_gate: dg.ResourceParam[PublicationGate],
) -> dg.MaterializeResult:
    reference, gate_seen = gated_reference(context, warehouse, release, publication_gate)
    with warehouse.get_connection() as connection:
        discontinuities = [
            dict(zip(("discontinuity_id", "start_date", "title", "description"), row))
            for row in connection.execute(
                "SELECT discontinuity_id, strftime(start_date, '%Y-%m-%d'), title, description "
                f"FROM {DISCONTINUITIES.qualified_name} ORDER BY start_date, discontinuity_id").fetchall()
        ]
    folder = release.folder(nino_home, reference)
    tables = ReleaseTables(folder / "tables")
    page = folder / "bulletin" / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    with (REFERENCE_DATA / "release_team.csv").open(newline="", encoding="utf-8") as team:
        header = masthead(reference, load_calendar(RELEASE_CALENDAR_FILE), list(csv.DictReader(team)))
    page.write_text(render(tables, reference, discontinuities, disclosure_control.rounding_base, header),
                    encoding="utf-8")
    script = page.parent / PLOTLY_FILE
    script.write_text(get_plotlyjs(), encoding="utf-8")
    return dg.MaterializeResult(
        metadata={"reference_quarter": reference.label, **gate_seen, **file_metadata(folder, [page, script]),
                  "figures_traced": page.read_text(encoding="utf-8").count('class="figure"')}
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet"},
    pool="warehouse",
    deps=[PERTURBED_COUNTS.name, FINEST_CELLS.name, CUBE_DIMENSIONS.name, PTABLE.name],
    description=(
        "The cube the query service reads (a Parquet snapshot, never the live warehouse): the finest cells of the "
        "release's quarters with the published dimensions' codes, each with its count and cell key, from which any "
        "cell of those dimensions is summed exactly; the ptable the published tables were perturbed with; and a "
        "manifest of the dimensions, their levels and members and the perturbation rule. For the service only: not "
        "a public file (its counts are unperturbed). Behind the same gate as the tables."
    ),
    metadata={"dagster/column_schema": dg.TableSchema(columns=[
        dg.TableColumn("quarter", "VARCHAR", "Quarter of registration."),
        dg.TableColumn("nationality", "VARCHAR", "Nationality (country level of the nationality dimension)."),
        dg.TableColumn("age_band", "VARCHAR", "Age band at registration."),
        dg.TableColumn("sex", "VARCHAR", "F or M."),
        dg.TableColumn("local_authority", "VARCHAR", "Local authority code, OVERSEAS or UNKNOWN."),
        dg.TableColumn("registrations", "INTEGER", "Registrations in the cell (unperturbed)."),
        dg.TableColumn("cell_key", "INTEGER", f"The cell's key: its record keys summed modulo {RECORD_KEY_RANGE}."),
    ])},
)
def published_cube(
    context: dg.AssetExecutionContext, warehouse: Warehouse, nino_home: NinoHome, release: Release,
    disclosure_control: DisclosureControl, publication_gate: dg.ResourceParam[PublicationGate],
) -> dg.MaterializeResult:
    reference, gate_seen = gated_reference(context, warehouse, release, publication_gate)
    folder = release.folder(nino_home, reference) / "service"
    with warehouse.get_connection() as connection:
        files, rows = write_service_cube(connection, folder, reference, disclosure_control.rounding_base)
    return dg.MaterializeResult(
        metadata={"reference_quarter": reference.label, "dagster/row_count": rows, **gate_seen,
                  **file_metadata(folder, files)}
    )


def write_service_cube(connection, folder: Path, reference: Quarter, rounding_base: int) -> tuple[list[Path], int]:
    """The query service's files for a release, from the warehouse: the cube, the ptable and the manifest.

    The service perturbs every cell it is asked for with this ptable and rule, as `perturbed_counts` does, so that
    it needs nothing from the warehouse."""
    folder.mkdir(parents=True, exist_ok=True)
    cube, ptable_file = folder / CUBE_FILE, folder / PTABLE_FILE
    connection.execute(
        f"COPY ({sql_text('published_cube')}) TO '{cube}' (FORMAT parquet, COMPRESSION zstd)",
        {"first_quarter": Quarter.containing(SERIES_START).label, "reference_quarter": reference.label},
    )
    connection.execute(f"COPY (SELECT pcv, ckey, pvalue FROM {PTABLE.qualified_name} ORDER BY pcv, ckey) "
                       f"TO '{ptable_file}' (FORMAT parquet, COMPRESSION zstd)")
    [(rows,)] = connection.execute(f"SELECT count(*) FROM read_parquet('{cube}')").fetchall()
    [(max_pcv, repeat_period, key_range)] = connection.execute(
        f"SELECT max_pcv, repeat_period, key_range FROM {PTABLE_RULE.qualified_name}").fetchall()
    members = connection.execute(
        "SELECT child.dimension, child.level, child.code, child.label, parent.code "
        f"FROM {CUBE_DIMENSIONS.qualified_name} AS child "
        f"LEFT JOIN {CUBE_DIMENSIONS.qualified_name} AS parent ON parent.member_id = child.parent_member_id "
        "ORDER BY child.dimension, child.depth, child.code"
    ).fetchall()
    perturbation = {"ptable_file": PTABLE_FILE, "max_pcv": max_pcv, "repeat_period": repeat_period,
                    "key_range": key_range, "record_key_range": RECORD_KEY_RANGE, "rounding_base": rounding_base}
    manifest = folder / CUBE_MANIFEST
    manifest.write_text(json.dumps(cube_manifest(reference, rows, members, perturbation), indent=2, sort_keys=True)
                        + "\n", encoding="utf-8")
    return [cube, ptable_file, manifest], rows


def cube_manifest(reference: Quarter, rows: int, members: list[tuple], perturbation: dict) -> dict:
    """What the cube holds: its quarters, each dimension's levels with their members (code, label, parent), and the
    perturbation rule (the ptable's file, its pcv rule and key range, and the tables' rounding base)."""
    dimensions: dict[str, dict[str, list]] = {}
    for dimension, level, code, label, parent in members:
        dimensions.setdefault(dimension, {}).setdefault(level, []).append(
            {"code": code, "label": label, "parent": parent})
    return {
        "release": reference.label,
        "quarters": {"first": Quarter.containing(SERIES_START).label, "last": reference.label},
        "file": CUBE_FILE,
        "rows": rows,
        "columns": {"quarter": "quarter", "nationality": "nationality/country", "age_band": "age/band",
                    "sex": "sex/sex", "local_authority": "geography/local_authority"},
        "dimensions": dimensions,
        "perturbation": perturbation,
    }


publication_assets = [supplementary_tables, bulletin, published_cube]
