"""Ingest stage: the quarter's scan, checked whole and loaded byte for byte into the raw layer.

A file is checked for its structure before any of it is read into the warehouse: the checksum against its manifest,
the header record, the column names and the trailer's record count. A file that fails is not loaded at all, and the
run fails naming the file and the problem. Data records that do not parse go to `raw.raw_scan_rejects` with the
file, the line number and the rule they broke. The raw layer is the only place personal data lives: no error
message, log line or metadata entry here carries a field of a record.
"""


import hashlib
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from nino_assets.ingest import scan_format
from nino_assets.shared.deliveries import SHOWN_DIGITS, record_delivery
from nino_assets.shared.partitions import quarter_range_label, quarterly_partitions, quarters_of, single_run_backfill
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.tables import NEAR_UNIQUE_TEXT, RAW, Column, Table
from nino_assets.shared.warehouse import (
    LAYER_DELIVERIES,
    Warehouse,
    count_rows,
    ensure_table,
    in_batches,
    replace_partitions,
    stage,
)

OWNERS = ["team:nino-production"]
GROUP = "ingest"

RAW_SCAN = Table(
    schema=RAW,
    name="raw_scan",
    description="Every parsed record of every quarter's scan, as delivered. Personal data: raw layer only.",
    columns=(
        Column("scan_quarter", "VARCHAR", "Quarter of the scan file the record came in (partition), e.g. 2002-Q1.",
               nullable=False),
        Column("source_file", "VARCHAR", "Landing file the record was read from.", nullable=False),
        Column("line_number", "BIGINT", "Line of the record in its file (line 1 is the header).", nullable=False),
        Column("extract_date", "DATE", "Extract date from the file's header record.", nullable=False),
        Column("record_id", "BIGINT", "The extract's record identifier.", nullable=False),
        Column("nino", "VARCHAR", "National Insurance number as recorded. Personal data.",
               compression=NEAR_UNIQUE_TEXT),
        Column("date_of_birth", "DATE", "Date of birth; null when not recorded. Personal data."),
        Column("sex", "VARCHAR", "Sex as recorded."),
        Column("nationality", "VARCHAR", "Nationality code as recorded (ISO 3166-1 alpha-3 expected)."),
        Column("registration_date", "DATE", "Date of NINo registration.", nullable=False),
        Column("arrival_date", "DATE", "Declared date of arrival in the UK; null when not recorded."),
        Column("postcode", "VARCHAR", "Postcode at registration as recorded, or OVERSEAS. Personal data.",
               compression=NEAR_UNIQUE_TEXT),
    ),
    partition_column="scan_quarter",
)

RAW_SCAN_REJECTS = Table(
    schema=RAW,
    name="raw_scan_rejects",
    description="Data records of a scan that could not be parsed, kept whole with the rule they broke.",
    columns=(
        Column("scan_quarter", "VARCHAR", "Quarter of the scan file (partition).", nullable=False),
        Column("source_file", "VARCHAR", "Landing file the line was read from.", nullable=False),
        Column("line_number", "BIGINT", "Line in the file (line 1 is the header).", nullable=False),
        Column("reason", "VARCHAR", "The parsing rule the line broke.", nullable=False),
        Column("line", "VARCHAR", "The line as delivered. Personal data."),
    ),
    partition_column="scan_quarter",
)


FILE_CHECK_THREADS = 2
"""Scan files read and hashed at once: the machine's two cores (the warehouse is idle while they are checked)."""


