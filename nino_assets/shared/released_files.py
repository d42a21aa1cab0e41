"""The released files' format, the contract between the release stage and the query service: a release's versions
are folders `v1`, `v2`, ...; a served version holds the cube, its perturbation table and a manifest naming them.
Pure, so that the service reads releases without the pipeline."""

from __future__ import annotations

from pathlib import Path

CUBE_FILE = "finest_cells.parquet"
CUBE_MANIFEST = "manifest.json"
PTABLE_FILE = "ptable.parquet"


def versions(release_root: Path) -> list[int]:
    """The version numbers published under a release's folder, in order."""
    return sorted(int(path.name[1:]) for path in release_root.glob("v*") if path.name[1:].isdigit())


def version_folder(release_root: Path, version: int) -> Path:
    return release_root / f"v{version}"
