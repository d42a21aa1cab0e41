"""Release stage: the QA report, sign-off, pre-release access and publication at release time, by the release
calendar.

- `qa_report`: what was checked and what was found, for the release's quarters, as Markdown; its SHA-256 is what a
  signatory signs. The report holds no run ids or times, so the same data gives the same report.
- Sign-off (`nino sign-off` or the `sign_off` job): a named signatory against that exact checksum. A sign-off of an
  older report does not count.
- `pre_release_bundle`: from 24 hours before release time, the outputs for the recorded pre-release access list, and
  the record of who was given access when.
- `public_release`: at or after release time only, the outputs become public as an immutable, versioned folder with
  a manifest of checksums; a correction becomes the next version with a computed revision note
  (`release_versions.py`). Nothing is written to the public area or the service area earlier, whatever is run.
The time comes from the `ReleaseClock` resource, so that tests can drive a simulated clock.
"""

import csv
import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

from nino_assets.shared.nino_home import NinoHome
from nino_assets.clean.assets import REGISTRATION_EXCLUSIONS
from nino_assets.geography.assets import GEOCODING_OUTCOMES
from nino_assets.ingest.assets import RAW_SCAN
from nino_assets.publication.gate import PublicationGate
from nino_assets.publication.assets import Release, bulletin, gated_reference, published_cube, supplementary_tables
from nino_assets.shared.quarters import SERIES_START, Quarter, quarters_between
from nino_assets.reference.assets import DISCONTINUITIES, REFERENCE_DATA, RELEASE_CALENDAR, RELEASE_CALENDAR_FILE
from nino_assets.release.calendar import RELEASE_TIME_CRON, RELEASE_TIME_TEXT, UK, load_calendar, release_of
from nino_assets.release.calendar import Release as CalendarRelease
from nino_assets.release.versions import (
    RevisionRefused,
    changes_by_table,
    folder_sha256,
    publish,
    sha256,
    table_changes,
)
from nino_assets.shared.released_files import version_folder, versions
from nino_assets.shared.warehouse import CHECK_OUTCOMES, WHOLE_TABLE, Warehouse

OWNERS = ["team:nino-publication"]
GROUP = "release"
PRA_LIST = REFERENCE_DATA / "pre_release_access.csv"
PUBLIC_PRA_LIST = "pre_release_access_list.csv"
QA_REPORT = "qa_report.md"
OUTPUT_PARTS = ("tables", "bulletin")
"""What pre-release access and the public release receive of a release's working folder."""


class ReleaseTimetable(dg.ConfigurableResource):
    """When release steps may happen: the release calendar, and the time to go by (the real time, unless `now`, ISO
    8601 with its offset, is set, as tests of a simulated quarter do)."""

    calendar_csv: str = ""
    """The calendar file; empty means the team's, `nino_assets/reference/data/release_calendar.csv`."""
    now: str = ""

    def current(self) -> datetime:
        return datetime.fromisoformat(self.now) if self.now else datetime.now(timezone.utc)

    def calendar(self) -> list[CalendarRelease]:
        return load_calendar(Path(self.calendar_csv) if self.calendar_csv else RELEASE_CALENDAR_FILE)

    def release(self, reference: Quarter) -> CalendarRelease:
        return release_of(self.calendar(), reference)


class ReleaseRefused(Exception):
    pass


def qa_report_path(home: NinoHome, reference: Quarter) -> Path:
    return home.working_release(reference.label) / "qa" / QA_REPORT


def sign_offs_path(home: NinoHome, reference: Quarter) -> Path:
    return home.release_control / "sign_offs" / f"{reference.label}.jsonl"


