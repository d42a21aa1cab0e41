"""A quarter driven by a simulated clock through the release: the scan lands, the sensor starts its run, the checks
pass, the schedule builds the outputs and QA report, a signatory signs, pre-release access opens 24 hours before
release, and at 09:30 on the day the release becomes public; then a correction. The schedules and the sensor are
evaluated by Dagster's own tick evaluation."""

import hashlib
import json
from datetime import datetime

import dagster as dg
import pytest

from nino_assets.publication.supplementary_tables import LAYOUTS
from nino_assets.definitions import build_definitions
from nino_assets.ingest.assets import landing_sensor
from nino_assets.shared.quarters import Quarter
from nino_assets.release.assets import (
    PUBLIC_PRA_LIST,
    ReleaseTimetable,
    pre_release_schedule,
    publication_schedule,
    qa_report_path,
    release_outputs_schedule,
)
from nino_assets_tests.support.pipeline_world import Record, write_records, write_world

Q1, Q2 = Quarter(2002, 1), Quarter(2002, 2)
PEOPLE = {quarter: [Record(nino=f"A{letter}{number:06d}C", registration_date=f"{quarter.start:%Y-%m}-11")
                    for number in range(60)] for quarter, letter in ((Q1, "B"), (Q2, "E"))}
CALENDAR = "reference_quarter,release_date,announced_on,change_reason\n2002-Q2,2002-08-22,2002-06-01,\n"


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


class SimulatedQuarter:
    """The project's definitions on one data folder and Dagster instance, at a time the test chooses."""

    def __init__(self, home, tmp_path):
        self.home = home
        self.instance = dg.DagsterInstance.ephemeral()
        self.calendar = tmp_path / "calendar.csv"
        self.calendar.write_text(CALENDAR, encoding="utf-8")

    def timetable(self, now: datetime) -> ReleaseTimetable:
        return ReleaseTimetable(calendar_csv=str(self.calendar), now=now.isoformat())

    def run(self, job_name: str, now: datetime, request: dg.RunRequest | None = None, run_config=None):
        job = build_definitions(self.home, release_timetable=self.timetable(now)).resolve_job_def(job_name)
        return job.execute_in_process(
            instance=self.instance, raise_on_error=False,
            run_config=run_config or (request.run_config if request else {}),
            partition_key=request.partition_key if request else None,
            tags=request.tags if request else None,
        )

    def tick(self, schedule: dg.ScheduleDefinition, now: datetime):
        context = dg.build_schedule_context(instance=self.instance, scheduled_execution_time=now,
                                            resources={"release_timetable": self.timetable(now)})
        return schedule.evaluate_tick(context)

    def sense(self, cursor: str | None):
        definitions = build_definitions(self.home)
        context = dg.build_sensor_context(instance=self.instance, cursor=cursor, definitions=definitions,
                                          resources={"nino_home": self.home})
        return landing_sensor.evaluate_tick(context)

    def public_files(self) -> list[str]:
        areas = (self.home.public, self.home.service)
        return sorted(str(path.relative_to(self.home.outputs)) for area in areas if area.exists()
                      for path in area.rglob("*") if path.is_file())

    def sign(self, now: datetime, report_sha256: str):
        config = {"ops": {"record_release_sign_off": {"config": {
            "release": Q2.label, "signatory": "A. Statistician", "role": "Head of Profession for Statistics",
            "report_sha256": report_sha256}}}}
        return self.run("sign_off", now, run_config=config)


def refusal(result) -> str:
    [failure] = [event for event in result.all_events if event.is_step_failure]
    return failure.event_specific_data.error.cause.message


def digests(folder):
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def quarter(nino_home, tmp_path):
    return SimulatedQuarter(nino_home, tmp_path)


