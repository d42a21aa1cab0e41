"""Generate the whole synthetic series, then time each stage of its single-run backfill, and print a table.

Usage: python -m nino_assets.benchmarks [--keep FOLDER] [--per-partition] [--floor-script floor.sh]
Figures: generation and ingest throughput (records/s), each stage's time for the whole series in one run, the
blocking checks over the whole range (suites and rule checks apart, with their share of the whole), the release's
outputs, the floor (DuckDB reading every landing file once, and with --floor-script the whole essential work of a
backfill as one bare DuckDB script, run here on the same files), each stage's ratio to it, and the peak memory of
this process and its workers.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from nino_assets.benchmarks.costs import RunCosts
from nino_assets.reference.assets import REFERENCE_DATA
from nino_assets.definitions import resources
from nino_assets.shared.nino_home import NinoHome
from nino_assets.ingest.scan_format import COLUMN_NAMES
from nino_assets.shared.quarters import series_quarters
from nino_assets.synthetic import generate_series, write_postcode_lookup


def _peak_memory_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _floor_seconds(home: NinoHome) -> float:
    """The time DuckDB takes to read every landing file once, parsed into its fields: the least any ingest costs."""
    columns = {name: "VARCHAR" for name in COLUMN_NAMES}
    started = time.perf_counter()
    with duckdb.connect() as connection:
        connection.execute("SET enable_progress_bar = false")
        connection.execute(
            "SELECT count(*), max(nino), max(postcode) FROM read_csv($files, delim = '|', header = false, "
            "skip = 2, columns = $columns, quote = '', escape = '', null_padding = true, ignore_errors = true, "
            "auto_detect = false)",
            {"files": [str(path) for path in sorted(home.scans.glob("*.txt"))], "columns": columns},
        ).fetchall()
    return time.perf_counter() - started


MARKER = ".nino-benchmark"
"""Marks a folder the benchmark built, which a later benchmark may empty and build again."""


def fresh_folder(folder: Path) -> None:
    """An empty folder to build in: one the benchmark built before is emptied; any other folder with files in it is
    refused, so that a data folder given by mistake is never deleted."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise SystemExit(f"{folder} holds files the benchmark did not make: give an empty or new folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).touch()


def run(folder: Path) -> list[tuple[str, float, int | None]]:
    from nino_assets.definitions import ALL_ASSETS, ALL_CHECKS, WAREHOUSE_ASSETS
    from nino_assets.publication.assets import publication_assets

    home = NinoHome(root=str(folder))
    quarters = series_quarters(date.today())
    rows: list[tuple[str, float, int | None]] = []

    started = time.perf_counter()
    write_postcode_lookup(home.postcode_lookup)
    generate_series(quarters, home.scans, skip_existing=False)
    seconds = time.perf_counter() - started
    with duckdb.connect() as connection:
        records = connection.execute(
            "SELECT count(*) - 3 * count(DISTINCT filename) FROM read_csv($files, columns = {'line': 'VARCHAR'}, "
            "header = false, delim = chr(1), quote = '', escape = '', auto_detect = false, filename = true)",
            {"files": [str(path) for path in sorted(home.scans.glob("*.txt"))]},
        ).fetchone()[0]
    rows.append(("generate the series (2 processes)", seconds, records))
    rows.append(("floor: DuckDB reads every landing file once", _floor_seconds(home), records))

    instance = dg.DagsterInstance.ephemeral()
    tags = {
        "dagster/asset_partition_range_start": quarters[0].partition_key,
        "dagster/asset_partition_range_end": quarters[-1].partition_key,
    }
    assets = {asset.key.to_user_string(): asset for asset in WAREHOUSE_ASSETS}
    partitioned_stages = [
        ("ingest: raw_scan", ["raw_scan"]),
        ("clean: registrations", ["registrations"]),
        ("geography: geocoded_registrations", ["geocoded_registrations"]),
        ("cubes: finest_cells", ["finest_cells"]),
        ("disclosure: perturbed_counts", ["perturbed_counts"]),
    ]
    partitioned = {name for _, names in partitioned_stages for name in names}
    stages = [("reference tables (unpartitioned)", [name for name in assets if name not in partitioned])]
    stages += partitioned_stages
    for label, names in stages:
        selected = [assets[name] for name in names]
        partitioned = any(asset.partitions_def for asset in selected)
        started = time.perf_counter()
        result = dg.materialize(selected, resources=resources(home), instance=instance, tags=tags if partitioned else {})
        seconds = time.perf_counter() - started
        if not result.success:
            raise SystemExit(f"{label} failed")
        # a range run records one materialisation per quarter, each with the run's metadata
        row_count = result.asset_materializations_for_node(names[-1])[0].metadata["dagster/row_count"].value
        rows.append((label, seconds, row_count if partitioned else None))

    # the blocking checks of the same range, on the warehouse the stages built: what the quality gate costs
    started = time.perf_counter()
    result = dg.materialize([*ALL_ASSETS, *ALL_CHECKS], selection=dg.AssetSelection.all_asset_checks(),
                            resources=resources(home), instance=instance, tags=tags)
    seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit("the checks failed")
    costs = RunCosts.of(result, ALL_CHECKS)
    rows.append(("checks: expectation suites", costs.suites, None))
    rows.append(("checks: rule checks", costs.rule_checks, None))
    rows.append(("checks: run overhead", seconds - costs.total(), None))

    started = time.perf_counter()
    result = dg.materialize([*ALL_ASSETS, *ALL_CHECKS], selection=[asset.key for asset in publication_assets],
                            resources=resources(home), instance=instance)
    if not result.success:
        raise SystemExit("publication failed")
    rows.append(("publication: tables, bulletin, service cube", time.perf_counter() - started, None))
    return rows


