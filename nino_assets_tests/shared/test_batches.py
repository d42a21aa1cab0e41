"""A backfill's record-level stages work a batch of quarters at a time (`warehouse.in_batches`): the batches, and the
same warehouse whether a range is taken in one batch or a quarter at a time."""

from dataclasses import astuple

import pytest

from nino_assets.definitions import WAREHOUSE_ASSETS
from nino_assets.shared import warehouse
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.pipeline_world import Record, people, write_lookup, write_records
from nino_assets_tests.support.scan_files import scan_text, write_scan
from nino_assets_tests.support.warehouse import materialize_quarters, query, warehouse_contents

QUARTERS = [Quarter(2004, 1), Quarter(2004, 2), Quarter(2004, 3), Quarter(2004, 4)]
LAYERS = ("raw.raw_scan", "raw.raw_scan_rejects", "stat.registrations", "stat.registration_exclusions",
          "stat.geocoded_registrations", "stat.geocoding_outcomes", "stat.finest_cells", "stat.perturbed_counts")


def test_batches_keep_the_order_and_fill_up_to_the_limit():
    sizes = [("a", 3), ("b", 4), ("c", 2), ("d", 9), ("e", 1)]
    assert warehouse.in_batches(sizes, limit=7) == [["a", "b"], ["c"], ["d"], ["e"]]  # d alone: over the limit
    assert warehouse.in_batches(sizes, limit=100) == [["a", "b", "c", "d", "e"]]
    assert warehouse.in_batches(sizes, limit=1) == [["a"], ["b"], ["c"], ["d"], ["e"]]
    assert warehouse.in_batches([], limit=7) == []


def _world(home) -> None:
    """Four quarters whose rules reach across quarters and within files: people registering again in later
    quarters, a NINo twice in one quarter, a record id on two lines of a file, a line that does not parse."""
    write_lookup(home)
    scans = {quarter: people(index, quarter) for index, quarter in enumerate(QUARTERS)}
    scans[QUARTERS[2]] += [scans[QUARTERS[0]][0].but(registration_date="2004-08-02"),  # already counted in 2004-Q1
                           scans[QUARTERS[1]][3].but(registration_date="2004-07-20", postcode="M1 1AE")]
    scans[QUARTERS[3]] += [Record(nino="CE000001A", registration_date="2004-11-03", postcode="OVERSEAS"),
                           Record(nino="CE000001A", registration_date="2004-10-05", sex="M")]  # the earlier counts
    for quarter in QUARTERS[:3]:
        write_records(home, quarter, scans[quarter])
    numbered = [astuple(record.but(record_id=str(number))) for number, record in enumerate(scans[QUARTERS[3]], 1)]
    numbered[4] = ("3", *numbered[4][1:])  # record id 3 on two lines
    numbered[5] = ("6", *numbered[5][1:3], "M", numbered[5][4], "2004-13-01", *numbered[5][6:])  # no such date
    header = f"H|MWS|1|{QUARTERS[3].label}|{QUARTERS[3].end.isoformat()}"
    write_scan(home.scans, QUARTERS[3], scan_text(QUARTERS[3], numbered, header=header))


def test_a_range_in_batches_of_one_quarter_gives_the_warehouse_of_one_batch(nino_home, monkeypatch):
    _world(nino_home)
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, QUARTERS).success
    one_batch = warehouse_contents(nino_home)

    nino_home.warehouse.unlink()  # the same deliveries, into a new warehouse
    monkeypatch.setattr(warehouse, "BATCH_ROWS", 1)  # every quarter (and every file) a batch of its own
    assert warehouse.in_batches([(quarter, 12) for quarter in QUARTERS]) == [[quarter] for quarter in QUARTERS]
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, QUARTERS).success
    taken_apart = warehouse_contents(nino_home)

    for table in LAYERS:
        assert taken_apart[table] == one_batch[table], table
    # the rules that reach across quarters and lines were exercised, not only equal
    assert dict(query(nino_home, "SELECT reason, sum(records) FROM stat.registration_exclusions GROUP BY ALL")) == {
        "duplicate: NINo already registered": 3}
    assert [reason for (reason,) in query(nino_home, "SELECT reason FROM raw.raw_scan_rejects ORDER BY line_number")
            ] == ["record_id is not unique in the file: 3 is also on line(s) 7",
                  "record_id is not unique in the file: 3 is also on line(s) 5",
                  "registration_date is missing or not a real date in YYYY-MM-DD form"]
    assert query(nino_home, "SELECT sex FROM stat.registrations WHERE scan_quarter = '2004-Q4' "
                            "AND registration_date = '2004-10-05'") == [("M",)]