class ScanStructureError(ValueError):
    """A scan file that cannot be loaded at all. The message names the file and the problem, never a record."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}; nothing of this file was loaded")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class CheckedScan:
    """A scan file whose structure has been verified, and what its header and trailer say."""

    path: Path
    quarter: Quarter
    extract_date: date
    record_count: int
    sha256: str
    size_bytes: int

    # line 1 is the header record and line 2 the column names
    first_data_line = 3

    @property
    def last_data_line(self) -> int:
        return self.first_data_line + self.record_count - 1


def declared_sha256(manifest: Path) -> str:
    """The SHA-256 a checksum manifest declares for its scan ("" for an empty manifest)."""
    return manifest.read_text(encoding="ascii").split()[0].lower() if manifest.stat().st_size else ""


def refuse_resent_files(connection, scans_dir: Path, quarters: list[Quarter]) -> None:
    """A scan whose bytes are another quarter's delivery already loaded is that file resent: refused before any
    other check, naming the quarter whose delivery it is."""
    declared = {}
    for quarter in quarters:
        path = scans_dir / scan_format.file_name(quarter.label)
        manifest = path.with_name(path.name + scan_format.CHECKSUM_SUFFIX)
        if manifest.is_file():
            declared[declared_sha256(manifest)] = (quarter, path)
    ensure_table(connection, LAYER_DELIVERIES)
    loaded = connection.execute(
        f"SELECT delivery_sha256, quarter FROM {LAYER_DELIVERIES.qualified_name} WHERE layer = $layer "
        "AND delivery_sha256 = ANY($digests) ORDER BY quarter",
        {"layer": RAW_SCAN.name, "digests": list(declared)}).fetchall()
    for digest, loaded_quarter in loaded:
        quarter, path = declared[digest]
        if loaded_quarter != quarter.label:
            raise ScanStructureError(path, f"its SHA-256 ({digest[:SHOWN_DIGITS]}…) is that of the {loaded_quarter} "
                                           f"delivery already loaded: {loaded_quarter}'s file resent as "
                                           f"{quarter.label}'s")


def check_scan_file(path: Path, quarter: Quarter) -> CheckedScan:
    """Verify a scan file's checksum, header, column names and trailer count; raise ScanStructureError if any fails."""
    if path.is_symlink():
        # a link is not a delivery: what it points to can change under the load
        raise ScanStructureError(path, "is a symbolic link; a delivered scan must be a regular file")
    if not path.exists():
        raise ScanStructureError(path, f"no scan has been delivered for {quarter.label}")
    manifest = path.with_name(path.name + scan_format.CHECKSUM_SUFFIX)
    if not manifest.exists():
        raise ScanStructureError(path, f"the checksum manifest {manifest.name} is missing")
    content = path.read_bytes()
    expected_sha256 = declared_sha256(manifest)
    actual_sha256 = hashlib.sha256(content).hexdigest()
    if actual_sha256 != expected_sha256:
        raise ScanStructureError(path, f"SHA-256 {actual_sha256} does not match {manifest.name} ({expected_sha256})")
    if not content.isascii():  # ASCII is UTF-8: only other bytes need decoding to be checked
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as error:
            line = content.count(b"\n", 0, error.start) + 1
            raise ScanStructureError(path, f"line {line} is not valid UTF-8") from None
    carriage_return = content.find(b"\r")
    if carriage_return >= 0:
        line = content.count(b"\n", 0, carriage_return) + 1
        raise ScanStructureError(path, f"line {line} has a carriage return: the format requires \\n line endings")
    # Only the first two lines and the last are read here; the data lines are split in SQL, set-wise. The body ends
    # before the newline that ends the trailer (an offset, not a copy of the file).
    body_end = len(content) - 1 if content.endswith(b"\n") else len(content)
    line_count = content.count(b"\n", 0, body_end) + 1 if body_end else 0
    if line_count < 3:
        raise ScanStructureError(path, f"has {line_count} lines; a scan has a header, column names and a trailer")
    first_break = content.index(b"\n")
    second_break = content.index(b"\n", first_break + 1)
    first_line = content[:first_break].decode("utf-8")
    second_line = content[first_break + 1 : second_break].decode("utf-8")
    last_line = content[content.rindex(b"\n", 0, body_end) + 1 : body_end].decode("utf-8")
    try:
        header = scan_format.parse_header(first_line)
    except ValueError as error:
        raise ScanStructureError(path, str(error)) from None
    if header.quarter_label != quarter.label:
        raise ScanStructureError(path, f"header says quarter {header.quarter_label}, expected {quarter.label}")
    if second_line != scan_format.COLUMN_HEADER_LINE:
        # Not echoed: without its column names line, line 2 is a data record.
        raise ScanStructureError(path, f"line 2 is not the column names line {scan_format.COLUMN_HEADER_LINE!r}")
    try:
        declared = scan_format.parse_trailer(last_line, line_count)
    except ValueError as error:
        raise ScanStructureError(path, str(error)) from None
    found = line_count - 3
    if declared != found:
        raise ScanStructureError(path, f"trailer declares {declared} records but the file holds {found}")
    return CheckedScan(
        path=path,
        quarter=quarter,
        extract_date=header.extract_date,
        record_count=declared,
        sha256=actual_sha256,
        size_bytes=len(content),
    )