def test_a_quarter_from_its_scan_to_publication_at_09_30(quarter):
    home = quarter.home
    # 5 July 2002: the scans land; the sensor starts one run per quarter, and nothing new on its next tick
    write_world(home, PEOPLE)
    sensed = quarter.sense(None)
    assert sorted(request.partition_key for request in sensed.run_requests) == [Q1.partition_key, Q2.partition_key]
    assert not quarter.sense(sensed.cursor).run_requests
    for request in sorted(sensed.run_requests, key=lambda request: request.partition_key):
        assert quarter.run("quarterly_data", at("2002-07-05T10:00:00+01:00"), request).success
    assert quarter.public_files() == []

    # the outputs are built three days before pre-release access, not earlier
    assert quarter.tick(release_outputs_schedule, at("2002-08-15T07:00:00+01:00")).skip_message
    [build] = quarter.tick(release_outputs_schedule, at("2002-08-19T07:00:00+01:00")).run_requests
    assert quarter.run("release_outputs", at("2002-08-19T07:00:00+01:00"), build).success
    report = qa_report_path(home, Q2)
    assert "| raw_scan | volume_against_history | 2 of 2 | pass |" in report.read_text()
    assert quarter.public_files() == []

    # pre-release access: nothing the day before without a sign-off, and only against the current report
    assert quarter.tick(pre_release_schedule, at("2002-08-20T09:30:00+01:00")).skip_message
    [pra] = quarter.tick(pre_release_schedule, at("2002-08-21T09:30:00+01:00")).run_requests
    unsigned = quarter.run("pre_release", at("2002-08-21T09:30:00+01:00"), pra)
    assert "is not signed off: no sign-off is recorded" in refusal(unsigned)
    assert "is not the current QA report's" in refusal(quarter.sign(at("2002-08-20T16:00:00+01:00"), "0" * 64))
    current = hashlib.sha256(report.read_bytes()).hexdigest()
    assert quarter.sign(at("2002-08-20T16:00:00+01:00"), current).success
    early = quarter.run("pre_release", at("2002-08-21T09:29:00+01:00"), pra)
    assert "pre-release access to 2002-Q2 is from Wed 21 Aug 2002 09:30 UK time" in refusal(early)
    assert quarter.run("pre_release", at("2002-08-21T09:30:00+01:00"), pra).success
    bundle = home.pre_release / Q2.label
    assert (bundle / "bulletin" / "index.html").exists()
    assert len(list((bundle / "tables").glob("*.csv"))) == len(LAYOUTS)
    recipients = (home.release_control / "pre_release_access" / "2002-Q2.csv").read_text().splitlines()
    assert len(recipients) == 5 and all("2002-08-21T09:30:00+01:00" in line for line in recipients[1:])
    assert quarter.public_files() == []

    # release day: nothing public at 09:29, whatever is run; public at 09:30
    assert quarter.tick(publication_schedule, at("2002-08-22T09:00:00+01:00")).skip_message
    early = quarter.run("publication", at("2002-08-22T09:29:59+01:00"), pra)
    assert "not released until Thu 22 Aug 2002 09:30 UK time" in refusal(early)
    assert quarter.public_files() == []
    [publish] = quarter.tick(publication_schedule, at("2002-08-22T09:30:00+01:00")).run_requests
    assert quarter.run("publication", at("2002-08-22T09:30:00+01:00"), publish).success
    version_1 = home.public / Q2.label / "v1"
    manifest = json.loads((version_1 / "manifest.json").read_text())
    assert manifest["files"] == {name: digest for name, digest in digests(version_1).items()
                                 if name != "manifest.json"}
    assert {"bulletin/index.html", PUBLIC_PRA_LIST} <= set(manifest["files"])
    assert (home.service / Q2.label / "v1" / "finest_cells.parquet").exists()

    # re-running the publication with nothing changed makes no new version
    again = quarter.run("publication", at("2002-08-22T10:00:00+01:00"), publish)
    assert again.success and not (home.public / Q2.label / "v2").exists()
    published_v1 = digests(version_1)

    # a correction: 25 registrations were missing from the 2002-Q2 scan; the re-delivered scan is sensed and run
    write_records(home, Q2, [*PEOPLE[Q2], *(Record(nino=f"AG{number:06d}C", registration_date="2002-05-11")
                                           for number in range(25))])
    [rerun] = quarter.sense(sensed.cursor).run_requests
    assert quarter.run("quarterly_data", at("2002-09-02T10:00:00+01:00"), rerun).success
    assert quarter.run("release_outputs", at("2002-09-02T11:00:00+01:00"), build).success
    stale = quarter.run("publication", at("2002-09-02T12:00:00+01:00"), publish)
    assert "no one has signed the current QA report" in refusal(stale)
    assert quarter.sign(at("2002-09-02T12:00:00+01:00"), hashlib.sha256(report.read_bytes()).hexdigest()).success
    no_reason = quarter.run("publication", at("2002-09-02T12:30:00+01:00"), publish)
    assert "a correction needs the reason" in refusal(no_reason)
    corrected = dict(publish.run_config, ops={"public_release": {"config": {
        "correction_reason": "25 registrations were missing from the 2002-Q2 scan as first delivered."}}})
    assert quarter.run("publication", at("2002-09-02T12:30:00+01:00"), run_config=corrected).success

    assert digests(version_1) == published_v1  # version 1 is as it was
    version_2 = home.public / Q2.label / "v2"
    note = (version_2 / "revision_note.md").read_text()
    assert "25 registrations were missing" in note
    v1_table = (version_1 / "tables" / "table_1_registrations_by_world_area.csv").read_text().splitlines()
    v2_table = (version_2 / "tables" / "table_1_registrations_by_world_area.csv").read_text().splitlines()
    before, after = (int(table[2].split(",")[1]) for table in (v1_table, v2_table))  # 2002-Q2, all nationalities
    assert after > before
    assert (f"| table_1_registrations_by_world_area.csv | 2002-Q2 | All nationalities | {before} | {after} | "
            f"+{after - before} |") in note
    assert "| table_1_registrations_by_world_area.csv | 2002-Q1 |" not in note  # 2002-Q1 did not change
    assert "Revision</h2>" in (version_2 / "bulletin" / "index.html").read_text()
    assert "Revision</h2>" not in (version_1 / "bulletin" / "index.html").read_text()
