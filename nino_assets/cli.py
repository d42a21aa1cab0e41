"""The `nino` command: generate synthetic scans, run the main job over the whole series, sign off and publish a
release, open the UI, serve the released cubes."""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from nino_assets.shared.nino_home import NinoHome
from nino_assets.ingest.scan_format import CHECKSUM_SUFFIX
from nino_assets.ingest.scan_format import file_name as scan_file_name
from nino_assets.release.calendar import RELEASE_TIME_TEXT
from nino_assets.shared.paths import DEFAULT_HOME
from nino_assets.shared.quarters import SERIES_START, Quarter, quarters_between, series_quarters

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
    for quarter in quarters:
        scan = home.scans / scan_file_name(quarter.label)
        if scan.exists() and not scan.with_name(scan.name + CHECKSUM_SUFFIX).exists():
            print(f"{scan.name} has no checksum manifest ({scan.name}{CHECKSUM_SUFFIX}): left as delivered; it is "
                  "not loaded until its manifest arrives")


def run_main_job(home: NinoHome, instance, quarters: list[Quarter]):
    """Materialise every asset for every quarter in `quarters` as one run recorded in `instance`; the run's result."""
    from nino_assets.definitions import build_definitions, main_job
    from nino_assets.shared.instance import run_tags

    job = build_definitions(home).resolve_job_def(main_job.name)
    return job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": quarters[0].partition_key,
            "dagster/asset_partition_range_end": quarters[-1].partition_key,
            **run_tags(),
        },
        raise_on_error=False,
    )


def restore_deliveries_not_taken(home: NinoHome, result, quarters: list[Quarter]) -> dict[str, dict[str, str]]:
    """After a failed run, its quarters still pending (a step failed, not a check, which refuses as it fails) are
    put back as last accepted: a delivery is taken whole or not at all."""
    from nino_assets.definitions import PUBLICATION_GATE, resources
    from nino_assets.shared.acceptance import restore_pending

    failed_steps = sorted({event.step_key for event in result.all_events if event.is_step_failure})
    return restore_pending(resources(home)["warehouse"], PUBLICATION_GATE.journey, quarters,
                           f"the run's failed step(s): {', '.join(failed_steps)}", result.run_id)


def _command_generate(arguments: argparse.Namespace) -> int:
    home = NinoHome.from_environment()
    prepare_home(home)
    generate(home, _quarter_range(arguments.quarters), arguments.seed)
    return 0


def _command_run(arguments: argparse.Namespace) -> int:
    home = NinoHome.from_environment()
    prepare_home(home)
    quarters = _quarter_range(arguments.quarters)
    from nino_assets.shared.instance import one_run_at_a_time, open_instance

    with one_run_at_a_time(home.dagster_home):
        generate(home, quarters, arguments.seed)
        print(f"Materialising every asset for {quarters[0].label} .. {quarters[-1].label} in one run ...")
        started = time.perf_counter()
        result = run_main_job(home, open_instance(home.dagster_home), quarters)
        succeeded = result.success
        not_taken = {} if succeeded else restore_deliveries_not_taken(home, result, quarters)
    print(f"The run {'succeeded' if succeeded else 'FAILED'} in {time.perf_counter() - started:.1f} s.")
    refused = print_failures(result)
    for quarter, deliveries in not_taken.items():
        print(f"{quarter}: its delivery {deliveries['refused']} was not taken (the run failed before every layer held "
              f"it and passed its checks); the warehouse keeps {deliveries['kept']}")
    if refused and quarters[0] != Quarter.containing(SERIES_START):
        print(f"A release covers every quarter from {Quarter.containing(SERIES_START).label} to its reference quarter, "
              "and the gate requires each of them checked in the warehouse: run the whole series (`nino run`) or a "
              f"range from {Quarter.containing(SERIES_START).label} (`nino run --quarters "
              f"{Quarter.containing(SERIES_START).label}..{quarters[-1].label}`).")
    release = home.working_release(quarters[-1].label)
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
    report = _qa_report_materialised(result)
    if succeeded and report:
        print_next_steps(home, *report)
    return 0 if succeeded else 1


def _nino() -> str:
    """How to call this `nino` in a printed command: the environment's own, relative to here if it is below."""
    command = Path(sys.executable).with_name("nino")
    try:
        command = command.relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.quote(str(command))


def _home_prefix(home: NinoHome) -> str:
    """`NINO_HOME=... ` when the data folder is not the default one here, so that a printed command acts on it."""
    return "" if home.root_path == Path(DEFAULT_HOME).resolve() else f"NINO_HOME={shlex.quote(home.root)} "


