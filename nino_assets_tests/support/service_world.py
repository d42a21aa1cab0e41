"""The query service tests' world: five quarters of the synthetic series through the warehouse assets, the service
files written by `published_cube`'s own function, released to the service area as `public_release` lays it out, and
the release's tables as `supplementary_tables` writes them. Built once for the service tests (service/conftest.py)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from nino_assets.definitions import WAREHOUSE_ASSETS, resources
from nino_assets.disclosure.assets import DisclosureControl
from nino_assets.publication.assets import write_service_cube
from nino_assets.publication.supplementary_tables import LAYOUTS, build_table
from nino_assets.service.app import ServiceSettings
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import Quarter, quarters_between
from nino_assets.synthetic import generate_series, write_postcode_lookup
from nino_assets_tests.support.warehouse import PLACED_REGISTRATIONS, range_tags

QUARTERS = quarters_between(Quarter(2002, 1), Quarter(2003, 1))
REFERENCE = QUARTERS[-1]
KEYS = ("key-one", "key-two")


@dataclass(frozen=True)
class World:
    home: NinoHome
    cube: Path
    """The release's service folder as `published_cube` writes it."""
    keys_file: Path

    def settings(self, service_root: Path | None = None, **changes) -> ServiceSettings:
        return ServiceSettings(service_root=service_root or self.home.service, api_keys_file=self.keys_file,
                               **changes)

    @property
    def records(self) -> pl.DataFrame:
        """The counted registrations of the released quarters, from the warehouse (not the cube): what every cell
        the service answers must be recounted from, with the cube's dimension names."""
        with duckdb.connect(str(self.home.warehouse), read_only=True) as connection:
            return connection.sql(
                "SELECT registration_quarter AS quarter, nationality, age_band, sex, lad_code AS local_authority, "
                f"record_key FROM {PLACED_REGISTRATIONS} WHERE registration_quarter <= $reference",
                params={"reference": REFERENCE.label}).pl()

    @property
    def manifest(self) -> dict:
        return json.loads((self.cube / "manifest.json").read_text())

    def local_authorities_of(self, region: str) -> list[str]:
        return [member["code"] for member in self.manifest["dimensions"]["geography"]["local_authority"]
                if member["parent"] == region]


def release(cube: Path, service_root: Path, reference: Quarter, version: int = 1) -> Path:
    """What `public_release` does with the service folder at release time."""
    target = service_root / reference.label / f"v{version}"
    shutil.copytree(cube, target)
    return target


def build_world(folder: Path) -> World:
    home = NinoHome(root=str(folder / "data"))
    write_postcode_lookup(home.postcode_lookup)
    generate_series(QUARTERS, home.scans, volume_scale=0.05)
    assert dg.materialize(WAREHOUSE_ASSETS, resources=resources(home), tags=range_tags(QUARTERS)).success
    cube = home.working_release(REFERENCE.label) / "service"
    with duckdb.connect(str(home.warehouse)) as connection:
        write_service_cube(connection, cube, REFERENCE, DisclosureControl().rounding_base)
        # the release's tables as `supplementary_tables` writes them (its CSVs), to compare the service with
        tables = home.working_release(REFERENCE.label) / "tables"
        tables.mkdir(parents=True)
        for layout in LAYOUTS:
            build_table(connection, layout, REFERENCE).frame.write_csv(
                tables / f"table_{layout.number}_{layout.name}.csv")
    release(cube, home.service, REFERENCE)
    keys_file = home.root_path / "service" / "api_keys.txt"
    keys_file.parent.mkdir(parents=True)
    keys_file.write_text("# keys issued to users, one a line\n" + "\n".join(KEYS) + "\n", encoding="utf-8")
    return World(home, cube, keys_file)
