"""The Migrant Workers Scan extract format: the contract between whoever delivers a scan and the ingest.

One file a quarter, UTF-8 text, `\\n` line endings, fields separated by `|`, no quoting:

    line 1           header record   H|MWS|<format version>|<quarter label>|<extract date>
    line 2           column names    record_id|nino|date_of_birth|sex|nationality|registration_date|arrival_date|postcode
    lines 3 .. n-1   data records    one NINo registration each, fields as in `COLUMNS`
    line n           trailer record  T|<number of data records>

Beside it lies `<file name>.sha256`, the SHA-256 of the file's bytes as 64 hex digits (the delivery manifest), so
that the ingest can tell a file damaged in transit from one that is merely wrong. The README documents every column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

FORMAT_VERSION = "1"
SOURCE_CODE = "MWS"
SEPARATOR = "|"
HEADER_TAG = "H"
TRAILER_TAG = "T"
CHECKSUM_SUFFIX = ".sha256"


@dataclass(frozen=True)
class ScanColumn:
    name: str
    description: str


COLUMNS: tuple[ScanColumn, ...] = (
    ScanColumn("record_id", "The extract's own identifier of the record: a positive integer, unique within the file."),
    ScanColumn("nino", "National Insurance number as allocated: 2 prefix letters, 6 digits, suffix letter A-D."),
    ScanColumn("date_of_birth", "Date of birth, YYYY-MM-DD; empty when not recorded."),
    ScanColumn("sex", "Sex as recorded: F or M."),
    ScanColumn("nationality", "Nationality as an ISO 3166-1 alpha-3 code; other codes are not recognised."),
    ScanColumn("registration_date", "Date the NINo was registered, YYYY-MM-DD; always present."),
    ScanColumn("arrival_date", "Date of arrival in the UK as declared, YYYY-MM-DD; empty when not recorded."),
    ScanColumn("postcode", "Postcode of the address at registration; 'OVERSEAS' for an address abroad; may be empty."),
)
COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS)
COLUMN_HEADER_LINE = SEPARATOR.join(COLUMN_NAMES)
OVERSEAS_POSTCODE = "OVERSEAS"

_QUARTER_LABEL = re.compile(r"^(\d{4})-Q([1-4])$")


def file_name(quarter_label: str) -> str:
    """The landing file name of a quarter's scan, e.g. `mws_2002-Q1.txt`."""
    return f"mws_{quarter_label}.txt"


def header_line(quarter_label: str, extract_date: date) -> str:
    return SEPARATOR.join([HEADER_TAG, SOURCE_CODE, FORMAT_VERSION, quarter_label, extract_date.isoformat()])


def trailer_line(record_count: int) -> str:
    return f"{TRAILER_TAG}{SEPARATOR}{record_count}"


@dataclass(frozen=True)
class Header:
    quarter_label: str
    extract_date: date


def parse_header(line: str) -> Header:
    """Parse the header record; raises ValueError saying what is wrong (the header holds no personal data)."""
    fields = line.split(SEPARATOR)
    if len(fields) != 5 or fields[0] != HEADER_TAG or fields[1] != SOURCE_CODE:
        # The line is not echoed: a file without its header starts with a data record, which is personal data.
        raise ValueError(f"line 1 is not a header record 'H|{SOURCE_CODE}|version|quarter|extract date'")
    if fields[2] != FORMAT_VERSION:
        raise ValueError(f"line 1 declares format version {fields[2]!r}; this ingest reads version {FORMAT_VERSION}")
    if not _QUARTER_LABEL.match(fields[3]):
        raise ValueError(f"line 1 quarter {fields[3]!r} is not of the form YYYY-Qn")
    try:
        extract_date = date.fromisoformat(fields[4])
    except ValueError:
        raise ValueError(f"line 1 extract date {fields[4]!r} is not a YYYY-MM-DD date") from None
    return Header(quarter_label=fields[3], extract_date=extract_date)


def parse_trailer(line: str, line_number: int) -> int:
    """The record count the trailer declares; raises ValueError when the last line is not a trailer."""
    fields = line.split(SEPARATOR)
    if len(fields) != 2 or fields[0] != TRAILER_TAG or not fields[1].isdigit():
        # A missing trailer is how a truncated file shows itself; the line itself may be a data record, so not shown.
        raise ValueError(f"last line (line {line_number}) is not a trailer record 'T|count': the file is truncated")
    return int(fields[1])
