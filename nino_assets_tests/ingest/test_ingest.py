"""Ingest of scan files: good files, bad rows, broken files, idempotent re-runs and single-run ranges."""

import hashlib

import dagster as dg
import pytest

from nino_assets.ingest.assets import ScanStructureError, check_scan_file, raw_scan
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.warehouse import materialize_quarters, query
from nino_assets_tests.support.scan_files import GOOD_RECORDS, scan_text, write_scan

Q1 = Quarter(2002, 1)
Q2 = Quarter(2002, 2)


def raw_rows(home, quarter):
    return query(
        home,
        "SELECT line_number, record_id, nino, date_of_birth, sex, nationality, registration_date, arrival_date, "
        "postcode, extract_date FROM raw.raw_scan WHERE scan_quarter = $q ORDER BY line_number",
        {"q": quarter.label},
    )


def materialization_metadata(result):
    [materialization] = result.asset_materializations_for_node("raw_scan")
    return {key: value.value for key, value in materialization.metadata.items()}


def test_good_file_is_loaded_typed_with_line_numbers(nino_home):
    write_scan(nino_home.scans, Q1, scan_text(Q1, GOOD_RECORDS))
    result = materialize_quarters([raw_scan], nino_home, [Q1])
    assert result.success
    rows = raw_rows(nino_home, Q1)
    assert [row[0] for row in rows] == [3, 4, 5]
    first = rows[0]
    assert first[1:6] == (1, "AB123456C", __import__("datetime").date(1975, 5, 17), "M", "POL")
    assert rows[1][7] is None  # empty arrival date is missing, not an error
    assert rows[2][3] is None  # missing date of birth is kept for the clean stage to count
    assert rows[1][8] == "m1 1ae"  # postcodes are kept as delivered; geocoding normalises them
    metadata = materialization_metadata(result)
    assert metadata["dagster/row_count"] == 3
    assert metadata["records_rejected"] == 0
    assert metadata["quarters"] == "2002-Q1"


def test_bad_rows_go_to_rejects_with_line_and_reason_and_good_rows_load(nino_home):
    records = [
        GOOD_RECORDS[0],
        ("2", "CE654321A", "1990-02-30", "F", "IND", "2002-02-03", "", "M1 1AE"),  # not a real date
        ("3", "JK112233D", "1990-01-01", "F", "FRA", "2002-03-28", "2002-03-01"),  # 7 fields
        ("x4", "JK112234D", "1990-01-01", "F", "FRA", "2002-03-28", "", "B1 1AA"),  # record id
        ("5", "JK112235D", "1990-01-01", "M", "ESP", "", "", "B1 1AA"),  # registration date missing
        ("6", "JK112236D", "1990-01-01", "M", "ESP", "2002-03-01", "2002/02/01", "B1 1AA"),  # arrival form
        ("7", "JK112237D", "1990-1-01", "M", "ESP", "2002-03-01", "", "B1 1AA"),  # date form
        "",  # an empty line
        GOOD_RECORDS[1][:0] + ("9",) + GOOD_RECORDS[1][1:],
    ]
    write_scan(nino_home.scans, Q1, scan_text(Q1, records))
    result = materialize_quarters([raw_scan], nino_home, [Q1])
    assert result.success
    assert [row[0] for row in raw_rows(nino_home, Q1)] == [3, 11]
    rejects = query(
        nino_home,
        "SELECT line_number, reason, source_file, line FROM raw.raw_scan_rejects ORDER BY line_number",
    )
    assert [(line, reason) for line, reason, _, _ in rejects] == [
        (4, "date_of_birth is not a real date in YYYY-MM-DD form"),
        (5, "expected 8 fields, found 7"),
        (6, "record_id is not a positive whole number"),
        (7, "registration_date is missing or not a real date in YYYY-MM-DD form"),
        (8, "arrival_date is not a real date in YYYY-MM-DD form"),
        (9, "date_of_birth is not a real date in YYYY-MM-DD form"),
        (10, "expected 8 fields, found 1"),
    ]
    assert all(source.endswith("mws_2002-Q1.txt") for _, _, source, _ in rejects)
    # rejected records are kept whole (in the raw layer) so nothing is lost
    assert rejects[0][3] == "|".join(records[1])
    metadata = materialization_metadata(result)
    assert metadata["records_declared"] == 9
    assert metadata["records_loaded"] + metadata["records_rejected"] == 9
    assert metadata["rejects_by_reason"] == {
        "arrival_date is not a real date in YYYY-MM-DD form": 1,
        "date_of_birth is not a real date in YYYY-MM-DD form": 2,
        "expected 8 fields, found 1": 1,
        "expected 8 fields, found 7": 1,
        "record_id is not a positive whole number": 1,
        "registration_date is missing or not a real date in YYYY-MM-DD form": 1,
    }
    # the metadata counts reasons; it never carries a record's values
    assert "CE654321A" not in repr(result.all_events)


