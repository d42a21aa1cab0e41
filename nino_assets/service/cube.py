"""The released cube the service answers from: the latest version of the latest public release, loaded once into
an in-memory DuckDB database (its cells on integer codes at every grain a table reads, the ptable and its rule), so
that readers never touch the warehouse or block its writer, and nothing the pipeline writes later changes an answer
mid-flight.

Only what `public_release` has copied to the service area (at or after release time) is found; a quarter after the
release's reference quarter is not loaded even if the file holds it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from nino_assets.shared.quarters import Quarter
from nino_assets.shared.released_files import CUBE_MANIFEST, version_folder, versions
from nino_assets.service.schema import Schema, build_schema
from nino_assets.service.tables import Grain, grain_label
from nino_assets.shared.package_files import sql_text

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleasedVersion:
    reference: Quarter
    version: int
    folder: Path


def latest_release(service_root: Path) -> ReleasedVersion | None:
    """The latest version of the latest released quarter under the service area, or None before any release."""
    released = []
    for release_root in service_root.glob("*") if service_root.is_dir() else ():
        try:
            reference = Quarter.from_label(release_root.name)
        except ValueError:
            continue
        numbers = [number for number in versions(release_root)
                   if (version_folder(release_root, number) / CUBE_MANIFEST).is_file()]
        if numbers:
            released.append(ReleasedVersion(reference, numbers[-1], release_root / f"v{numbers[-1]}"))
    return max(released, key=lambda release: (release.reference, release.version), default=None)


class CubeTables:
    """A cube folder in memory: its schema, and the perturbed cells of any request (its code classes, class items
    and grain)."""

    def __init__(self, folder: Path, reference: Quarter):
        manifest = json.loads((folder / CUBE_MANIFEST).read_text(encoding="utf-8"))
        self.schema: Schema = build_schema(manifest, reference)
        self.perturbation = manifest["perturbation"]
        self.connection = duckdb.connect(":memory:")
        codes = pa.table({
            "dimension": [field.spec.dimension for field in self.schema.fields for _ in field.finest_codes],
            "code": [code for field in self.schema.fields for code in field.finest_codes],
            "code_number": [number for field in self.schema.fields for number in range(len(field.finest_codes))],
        })
        self.connection.register("cube_codes", codes)
        self.connection.execute(f"CREATE TABLE finest_cells AS {sql_text('load_finest_cells')}",
                                {"cube_file": str(folder / manifest["file"])})
        self.connection.unregister("cube_codes")
        self.connection.execute(f"CREATE TABLE rollup_cells AS {sql_text('rollup_cells')}")
        self._grains = {grain for (grain,) in self.connection.execute(
            "SELECT DISTINCT grain FROM rollup_cells").fetchall()}
        self._grain_lock = threading.Lock()
        levels = [(field.spec.dimension, level, code, member)
                  for field in self.schema.fields for level, members in enumerate(field.level_members) if level
                  for code, member in enumerate(members)]
        self.connection.execute("CREATE TABLE code_levels (dimension VARCHAR, level INTEGER, code_number INTEGER, "
                                "member_number INTEGER)")
        self.connection.executemany("INSERT INTO code_levels VALUES (?, ?, ?, ?)", levels)
        [(loaded, expected, in_file)] = self.connection.execute(
            "SELECT (SELECT count(*) FROM finest_cells), "
            "(SELECT count(*) FILTER (WHERE list_contains($quarters, quarter)) FROM read_parquet($cube_file)), "
            "(SELECT count(*) FROM read_parquet($cube_file))",
            {"cube_file": str(folder / manifest["file"]),
             "quarters": list(self.schema.field_by_dimension("quarter").finest_codes)}).fetchall()
        if in_file != manifest["rows"]:
            raise ValueError(f"{folder}: the cube has {in_file} rows, its manifest says {manifest['rows']}")
        if loaded != expected:  # a cell whose code the manifest does not know would silently go missing
            raise ValueError(f"{folder}: {expected - loaded} cells of the released quarters have codes that are "
                             "not in the manifest")
        self.connection.execute("CREATE TABLE ptable AS SELECT pcv, ckey, pvalue FROM read_parquet($ptable_file)",
                                {"ptable_file": str(folder / self.perturbation["ptable_file"])})
        self.connection.execute(
            "CREATE TABLE ptable_rule AS SELECT $max_pcv AS max_pcv, $repeat_period AS repeat_period, "
            "$key_range AS key_range",
            {name: self.perturbation[name] for name in ("max_pcv", "repeat_period", "key_range")})
        self.connection.execute("DROP TABLE finest_cells")  # rollup_cells holds them, at the finest grain

    def _ensure_grain(self, grain: Grain) -> str:
        """The grain's name in `rollup_cells`, its cells built from the finest levels the first time it is asked for."""
        label = grain_label(grain, self.schema)
        if label not in self._grains:
            with self._grain_lock:
                if label not in self._grains:
                    finest = {name: None if level is None else 0 for name, level in grain.items()}
                    cursor = self.connection.cursor()
                    try:
                        cursor.execute(f"CREATE TEMP TABLE coarser_cells AS {sql_text('coarser_cells')}", {
                            "grain": label, "finer_grain": grain_label(finest, self.schema),
                            "nationality_level": grain["nationality"] or 0,
                            "geography_level": grain["geography"] or 0})
                        # in two steps: DuckDB 2.0 fails on an INSERT ... GROUP BY ... ORDER BY in one
                        cursor.execute("INSERT INTO rollup_cells SELECT * FROM coarser_cells ORDER BY quarter")
                    finally:
                        cursor.close()
                    self._grains.add(label)
        return label

    def perturbed_cells(self, code_classes: pa.Table, class_items: pa.Table, grain: Grain) -> pa.Table:
        """Each non-empty cell's item numbers (one column per cube field) and perturbed value, from the cells at the
        request's grain (`membership_tables` numbers codes at the same grain)."""
        label = self._ensure_grain(grain)
        cursor = self.connection.cursor()  # a connection of its own per request: concurrent readers
        try:
            cursor.execute(sql_text("ptable_row"))  # a temporary macro: each connection defines its own
            cursor.register("code_classes", code_classes)
            cursor.register("class_items", class_items)
            return cursor.sql(sql_text("table_cells"),
                              params={"record_key_range": self.perturbation["record_key_range"],
                                      "grain": label}).to_arrow_table()
        finally:
            cursor.close()


class ServedCube:
    """The cube the service serves now: the latest release's, reloaded when a newer release or version appears."""

    def __init__(self, service_root: Path):
        self.service_root = service_root
        self._lock = threading.Lock()
        self._release: ReleasedVersion | None = None
        self._tables: CubeTables | None = None
        self._empty = build_schema(None, None)

    def current(self) -> tuple[Schema, CubeTables | None]:
        """The schema and tables to answer with. A new release is loaded by the request that first sees it; while it
        loads, other requests are answered from the release before (they wait only if there is none)."""
        release = latest_release(self.service_root)
        if release != self._release and self._lock.acquire(blocking=self._tables is None):
            try:
                if release != self._release:
                    self._load(release)
            finally:
                self._lock.release()
        tables = self._tables
        return (tables.schema if tables else self._empty), tables

    def _load(self, release: ReleasedVersion | None) -> None:
        try:
            self._tables = CubeTables(release.folder, release.reference) if release else None
        except Exception:  # e.g. a release still being copied: keep serving the previous one, and try again
            LOGGER.exception("the cube of %s could not be loaded; still serving %s", release, self._release)
            return
        self._release = release
