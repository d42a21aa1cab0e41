"""Writes one synthetic Migrant Workers Scan file per quarter, in the `scan_format` contract.

A quarter's file is a function of (seed, quarter, fault rates, damage, volume scale) alone: its random stream is
seeded from [seed, year, quarter], and each quarter owns a fixed block of NINo serial numbers computed from the
calibrated volumes, so that every person in the series gets a distinct NINo without generating the other quarters.

Records, before sorting by registration date:
- valid: statistically valid registrations with a postcode in the lookup: the calibrated number for the quarter, less
  the faulty records the statistics still count in it (`COUNTED_FAULTS`: late registrations, counted in their scan's
  quarter, and unknown nationalities and ages), so that a quarter's count meets its target;
- outside UK local authorities: overseas addresses and records with no usable postcode (empty or not in the lookup);
- faults (`FaultRates`): extra records, each a fresh person with exactly one fault, or a duplicate.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from nino_assets.ingest import scan_format
from nino_assets.clean.nino_format import malformed_ninos, ninos_from_serials
from nino_assets.shared.quarters import Quarter, quarters_between
from nino_assets.synthetic import people
from nino_assets.synthetic.calibration import (
    FIRST_QUARTER,
    OVERSEAS_SHARE_OF_EXCESS,
    expected_quarter_volume,
    geography_excess,
)
from nino_assets.synthetic.faults import (
    COUNTED_FAULTS,
    DEFAULT_FAULT_RATES,
    UK_NATIONALITY_CODE,
    UNKNOWN_NATIONALITY_CODES,
    FaultRates,
    StructuralDamage,
    unreal_dates,
)
from nino_assets.synthetic.nationalities import nationality_codes, nationality_probabilities
from nino_assets.synthetic.postcodes import (
    PostcodeGeography,
    malformed_postcodes,
    postcode_geography,
    unknown_postcodes,
)
from nino_assets.synthetic.seed import DEFAULT_SEED

# Postcodes keyed in lower case or without the space: not faults, since the geography stage normalises them.
LOWER_CASE_POSTCODE_SHARE = 0.02
UNSPACED_POSTCODE_SHARE = 0.03
_EXTRACT_LAG_DAYS = (10, 36)  # the extract is taken 10-35 days after the quarter ends
_EARLIER_DUPLICATE_QUARTERS = 8  # how far back a re-registered NINo can come from
_DUPLICATE_DELAY_WORKING_DAYS = 6  # a within-quarter duplicate is keyed 0-5 working days after the original

# Kinds of fresh record, in the order their blocks are laid out (valid first: see _serial_base).
_VALID, _OVERSEAS, _NO_POSTCODE, _UNLISTED_POSTCODE = "valid", "overseas", "no_postcode", "unlisted_postcode"
_FRESH_FAULTS = tuple(name for name in DEFAULT_FAULT_RATES.as_dict() if name != "duplicate_in_quarter")


def _serial_capacity(quarter: Quarter, volume_scale: float) -> int:
    # Room for the clean records, the geography excess (< 13%) and faults (< 50% of the file by FaultRates' rule).
    return 3 * math.ceil(expected_quarter_volume(quarter) * max(1.0, volume_scale)) + 10_000


@cache
def _serial_base(quarter: Quarter, volume_scale: float) -> int:
    """The first NINo serial of the quarter's block; its valid records take the first `scan_valid_count` serials."""
    return sum(_serial_capacity(q, volume_scale) for q in quarters_between(FIRST_QUARTER, quarter)[:-1])


def _target(quarter: Quarter, volume_scale: float) -> int:
    return round(expected_quarter_volume(quarter) * volume_scale)


def _expected_records(quarter: Quarter, faults: FaultRates, volume_scale: float) -> float:
    """The expected number of data records in the quarter's scan."""
    return _target(quarter, volume_scale) * (1 + geography_excess(quarter)) / (1.0 - faults.total)


def _counted_faults_expected(quarter: Quarter, faults: FaultRates, volume_scale: float) -> int:
    """Records of the quarter's scan with a fault that the statistics still count in the quarter."""
    rate = sum(getattr(faults, name) for name in COUNTED_FAULTS)
    return round(rate * _expected_records(quarter, faults, volume_scale))