BROKEN_FILES = {
    "checksum": (lambda: scan_text(Q1, GOOD_RECORDS), "0" * 64, "does not match"),
    "trailer count": (lambda: scan_text(Q1, GOOD_RECORDS, trailer="T|4"), None, "trailer declares 4 records"),
    "truncated": (
        lambda: scan_text(Q1, GOOD_RECORDS, trailer="|".join(GOOD_RECORDS[0])),
        None,
        "not a trailer record 'T|count': the file is truncated",
    ),
    "header quarter": (
        lambda: scan_text(Q1, GOOD_RECORDS, header="H|MWS|1|2002-Q2|2002-07-14"),
        None,
        "header says quarter 2002-Q2, expected 2002-Q1",
    ),
    "header missing": (
        lambda: scan_text(Q1, GOOD_RECORDS, header="|".join(GOOD_RECORDS[0])),
        None,
        "line 1 is not a header record",
    ),
    "format version": (
        lambda: scan_text(Q1, GOOD_RECORDS, header="H|MWS|2|2002-Q1|2002-04-14"),
        None,
        "declares format version '2'",
    ),
    "column names": (
        lambda: scan_text(Q1, GOOD_RECORDS, columns_line="record_id|nino|dob|sex|nationality|reg|arr|postcode"),
        None,
        "line 2 is not the column names line",
    ),
    "line endings": (lambda: scan_text(Q1, GOOD_RECORDS).replace("\n", "\r\n"), None, "carriage return"),
}


@pytest.mark.parametrize("fault", sorted(BROKEN_FILES))
def test_structurally_broken_file_fails_naming_file_and_problem_and_loads_nothing(nino_home, fault):
    # a good load first: a failed run must leave it exactly as it was
    write_scan(nino_home.scans, Q1, scan_text(Q1, GOOD_RECORDS[:2]))
    assert materialize_quarters([raw_scan], nino_home, [Q1]).success
    before = raw_rows(nino_home, Q1)

    make_text, checksum, problem = BROKEN_FILES[fault]
    path = write_scan(nino_home.scans, Q1, make_text(), checksum=checksum)
    raw_bytes = path.read_bytes()
    result = materialize_quarters([raw_scan], nino_home, [Q1])

    assert not result.success
    [failure] = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.cause.message if failure.step_failure_data.error.cause else ""
    message = message or failure.step_failure_data.error.message
    assert str(path) in message and problem in message and "nothing of this file was loaded" in message
    assert "AB123456C" not in repr(result.all_events)  # the record in the header's place is not echoed
    assert raw_rows(nino_home, Q1) == before
    assert path.read_bytes() == raw_bytes  # the raw file is never changed


def test_missing_file_and_missing_manifest_are_named(nino_home):
    with pytest.raises(ScanStructureError, match="no scan has been delivered for 2002-Q1"):
        check_scan_file(nino_home.scans / "mws_2002-Q1.txt", Q1)
    path = write_scan(nino_home.scans, Q1, scan_text(Q1, GOOD_RECORDS))
    path.with_name(path.name + ".sha256").unlink()
    with pytest.raises(ScanStructureError, match=r"mws_2002-Q1\.txt: the checksum manifest mws_2002-Q1\.txt\.sha256"):
        check_scan_file(path, Q1)


def test_invalid_utf8_is_a_structural_error_with_its_line(nino_home):
    text = scan_text(Q1, GOOD_RECORDS).encode("utf-8").replace(b"POL", b"P\xffL")
    path = nino_home.scans / "mws_2002-Q1.txt"
    path.write_bytes(text)
    path.with_name(path.name + ".sha256").write_text(hashlib.sha256(text).hexdigest())
    with pytest.raises(ScanStructureError, match="line 3 is not valid UTF-8"):
        check_scan_file(path, Q1)


def test_rerun_replaces_the_partition_and_leaves_others(nino_home):
    write_scan(nino_home.scans, Q1, scan_text(Q1, GOOD_RECORDS))
    write_scan(nino_home.scans, Q2, scan_text(Q2, GOOD_RECORDS[:1], header="H|MWS|1|2002-Q2|2002-07-14"))
    assert materialize_quarters([raw_scan], nino_home, [Q1, Q2]).success
    first = query(nino_home, "SELECT * FROM raw.raw_scan ORDER BY scan_quarter, line_number")
    assert materialize_quarters([raw_scan], nino_home, [Q1]).success
    assert materialize_quarters([raw_scan], nino_home, [Q1]).success
    assert query(nino_home, "SELECT * FROM raw.raw_scan ORDER BY scan_quarter, line_number") == first
    counts = query(nino_home, "SELECT scan_quarter, count(*) FROM raw.raw_scan GROUP BY ALL ORDER BY 1")
    assert counts == [("2002-Q1", 3), ("2002-Q2", 1)]


def test_a_range_is_one_run_and_one_broken_file_loads_nothing_of_the_range(nino_home):
    instance = dg.DagsterInstance.ephemeral()
    write_scan(nino_home.scans, Q1, scan_text(Q1, GOOD_RECORDS))
    write_scan(nino_home.scans, Q2, scan_text(Q2, GOOD_RECORDS, header="H|MWS|1|2002-Q2|2002-07-14", trailer="T|9"))
    result = materialize_quarters([raw_scan], nino_home, [Q1, Q2], instance=instance)
    assert not result.success
    assert not nino_home.warehouse.exists()  # every file is checked before the warehouse is opened

    write_scan(nino_home.scans, Q2, scan_text(Q2, GOOD_RECORDS, header="H|MWS|1|2002-Q2|2002-07-14"))
    result = materialize_quarters([raw_scan], nino_home, [Q1, Q2], instance=instance)
    assert result.success
    assert len(instance.get_runs()) == 2  # one run per attempt, each over the whole range
    partitions = instance.get_materialized_partitions(dg.AssetKey("raw_scan"))
    assert partitions == {"2002-01-01", "2002-04-01"}
