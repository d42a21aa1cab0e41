"""Deliveries as a supplier's failures make them: a scan without its manifest, repeated record ids, a postcode
lookup with a column missing or no postcodes, a link, a quarter not yet ended, a volume ten times the usual. Each is refused or rejected naming the file and the rule, nothing of
the delivery is overwritten, and the warehouse keeps what it held."""

import hashlib
import re
from datetime import date

import dagster as dg

import pytest

from nino_assets.ingest.assets import ScanStructureError, check_scan_file, landing_sensor, raw_scan
from nino_assets.ingest.checks import volume_against_history
from nino_assets.ingest.scan_format import CHECKSUM_SUFFIX
from nino_assets.reference.assets import PostcodeLookupError, postcode_lookup, reference_assets
from nino_assets.definitions import defs, resources
from nino_assets.shared.quarters import Quarter, quarters_between
from nino_assets.shared.warehouse import stage
from nino_assets.synthetic.generator import LandingFileExists, generate_quarter, generate_series
from nino_assets_tests.support.pipeline_world import Record, write_lookup, write_world
from nino_assets_tests.support.scan_files import GOOD_RECORDS, scan_text, write_scan
from nino_assets_tests.support.warehouse import materialize_quarters, query, range_tags

Q1 = Quarter(2002, 1)


def assert_nothing_loaded(home):
    """The raw layer holds no record (the warehouse may not exist yet, or hold an empty table)."""
    if home.warehouse.exists():
        [(tables,)] = query(home, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'raw_scan'")
        assert not tables or query(home, "SELECT count(*) FROM raw.raw_scan") == [(0,)]


def test_a_scan_delivered_without_its_manifest_is_never_overwritten_and_not_loaded(nino_home):
    scan = write_scan(nino_home.scans, Q1, scan_text(Q1, GOOD_RECORDS))
    scan.with_name(scan.name + CHECKSUM_SUFFIX).unlink()
    delivered = hashlib.sha256(scan.read_bytes()).hexdigest()

    assert generate_series([Q1], nino_home.scans, volume_scale=0.001) == []  # skipped: a file of Q1 is there
    with pytest.raises(LandingFileExists, match="mws_2002-Q1.txt: a file of 2002-Q1 is already in the landing"):
        generate_quarter(Q1, nino_home.scans, volume_scale=0.001)
    with pytest.raises(LandingFileExists):
        generate_series([Q1], nino_home.scans, volume_scale=0.001, skip_existing=False)
    assert hashlib.sha256(scan.read_bytes()).hexdigest() == delivered
    assert not scan.with_name(scan.name + CHECKSUM_SUFFIX).exists()

    with pytest.raises(ScanStructureError, match=r"mws_2002-Q1.txt: the checksum manifest mws_2002-Q1.txt.sha256 is "
                                                 "missing"):
        check_scan_file(scan, Q1)
    result = materialize_quarters([raw_scan], nino_home, [Q1])
    assert not result.success
    assert_nothing_loaded(nino_home)


def test_a_manifest_without_its_scan_stops_the_generator_too(nino_home):
    nino_home.scans.mkdir(parents=True, exist_ok=True)
    manifest = nino_home.scans / f"mws_2002-Q1.txt{CHECKSUM_SUFFIX}"
    manifest.write_text("0" * 64 + "\n", encoding="ascii")
    assert generate_series([Q1], nino_home.scans, volume_scale=0.001) == []
    assert manifest.read_text(encoding="ascii") == "0" * 64 + "\n"


def test_lines_sharing_a_record_id_are_all_rejected_naming_each_other(nino_home):
    records = [GOOD_RECORDS[0], ("2", *GOOD_RECORDS[1][1:]), ("1", "JK112233D", "", "F", "FRA", "2002-03-28", "",
                                                                 "OVERSEAS"),
               ("4", "AB654321C", "1970-01-01", "M", "ESP", "2002-02-02", "", "OVERSEAS")]
    write_scan(nino_home.scans, Q1, scan_text(Q1, records))
    assert materialize_quarters([raw_scan], nino_home, [Q1]).success
    assert query(nino_home, "SELECT line_number FROM raw.raw_scan ORDER BY 1") == [(4,), (6,)]
    rejected = query(nino_home, "SELECT line_number, reason FROM raw.raw_scan_rejects ORDER BY 1")
    assert rejected == [
        (3, "record_id is not unique in the file: 1 is also on line(s) 5"),
        (5, "record_id is not unique in the file: 1 is also on line(s) 3"),
    ]
    # kept with their reason, not lost: records in = loaded + rejected
    assert query(nino_home, "SELECT count(*) FROM raw.raw_scan")[0][0] + len(rejected) == len(records)


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.replace(",rgn23cd", ",region", 1),
     r"postcode_lookup.csv: line 1 \(the header\) has no column 'rgn23cd'; the lookup needs pcds, pcd7, oa21cd, "
     r"lad23cd, rgn23cd, ctry23cd. Nothing was rebuilt."),
    (lambda text: text.splitlines()[0] + "\n", r"postcode_lookup.csv: the lookup has a header but no postcodes"),
])
def test_a_broken_postcode_lookup_is_refused_naming_file_and_column_and_the_table_is_kept(nino_home, damage, message):
    write_lookup(nino_home)
    assert materialize_quarters([postcode_lookup], nino_home, [Q1]).success
    before = query(nino_home, "SELECT * FROM reference.postcode_lookup ORDER BY ALL")
    nino_home.postcode_lookup.write_text(damage(nino_home.postcode_lookup.read_text(encoding="utf-8")),
                                         encoding="utf-8")
    result = materialize_quarters([postcode_lookup], nino_home, [Q1])
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error.cause
    assert error.cls_name == PostcodeLookupError.__name__
    assert re.search(message, error.message)
    assert query(nino_home, "SELECT * FROM reference.postcode_lookup ORDER BY ALL") == before