def scan_valid_count(quarter: Quarter, faults: FaultRates = DEFAULT_FAULT_RATES, volume_scale: float = 1.0) -> int:
    """Statistically valid, LA-geocoded records dated in the quarter in its own scan, with every field known."""
    return max(0, _target(quarter, volume_scale) - _counted_faults_expected(quarter, faults, volume_scale))


@dataclass(frozen=True)
class _Plan:
    """How many records of each kind the quarter's file holds; fresh records are laid out in blocks of one kind."""

    kinds: tuple[str, ...]
    counts: tuple[int, ...]
    duplicates_in_quarter: int

    @property
    def fresh(self) -> int:
        return sum(self.counts)

    def kind_of_records(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.kinds)), self.counts)

    def rows(self, kind: str) -> slice:
        """The block of fresh records of `kind`."""
        at = self.kinds.index(kind)
        start = sum(self.counts[:at])
        return slice(start, start + self.counts[at])

    def count(self, kind: str) -> int:
        return self.counts[self.kinds.index(kind)]


def _plan(rng: np.random.Generator, quarter: Quarter, faults: FaultRates, volume_scale: float) -> _Plan:
    valid = scan_valid_count(quarter, faults, volume_scale)
    outside = round(_target(quarter, volume_scale) * geography_excess(quarter))
    overseas = round(outside * OVERSEAS_SHARE_OF_EXCESS)
    expected_records = _expected_records(quarter, faults, volume_scale)
    fault_counts = {name: int(rng.poisson(rate * expected_records)) for name, rate in faults.as_dict().items()}
    if quarter == FIRST_QUARTER:
        fault_counts["duplicate_of_earlier_quarter"] = 0  # nothing earlier to repeat
    if valid == 0:
        fault_counts["duplicate_in_quarter"] = 0  # nothing valid to copy
    # Postcode faults also land in unknown geography, so they come out of its share, not on top of it.
    no_usable = max(0, outside - overseas - fault_counts["unknown_postcode"] - fault_counts["malformed_postcode"])
    no_postcode = no_usable // 2
    kinds = (_VALID, _OVERSEAS, _NO_POSTCODE, _UNLISTED_POSTCODE, *_FRESH_FAULTS)
    counts = (valid, overseas, no_postcode, no_usable - no_postcode, *(fault_counts[k] for k in _FRESH_FAULTS))
    return _Plan(kinds, counts, fault_counts["duplicate_in_quarter"])


