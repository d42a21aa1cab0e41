"""Quarters of registration: labels, date ranges and the series' extent. Pure; no Dagster here.

A quarter is named by its label "2002-Q1"; Dagster's partition key for it is its first day, "2002-01-01" (time-window
partitions need date keys), and Stat-Xplore codes it by its last month, "200203".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

SERIES_START = date(2002, 1, 1)
_LABEL = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1..4

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"quarter number must be 1-4, not {self.number}")

    @classmethod
    def from_label(cls, label: str) -> Quarter:
        match = _LABEL.match(label)
        if not match:
            raise ValueError(f"{label!r} is not a quarter label of the form YYYY-Qn")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def from_partition_key(cls, key: str) -> Quarter:
        start = date.fromisoformat(key)
        quarter = cls.containing(start)
        if quarter.start != start:
            raise ValueError(f"partition key {key!r} is not the first day of a quarter")
        return quarter

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The last day of the quarter."""
        return self.next().start - timedelta(days=1)

    @property
    def partition_key(self) -> str:
        return self.start.isoformat()

    @property
    def statxplore_code(self) -> str:
        return f"{self.year}{3 * self.number:02d}"

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def __str__(self) -> str:
        return self.label


def latest_complete_quarter(today: date) -> Quarter:
    """The last quarter that has ended before `today` (a quarter is complete the day after its last day)."""
    return Quarter.containing(today).previous()


def quarters_between(first: Quarter, last: Quarter) -> list[Quarter]:
    """Every quarter from `first` to `last`, both included."""
    quarters = []
    quarter = first
    while quarter <= last:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters


def series_quarters(today: date) -> list[Quarter]:
    """The published series: 2002-Q1 to the latest complete quarter."""
    return quarters_between(Quarter.containing(SERIES_START), latest_complete_quarter(today))


def quarter_starts(quarters: list[Quarter]) -> list[dict]:
    """Each quarter's label and first day, as a SQL parameter to unnest: joined once a quarter, rather than derived
    from the label once a record."""
    return [{"quarter": quarter.label, "quarter_start": quarter.start} for quarter in quarters]
