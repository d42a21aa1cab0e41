"""The faults a real extract has, at stated rates, and the structural damage a delivery can suffer.

Record faults are extra records on top of the clean ones, each with exactly one fault, so that the statistically valid
count of a quarter is the calibrated one whatever the fault rates. Structural damage spoils the whole file, so that
the ingest must refuse it.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class FaultRates:
    """Each rate is the expected share of the file's data records that carry that fault (counts are Poisson).

    The defaults are low, as in a well-run administrative system, and add up to about 3% of records.
    """

    duplicate_in_quarter: float = 0.004
    """The same registration keyed twice in the quarter: a copy of a valid record, same NINo and person, dated the
    same day or a few working days later (the later one is not a first registration)."""
    duplicate_of_earlier_quarter: float = 0.002
    """A NINo first registered (validly) in one of the eight previous quarters, registered again now."""
    malformed_nino: float = 0.002
    """A NINo breaking the format rules (`nino_format.malformed_ninos`)."""
    missing_date_of_birth: float = 0.003
    """Date of birth left empty."""
    impossible_date_of_birth: float = 0.001
    """A real date, but after the registration date (half) or more than 100 years before it (half)."""
    unreal_date_of_birth: float = 0.0005
    """A date-shaped value that is no calendar date, like 1990-02-30 or 1987-13-04: the ingest cannot parse it."""
    under_16: float = 0.002
    """Aged 12 to 15 at registration: not an adult in the statistics' definition."""
    uk_national: float = 0.003
    """Nationality GBR: a UK national is not an overseas national."""
    registration_outside_quarter: float = 0.003
    """A late registration, dated in one of the 1-4 previous quarters; otherwise valid (counted in its scan's quarter)."""
    unknown_postcode: float = 0.003
    """A well-formed postcode missing from the lookup: unknown geography, not an exclusion. Like malformed postcodes,
    these are taken out of the unknown-geography share (`calibration.geography_excess`), not added on top."""
    malformed_postcode: float = 0.002
    """A postcode that is no postcode (placeholders, outward code only): unknown geography, not an exclusion."""
    unknown_nationality: float = 0.001
    """A nationality code not in ISO 3166-1 (`UNKNOWN_NATIONALITY_CODES`)."""
    malformed_row: float = 0.0002
    """A row with one field too many or too few: the ingest cannot parse it."""

    def __post_init__(self) -> None:
        for field in fields(self):
            rate = getattr(self, field.name)
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"fault rate {field.name} must be in [0, 1), not {rate}")
        if self.total >= 0.5:
            raise ValueError(f"fault rates add up to {self.total:.3f}: at most half the records can be faulty")

    @property
    def total(self) -> float:
        return sum(getattr(self, field.name) for field in fields(self))

    def as_dict(self) -> dict[str, float]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


COUNTED_FAULTS = ("registration_outside_quarter", "unknown_nationality", "missing_date_of_birth",
                  "impossible_date_of_birth")
"""Faults the statistics still count, in the scan's quarter: late registrations, and unknowns in their own items."""

DEFAULT_FAULT_RATES = FaultRates()
NO_FAULTS = FaultRates(**{name: 0.0 for name in DEFAULT_FAULT_RATES.as_dict()})


class StructuralDamage(enum.Enum):
    """Damage to the delivered file as a whole. Unless stated, the .sha256 matches the damaged file's bytes (the
    extract was already damaged when its manifest was made), so that each kind trips its own check in the ingest."""

    NONE = "none"
    TRUNCATED = "truncated"
    """The file stops part-way through a data record: no trailer, and the last line is a fragment."""
    MISCOUNTED = "miscounted"
    """The trailer declares between 1 and 50 records more or fewer than the file holds."""
    BAD_CHECKSUM = "bad_checksum"
    """Damaged in transit: one data record's sex field flipped after the manifest was made, so the file still parses
    but its SHA-256 no longer matches the .sha256."""
    BAD_HEADER = "bad_header"
    """The header names the previous quarter: the wrong extract delivered under this quarter's file name."""
    BAD_COLUMNS = "bad_columns"
    """The column-names line has registration_date and arrival_date swapped (an upstream schema change)."""


UNKNOWN_NATIONALITY_CODES = ("XXX", "ZZ9", "UNK", "YUG", "SCG", "ANT", "CSK", "XKX")
"""Codes that appear in legacy records but are not ISO 3166-1 alpha-3 (withdrawn, user-assigned or placeholders)."""
UK_NATIONALITY_CODE = "GBR"


def unreal_dates(rng: np.random.Generator, years: np.ndarray) -> list[str]:
    """'YYYY-MM-DD' strings in the given years that are not calendar dates: day 30 or 31 of a short month, 29 February
    of a common year, month 13, day 00."""
    out = []
    for year in years.tolist():
        kind = rng.integers(4)
        if kind == 0:
            tail = ("02-30", "02-31", "04-31", "06-31", "09-31", "11-31")[rng.integers(6)]
        elif kind == 1:
            year += 1 if calendar.isleap(year) else 0  # a leap year's successor is a common year
            tail = "02-29"
        elif kind == 2:
            tail = f"13-{rng.integers(1, 29):02d}"
        else:
            tail = f"{rng.integers(1, 13):02d}-00"
        out.append(f"{year:04d}-{tail}")
    return out