def _dates(
    rng: np.random.Generator, quarter: Quarter, plan: _Plan
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registration, birth and arrival dates (datetime64[D]) of the fresh records."""
    registered = people.registration_dates(rng, quarter, plan.fresh)
    quarters_back = rng.integers(1, 5, size=plan.count("registration_outside_quarter"))
    registered[plan.rows("registration_outside_quarter")] = people.days_in_earlier_quarters(rng, quarter, quarters_back)
    age = people.ages(rng, plan.fresh)
    age[plan.rows("under_16")] = rng.integers(12, 16, size=plan.count("under_16"))
    impossible = np.arange(plan.fresh)[plan.rows("impossible_date_of_birth")]
    born_later, too_old = impossible[::2], impossible[1::2]
    age[too_old] = rng.integers(101, 121, size=too_old.size)
    born = people.birth_dates(rng, registered, age)
    born[born_later] = people.birthday_in_future(rng, registered[born_later])
    return registered, born, people.arrival_dates(rng, registered, born)


def _nationalities_and_sexes(rng: np.random.Generator, quarter: Quarter, plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array(nationality_codes())
    drawn = rng.choice(codes.size, size=plan.fresh, p=nationality_probabilities(quarter))
    male_share = np.array([people.male_share_by_code()[code] for code in codes])[drawn]
    sex = np.where(rng.random(plan.fresh) < male_share, "M", "F")
    nationality = codes[drawn]
    nationality[plan.rows("uk_national")] = UK_NATIONALITY_CODE
    unknown = np.array(UNKNOWN_NATIONALITY_CODES)
    chosen = rng.integers(0, unknown.size, size=plan.count("unknown_nationality"))
    nationality[plan.rows("unknown_nationality")] = unknown[chosen]
    return nationality, sex


def _postcodes(rng: np.random.Generator, geography: PostcodeGeography, plan: _Plan) -> np.ndarray:
    postcode = geography.pcds[geography.draw_postcodes(rng, plan.fresh)].astype(object)
    for unlisted in (_UNLISTED_POSTCODE, "unknown_postcode"):
        postcode[plan.rows(unlisted)] = unknown_postcodes(rng, plan.count(unlisted))
    # As keyed: some in lower case, some without the space; both normalisable, so still geocoded.
    lower = np.flatnonzero(rng.random(plan.fresh) < LOWER_CASE_POSTCODE_SHARE)
    postcode[lower] = [code.lower() for code in postcode[lower]]
    unspaced = np.flatnonzero(rng.random(plan.fresh) < UNSPACED_POSTCODE_SHARE)
    postcode[unspaced] = [code.replace(" ", "") for code in postcode[unspaced]]
    # The system's own values are never keyed by hand.
    postcode[plan.rows(_OVERSEAS)] = scan_format.OVERSEAS_POSTCODE
    postcode[plan.rows(_NO_POSTCODE)] = ""
    postcode[plan.rows("malformed_postcode")] = malformed_postcodes(rng, plan.count("malformed_postcode"))
    return postcode


def _earlier_valid_serials(
    rng: np.random.Generator, quarter: Quarter, n: int, faults: FaultRates, volume_scale: float
) -> np.ndarray:
    """Serials of valid registrations from the previous quarters (never before the series starts)."""
    earlier = quarters_between(FIRST_QUARTER, quarter)[:-1][-_EARLIER_DUPLICATE_QUARTERS:]
    chosen = rng.integers(0, len(earlier), size=n)
    serials = np.empty(n, dtype=np.int64)
    for i, q in enumerate(earlier):
        picked = chosen == i
        offsets = rng.integers(0, scan_valid_count(q, faults, volume_scale), size=int(picked.sum()))
        serials[picked] = _serial_base(q, volume_scale) + offsets
    return serials


def _ninos(
    rng: np.random.Generator, quarter: Quarter, plan: _Plan, faults: FaultRates, volume_scale: float
) -> np.ndarray:
    if plan.fresh > _serial_capacity(quarter, volume_scale):
        raise RuntimeError(f"{quarter}: {plan.fresh} records overflow the quarter's block of NINo serials")
    serial = _serial_base(quarter, volume_scale) + np.arange(plan.fresh, dtype=np.int64)
    repeated = plan.rows("duplicate_of_earlier_quarter")
    repeats = plan.count("duplicate_of_earlier_quarter")
    serial[repeated] = _earlier_valid_serials(rng, quarter, repeats, faults, volume_scale)
    nino = ninos_from_serials(serial).astype("U16")  # room for the malformed ones
    nino[plan.rows("malformed_nino")] = malformed_ninos(rng, plan.count("malformed_nino"))
    return nino


def _records(
    rng: np.random.Generator,
    quarter: Quarter,
    geography: PostcodeGeography,
    faults: FaultRates,
    volume_scale: float,
) -> tuple[pl.DataFrame, np.ndarray]:
    """The quarter's data records as text columns in file order, and the positions of those to break as rows."""
    plan = _plan(rng, quarter, faults, volume_scale)
    registered, born, arrived = _dates(rng, quarter, plan)
    nationality, sex = _nationalities_and_sexes(rng, quarter, plan)
    postcode = _postcodes(rng, geography, plan)
    nino = _ninos(rng, quarter, plan, faults, volume_scale)

    # Within-quarter duplicates: copies of valid records, keyed again the same day or a few working days later.
    source = rng.integers(0, plan.count(_VALID), size=plan.duplicates_in_quarter)
    days = people.working_days(quarter)
    later = np.searchsorted(days, registered[source]) + rng.integers(0, _DUPLICATE_DELAY_WORKING_DAYS, size=source.size)
    rows = np.concatenate([np.arange(plan.fresh), source])
    registered = np.concatenate([registered, days[np.minimum(later, days.size - 1)]])
    kind = np.concatenate([plan.kind_of_records(), np.full(source.size, -1)])

    # File order: by registration date, ties in random order.
    order = np.lexsort((rng.random(rows.size), registered))
    rows, registered, kind = rows[order], registered[order], kind[order]
    born_text = pl.Series(born[rows]).cast(pl.String)
    missing = np.flatnonzero(kind == plan.kinds.index("missing_date_of_birth"))
    unreal = np.flatnonzero(kind == plan.kinds.index("unreal_date_of_birth"))
    unreal_years = born[rows[unreal]].astype("datetime64[Y]").astype(np.int64) + 1970
    born_text = born_text.scatter(missing, [""] * missing.size).scatter(unreal, unreal_dates(rng, unreal_years))
    frame = pl.DataFrame(
        {
            "record_id": np.arange(1, rows.size + 1).astype(str),
            "nino": nino[rows],
            "date_of_birth": born_text,
            "sex": sex[rows],
            "nationality": nationality[rows],
            "registration_date": pl.Series(registered).cast(pl.String),
            "arrival_date": pl.Series(arrived[rows]).cast(pl.String).fill_null(""),
            "postcode": pl.Series(postcode[rows], dtype=pl.String),
        }
    )
    return frame.select(scan_format.COLUMN_NAMES), np.flatnonzero(kind == plan.kinds.index("malformed_row"))


def _break_rows(rng: np.random.Generator, lines: pl.Series, rows: np.ndarray) -> pl.Series:
    """Rows with a field lost (a dropped optional field) or one too many (a postcode split at its space)."""
    broken = []
    for line in lines.gather(rows).to_list():
        fields = line.split(scan_format.SEPARATOR)
        if rng.random() < 0.5:
            del fields[scan_format.COLUMN_NAMES.index("arrival_date")]
        else:
            postcode = fields.pop()
            fields.extend(postcode.split(" ", 1) if " " in postcode else [postcode, ""])
        broken.append(scan_format.SEPARATOR.join(fields))
    return lines.clone().scatter(rows, broken)


def _flip_sex(line: str) -> str:
    fields = line.split(scan_format.SEPARATOR)
    at = scan_format.COLUMN_NAMES.index("sex")
    fields[at] = "F" if fields[at] == "M" else "M"
    return scan_format.SEPARATOR.join(fields)


def _file_bytes(
    rng: np.random.Generator, quarter: Quarter, lines: pl.Series, damage: StructuralDamage, extract_lag: int
) -> tuple[bytes, str]:
    """The file's bytes and the SHA-256 its manifest declares."""
    extract_date = quarter.end + timedelta(days=extract_lag)
    header_quarter = quarter.previous() if damage is StructuralDamage.BAD_HEADER else quarter
    column_names = list(scan_format.COLUMN_NAMES)
    if damage is StructuralDamage.BAD_COLUMNS:
        i, j = column_names.index("registration_date"), column_names.index("arrival_date")
        column_names[i], column_names[j] = column_names[j], column_names[i]
    count = lines.len()
    declared = count
    if damage is StructuralDamage.MISCOUNTED:
        off = int(rng.integers(1, 51))
        declared = count + off if rng.random() < 0.5 or count < off else count - off

    def render(body: pl.Series) -> bytes:
        text = "\n".join(
            [
                scan_format.header_line(header_quarter.label, extract_date),
                scan_format.SEPARATOR.join(column_names),
                *([body.str.join("\n").item()] if count else []),
                scan_format.trailer_line(declared),
            ]
        )
        return (text + "\n").encode("utf-8")

    content = render(lines)
    checksum = hashlib.sha256(content).hexdigest()
    if damage is StructuralDamage.BAD_CHECKSUM and count:
        row = int(rng.integers(0, count))
        content = render(lines.clone().scatter([row], [_flip_sex(lines[row])]))
    elif damage is StructuralDamage.TRUNCATED and count:
        # Cut inside a data record of the second half: at least one character of it kept, at least one lost.
        row = int(rng.integers(count // 2, count))
        line_start = content.index(b"\n", content.index(b"\n") + 1) + 1  # the first data record
        line_start += int(lines.head(row).str.len_bytes().sum()) + row
        line_length = len(lines[row].encode("utf-8"))
        content = content[: line_start + int(rng.integers(1, line_length))]
        checksum = hashlib.sha256(content).hexdigest()
    return content, checksum


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    temporary.replace(path)


def delivered_files(scans_dir: Path, quarter: Quarter) -> list[Path]:
    """The files of a quarter already in the landing folder: its scan, its manifest, or both."""
    path = scans_dir / scan_format.file_name(quarter.label)
    return [candidate for candidate in (path, path.with_name(path.name + scan_format.CHECKSUM_SUFFIX))
            if candidate.exists() or candidate.is_symlink()]


class LandingFileExists(FileExistsError):
    """The generator never writes over a file in the landing folder: a delivered scan (or its manifest) is kept."""


def generate_quarter(
    quarter: Quarter,
    scans_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    faults: FaultRates = DEFAULT_FAULT_RATES,
    damage: StructuralDamage = StructuralDamage.NONE,
    volume_scale: float = 1.0,
) -> Path:
    """Write the quarter's scan file and then its .sha256 into `scans_dir`; returns the scan file's path. Refused
    where any file of the quarter is already there (a delivery is never overwritten).

    Postcodes come from `postcode_geography(seed)`: geocode against the lookup written with the same seed.
    """
    present = delivered_files(scans_dir, quarter)
    if present:
        raise LandingFileExists(f"{present[0]}: a file of {quarter.label} is already in the landing folder; the "
                                "generator does not write over it")
    if volume_scale <= 0:
        raise ValueError(f"volume_scale must be positive, not {volume_scale}")
    rng = np.random.default_rng([seed, quarter.year, quarter.number])
    extract_lag = int(rng.integers(*_EXTRACT_LAG_DAYS))
    frame, malformed_rows = _records(rng, quarter, postcode_geography(seed), faults, volume_scale)
    lines = frame.select(pl.concat_str(pl.all(), separator=scan_format.SEPARATOR)).to_series()
    lines = _break_rows(rng, lines, malformed_rows)
    content, checksum = _file_bytes(rng, quarter, lines, damage, extract_lag)

    scans_dir.mkdir(parents=True, exist_ok=True)
    path = scans_dir / scan_format.file_name(quarter.label)
    _write_atomically(path, content)
    _write_atomically(path.with_name(path.name + scan_format.CHECKSUM_SUFFIX), (checksum + "\n").encode("ascii"))
    return path


def _generate_one(args: tuple[Quarter, Path, int, float]) -> Path:
    quarter, scans_dir, seed, volume_scale = args
    return generate_quarter(quarter, scans_dir, seed=seed, volume_scale=volume_scale)


def generate_series(
    quarters: list[Quarter],
    scans_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    skip_existing: bool = True,
    volume_scale: float = 1.0,
) -> list[Path]:
    """Generate each quarter's scan (default faults, no damage) over two processes; returns the files written.

    With `skip_existing`, a quarter with any file already in the landing folder (its scan, its manifest, or both)
    is left alone and not returned; without it, such a quarter is refused.
    """
    todo = []
    for quarter in quarters:
        if skip_existing and delivered_files(scans_dir, quarter):
            continue
        todo.append((quarter, scans_dir, seed, volume_scale))
    if len(todo) <= 1:
        return [_generate_one(args) for args in todo]
    # Largest quarters first, so that the two workers finish together; "spawn" because polars' threads and fork
    # do not mix.
    todo.sort(key=lambda args: expected_quarter_volume(args[0]), reverse=True)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        written = dict(zip([args[0] for args in todo], pool.map(_generate_one, todo)))
    return [written[quarter] for quarter in quarters if quarter in written]
