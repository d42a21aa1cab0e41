from datetime import date, datetime

import pytest

from nino_assets.shared.partitions import quarterly_partitions
from nino_assets.shared.quarters import Quarter, latest_complete_quarter, quarter_starts, series_quarters


def test_quarter_label_dates_and_statxplore_code():
    quarter = Quarter.from_label("2004-Q2")
    assert (quarter.start, quarter.end) == (date(2004, 4, 1), date(2004, 6, 30))
    assert quarter.partition_key == "2004-04-01"
    assert quarter.statxplore_code == "200406"
    assert Quarter.from_partition_key("2004-04-01") == quarter
    assert Quarter.from_label("2004-Q4").next() == Quarter(2005, 1)
    assert Quarter(2005, 1).previous() == Quarter(2004, 4)
    assert Quarter.from_label("2024-Q1").end == date(2024, 3, 31)


@pytest.mark.parametrize("bad", ["2004-Q5", "2004Q1", "04-Q1", ""])
def test_quarter_label_rejects_malformed(bad):
    with pytest.raises(ValueError):
        Quarter.from_label(bad)


def test_partition_key_must_be_first_day_of_a_quarter():
    with pytest.raises(ValueError):
        Quarter.from_partition_key("2004-05-01")


@pytest.mark.parametrize(
    ("today", "latest"),
    [
        (date(2026, 11, 23), "2026-Q3"),
        (date(2026, 10, 1), "2026-Q3"),  # complete the day after it ends
        (date(2026, 9, 30), "2026-Q2"),
        (date(2002, 4, 1), "2002-Q1"),
    ],
)
def test_latest_complete_quarter(today, latest):
    assert latest_complete_quarter(today).label == latest


def test_series_runs_from_2002_q1():
    quarters = series_quarters(date(2026, 11, 23))
    assert quarters[0].label == "2002-Q1" and quarters[-1].label == "2026-Q3"
    assert len(quarters) == 24 * 4 + 3


@pytest.mark.parametrize(
    ("now", "count", "last_key"),
    [
        (datetime(2026, 11, 23, 12), 99, "2026-07-01"),
        (datetime(2026, 10, 1, 12), 99, "2026-07-01"),
        (datetime(2026, 9, 30, 12), 98, "2026-04-01"),
        (datetime(2002, 4, 2), 1, "2002-01-01"),
    ],
)
def test_dagster_partitions_match_the_series(now, count, last_key):
    keys = quarterly_partitions.get_partition_keys(current_time=now)
    assert len(keys) == count
    assert keys[0] == "2002-01-01" and keys[-1] == last_key
    assert [Quarter.from_partition_key(key).label for key in keys] == [
        quarter.label for quarter in series_quarters(now.date())
    ]


def test_quarter_starts_give_each_quarters_label_and_first_day():
    assert quarter_starts([Quarter(2002, 4), Quarter(2003, 1)]) == [
        {"quarter": "2002-Q4", "quarter_start": date(2002, 10, 1)},
        {"quarter": "2003-Q1", "quarter_start": date(2003, 1, 1)},
    ]