def record_sign_off(home: NinoHome, reference: Quarter, signatory: str, role: str, report_sha256: str,
                    signed_at: datetime) -> dict:
    """Record a sign-off of the current QA report; a checksum of any other report is refused."""
    report = qa_report_path(home, reference)
    if not report.exists():
        raise ReleaseRefused(f"there is no QA report for {reference.label} to sign off ({report})")
    current = sha256(report)
    if report_sha256 != current:
        raise ReleaseRefused(f"the checksum signed ({report_sha256[:12]}...) is not the current QA report's "
                             f"({current[:12]}...): read the current report, then sign it")
    if not signatory.strip():
        raise ReleaseRefused("a sign-off needs the signatory's name")
    entry = {"release": reference.label, "signatory": signatory.strip(), "role": role.strip(),
             "report_sha256": current, "signed_at": signed_at.isoformat()}
    path = sign_offs_path(home, reference)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def current_sign_off(home: NinoHome, reference: Quarter) -> dict:
    """The latest sign-off of the QA report as it is now; refuses when there is none, or only of an older report."""
    report, path = qa_report_path(home, reference), sign_offs_path(home, reference)
    if not report.exists():
        raise ReleaseRefused(f"{reference.label} has no QA report yet: materialise qa_report")
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    current = sha256(report)
    matching = [entry for entry in entries if entry["report_sha256"] == current]
    if not matching:
        raise ReleaseRefused(
            f"{reference.label} is not signed off: " + ("no one has signed the current QA report (the sign-offs on "
                                                         "record are of an earlier report)" if entries else
                                                         "no sign-off is recorded")
        )
    return matching[-1]


def _uk(moment: datetime) -> str:
    return f"{moment.astimezone(UK):%a %d %b %Y %H:%M} UK time"


def _copy_outputs(source: Path, target: Path) -> None:
    """The release's tables and bulletin, copied afresh into `target`."""
    shutil.rmtree(target, ignore_errors=True)
    for part in OUTPUT_PARTS:
        shutil.copytree(source / part, target / part)


