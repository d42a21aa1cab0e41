"""Where nino-stats keeps its state: everything lives under one data folder, `$NINO_HOME` (default `./data`)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

DEFAULT_HOME = "data"


class NinoHome(dg.ConfigurableResource):
    """The data folder: landing area, warehouse file, Dagster instance and outputs."""

    root: str

    @classmethod
    def from_environment(cls) -> NinoHome:
        return cls(root=str(Path(os.environ.get("NINO_HOME", DEFAULT_HOME)).resolve()))

    @property
    def root_path(self) -> Path:
        return Path(self.root)

    @property
    def landing(self) -> Path:
        """Where deliveries land: a scan a quarter, and the postcode lookup."""
        return self.root_path / "landing"

    @property
    def scans(self) -> Path:
        return self.landing / "scans"

    @property
    def postcode_lookup(self) -> Path:
        return self.landing / "reference" / "postcode_lookup.csv"

    @property
    def warehouse(self) -> Path:
        return self.root_path / "warehouse" / "nino.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.root_path / "dagster"

    @property
    def outputs(self) -> Path:
        return self.root_path / "outputs"
