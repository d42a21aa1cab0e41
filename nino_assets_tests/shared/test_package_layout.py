"""The package as it is built: its data files found through importlib.resources, every package listed for the
wheel, no import cycle, and the tools (generator, benchmarks) and the service apart from the pipeline."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from nino_assets.definitions import ALL_ASSETS, WAREHOUSE_TABLES
from nino_assets.shared.expectations import load_suites
from nino_assets.shared.package_files import sql_text, suite_files

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nino_assets"


def test_every_sql_file_is_found_by_its_name_and_every_suite_by_its_stage():
    on_disk = sorted(path.stem for path in (ROOT / "sql").rglob("*.sql"))
    assert len(on_disk) == len(set(on_disk)), "two SQL files share a name"
    for name in on_disk:
        assert sql_text(name) == next((ROOT / "sql").rglob(f"{name}.sql")).read_text(encoding="utf-8")
    stages = {path.name for path in PACKAGE.iterdir() if (path / "assets.py").is_file()}
    assert {relative.split("/")[0] for relative in suite_files()} <= stages
    with pytest.raises(FileNotFoundError, match="no file nothing_here.sql"):
        sql_text("nothing_here")


def test_each_suite_gates_a_table_of_the_stage_it_is_filed_under():
    asset_stage = {asset.key.to_user_string(): asset.op.name for asset in ALL_ASSETS if asset.is_executable}
    tables = {table.name for table in WAREHOUSE_TABLES}
    for suite in load_suites():
        assert suite.asset_name in tables and suite.asset_name in asset_stage, suite.source
        stage = suite.source.split("/")[1]
        assert (PACKAGE / stage / "assets.py").read_text(encoding="utf-8").count(f"def {suite.asset_name}(") == 1


def test_the_wheel_lists_every_package():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    folders = {".".join(path.parent.relative_to(ROOT).parts) for path in PACKAGE.rglob("__init__.py")}
    assert listed == folders | {"nino_assets.sql", "nino_assets.expectations", "nino_assets.deploy_files"}


def _imports(path: Path, module: str) -> set[str]:
    """The nino_assets modules a module imports when it is imported (not those imported inside functions). A
    package's own modules importing from the package are not counted: Python has begun importing it already."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nino_assets"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
            if not module.startswith(node.module + "."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("nino_assets")}
    return found


def test_no_module_imports_itself_through_others():
    modules = {".".join(path.with_suffix("").relative_to(ROOT).parts).removesuffix(".__init__"): path
               for path in PACKAGE.rglob("*.py")}
    graph = {name: {imported for imported in _imports(path, name) if imported in modules and imported != name}
             for name, path in modules.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, trail = stack.pop()
            for target in graph[node]:
                if target == start:
                    return trail + [start]
                if target not in seen:
                    seen.add(target)
                    stack.append((target, trail + [target]))
        return None

    cycles = [cycle for name in sorted(graph) if (cycle := cycle_from(name))]
    assert not cycles, " -> ".join(cycles[0])


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(output.split())


def test_the_query_service_starts_without_the_pipeline():
    loaded = _modules_after("import nino_assets.service.app, nino_assets.service.server")
    outside = {name.split(".")[0] for name in loaded} & {"dagster", "plotly", "polars", "great_expectations"}
    assert not outside
    stages = {"reference", "ingest", "clean", "geography", "cubes", "disclosure", "publication", "release"}
    assert not {name for name in loaded if name.split(".")[:2][-1] in stages and name.startswith("nino_assets.")}


def test_the_pipeline_does_not_import_the_tools():
    loaded = _modules_after("import nino_assets.definitions")
    assert not {name for name in loaded if name.startswith(("nino_assets.synthetic", "nino_assets.benchmarks"))}