def check_scan_files(scans_dir: Path, quarters: list[Quarter]) -> list[CheckedScan]:
    """Check every file of a run before any is loaded; report every broken file at once."""
    def outcome(quarter: Quarter) -> CheckedScan | ScanStructureError:
        try:
            return check_scan_file(scans_dir / scan_format.file_name(quarter.label), quarter)
        except ScanStructureError as error:
            return error

    # hashing and reading release the GIL: two files at a time take half the time on two cores
    with ThreadPoolExecutor(max_workers=FILE_CHECK_THREADS) as pool:
        outcomes = list(pool.map(outcome, quarters))
    checked = [item for item in outcomes if isinstance(item, CheckedScan)]
    problems = [item for item in outcomes if isinstance(item, ScanStructureError)]
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ScanStructureError(
            scans_dir, f"{len(problems)} scan files failed their structural checks:\n" + "\n".join(map(str, problems))
        )
    return checked


def is_unchanged(scan: CheckedScan) -> bool:
    """Whether a file still holds the bytes it was checked with."""
    current = scan.path.read_bytes()
    return len(current) == scan.size_bytes and hashlib.sha256(current).hexdigest() == scan.sha256


def load_batch(connection, scans: list[CheckedScan]) -> tuple[int, Counter]:
    """Replace the raw rows of these scans' quarters with the files' records; the lines parsed, and the rejects by
    reason."""
    quarters = [scan.quarter for scan in scans]
    staged = stage(
        connection,
        RAW_SCAN.name,
        {
            "scan_files": [
                {
                    "path": str(scan.path),
                    "quarter": scan.quarter.label,
                    "extract_date": scan.extract_date,
                    "first_data_line": scan.first_data_line,
                    "last_data_line": scan.last_data_line,
                }
                for scan in scans
            ],
            "scan_paths": [str(scan.path) for scan in scans],
        },
    )
    replace_partitions(
        connection,
        RAW_SCAN,
        quarters,
        f"SELECT {', '.join(RAW_SCAN.column_names)} FROM {staged} WHERE reject_reason IS NULL",
    )
    replace_partitions(
        connection,
        RAW_SCAN_REJECTS,
        quarters,
        f"SELECT scan_quarter, source_file, line_number, reject_reason AS reason, line FROM {staged} "
        "WHERE reject_reason IS NOT NULL",
    )
    rejects_by_reason = Counter(dict(
        connection.execute(
            f"SELECT reject_reason, count(*) FROM {staged} WHERE reject_reason IS NOT NULL GROUP BY ALL"
        ).fetchall()
    ))
    parsed_lines = connection.execute(f"SELECT count(*) FROM {staged}").fetchone()[0]
    connection.execute(f"DROP TABLE {staged}")
    return parsed_lines, rejects_by_reason


def load_scans(connection, scans: list[CheckedScan]) -> dict[str, object]:
    """Replace the raw rows of these scans' quarters with the files' records, in the caller's transaction."""
    quarters = [scan.quarter for scan in scans]
    parsed_lines, rejects_by_reason = 0, Counter()
    # a batch of files at a time, by their declared records (`warehouse.in_batches`)
    for batch in in_batches([(scan, scan.record_count) for scan in scans]):
        parsed, rejects = load_batch(connection, batch)
        parsed_lines += parsed
        rejects_by_reason += rejects
    # the bytes loaded must be the bytes checked: a file still being written, or replaced under the load, is
    # refused and the transaction rolled back
    with ThreadPoolExecutor(max_workers=FILE_CHECK_THREADS) as pool:
        for scan, unchanged in zip(scans, pool.map(is_unchanged, scans)):
            if not unchanged:
                raise ScanStructureError(scan.path, "changed while it was being loaded (still being written?)")
    declared = sum(scan.record_count for scan in scans)
    if parsed_lines != declared:
        # The line split in SQL must agree with the structural check; anything else is a bug, not bad data.
        raise RuntimeError(f"parsed {parsed_lines} data lines but the files declare {declared}")
    return {
        "records_declared": declared,
        "records_loaded": count_rows(connection, RAW_SCAN, quarters),
        "records_rejected": count_rows(connection, RAW_SCAN_REJECTS, quarters),
        "rejects_by_reason": dict(sorted(rejects_by_reason.items())),
    }