def _qa_report_materialised(result) -> tuple[str, Path, str] | None:
    """The release, QA report and its SHA-256 that the run's `qa_report` materialised, if it did."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "qa_report":
            metadata = materialization.metadata
            return (metadata["reference_quarter"].value, Path(metadata["report"].value),
                    metadata["report_sha256"].value)
    return None


def print_next_steps(home: NinoHome, release: str, report: Path, report_sha256: str) -> None:
    from nino_assets.release.assets import ReleaseTimetable, _uk
    from nino_assets.release.calendar import CalendarError

    try:
        release_at = f"from {_uk(ReleaseTimetable().release(Quarter.from_label(release)).release_at)}"
    except CalendarError as error:
        release_at = f"not yet: {error}"
    nino = _home_prefix(home) + _nino()
    print(
        f"\nRelease {release} is built and waits for sign-off. Next:\n"
        f"  1. Read its QA report: {report}\n"
        f"     SHA-256: {report_sha256}\n"
        f"  2. Sign it off, as the signatory who read it:\n"
        f"     {nino} sign-off --release {release} --signatory NAME --role ROLE --report-sha256 {report_sha256}\n"
        f"  3. Publish it ({release_at}):\n"
        f"     {nino} publish --release {release}\n"
        f"  4. Serve it (Stat-Xplore's Open Data API; the first start creates an API key file):\n"
        f"     {nino} serve"
    )


def _root_cause(error):
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error


def print_failures(result, file=None) -> bool:
    """Print what stopped a run: each failed check with what it found, each failed step with its error's message
    (a refusal's reasons in full). Whether a publication or release step was refused."""
    refused = False
    failed_checks = [evaluation for evaluation in result.get_asset_check_evaluations() if not evaluation.passed]
    if failed_checks:
        print("Failed checks:", file=file)
    for evaluation in sorted(failed_checks, key=lambda item: (item.asset_key.to_user_string(), item.check_name)):
        found = evaluation.description or "; ".join(
            f"{key} {value.value}" for key, value in sorted(evaluation.metadata.items())
            if isinstance(value.value, int | float | str))[:300]
        print(f"  - {evaluation.asset_key.to_user_string()} / {evaluation.check_name}" + (f": {found}" if found else ""),
              file=file)
    failures = [event for event in result.all_events if event.is_step_failure]
    if failures:
        print("Failed steps:", file=file)
    for event in failures:
        error = event.event_specific_data.error if event.event_specific_data else None
        cause = _root_cause(error) if error else None
        refused = refused or bool(cause and cause.cls_name in ("PublicationRefused", "ReleaseRefused"))
        message = (cause.message.strip() if cause else "") or "(no message)"
        kind = f"{cause.cls_name}: " if cause and cause.cls_name else ""
        named, _, rest = message.partition(": ")
        if kind and named.split(".")[-1] == cause.cls_name:  # "package.module.Error: what" -> "what"
            message = rest
        print(f"  - {event.step_key}: {kind}{message}".replace("\n", "\n    "), file=file)
    return refused


def _command_sign_off(arguments: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from nino_assets.shared.quarters import Quarter
    from nino_assets.release.assets import ReleaseRefused, record_sign_off

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


def _now() -> datetime:
    """The time `nino publish` goes by: the real time (there is no option to set it; tests replace this)."""
    return datetime.now(timezone.utc)


def _command_publish(arguments: argparse.Namespace) -> int:
    """The `publication` job for one release, as the publication schedule starts it at release time on release day:
    refused before the release's time, without a current sign-off or unless the gate passes, as the job refuses."""

    from nino_assets.definitions import build_definitions
    from nino_assets.release.assets import PUBLICATION_JOB, ReleaseTimetable
    from nino_assets.shared.instance import one_run_at_a_time, open_instance, run_tags

    home = NinoHome.from_environment()
    prepare_home(home)
    reference = Quarter.from_label(arguments.release)
    run_config = {"resources": {"release": {"config": {"reference_quarter": reference.label}}},
                  "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if arguments.correction_reason:
        run_config["ops"] = {"public_release": {"config": {"correction_reason": arguments.correction_reason}}}
    job = build_definitions(home, release_timetable=ReleaseTimetable(now=_now().isoformat())).resolve_job_def(
        PUBLICATION_JOB)
    with one_run_at_a_time(home.dagster_home):
        result = job.execute_in_process(instance=open_instance(home.dagster_home), run_config=run_config,
                                        tags={"nino/release": reference.label, **run_tags()}, raise_on_error=False)
    if not result.success:
        print(f"Publication of {reference.label} refused:", file=sys.stderr)
        print_failures(result, file=sys.stderr)
        return 2
    [materialization] = [event.step_materialization_data.materialization
                         for event in result.get_asset_materialization_events()]
    metadata = materialization.metadata
    version = metadata["version"].value
    print(f"{reference.label} is public as v{version}"
          + ("" if metadata["new_version"].value else " (already published with this content: nothing new)")
          + f": {metadata['folder'].value}\n"
          f"The query service serves it from {home.service / reference.label / f'v{version}'}: "
          f"{_home_prefix(home)}{_nino()} serve")
    return 0


def ensure_api_keys(arguments: argparse.Namespace) -> Path:
    """The service's key file; on first start (no file yet) one is created with a new random key, readable by its
    owner only (0600), and where it is is printed."""
    from nino_assets.service.server import settings_from

    path = settings_from(arguments).api_keys_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write("# API keys of the nino-stats query service, one a line; send one in the APIKey header.\n"
                         f"# Created by `nino serve` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.\n"
                         f"{secrets.token_hex(16)}\n")
        print(f"Created the API key file {path} (mode 0600) with a new key: send it in the APIKey header.")
    return path


def _command_serve(arguments: argparse.Namespace) -> int:
    from nino_assets.service.server import serve

    ensure_api_keys(arguments)
    sys.stdout.flush()
    return serve(arguments)


def _command_free_slots(arguments: argparse.Namespace) -> int:
    from nino_assets.shared.instance import open_instance

    home = NinoHome.from_environment()
    prepare_home(home)
    open_instance(home.dagster_home)  # says which slots it freed
    print("Every slot of the warehouse pool is held by a live run, or free.")
    return 0


def _command_ui(arguments: argparse.Namespace) -> int:
    home = NinoHome.from_environment()
    prepare_home(home)
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    # a checkout's workspace file; an installed package loads the same code location by its module
    location = ["-w", str(workspace)] if workspace.is_file() else ["-m", "nino_assets.definitions", "-a", "defs"]
    dagster = str(Path(sys.executable).with_name("dagster"))  # the environment's own, whatever PATH says
    os.execv(dagster, [dagster, "dev", *location, "--host", arguments.host, "--port", str(arguments.port)])
    return 0  # not reached


def _command_deploy(arguments: argparse.Namespace) -> int:
    from nino_assets.deploy.stack import DeploymentError, Stack, StackSettings

    settings = StackSettings(host=arguments.host, port=arguments.port, code_server_port=arguments.code_server_port,
                             instance_config=arguments.instance_config)
    try:
        stack = Stack(NinoHome.from_environment(), settings)
        stack.prepare()
    except DeploymentError as error:
        print(f"nino deploy: {error}", file=sys.stderr)
        return 2
    try:
        stack.start()
    except DeploymentError as error:
        print(f"nino deploy: {error}", file=sys.stderr)
        stack.stop()
        return 2
    stack.supervise()
    return 0


def main(argv: list[str] | None = None) -> int:
    from nino_assets.service.server import add_serve_arguments
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

    commands.add_parser("free-slots", help="free the warehouse pool's slots held by `nino` runs whose process is gone "
                                           "(`nino run` and `nino publish` do this as they start)"
                        ).set_defaults(handler=_command_free_slots)

    sign_off_parser = commands.add_parser("sign-off", help="sign off a release's current QA report")
    sign_off_parser.add_argument("--release", required=True, help="the reference quarter, e.g. 2026-Q3")
    sign_off_parser.add_argument("--signatory", required=True, help="the signatory's name")
    sign_off_parser.add_argument("--role", required=True, help="the signatory's role")
    sign_off_parser.add_argument("--report-sha256", required=True, help="the SHA-256 of the QA report signed")
    sign_off_parser.set_defaults(handler=_command_sign_off)

    publish_parser = commands.add_parser("publish", help="make a signed-off release public (from its time on the "
                                                         f"release calendar, {RELEASE_TIME_TEXT} UK time)")
    publish_parser.add_argument("--release", required=True, help="the reference quarter, e.g. 2026-Q3")
    publish_parser.add_argument("--correction-reason", default="",
                                help="only for a correction of a release already public: why, for its revision note")
    publish_parser.set_defaults(handler=_command_publish)

    ui_parser = commands.add_parser("ui", help="open the Dagster UI and daemon (dagster dev)")
    ui_parser.add_argument("--host", default="127.0.0.1")
    ui_parser.add_argument("--port", type=int, default=3000)
    ui_parser.set_defaults(handler=_command_ui)

    deploy_parser = commands.add_parser(
        "deploy", help="start the production stack (code server, webserver and daemon) against the PostgreSQL server "
                       "that NINO_DAGSTER_POSTGRES_URL names, and keep it running until stopped")
    deploy_parser.add_argument("--host", default="127.0.0.1", help="the webserver's address (default: loopback)")
    deploy_parser.add_argument("--port", type=int, default=3000, help="the webserver's port")
    deploy_parser.add_argument("--code-server-port", type=int, default=4266,
                               help="the code server's port, on loopback")
    deploy_parser.add_argument("--instance-config", type=Path,
                               help="an instance file to run with instead of the project's deploy/dagster.yaml")
    deploy_parser.set_defaults(handler=_command_deploy)

    serve_parser = commands.add_parser("serve", help="start the query service (Stat-Xplore's Open Data API) over "
                                                     "the released cubes")
    add_serve_arguments(serve_parser)
    serve_parser.set_defaults(handler=_command_serve)

    arguments = parser.parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
