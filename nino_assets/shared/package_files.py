"""The files the package carries beside its code: SQL transforms and expectation suites, found through
`importlib.resources` so that an installed package (not only a checkout) can run.

In the repository they live at the top level, in `sql/` and `expectations/`, one folder a stage, and `deploy/` (the
production instance and workspace files); `pyproject.toml` installs them as the packages `nino_assets.sql`,
`nino_assets.expectations` and `nino_assets.deploy_files`.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

SQL_PACKAGE = "nino_assets.sql"
SUITES_PACKAGE = "nino_assets.expectations"
DEPLOY_PACKAGE = "nino_assets.deploy_files"


def _walk(folder: Traversable, suffix: str, prefix: str = "") -> dict[str, Traversable]:
    found = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            found |= _walk(entry, suffix, f"{prefix}{entry.name}/")
        elif entry.name.endswith(suffix):
            found[prefix + entry.name.removesuffix(suffix)] = entry
    return found


@cache
def _sql_files() -> dict[str, Traversable]:
    """Each SQL file by its name, which is unique across the stages' folders (the asset or macro it defines)."""
    by_path = _walk(files(SQL_PACKAGE), ".sql")
    by_name: dict[str, Traversable] = {}
    for path, entry in by_path.items():
        name = path.rsplit("/", 1)[-1]
        if name in by_name:
            raise RuntimeError(f"sql/: two files are named {name}.sql; a transform's name must be unique")
        by_name[name] = entry
    return by_name


def sql_text(name: str) -> str:
    """The SQL named after an asset (or macro), from `sql/<stage>/<name>.sql`."""
    try:
        entry = _sql_files()[name]
    except KeyError:
        raise FileNotFoundError(f"sql/: no file {name}.sql in any stage's folder") from None
    return entry.read_text(encoding="utf-8")


def suite_files(folder: Traversable | None = None) -> dict[str, Traversable]:
    """Every expectation suite, by its path under `expectations/` (or the folder given) without `.json`, e.g.
    `clean/registrations`."""
    return dict(sorted(_walk(folder or files(SUITES_PACKAGE), ".json").items()))


def deploy_file(name: str) -> Path:
    """A file of the production deployment, from `deploy/` (`dagster.yaml`, `workspace.yaml`)."""
    entry = files(DEPLOY_PACKAGE) / name
    if not entry.is_file():
        raise FileNotFoundError(f"deploy/: no file {name}")
    return Path(str(entry))