@dg.asset(
    name=RAW_SCAN.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"duckdb"},
    tags={"personal_data": "true"},
    pool="warehouse",
    partitions_def=quarterly_partitions,
    backfill_policy=single_run_backfill,
    description=(
        "The quarter's Migrant Workers Scan loaded into the raw layer after its checksum, header, column names "
        "and trailer count are verified; unparseable lines go to raw.raw_scan_rejects with file, line and reason."
    ),
    metadata={
        **RAW_SCAN.definition_metadata(),
        "rejects_table": RAW_SCAN_REJECTS.qualified_name,
        "rejects_schema": RAW_SCAN_REJECTS.dagster_schema(),
    },
)
def raw_scan(context: dg.AssetExecutionContext, warehouse: Warehouse, nino_home: NinoHome) -> dg.MaterializeResult:
    quarters = quarters_of(context)
    if Path(warehouse.database).exists():  # a new warehouse has loaded no delivery that could be resent
        with warehouse.transaction() as connection:  # closed at once when it refuses, unlike get_connection
            refuse_resent_files(connection, nino_home.scans, quarters)
    scans = check_scan_files(nino_home.scans, quarters)
    with warehouse.transaction() as connection:
        counts = load_scans(connection, scans)
        record_delivery(connection, RAW_SCAN.name, {scan.quarter.label: scan.sha256 for scan in scans})
    rejects_by_reason = counts.pop("rejects_by_reason")
    context.log.info(
        f"Loaded {counts['records_loaded']} records of {len(scans)} scan file(s) for "
        f"{quarter_range_label(quarters)}; {counts['records_rejected']} rejected"
    )
    return dg.MaterializeResult(
        metadata={
            "quarters": quarter_range_label(quarters),
            "dagster/row_count": counts["records_loaded"],
            **counts,
            "reject_rate": counts["records_rejected"] / max(counts["records_declared"], 1),
            "rejects_by_reason": dg.MetadataValue.json(rejects_by_reason),
            "deliveries": dg.MetadataValue.json({scan.quarter.label: scan.sha256[:SHOWN_DIGITS] for scan in scans}),
            "files": dg.MetadataValue.md(
                "| quarter | file | records | bytes | SHA-256 |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {scan.quarter.label} | {scan.path.name} | {scan.record_count} | {scan.size_bytes} "
                    f"| `{scan.sha256[:16]}…` |"
                    for scan in scans
                )
            ),
            **RAW_SCAN.definition_metadata(),
        }
    )


ingest_assets = [raw_scan]

QUARTERLY_DATA_JOB = "quarterly_data"
"""The job the landing sensor starts: every warehouse asset of the quarter, with its checks (see definitions.py)."""
SCAN_FILE = re.compile(r"^mws_(\d{4}-Q[1-4])\.txt$")


@dg.sensor(job_name=QUARTERLY_DATA_JOB, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Starts the quarter's run when its scan and checksum land in the landing folder (or change). "
                       "Switched on, it takes the scans already loaded as seen.")
def landing_sensor(context: dg.SensorEvaluationContext, nino_home: NinoHome):
    first_tick = context.cursor is None
    seen = json.loads(context.cursor) if context.cursor else {}
    # on its first tick the sensor starts runs only for quarters never loaded: a backfill has done the rest
    loaded = context.instance.get_materialized_partitions(dg.AssetKey(RAW_SCAN.name)) if first_tick else set()
    requests, waiting = [], []
    for path in sorted(nino_home.scans.glob("mws_*.txt")):
        match = SCAN_FILE.match(path.name)
        manifest = path.with_name(path.name + ".sha256")
        if not match or not manifest.exists():
            continue  # a scan counts as landed once its checksum file is there too
        checksum = manifest.read_text(encoding="utf-8").split()[0]
        if seen.get(path.name) == checksum:
            continue
        quarter = Quarter.from_label(match.group(1))
        if quarter.partition_key not in quarterly_partitions.get_partition_keys():
            waiting.append(quarter.label)
            continue
        if quarter.partition_key not in loaded:
            requests.append(dg.RunRequest(run_key=f"{path.name}:{checksum}", partition_key=quarter.partition_key,
                                          tags={"nino/scan": path.name}))
        seen[path.name] = checksum
    cursor = json.dumps(seen, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason(
            "no new scan" + (f"; not yet complete: {', '.join(waiting)}" if waiting else "")), cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
# The warehouse tables this stage writes: a suite named after one of its assets validates that asset's table.
ingest_tables = [RAW_SCAN, RAW_SCAN_REJECTS]