def _outputs(home: NinoHome, reference: Quarter) -> Path:
    folder = home.working_release(reference.label)
    for part in OUTPUT_PARTS:
        if not (folder / part).is_dir():
            raise ReleaseRefused(f"{reference.label}: the release's {part} are not built ({folder / part})")
    return folder


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"markdown"},
    pool="warehouse",
    deps=[supplementary_tables, bulletin, published_cube, RELEASE_CALENDAR.name],
    description="The QA report a signatory signs: every check with its result and observed values, exclusions, the "
    "geocoding rate, volume changes, discontinuities touched and differences from the previous release.",
)
def qa_report(warehouse: Warehouse, nino_home: NinoHome, release: Release) -> dg.MaterializeResult:
    reference = release.reference(warehouse)
    quarters = quarters_between(Quarter.containing(SERIES_START), reference)
    labels = [quarter.label for quarter in quarters]
    year = labels[-4:]
    with warehouse.get_connection() as connection:
        checks = connection.execute(
            f"""
            SELECT asset, check_name, count(*) AS quarters, count(*) FILTER (WHERE passed) AS passed,
                   arg_max(observed, quarter) AS latest_observed
            FROM {CHECK_OUTCOMES.qualified_name} WHERE quarter = ANY($labels) OR quarter = '{WHOLE_TABLE}'
            GROUP BY ALL ORDER BY ALL""", {"labels": labels}).fetchall()
        exclusions = connection.execute(
            "SELECT reason, sum(records) FILTER (WHERE scan_quarter = ANY($year)), sum(records) "
            f"FROM {REGISTRATION_EXCLUSIONS.qualified_name} WHERE scan_quarter = ANY($labels) GROUP BY ALL "
            "ORDER BY 3 DESC, 1", {"labels": labels, "year": year}).fetchall()
        geocoding = connection.execute(
            f"SELECT geocoding_outcome, sum(records) FROM {GEOCODING_OUTCOMES.qualified_name} "
            "WHERE scan_quarter = ANY($year) GROUP BY ALL ORDER BY 2 DESC, 1", {"year": year}).fetchall()
        volumes = connection.execute(
            f"SELECT scan_quarter, count(*) FROM {RAW_SCAN.qualified_name} WHERE scan_quarter = ANY($labels) "
            "GROUP BY ALL ORDER BY 1", {"labels": labels[-8:]}).fetchall()
        touched = connection.execute(
            f"SELECT discontinuity_id, title, strftime(start_date, '%Y-%m-%d') FROM {DISCONTINUITIES.qualified_name} "
            "WHERE first_quarter = ANY($year) ORDER BY start_date", {"year": year}).fetchall()
    lines = [f"# QA report: NINo allocations to adult overseas nationals, release {reference.label}", "",
             f"Quarters covered: {labels[0]} to {labels[-1]}. Year of the main points: {year[0]} to {year[-1]}.", "",
             "## Blocking checks", "", "| asset | check | quarters passed | result | observed (latest quarter) |",
             "|---|---|---|---|---|"]
    lines += [f"| {asset} | {name} | {passed} of {count} | {'pass' if passed == count else 'FAIL'} | "
              f"{_observed(observed)} |" for asset, name, count, passed, observed in checks]
    lines += ["", "## Exclusions by reason", "", "| reason | last four quarters | whole series |", "|---|---|---|"]
    lines += [f"| {reason} | {int(last or 0):,} | {int(total):,} |" for reason, last, total in exclusions]
    geocoded_total = sum(count for _, count in geocoding) or 1
    lines += ["", "## Geocoding, last four quarters", "", "| outcome | registrations | share |", "|---|---|---|"]
    lines += [f"| {outcome} | {int(count):,} | {100 * count / geocoded_total:.1f}% |" for outcome, count in geocoding]
    lines += ["", "## Volumes, last eight quarters (records in the scan)", "", "| quarter | records | change on the "
              "quarter |", "|---|---|---|"]
    lines += [f"| {quarter} | {count:,} | " + (f"{100 * (count / volumes[index - 1][1] - 1):+.1f}%" if index else "")
              + " |" for index, (quarter, count) in enumerate(volumes)]
    lines += ["", "## Discontinuities starting in the last four quarters", ""]
    lines += [f"- {title} ({identifier}, from {start})" for identifier, title, start in touched] or ["- none"]
    lines += ["", "## Differences from the previous release", "", *_previous_release_differences(nino_home, reference)]
    report = qa_report_path(nino_home, reference)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    failing = [f"{asset} / {name}" for asset, name, count, passed, _ in checks if passed != count]
    return dg.MaterializeResult(metadata={
        "reference_quarter": reference.label, "report": dg.MetadataValue.path(str(report)),
        "report_sha256": sha256(report), "checks_failing": dg.MetadataValue.json(failing),
        "sign_off": f"nino sign-off --release {reference.label} --signatory NAME --role ROLE "
                    f"--report-sha256 {sha256(report)}",
    })


def _observed(observed: str | None) -> str:
    values = json.loads(observed or "{}")
    return "; ".join(f"{key} {value}" for key, value in sorted(values.items())
                     if isinstance(value, int | float) and key != "quarters")[:300]


