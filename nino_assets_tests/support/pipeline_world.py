"""A small hand-made world for stage tests: a postcode lookup of a few postcodes, and scans of exact records."""

from __future__ import annotations

from dataclasses import astuple, dataclass, replace

from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.scan_files import scan_text, write_scan

LOOKUP_ROWS = [
    ("SW1A 1AA", "SW1A1AA", "E00023456", "E09000033", "E12000007", "E92000001"),  # Westminster, London
    ("M1 1AE", "M1  1AE", "E00026789", "E08000003", "E12000002", "E92000001"),  # Manchester, North West
    ("CF10 1EP", "CF101EP", "W00001234", "W06000015", "W92000004", "W92000004"),  # Cardiff, Wales
]


@dataclass(frozen=True)
class Record:
    record_id: str = "1"
    nino: str = "AB123456C"
    date_of_birth: str = "1980-06-15"
    sex: str = "F"
    nationality: str = "POL"
    registration_date: str = "2002-02-11"
    arrival_date: str = ""
    postcode: str = "SW1A 1AA"

    def but(self, **changes) -> Record:
        return replace(self, **changes)


def write_lookup(home: NinoHome) -> None:
    home.postcode_lookup.parent.mkdir(parents=True, exist_ok=True)
    lines = ["pcds,pcd7,oa21cd,lad23cd,rgn23cd,ctry23cd", *(",".join(row) for row in LOOKUP_ROWS)]
    home.postcode_lookup.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_records(home: NinoHome, quarter: Quarter, records: list[Record]) -> None:
    """A scan of these records, numbered 1.. in order (line number = record id + 2)."""
    numbered = [astuple(record.but(record_id=str(number))) for number, record in enumerate(records, start=1)]
    header = f"H|MWS|1|{quarter.label}|{quarter.end.isoformat()}"
    write_scan(home.scans, quarter, scan_text(quarter, numbered, header=header))


def write_world(home: NinoHome, scans: dict[Quarter, list[Record]]) -> None:
    write_lookup(home)
    for quarter, records in scans.items():
        write_records(home, quarter, records)


def people(index: int, quarter: Quarter, count: int = 12) -> list[Record]:
    """A few registrations a quarter, with NINos unique across the series."""
    return [Record(nino=f"AB{100 * index + number:06d}C", registration_date=f"{quarter.start:%Y-%m}-11")
            for number in range(count)]


def cleaning_without_the_age_rule(real_sql_text):
    """The clean stage with a bug, for tests of what catches it: the adult rule dropped, and children banded with
    the under-18s. Fails loudly if the SQL no longer holds the lines the bug replaces."""
    def sql_text(asset_name: str) -> str:
        text = real_sql_text(asset_name)
        if asset_name != "registrations":
            return text
        buggy = text.replace("WHEN age < $adult_age THEN", "WHEN false THEN")
        buggy = buggy.replace("band_of_age.age_key = coalesce(records.age, -1)",
                              "band_of_age.age_key = coalesce(greatest(records.age, 16), -1)")
        assert buggy.count("WHEN false THEN") == 1 and "greatest(records.age, 16)" in buggy
        return buggy
    return sql_text
