"""The synthetic scan generator: file contract, determinism, damage, postcode lookup, faults and mixes.

Fast: small quarters or a volume scale. The full-series calibration test lives with the pipeline's tests.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nino_assets.ingest import scan_format
from nino_assets.clean.nino_format import is_valid_nino
from nino_assets.shared.quarters import Quarter, quarters_between
from nino_assets.synthetic import (
    DEFAULT_FAULT_RATES,
    DEFAULT_SEED,
    NO_FAULTS,
    FaultRates,
    StructuralDamage,
    expected_quarter_volume,
    generate_quarter,
    generate_series,
    write_postcode_lookup,
)
from nino_assets.synthetic.calibration import OVERSEAS_SHARE_OF_EXCESS, geography_excess
from nino_assets.synthetic.faults import COUNTED_FAULTS, UNKNOWN_NATIONALITY_CODES
from nino_assets.synthetic.generator import LandingFileExists, scan_valid_count
from nino_assets.synthetic.nationalities import nationality_codes, nationality_probabilities
from nino_assets.synthetic.reference import (
    REFERENCE_DIR,
    all_country_codes,
    grouped_countries,
    local_authorities,
    published_annual_registrations,
)

POSTCODE_FORMAT = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][ABD-HJLNP-UW-Z]{2}")


@dataclass(frozen=True)
class Scan:
    lines: list[str]  # every line, the trailer included

    @classmethod
    def read(cls, path: Path) -> Scan:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n")
        return cls(text[:-1].split("\n"))

    @property
    def records(self) -> list[list[str]]:
        return [line.split("|") for line in self.lines[2:-1]]

    def frame(self) -> pl.DataFrame:
        """The well-formed records, as text, in file order."""
        rows = [fields for fields in self.records if len(fields) == len(scan_format.COLUMN_NAMES)]
        return pl.DataFrame(rows, schema=list(scan_format.COLUMN_NAMES), orient="row")


def manifest_of(path: Path) -> str:
    return path.with_name(path.name + scan_format.CHECKSUM_SUFFIX).read_text(encoding="ascii").strip()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SMALL = Quarter(2009, 2)
SMALL_SCALE = 0.02


@pytest.fixture(scope="module")
def lookup_keys(tmp_path_factory) -> set[str]:
    path = write_postcode_lookup(tmp_path_factory.mktemp("reference") / "postcode_lookup.csv")
    return set(pl.read_csv(path)["pcds"].str.replace_all(" ", "").to_list())


# --- calibration, without generating anything ---------------------------------------------------------------------


def test_quarterly_volumes_add_up_to_the_published_years():
    for year, published in published_annual_registrations().items():
        assert sum(expected_quarter_volume(Quarter(year, n)) for n in range(1, 5)) == published


def test_covid_quarter_is_the_lowest_of_the_series():
    quarters = quarters_between(Quarter(2002, 1), Quarter(2026, 4))
    volumes = {quarter: expected_quarter_volume(quarter) for quarter in quarters}
    assert min(volumes, key=volumes.get) == Quarter(2020, 2)
    assert 53_000 <= volumes[Quarter(2020, 2)] <= 57_000


def test_quarters_after_the_published_years_continue_the_last_level():
    last = max(published_annual_registrations())
    following_year = sum(expected_quarter_volume(Quarter(last + 1, n)) for n in range(1, 5))
    assert following_year == published_annual_registrations()[last]
    assert expected_quarter_volume(Quarter(last + 3, 2)) == expected_quarter_volume(Quarter(last + 1, 2))
    with pytest.raises(ValueError):
        expected_quarter_volume(Quarter(2001, 4))


def _annual_shares(year: int) -> dict[str, float]:
    countries = grouped_countries()
    order = {code: i for i, code in enumerate(nationality_codes())}
    groups = countries.with_columns(at=pl.col("iso_alpha3").replace_strict(order, return_dtype=pl.Int64)).sort("at")
    total = np.zeros(len(order))
    for number in range(1, 5):
        quarter = Quarter(year, number)
        total += expected_quarter_volume(quarter) * (1 + geography_excess(quarter)) * nationality_probabilities(quarter)
    share = total / total.sum()
    sub, world = groups["dwp_sub_region"].to_numpy(), groups["dwp_world_region"].to_numpy()
    return {
        "eu": share[world == "European Union"].sum(),
        "eu8": share[sub == "European Union EU8"].sum(),
        "eu2": share[sub == "European Union EU2"].sum(),
        "asia": share[world == "Asia"].sum(),
        **{code: share[i] for code, i in order.items()},
    }


def test_world_area_shares_2002_2010_follow_the_published_ones():
    published = pl.read_csv(REFERENCE_DIR / "nino_published_national_2002_2010.csv")
    for row in published.iter_rows(named=True):
        shares = _annual_shares(row["year"])
        for group in ("eu", "eu8", "eu2", "asia"):
            assert shares[group] == pytest.approx(row[group] / row["total"], abs=0.025), (row["year"], group)


def test_top_nationalities_2025_match_the_published_shares():
    published = pl.read_csv(REFERENCE_DIR / "nino_published_top_nationalities_2025.csv")
    code_of = dict(grouped_countries().select("dwp_nationality", "iso_alpha3").iter_rows())
    shares = _annual_shares(2025)
    for row in published.iter_rows(named=True):
        assert shares[code_of[row["nationality"]]] * 100 == pytest.approx(row["share_pct"], abs=1.0), row["nationality"]
    by_share = sorted(nationality_codes(), key=lambda code: shares[code], reverse=True)
    assert {code_of[name] for name in published["nationality"]} == set(by_share[:15])


def test_the_mix_shifts_at_the_known_turning_points():
    assert _annual_shares(2003)["eu8"] < 0.06 < 0.35 < _annual_shares(2006)["eu8"]
    for year in (2015, 2016):
        shares = _annual_shares(year)
        assert max(nationality_codes(), key=shares.get) == "ROU"
    assert _annual_shares(2014)["HRV"] > 3 * _annual_shares(2012)["HRV"]
    assert _annual_shares(2022)["UKR"] > 0.05 > _annual_shares(2021)["UKR"]
    assert _annual_shares(2024)["eu"] < 0.12 < 0.5 < _annual_shares(2016)["eu"]
    assert _annual_shares(2023)["NGA"] > 2 * _annual_shares(2019)["NGA"]


# --- the file contract -------------------------------------------------------------------------------------------


def test_file_follows_the_scan_format(tmp_path, lookup_keys):
    path = generate_quarter(SMALL, tmp_path, volume_scale=SMALL_SCALE)
    assert path == tmp_path / "mws_2009-Q2.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mws_2009-Q2.txt", "mws_2009-Q2.txt.sha256"]  # no temp files
    assert manifest_of(path) == sha256_of(path)
    scan = Scan.read(path)
    header = scan_format.parse_header(scan.lines[0])
    assert header.quarter_label == "2009-Q2"
    assert SMALL.end < header.extract_date <= date(2009, 8, 15)
    assert scan.lines[1] == scan_format.COLUMN_HEADER_LINE
    assert scan_format.parse_trailer(scan.lines[-1], len(scan.lines)) == len(scan.lines) - 3
    assert '"' not in path.read_text()  # nothing needs quoting
    assert [int(fields[0]) for fields in scan.records] == list(range(1, len(scan.records) + 1))
    frame = scan.frame()
    registered = frame["registration_date"].to_list()
    assert registered == sorted(registered)


def test_registration_and_arrival_dates_are_plausible(tmp_path):
    frame = Scan.read(generate_quarter(SMALL, tmp_path, volume_scale=0.1, faults=NO_FAULTS)).frame()
    registered = frame["registration_date"].str.to_date()
    assert registered.min() >= SMALL.start and registered.max() <= SMALL.end
    assert (registered.dt.weekday() <= 5).all()  # Monday 1 .. Friday 5
    assert registered.n_unique() >= 60
    arrived = frame.filter(pl.col("arrival_date") != "")
    assert 0.04 < 1 - arrived.height / frame.height < 0.12  # some not recorded
    lag = (arrived["registration_date"].str.to_date() - arrived["arrival_date"].str.to_date()).dt.total_days()
    assert lag.min() >= 1 and 30 < lag.median() < 150 and lag.max() > 3 * 365


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(tmp_path):
    first = generate_quarter(SMALL, tmp_path / "a", volume_scale=SMALL_SCALE)
    generate_quarter(Quarter(2009, 1), tmp_path / "b", volume_scale=SMALL_SCALE)  # other quarters change nothing
    again = generate_quarter(SMALL, tmp_path / "b", volume_scale=SMALL_SCALE)
    other = generate_quarter(SMALL, tmp_path / "c", volume_scale=SMALL_SCALE, seed=DEFAULT_SEED + 1)
    assert first.read_bytes() == again.read_bytes()
    assert manifest_of(first) == manifest_of(again)
    assert first.read_bytes() != other.read_bytes()


def test_series_writes_each_quarter_once_and_matches_single_quarters(tmp_path):
    quarters = [Quarter(2011, 1), Quarter(2011, 2), Quarter(2011, 3)]
    written = generate_series(quarters, tmp_path / "series", volume_scale=0.005)
    assert written == [tmp_path / "series" / scan_format.file_name(q.label) for q in quarters]
    assert generate_series(quarters, tmp_path / "series", volume_scale=0.005) == []
    single = generate_quarter(quarters[1], tmp_path / "single", volume_scale=0.005)
    assert single.read_bytes() == written[1].read_bytes()
    before = written[0].read_bytes()
    with pytest.raises(LandingFileExists):  # never over a file in the landing folder, even when asked
        generate_series(quarters[:1], tmp_path / "series", volume_scale=0.005, skip_existing=False)
    assert written[0].read_bytes() == before


# --- structural damage -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def intact(tmp_path_factory) -> Path:
    return generate_quarter(SMALL, tmp_path_factory.mktemp("intact"), volume_scale=SMALL_SCALE)


def damaged(tmp_path: Path, damage: StructuralDamage) -> Path:
    return generate_quarter(SMALL, tmp_path, volume_scale=SMALL_SCALE, damage=damage)


def test_no_damage_is_the_default(tmp_path, intact):
    assert damaged(tmp_path, StructuralDamage.NONE).read_bytes() == intact.read_bytes()


def test_truncated_file_stops_inside_a_record(tmp_path, intact):
    path = damaged(tmp_path, StructuralDamage.TRUNCATED)
    content, whole = path.read_bytes(), intact.read_bytes()
    assert whole.startswith(content) and len(content) < len(whole)
    assert not content.endswith(b"\n")
    lines = content.decode().split("\n")
    with pytest.raises(ValueError, match="truncated"):
        scan_format.parse_trailer(lines[-1], len(lines))
    full_lines = whole.decode().split("\n")
    assert lines[-1] and lines[-1] != full_lines[len(lines) - 1]  # a fragment of a data record
    assert len(lines) > 3
    assert manifest_of(path) == sha256_of(path)  # only the missing trailer gives it away


def test_miscounted_trailer(tmp_path, intact):
    path = damaged(tmp_path, StructuralDamage.MISCOUNTED)
    scan = Scan.read(path)
    declared = scan_format.parse_trailer(scan.lines[-1], len(scan.lines))
    assert 1 <= abs(declared - (len(scan.lines) - 3)) <= 50
    assert scan.lines[:-1] == Scan.read(intact).lines[:-1]
    assert manifest_of(path) == sha256_of(path)


def test_bad_checksum_means_one_flipped_field_after_the_manifest(tmp_path, intact):
    path = damaged(tmp_path, StructuralDamage.BAD_CHECKSUM)
    assert manifest_of(path) == manifest_of(intact) != sha256_of(path)
    changed = [(a, b) for a, b in zip(Scan.read(path).lines, Scan.read(intact).lines, strict=True) if a != b]
    assert len(changed) == 1
    before, after = (line.split("|") for line in changed[0][::-1])
    assert [i for i in range(len(before)) if before[i] != after[i]] == [scan_format.COLUMN_NAMES.index("sex")]


def test_bad_header_names_another_quarter(tmp_path, intact):
    path = damaged(tmp_path, StructuralDamage.BAD_HEADER)
    scan = Scan.read(path)
    assert scan_format.parse_header(scan.lines[0]).quarter_label == SMALL.previous().label
    assert scan.lines[1:] == Scan.read(intact).lines[1:]
    assert manifest_of(path) == sha256_of(path)


def test_bad_columns_line(tmp_path, intact):
    path = damaged(tmp_path, StructuralDamage.BAD_COLUMNS)
    scan = Scan.read(path)
    assert scan.lines[1] != scan_format.COLUMN_HEADER_LINE
    assert sorted(scan.lines[1].split("|")) == sorted(scan_format.COLUMN_NAMES)
    assert scan.lines[2:] == Scan.read(intact).lines[2:]
    assert manifest_of(path) == sha256_of(path)


# --- postcode lookup ---------------------------------------------------------------------------------------------


def test_postcode_lookup_covers_every_local_authority(tmp_path):
    path = write_postcode_lookup(tmp_path / "lookup.csv")
    lookup = pl.read_csv(path, infer_schema_length=0)
    assert lookup.columns == ["pcds", "pcd7", "oa21cd", "lad23cd", "rgn23cd", "ctry23cd"]
    authorities = local_authorities()
    assert set(lookup["lad23cd"]) == set(authorities["lad_code"]) and authorities.height == 361
    assert lookup["pcds"].is_unique().all()
    assert all(POSTCODE_FORMAT.fullmatch(code) for code in lookup["pcds"])
    assert (lookup["pcd7"].str.len_chars() == 7).all()
    assert lookup["pcd7"].str.replace_all(" ", "").to_list() == lookup["pcds"].str.replace_all(" ", "").to_list()
    assert lookup["oa21cd"].str.contains(r"^[EWSN]00\d{6}$").all()
    assert (lookup["oa21cd"].str.slice(0, 1) == lookup["lad23cd"].str.slice(0, 1)).all()
    per_oa = lookup.group_by("oa21cd").agg(pl.len(), pl.col("lad23cd").n_unique().alias("las"))
    assert per_oa["len"].min() >= 3 and per_oa["las"].max() == 1
    assert lookup.group_by("lad23cd").agg(pl.col("oa21cd").n_unique())["oa21cd"].min() >= 6
    expected = authorities.select(
        lad23cd="lad_code", rgn_expected="region_code", ctry_expected="country_code"
    )
    joined = lookup.join(expected, on="lad23cd")
    assert (joined["rgn23cd"] == joined["rgn_expected"]).all() and (joined["ctry23cd"] == joined["ctry_expected"]).all()
    westminster = lookup.filter(pl.col("lad23cd") == "E09000033")["pcds"]
    assert westminster.str.contains(r"^(W|SW|WC|NW)\d").all()
    assert pl.read_csv(write_postcode_lookup(tmp_path / "again.csv"), infer_schema_length=0).equals(lookup)
    assert not pl.read_csv(write_postcode_lookup(tmp_path / "other.csv", seed=7), infer_schema_length=0).equals(lookup)


# --- records: faults, validity, mixes ----------------------------------------------------------------------------

FAULT_TEST_QUARTER = Quarter(2015, 3)
FAULT_TEST_SCALE = 0.25
RAISED_FAULTS = FaultRates(**{name: 0.012 for name in DEFAULT_FAULT_RATES.as_dict()})


@pytest.fixture(scope="module")
def faulty_quarter(tmp_path_factory) -> tuple[Scan, set[str]]:
    """A mid-size quarter with raised fault rates, and the NINos of the eight quarters before it."""
    folder = tmp_path_factory.mktemp("faults")
    earlier = set()
    for quarter in quarters_between(Quarter(2013, 3), FAULT_TEST_QUARTER)[:-1]:
        earlier.update(Scan.read(generate_quarter(quarter, folder, volume_scale=FAULT_TEST_SCALE)).frame()["nino"])
    path = generate_quarter(FAULT_TEST_QUARTER, folder, volume_scale=FAULT_TEST_SCALE, faults=RAISED_FAULTS)
    return Scan.read(path), earlier


def _completed_years(born: pl.Expr, on: pl.Expr) -> pl.Expr:
    before_birthday = (on.dt.month().cast(pl.Int32) * 100 + on.dt.day()) < (
        born.dt.month().cast(pl.Int32) * 100 + born.dt.day()
    )
    return on.dt.year().cast(pl.Int32) - born.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


def _detected_faults(frame: pl.DataFrame, quarter: Quarter, earlier_ninos: set[str]) -> pl.DataFrame:
    """One boolean column per fault, each found from the file's content alone by the clean stage's rules."""
    born = pl.col("date_of_birth").str.to_date(strict=False)
    registered = pl.col("registration_date").str.to_date()
    age = _completed_years(born, registered)
    postcode = pl.col("postcode").str.to_uppercase().str.replace_all(" ", "")
    spaced = postcode.str.slice(0, postcode.str.len_chars() - 3) + " " + postcode.str.slice(-3)
    valid_nino = pl.col("nino").map_elements(is_valid_nino, return_dtype=pl.Boolean)
    # Two re-registrations of one earlier NINo can fall in a quarter: both count as repeats of the earlier quarter.
    seen_earlier = pl.col("nino").is_in(list(earlier_ninos))
    return frame.select(
        malformed_nino=~valid_nino,
        duplicate_in_quarter=valid_nino & ~pl.col("nino").is_first_distinct() & ~seen_earlier,
        duplicate_of_earlier_quarter=seen_earlier,
        missing_date_of_birth=pl.col("date_of_birth") == "",
        unreal_date_of_birth=(pl.col("date_of_birth") != "") & born.is_null(),
        impossible_date_of_birth=(born > registered) | (age > 100),
        under_16=(born <= registered) & (age < 16),
        uk_national=pl.col("nationality") == "GBR",
        unknown_nationality=~pl.col("nationality").is_in(list(all_country_codes())),
        registration_outside_quarter=registered < quarter.start,
        malformed_postcode=(pl.col("postcode") != "")
        & (pl.col("postcode") != scan_format.OVERSEAS_POSTCODE)
        & ~spaced.str.contains(POSTCODE_FORMAT.pattern.join("^$")),
    )


def test_fault_rates_are_realised_one_fault_per_record(faulty_quarter):
    scan, earlier = faulty_quarter
    records = len(scan.records)
    malformed_rows = sum(len(fields) != len(scan_format.COLUMN_NAMES) for fields in scan.records)
    faults = _detected_faults(scan.frame(), FAULT_TEST_QUARTER, earlier)
    found = {name: faults[name].sum() for name in faults.columns} | {"malformed_row": malformed_rows}
    for name, rate in RAISED_FAULTS.as_dict().items():
        if name == "unknown_postcode":
            continue  # indistinguishable from unknown-geography records; see the next test
        expected = rate * records
        assert abs(found[name] - expected) < 5 * expected**0.5 + 5, (name, found[name], expected)
    assert faults.select(pl.sum_horizontal(pl.all()).max()).item() == 1  # never two faults in one record


def test_valid_records_are_exactly_the_calibrated_volume(faulty_quarter, lookup_keys):
    scan, earlier = faulty_quarter
    frame = scan.frame()
    faults = _detected_faults(frame, FAULT_TEST_QUARTER, earlier)
    clean = frame.filter(~pl.any_horizontal(faults))
    assert clean["nationality"].is_in(grouped_countries()["iso_alpha3"].to_list()).all()
    keys = clean["postcode"].str.to_uppercase().str.replace_all(" ", "")
    in_lookup = keys.is_in(list(lookup_keys))
    assert in_lookup.sum() == scan_valid_count(FAULT_TEST_QUARTER, RAISED_FAULTS, FAULT_TEST_SCALE)
    # the faulty records the statistics still count (late registrations, unknown nationality or age) make up the rest
    still_counted = sum(faults[name].sum() for name in COUNTED_FAULTS)
    shortfall = round(expected_quarter_volume(FAULT_TEST_QUARTER) * FAULT_TEST_SCALE) - in_lookup.sum()
    assert abs(shortfall - still_counted) < 5 * still_counted**0.5 + 5, (shortfall, still_counted)
    # Unknown geography: overseas, empty and unlisted postcodes, and the malformed postcodes (a fault, but otherwise
    # a valid registration) together make the national total exceed the LA sum by the calibrated share.
    outside = clean.filter(~in_lookup)
    unknown_geography = outside.height + faults["malformed_postcode"].sum()
    target = expected_quarter_volume(FAULT_TEST_QUARTER) * FAULT_TEST_SCALE
    assert unknown_geography == pytest.approx(target * geography_excess(FAULT_TEST_QUARTER), rel=0.01)
    overseas = (outside["postcode"] == scan_format.OVERSEAS_POSTCODE).sum()
    assert (outside["postcode"].str.to_uppercase() == scan_format.OVERSEAS_POSTCODE).sum() == overseas  # as written
    assert overseas / unknown_geography == pytest.approx(OVERSEAS_SHARE_OF_EXCESS, abs=0.01)
    postcodes = clean.filter(in_lookup)["postcode"]
    assert 0.01 < (postcodes != postcodes.str.to_uppercase()).mean() < 0.04  # lower case, still geocoded
    assert 0.02 < (~postcodes.str.contains(" ")).mean() < 0.05  # no space, still geocoded


def test_default_fault_rates_are_low_and_each_documented():
    assert 0.02 < DEFAULT_FAULT_RATES.total < 0.05
    assert all(0 < rate <= 0.005 for rate in DEFAULT_FAULT_RATES.as_dict().values())
    assert NO_FAULTS.total == 0
    assert not set(UNKNOWN_NATIONALITY_CODES) & all_country_codes()
    with pytest.raises(ValueError):
        replace(DEFAULT_FAULT_RATES, under_16=0.6)


@pytest.fixture(scope="module")
def recent_quarter(tmp_path_factory) -> pl.DataFrame:
    folder = tmp_path_factory.mktemp("recent")
    return Scan.read(generate_quarter(Quarter(2023, 1), folder, volume_scale=0.1, faults=NO_FAULTS)).frame()


def test_ages_are_mostly_young_adults(recent_quarter):
    age = recent_quarter.select(
        _completed_years(pl.col("date_of_birth").str.to_date(), pl.col("registration_date").str.to_date())
    ).to_series()
    assert age.min() >= 16 and age.max() <= 75
    assert 0.72 < age.is_between(18, 34).mean() < 0.85
    assert 0.003 < (age < 18).mean() < 0.02
    assert 0.005 < (age >= 60).mean() < 0.03


def test_sex_split_varies_by_nationality(recent_quarter):
    male = recent_quarter.group_by("nationality").agg(share=(pl.col("sex") == "M").mean(), n=pl.len())
    share = dict(male.select("nationality", "share").iter_rows())
    assert 0.5 < (recent_quarter["sex"] == "M").mean() < 0.7
    assert share["PAK"] > 0.68 and share["IND"] > 0.55
    assert share["PHL"] < 0.4
    assert set(recent_quarter["sex"]) == {"F", "M"}
