"""The `nino` command: generate synthetic scans, run the main job over the whole series, open the UI."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from nino_assets.paths import NinoHome
from nino_assets.quarters import Quarter, quarters_between, series_quarters

# The instance of the embedded default: SQLite storage under the data folder, and one writer at a time on the
# DuckDB file: every asset that writes the warehouse is in the "warehouse" pool, whose limit is 1.
INSTANCE_CONFIG = """\
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_home(home: NinoHome) -> None:
    """Create the data folder and the Dagster instance home, and point Dagster at it."""
    for folder in (home.scans, home.postcode_lookup.parent, home.warehouse.parent, home.dagster_home, home.outputs):
        folder.mkdir(parents=True, exist_ok=True)
    instance_yaml = home.dagster_home / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.write_text(INSTANCE_CONFIG, encoding="utf-8")
    os.environ["NINO_HOME"] = str(home.root_path)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)


def _quarter_range(text: str | None) -> list[Quarter]:
    """Parse "2002-Q1..2003-Q4" (or a single label); default: the whole series."""
    if not text:
        return series_quarters(date.today())
    first, _, last = text.partition("..")
    return quarters_between(Quarter.from_label(first), Quarter.from_label(last or first))


def generate(home: NinoHome, quarters: list[Quarter], seed: int) -> None:
    from nino_assets.synthetic import generate_series, write_postcode_lookup

    if not home.postcode_lookup.exists():
        write_postcode_lookup(home.postcode_lookup, seed=seed)
        print(f"Wrote the postcode lookup to {home.postcode_lookup}")
    started = time.perf_counter()
    written = generate_series(quarters, home.scans, seed=seed, skip_existing=True)
    print(
        f"Generated {len(written)} scan file(s) in {time.perf_counter() - started:.1f} s "
        f"({len(quarters) - len(written)} already there) in {home.scans}"
    )


def run_main_job(home: NinoHome, instance, quarters: list[Quarter]):
    """Materialise every asset for every quarter in `quarters` as one run recorded in `instance`; the run's result."""
    from nino_assets.definitions import build_definitions, main_job

    job = build_definitions(home).resolve_job_def(main_job.name)
    return job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": quarters[0].partition_key,
            "dagster/asset_partition_range_end": quarters[-1].partition_key,
        },
        raise_on_error=False,
    )


def _command_generate(arguments: argparse.Namespace) -> int:
    home = NinoHome.from_environment()
    prepare_home(home)
    generate(home, _quarter_range(arguments.quarters), arguments.seed)
    return 0


def _command_run(arguments: argparse.Namespace) -> int:
    home = NinoHome.from_environment()
    prepare_home(home)
    quarters = _quarter_range(arguments.quarters)
    generate(home, quarters, arguments.seed)
    print(f"Materialising every asset for {quarters[0].label} .. {quarters[-1].label} in one run ...")
    started = time.perf_counter()
    import dagster as dg

    result = run_main_job(home, dg.DagsterInstance.get(), quarters)
    succeeded = result.success
    print(f"The run {'succeeded' if succeeded else 'FAILED'} in {time.perf_counter() - started:.1f} s.")
    failed_checks = sorted(f"{evaluation.asset_key.to_user_string()} / {evaluation.check_name}"
                           for evaluation in result.get_asset_check_evaluations() if not evaluation.passed)
    failed_steps = sorted(event.step_key for event in result.all_events if event.is_step_failure)
    for label, names in (("Failed checks", failed_checks), ("Failed steps", failed_steps)):
        if names:
            print(f"{label}: {', '.join(names)}")
    release = home.outputs / "releases" / quarters[-1].label
    print(
        f"\nData folder:  {home.root_path}\n"
        f"  landing:    {home.landing}\n"
        f"  warehouse:  {home.warehouse}\n"
        f"  Dagster:    {home.dagster_home}\n"
        f"  outputs:    {home.outputs}\n"
        + (f"  bulletin:   {release / 'bulletin' / 'index.html'}\n  tables:     {release / 'tables'}\n"
           if (release / "bulletin").exists() else "")
        + "Open the UI with `make ui` (dagster dev on http://127.0.0.1:3000) to see the assets, runs and checks."
    )
    return 0 if succeeded else 1


def _command_sign_off(arguments: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from nino_assets.quarters import Quarter
    from nino_assets.release import ReleaseRefused, record_sign_off

    home = NinoHome.from_environment()
    try:
        entry = record_sign_off(home, Quarter.from_label(arguments.release), arguments.signatory, arguments.role,
                                arguments.report_sha256, datetime.now(timezone.utc))
    except ReleaseRefused as error:
        print(f"Sign-off refused: {error}", file=sys.stderr)
        return 2
    print(f"{entry['release']} signed off by {entry['signatory']} ({entry['role']}) against QA report "
          f"{entry['report_sha256']}.")
    return 0


def _command_ui(arguments: argparse.Namespace) -> int:
    home = NinoHome.from_environment()
    prepare_home(home)
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dagster = str(Path(sys.executable).with_name("dagster"))  # the environment's own, whatever PATH says
    os.execv(dagster, [dagster, "dev", "-w", str(workspace), "--host", arguments.host, "--port", str(arguments.port)])
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    from nino_assets.service.server import add_serve_arguments, serve
    from nino_assets.synthetic import DEFAULT_SEED

    parser = argparse.ArgumentParser(prog="nino", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate_parser = commands.add_parser("generate", help="write synthetic scans into the landing folder")
    run_parser = commands.add_parser("run", help="generate missing scans, then materialise everything in one run")
    for sub in (generate_parser, run_parser):
        sub.add_argument("--quarters", help="a range such as 2002-Q1..2003-Q4 (default: the whole series)")
        sub.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    generate_parser.set_defaults(handler=_command_generate)
    run_parser.set_defaults(handler=_command_run)

    sign_off_parser = commands.add_parser("sign-off", help="sign off a release's current QA report")
    sign_off_parser.add_argument("--release", required=True, help="the reference quarter, e.g. 2026-Q3")
    sign_off_parser.add_argument("--signatory", required=True, help="the signatory's name")
    sign_off_parser.add_argument("--role", required=True, help="the signatory's role")
    sign_off_parser.add_argument("--report-sha256", required=True, help="the SHA-256 of the QA report signed")
    sign_off_parser.set_defaults(handler=_command_sign_off)

    ui_parser = commands.add_parser("ui", help="open the Dagster UI and daemon (dagster dev)")
    ui_parser.add_argument("--host", default="127.0.0.1")
    ui_parser.add_argument("--port", type=int, default=3000)
    ui_parser.set_defaults(handler=_command_ui)

    serve_parser = commands.add_parser("serve", help="start the query service (Stat-Xplore's Open Data API) over "
                                                     "the released cubes")
    add_serve_arguments(serve_parser)
    serve_parser.set_defaults(handler=serve)

    arguments = parser.parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