def quarterly_job(home: NinoHome):
    from nino_assets.definitions import QUARTERLY_DATA_JOB, build_definitions

    return build_definitions(home).resolve_job_def(QUARTERLY_DATA_JOB)


def new_quarter_seconds(folder: Path) -> tuple[float, float]:
    """The latest quarter run again as the quarterly run does (its data, with every check, on a warehouse that holds
    the whole series), then the release's outputs; seconds for each."""
    from nino_assets.definitions import RELEASE_OUTPUTS_JOB, build_definitions

    home = NinoHome(root=str(folder))
    latest = series_quarters(date.today())[-1]
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    if not quarterly_job(home).execute_in_process(partition_key=latest.partition_key, instance=instance).success:
        raise SystemExit("the new quarter's run failed")
    data = time.perf_counter() - started
    started = time.perf_counter()
    if not build_definitions(home).resolve_job_def(RELEASE_OUTPUTS_JOB).execute_in_process(instance=instance).success:
        raise SystemExit("the release outputs failed")
    return data, time.perf_counter() - started


def per_partition_seconds(folder: Path) -> float:
    """The same backfill (every warehouse asset and check) as one run per quarter, in a fresh warehouse."""
    home = NinoHome(root=str(folder / "per_partition"))
    home.landing.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(home.root_path / "warehouse", ignore_errors=True)
    for source, target in ((folder / "landing" / "scans", home.scans),
                           (folder / "landing" / "reference", home.postcode_lookup.parent)):
        if not target.exists():
            target.symlink_to(source, target_is_directory=True)
    job = quarterly_job(home)
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    for quarter in series_quarters(date.today()):
        if not job.execute_in_process(partition_key=quarter.partition_key, instance=instance).success:
            raise SystemExit(f"the run for {quarter.label} failed")
    return time.perf_counter() - started


def essential_work_seconds(folder: Path, script: Path) -> float:
    """The floor script's time for the essential work of a whole-series backfill on this folder's landing files.

    The script finds the reference files at `<nino_assets>/reference_data`, the package's layout before its stage
    folders; it is given a `nino_assets` folder whose `reference_data` is the package's `reference/data`."""
    with tempfile.TemporaryDirectory() as shim:
        (Path(shim) / "nino_assets").mkdir()
        (Path(shim) / "nino_assets" / "reference_data").symlink_to(REFERENCE_DATA)
        # absolute paths: the script runs in the shim folder
        finished = subprocess.run(["bash", str(script.resolve()), str(folder.resolve()), sys.executable], check=True,
                                  capture_output=True, text=True, cwd=shim, env={**os.environ, "PYTHONPATH": shim})
    return float(re.search(r"floor_seconds=([0-9.]+)", finished.stdout).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary folder); "
                        "a folder an earlier benchmark built is emptied first")
    parser.add_argument("--per-partition", action="store_true",
                        help="also run the same backfill as one run per quarter (about half an hour more)")
    parser.add_argument("--floor-script", type=Path,
                        help="a script timing the essential work as bare DuckDB (called as SCRIPT FOLDER PYTHON, "
                             "printing floor_seconds=N): stages are then also shown as ratios to it")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nino-benchmark-") as temporary:
        folder = arguments.keep or Path(temporary)
        fresh_folder(folder)
        rows = run(folder)
        new_data, new_outputs = new_quarter_seconds(folder)
        per_partition = per_partition_seconds(folder) if arguments.per_partition else None
        essential = essential_work_seconds(folder, arguments.floor_script) if arguments.floor_script else None
    print(f"\n{'step':<46} {'seconds':>8} {'rows':>12} {'rows/s':>12}" + ("  x essential" if essential else ""))
    for label, seconds, row_count in rows:
        counts = f"{row_count:>12,} {row_count / seconds:>12,.0f}" if row_count else f"{'':>25}"
        print(f"{label:<46} {seconds:8.1f} {counts}" + (f" {seconds / essential:12.2f}" if essential else ""))
    pipeline = sum(seconds for label, seconds, _ in rows[2:])
    suites = sum(seconds for label, seconds, _ in rows if label == "checks: expectation suites")
    checks = sum(seconds for label, seconds, _ in rows if label.startswith("checks:"))
    floor = rows[1][1]
    own, children = _peak_memory_mib()
    print(f"\nwhole backfill (every stage, check and output): {pipeline:.1f} s = {pipeline / floor:.1f} x reading "
          "the files once")
    if essential:
        print(f"the essential work as bare DuckDB: {essential:.1f} s; the whole backfill is {pipeline / essential:.2f} "
              "x it")
    print(f"the expectation suites add {suites:.1f} s = {suites / pipeline:.1%} of the whole; every check "
          f"{checks:.1f} s = {checks / pipeline:.1%}")
    print(f"a new quarter on the whole series: {new_data:.1f} s for its data and checks, {new_outputs:.1f} s for the "
          f"release's outputs")
    if per_partition is not None:
        single = sum(seconds for label, seconds, _ in rows[2:] if not label.startswith("publication"))
        print(f"one run per quarter: {per_partition:.1f} s against {single:.1f} s in one run "
              f"({per_partition / single:.1f}x)")
    print(f"peak memory: this process {own:,.0f} MiB; largest generator worker {children:,.0f} MiB")


if __name__ == "__main__":
    main()