def _previous_release_differences(home: NinoHome, reference: Quarter) -> list[str]:
    previous = sorted(path for path in home.public.glob("*") if path.name < reference.label)
    if not previous or not versions(previous[-1]):
        return ["No earlier release is public."]
    latest = version_folder(previous[-1], versions(previous[-1])[-1])
    changes, structural = table_changes(latest / "tables", home.working_release(reference.label) / "tables")
    return ([f"Against {previous[-1].name} v{versions(previous[-1])[-1]}: {len(changes)} cells of the same rows "
             "and columns changed (expected 0: there are no scheduled revisions, so a published quarter changes only "
             "by a correction, which needs its reason)."]
            + [f"- {table}: {count} cells" for table, count in changes_by_table(changes).items()]
            + [f"- {item}" for item in structural[:20]])


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"folder"},
    deps=[qa_report],
    description="Pre-release access: from 24 hours before release time, the signed-off outputs for the people on "
    "the pre-release access list, and the record of who was given access when. Refused at any other time, and "
    "behind the publication gate like the outputs themselves.",
)
def pre_release_bundle(
    context: dg.AssetExecutionContext, warehouse: Warehouse, nino_home: NinoHome, release: Release,
    release_timetable: ReleaseTimetable, publication_gate: dg.ResourceParam[PublicationGate],
) -> dg.MaterializeResult:
    reference, _ = gated_reference(context, warehouse, release, publication_gate)
    now = release_timetable.current()
    moments = release_timetable.release(reference)
    if not moments.pre_release_from <= now < moments.release_at:
        raise ReleaseRefused(f"pre-release access to {reference.label} is from {_uk(moments.pre_release_from)} to "
                             f"{_uk(moments.release_at)}; it is {_uk(now)}")
    signed = current_sign_off(nino_home, reference)
    source = _outputs(nino_home, reference)
    bundle = nino_home.pre_release / reference.label
    _copy_outputs(source, bundle)
    with PRA_LIST.open(newline="", encoding="utf-8") as handle:
        recipients = list(csv.DictReader(handle))
    record = nino_home.release_control / "pre_release_access" / f"{reference.label}.csv"
    record.parent.mkdir(parents=True, exist_ok=True)
    with record.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*recipients[0], "access_from", "bundle_sha256"])
        writer.writeheader()
        digest = folder_sha256(bundle)
        for recipient in recipients:
            writer.writerow({**recipient, "access_from": now.isoformat(), "bundle_sha256": digest})
    return dg.MaterializeResult(metadata={
        "reference_quarter": reference.label, "bundle": dg.MetadataValue.path(str(bundle)),
        "recipients": len(recipients), "signed_off_by": signed["signatory"],
        "release_at": moments.release_at.isoformat(),
    })


class PublicationConfig(dg.Config):
    correction_reason: str = ""
    """Only for a correction of a release already public: why, for its revision note."""


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"folder"},
    deps=[qa_report],
    description=f"The public release: at or after release time only ({RELEASE_TIME_TEXT} on the announced day), the "
    "signed-off tables, bulletin and pre-release access list as an immutable versioned folder with a manifest of checksums, "
    "and the cube for the query service. The same content again creates nothing; different content is a new "
    "version with a computed revision note and needs a reason. Behind the publication gate.",
)
def public_release(
    context: dg.AssetExecutionContext, config: PublicationConfig, warehouse: Warehouse, nino_home: NinoHome,
    release: Release, release_timetable: ReleaseTimetable, publication_gate: dg.ResourceParam[PublicationGate],
) -> dg.MaterializeResult:
    reference, _ = gated_reference(context, warehouse, release, publication_gate)
    now = release_timetable.current()
    moments = release_timetable.release(reference)
    if now < moments.release_at:
        raise ReleaseRefused(f"{reference.label} is not released until {_uk(moments.release_at)}; it is {_uk(now)}: "
                             "nothing is made public early")
    signed = current_sign_off(nino_home, reference)
    source = _outputs(nino_home, reference)
    candidate = nino_home.release_control / "candidates" / reference.label
    _copy_outputs(source, candidate)
    shutil.copy(PRA_LIST, candidate / PUBLIC_PRA_LIST)
    try:
        published = publish(candidate, nino_home.public / reference.label, config.correction_reason)
    except RevisionRefused as error:
        raise ReleaseRefused(str(error)) from None
    finally:
        shutil.rmtree(candidate, ignore_errors=True)
    served = version_folder(nino_home.service / reference.label, published.version)
    if published.created:
        shutil.copytree(source / "service", served)
    return dg.MaterializeResult(metadata={
        "reference_quarter": reference.label, "version": published.version, "new_version": published.created,
        "folder": dg.MetadataValue.path(str(published.folder)), "signed_off_by": signed["signatory"],
        "revision_note": dg.MetadataValue.md(published.note or "(none)"),
    })


