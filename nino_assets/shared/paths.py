"""Where nino-stats keeps its state: everything lives under one data folder, `$NINO_HOME` (default `./data`).

Pure, so that the query service finds the released cubes without the pipeline; the pipeline's resource for the same
folder is `shared.nino_home.NinoHome`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "data"


def home_from_environment() -> Path:
    return Path(os.environ.get("NINO_HOME", DEFAULT_HOME)).resolve()


class DataLayout:
    """The data folder's layout: landing area, warehouse file, Dagster instance and outputs, under `root_path`."""

    @property
    def root_path(self) -> Path:
        raise NotImplementedError

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
    def deployment_home(self) -> Path:
        """The production stack's DAGSTER_HOME (`nino deploy`): its instance file, compute logs and state; its run
        history is in PostgreSQL."""
        return self.root_path / "deployment"

    @property
    def outputs(self) -> Path:
        return self.root_path / "outputs"

    def working_release(self, reference_label: str) -> Path:
        """A release's outputs as built, seen by the production team only."""
        return self.outputs / "releases" / reference_label

    @property
    def public(self) -> Path:
        """The public output area: only released versions, each immutable, never written before release time."""
        return self.outputs / "public" / "releases"

    @property
    def service(self) -> Path:
        """Released cubes, for the query service to serve: never written before release time."""
        return self.outputs / "service" / "releases"

    @property
    def pre_release(self) -> Path:
        """What the pre-release access list receives, from 24 hours before release."""
        return self.outputs / "pre_release"

    @property
    def release_control(self) -> Path:
        """Sign-offs and the record of pre-release access."""
        return self.root_path / "release_control"


@dataclass(frozen=True)
class DataFolder(DataLayout):
    """A data folder by its path, for code that runs without Dagster (the query service)."""

    root: Path

    @property
    def root_path(self) -> Path:
        return self.root
