"""The data folder as a Dagster resource, so that runs and the UI show which folder a run used."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from nino_assets.shared.paths import DataLayout, home_from_environment


class NinoHome(dg.ConfigurableResource, DataLayout):
    """The data folder: landing area, warehouse file, Dagster instance and outputs."""

    root: str

    @classmethod
    def from_environment(cls) -> NinoHome:
        return cls(root=str(home_from_environment()))

    @property
    def root_path(self) -> Path:
        return Path(self.root)
