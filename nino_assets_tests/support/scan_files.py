"""Hand-made scan files for tests: exact records, and every way a delivery can be broken."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from nino_assets.ingest import scan_format
from nino_assets.shared.quarters import Quarter

GOOD_RECORDS = [
    ("1", "AB123456C", "1975-05-17", "M", "POL", "2002-01-14", "2001-12-01", "SW1A 1AA"),
    ("2", "CE654321A", "1980-02-28", "F", "IND", "2002-02-03", "", "m1 1ae"),
    ("3", "JK112233D", "", "F", "FRA", "2002-03-28", "2002-03-01", "OVERSEAS"),
]


def scan_text(
    quarter: Quarter,
    records: list[tuple[str, ...] | str],
    *,
    header: str | None = None,
    columns_line: str = scan_format.COLUMN_HEADER_LINE,
    trailer: str | None = None,
) -> str:
    lines = [header if header is not None else scan_format.header_line(quarter.label, date(2002, 4, 14)), columns_line]
    lines += [record if isinstance(record, str) else scan_format.SEPARATOR.join(record) for record in records]
    lines.append(trailer if trailer is not None else scan_format.trailer_line(len(records)))
    return "\n".join(lines) + "\n"


def write_scan(scans_dir: Path, quarter: Quarter, text: str, *, checksum: str | None = None) -> Path:
    """Write a scan file and its SHA-256 manifest (the true checksum unless one is given)."""
    scans_dir.mkdir(parents=True, exist_ok=True)
    path = scans_dir / scan_format.file_name(quarter.label)
    path.write_bytes(text.encode("utf-8"))
    manifest = path.with_name(path.name + scan_format.CHECKSUM_SUFFIX)
    manifest.write_text((checksum or hashlib.sha256(path.read_bytes()).hexdigest()) + "\n", encoding="ascii")
    return path
