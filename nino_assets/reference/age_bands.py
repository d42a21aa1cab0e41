"""Age as the statistics define it, from the age bands file (`reference/data/age_bands.csv`): the adult age is the
youngest age of the first band, so that the bands and the definition can never disagree. Pure; no Dagster."""

from __future__ import annotations

import csv
from pathlib import Path

AGE_BANDS_FILE = Path(__file__).resolve().parent / "data" / "age_bands.csv"
OLDEST_AGE = 100
"""A date of birth more than this many years before registration gives no age ("Unknown"): a recording error."""


def _adult_age() -> int:
    with AGE_BANDS_FILE.open(newline="", encoding="utf-8") as handle:
        return min(int(row["min_age"]) for row in csv.DictReader(handle) if row["min_age"])


ADULT_AGE = _adult_age()
"""The youngest age counted: registrations of people younger than this are excluded."""