def test_a_scan_that_is_a_symbolic_link_is_refused(nino_home, tmp_path):
    elsewhere = write_scan(tmp_path / "elsewhere", Q1, scan_text(Q1, GOOD_RECORDS))
    nino_home.scans.mkdir(parents=True, exist_ok=True)
    link = nino_home.scans / elsewhere.name
    link.symlink_to(elsewhere)
    (nino_home.scans / (elsewhere.name + CHECKSUM_SUFFIX)).write_bytes(
        elsewhere.with_name(elsewhere.name + CHECKSUM_SUFFIX).read_bytes())
    with pytest.raises(ScanStructureError, match="mws_2002-Q1.txt: is a symbolic link; a delivered scan must be a "
                                                 "regular file"):
        check_scan_file(link, Q1)


def test_a_scan_for_a_quarter_not_yet_ended_waits_and_is_not_loaded(nino_home):
    future = Quarter.containing(date.today()).next()
    write_scan(nino_home.scans, future, scan_text(future, GOOD_RECORDS))
    with dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources={"nino_home": nino_home},
                                 definitions=defs) as context:
        result = landing_sensor(context)
    assert not result.run_requests
    assert result.skip_reason.skip_message == f"no new scan; not yet complete: {future.label}"


def test_a_quarter_ten_times_the_usual_volume_fails_the_volume_check(nino_home):
    history = quarters_between(Quarter(2002, 1), Quarter(2003, 1))
    surge = Quarter(2003, 2)
    scans = {quarter: [Record(nino=f"AB{100 * index + n:06d}C") for n in range(20)]
             for index, quarter in enumerate(history)}
    scans[surge] = [Record(nino=f"CE{n:06d}A") for n in range(200)]
    write_world(nino_home, scans)
    discontinuities = [asset for asset in reference_assets if asset.key.to_user_string() == "discontinuities"]
    result = dg.materialize([*discontinuities, raw_scan, volume_against_history], resources=resources(nino_home),
                            tags=range_tags([*history, surge]), instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "volume_against_history"]
    assert not evaluation.passed
    assert evaluation.metadata["outside_tolerance"].value == ["2003-Q2: +900% on the quarter, +900% on the year"]


def test_a_scan_that_grows_while_it_is_loaded_is_refused_and_nothing_of_it_is_taken(nino_home, monkeypatch):
    scan = write_scan(nino_home.scans, Q1, scan_text(Q1, GOOD_RECORDS))
    real_stage = stage

    def stage_while_the_file_grows(connection, asset_name, parameters):
        with scan.open("ab") as handle:
            handle.write(b"4|AB999999C|1970-01-01|M|ESP|2002-02-02||OVERSEAS\n")
        return real_stage(connection, asset_name, parameters)

    monkeypatch.setattr("nino_assets.ingest.assets.stage", stage_while_the_file_grows)
    result = materialize_quarters([raw_scan], nino_home, [Q1])
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert "mws_2002-Q1.txt: changed while it was being loaded (still being written?); nothing of this file was " \
           "loaded" in failure.step_failure_data.error.cause.message
    assert_nothing_loaded(nino_home)


def test_a_file_with_the_bytes_of_another_quarters_delivery_is_refused_naming_it(nino_home):
    """The previous quarter's file, bytes and manifest unchanged, delivered under this quarter's name."""
    q2 = Quarter(2002, 2)
    write_world(nino_home, {Q1: [Record(record_id=str(n), nino=f"AB{n:06d}C") for n in range(5)]})
    assert materialize_quarters([*reference_assets, raw_scan], nino_home, [Q1]).success
    first = nino_home.scans / "mws_2002-Q1.txt"
    resent = nino_home.scans / "mws_2002-Q2.txt"
    resent.write_bytes(first.read_bytes())
    resent.with_name(resent.name + CHECKSUM_SUFFIX).write_bytes(
        first.with_name(first.name + CHECKSUM_SUFFIX).read_bytes())
    digest = hashlib.sha256(first.read_bytes()).hexdigest()

    result = materialize_quarters([*reference_assets, raw_scan], nino_home, [q2])
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.cause.message
    assert (f"mws_2002-Q2.txt: its SHA-256 ({digest[:12]}…) is that of the 2002-Q1 delivery already loaded: "
            "2002-Q1's file resent as 2002-Q2's") in message
    assert query(nino_home, "SELECT scan_quarter, count(*) FROM raw.raw_scan GROUP BY 1") == [("2002-Q1", 5)]
    assert resent.read_bytes() == first.read_bytes()
