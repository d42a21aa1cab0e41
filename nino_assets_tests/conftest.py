"""Shared fixtures: a data folder per test, and one build of the full synthetic series per test session (helpers
are in `support/`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from nino_assets.benchmarks.costs import RunCosts
from nino_assets.cli import run_main_job
from nino_assets.definitions import ALL_CHECKS
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import Quarter, series_quarters
from nino_assets.synthetic import generate_series, write_postcode_lookup


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which writes each group into its test's id
def pytest_collection_modifyitems(items):
    """The suite runs on two workers (pytest-xdist, `--dist loadgroup`): every test of the full series on one, so
    that the series is built once; any other test with the rest of its file, so that a module's fixtures are built
    once."""
    for item in items:
        group = "full_series" if "full_series" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    if node.config.getoption("dist") == "loadgroup" and ids and not any("@" in test_id for test_id in ids):
        # pytest 9.2's structured test ids ignore xdist 3.8's groups (pytest-xdist issue 1386): the series would be
        # built on both workers, each at half speed
        pytest.exit("pytest-xdist did not group the tests: see the pytest pin in pyproject.toml", returncode=4)


@pytest.fixture
def nino_home(tmp_path: Path) -> NinoHome:
    home = NinoHome(root=str(tmp_path / "data"))
    home.scans.mkdir(parents=True)
    return home


@dataclass(frozen=True)
class FullSeries:
    """The whole synthetic series, generated and run through every asset in one run, on a persistent instance."""

    home: NinoHome
    instance: dg.DagsterInstance
    quarters: list[Quarter]
    result: dg.ExecuteInProcessResult
    generation_seconds: float
    run_seconds: float
    costs: RunCosts


@pytest.fixture(scope="session")
def full_series(tmp_path_factory) -> FullSeries:
    root = tmp_path_factory.mktemp("full_series")
    home = NinoHome(root=str(root / "data"))
    quarters = series_quarters(date.today())
    started = time.perf_counter()
    write_postcode_lookup(home.postcode_lookup)
    generate_series(quarters, home.scans)
    generated = time.perf_counter()
    home.dagster_home.mkdir(parents=True)
    instance = dg.DagsterInstance.local_temp(tempdir=str(home.dagster_home))
    result = run_main_job(home, instance, quarters)
    finished = time.perf_counter()
    assert result.success, "the main job failed on the full synthetic series"
    series = FullSeries(home, instance, quarters, result, generated - started, finished - generated,
                        RunCosts.of(result, ALL_CHECKS))
    print(
        f"\nfull series: {len(quarters)} quarters generated in {series.generation_seconds:.1f} s, "
        f"every asset and check materialised in one run in {series.run_seconds:.1f} s\n{series.costs.report()}"
    )
    return series