class SignOffConfig(dg.Config):
    release: str
    signatory: str
    role: str
    report_sha256: str


@dg.op(description="Record a named signatory's sign-off of a release's current QA report (by its SHA-256).")
def record_release_sign_off(context: dg.OpExecutionContext, config: SignOffConfig, nino_home: NinoHome,
                            release_timetable: ReleaseTimetable) -> None:
    entry = record_sign_off(nino_home, Quarter.from_label(config.release), config.signatory, config.role,
                            config.report_sha256, release_timetable.current())
    context.log.info(f"{entry['release']} signed off by {entry['signatory']} ({entry['role']})")


@dg.job(description="Sign off a release: config names the release, the signatory, their role and the QA report's "
                    "SHA-256 (shown in qa_report's metadata).")
def sign_off():
    record_release_sign_off()


release_assets = [qa_report, pre_release_bundle, public_release]


RELEASE_OUTPUTS_JOB = "release_outputs"
PRE_RELEASE_JOB = "pre_release"
PUBLICATION_JOB = "publication"
OUTPUTS_LEAD = 3
"""The release outputs are built this many days before pre-release access opens, to leave time for QA and sign-off."""


def _calendar_release_run(reference: Quarter, step: str) -> dg.RunRequest:
    """A run for one release's step, with the release named in the run's config, once per release and step."""
    return dg.RunRequest(run_key=f"{step}-{reference.label}", tags={"nino/release": reference.label},
                         run_config={"resources": {"release": {"config": {"reference_quarter": reference.label}}}})


def _tick(context: dg.ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time or datetime.now(timezone.utc)


def calendar_schedule(name: str, cron: str, job_name: str, step: str, description: str, skip: str,
                      is_due: Callable[[CalendarRelease, datetime], bool]) -> dg.ScheduleDefinition:
    """A schedule that, at each tick, starts `job_name` for every release of the calendar that `is_due` then."""

    @dg.schedule(name=name, cron_schedule=cron, execution_timezone="Europe/London", job_name=job_name,
                 default_status=dg.DefaultScheduleStatus.STOPPED, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext, release_timetable: ReleaseTimetable):
        now = _tick(context)
        due = [release for release in release_timetable.calendar() if is_due(release, now)]
        if not due:
            return dg.SkipReason(skip)
        return [_calendar_release_run(release.reference, step) for release in due]

    return _schedule


release_outputs_schedule = calendar_schedule(
    "release_outputs_schedule", "0 7 * * *", RELEASE_OUTPUTS_JOB, "outputs",
    f"Each morning: builds the outputs and QA report of a release whose pre-release access opens within "
    f"{OUTPUTS_LEAD} days, in time for QA and sign-off.",
    f"no release's pre-release access opens within the next {OUTPUTS_LEAD} days",
    lambda release, now: timedelta(0) <= release.pre_release_from - now <= timedelta(days=OUTPUTS_LEAD),
)
pre_release_schedule = calendar_schedule(
    "pre_release_schedule", RELEASE_TIME_CRON, PRE_RELEASE_JOB, "pre-release",
    f"At {RELEASE_TIME_TEXT} the day before a release: the pre-release access bundle.",
    "no release is within its 24 hours of pre-release access",
    lambda release, now: release.pre_release_from <= now < release.release_at,
)
publication_schedule = calendar_schedule(
    "publication_schedule", RELEASE_TIME_CRON, PUBLICATION_JOB, "publish",
    f"At {RELEASE_TIME_TEXT} on release day: the release becomes public.",
    "no release is due at this time",
    lambda release, now: release.release_at <= now and release.release_at.date() == now.astimezone(UK).date(),
)
release_schedules = [release_outputs_schedule, pre_release_schedule, publication_schedule]
