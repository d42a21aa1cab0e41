"""The whole synthetic series through every asset in one run: calibration, record keys, and no personal data
outside the raw layer. One build of the series serves every test here (the session fixture `full_series`)."""

import csv
import math
from pathlib import Path

import dagster as dg
import pytest

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE, record_key
from nino_assets.clean.pseudonyms import PseudonymKey
from nino_assets.reference.assets import REFERENCE_DATA
from nino_assets.shared.tables import RAW
from nino_assets_tests.support.needles import any_of, found_in
from nino_assets_tests.support.warehouse import PLACED_REGISTRATIONS, query

pytestmark = pytest.mark.full_series


def published(file_name):
    with (REFERENCE_DATA / file_name).open(encoding="utf-8") as published_file:
        return list(csv.DictReader(published_file))


def test_every_quarter_is_materialised_in_one_run(full_series):
    runs = full_series.instance.get_runs()
    assert len(runs) == 1
    keys = {quarter.partition_key for quarter in full_series.quarters}
    for asset in ("raw_scan", "registrations", "geocoded_registrations"):
        assert full_series.instance.get_materialized_partitions(dg.AssetKey(asset)) == keys
    published = {event.asset_key.to_user_string() for event in full_series.result.get_asset_materialization_events()}
    assert {"supplementary_tables", "bulletin", "published_cube"} <= published


def test_every_check_ran_and_its_cost_is_reported(full_series):
    costs = full_series.costs
    assert costs.suite_steps | costs.rule_check_steps <= set(costs.seconds_by_step)
    assert 0 < costs.suites < costs.total()
    print(f"\nwhole series, every asset and check, one run: {full_series.run_seconds:.1f} s; the suites took "
          f"{costs.suites:.1f} s, {costs.suites / costs.total():.1%} of the run's steps")


def test_local_authority_registrations_follow_the_published_annual_series(full_series):
    counted = dict(
        query(
            full_series.home,
            f"SELECT year(registration_date), count(*) FROM {PLACED_REGISTRATIONS} "
            "WHERE geocoding_outcome = 'geocoded' GROUP BY ALL",
        )
    )
    for row in published("nino_published_national_annual.csv"):
        year, target = int(row["year"]), int(row["registrations"])
        assert abs(counted[year] / target - 1) < 0.03, f"{year}: {counted[year]} against {target} published"


def test_national_totals_include_overseas_and_unknown_geography_as_published(full_series):
    totals = dict(query(full_series.home, "SELECT year(registration_date), count(*) FROM stat.registrations GROUP BY ALL"))
    local = dict(
        query(
            full_series.home,
            f"SELECT year(registration_date), count(*) FROM {PLACED_REGISTRATIONS} "
            "WHERE geocoding_outcome = 'geocoded' GROUP BY ALL",
        )
    )
    for year in range(2002, 2026):
        assert 1.04 < totals[year] / local[year] < 1.13, year


GROUPS = ("eu", "eu8", "eu2", "asia")


def test_nationality_mix_follows_the_published_groups_2002_to_2010(full_series):
    rows = query(
        full_series.home,
        "SELECT year(registration_date), avg(CAST(world_area = 'European Union' AS INTEGER)), "
        "avg(CAST(subgroup = 'EU8' AS INTEGER)), avg(CAST(subgroup = 'EU2' AS INTEGER)), "
        "avg(CAST(world_area = 'Asia' AS INTEGER)) FROM stat.registrations "
        "WHERE registration_date < DATE '2011-01-01' GROUP BY ALL",
    )
    shares = {(year, group): share for year, *by_group in rows for group, share in zip(GROUPS, by_group)}
    for row in published("nino_published_national_2002_2010.csv"):
        year = int(row["year"])
        for group in GROUPS:
            target = int(row[group]) / int(row["total"])
            assert abs(shares[(year, group)] - target) < 0.05, (year, group, shares[(year, group)], target)


def test_2025_top_nationalities_within_two_points(full_series):
    shares = dict(
        query(
            full_series.home,
            f"SELECT nationality, count(*) / sum(count(*)) OVER () FROM {PLACED_REGISTRATIONS} "
            "WHERE year(registration_date) = 2025 AND geocoding_outcome = 'geocoded' GROUP BY ALL",
        )
    )
    for row in published("nino_published_top_nationalities_2025.csv"):
        share = shares[row["nationality"]] * 100
        assert abs(share - float(row["share_pct"])) <= 2.0, (row["nationality"], share, row["share_pct"])


def test_record_keys_are_uniform(full_series):
    counts = [
        count
        for _, count in query(
            full_series.home, "SELECT record_key, count(*) FROM stat.registrations GROUP BY ALL ORDER BY 1"
        )
    ]
    assert len(counts) == RECORD_KEY_RANGE
    total = sum(counts)
    expected = total / RECORD_KEY_RANGE
    chi_square = sum((count - expected) ** 2 / expected for count in counts)
    degrees = RECORD_KEY_RANGE - 1
    # Wilson-Hilferty: the chi-square quantile at p = 0.999 for `degrees` degrees of freedom
    z = 3.090
    critical = degrees * (1 - 2 / (9 * degrees) + z * math.sqrt(2 / (9 * degrees))) ** 3
    print(f"\nrecord keys: chi-square {chi_square:.0f} on {degrees} df (0.1% critical value {critical:.0f})")
    assert chi_square < critical
    # keys are the same in every run: the pipeline's pseudonyms and keys equal the reference functions'
    sample = query(full_series.home, "SELECT raw.nino, pseudonym, record_key FROM stat.registrations "
                   "JOIN raw.raw_scan AS raw USING (scan_quarter, line_number) USING SAMPLE 1000 ROWS")
    pseudonym_key = PseudonymKey.from_environment()
    assert all(pseudonym == pseudonym_key.pseudonym(nino) and record_key(pseudonym_key.nino_hmac(nino)) == key
               for nino, pseudonym, key in sample)


def test_records_in_equal_records_out_plus_exclusions(full_series):
    mismatches = query(
        full_series.home,
        """
        WITH raw_counts AS (SELECT scan_quarter, count(*) AS records FROM raw.raw_scan GROUP BY ALL),
        counted AS (SELECT scan_quarter, count(*) AS records FROM stat.registrations GROUP BY ALL),
        excluded AS (SELECT scan_quarter, sum(records) AS records FROM stat.registration_exclusions GROUP BY ALL)
        SELECT raw_counts.scan_quarter
        FROM raw_counts JOIN counted USING (scan_quarter) JOIN excluded USING (scan_quarter)
        WHERE raw_counts.records <> counted.records + excluded.records
        """,
    )
    assert mismatches == []


def personal_value_sample(home, size=2000):
    """Raw NINos, postcodes (as delivered and in matching form) and dates of birth of a sample of records."""
    rows = query(
        home,
        f"SELECT nino, postcode, date_of_birth FROM {RAW}.raw_scan "
        f"WHERE postcode IS NOT NULL AND postcode <> 'OVERSEAS' USING SAMPLE {size} ROWS",
    )
    ninos = {nino for nino, _, _ in rows if nino}
    postcodes = {postcode for _, postcode, _ in rows} | {postcode.replace(" ", "").upper() for _, postcode, _ in rows}
    return ninos, {p for p in postcodes if len(p) >= 6}, rows


def test_no_nino_date_of_birth_or_postcode_outside_the_raw_layer(full_series):
    home = full_series.home
    ninos, postcodes, _ = personal_value_sample(home)
    text_columns = query(
        home,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema NOT IN ($raw, 'reference', 'information_schema', 'pg_catalog') "
        "AND data_type = 'VARCHAR' AND table_catalog = current_database()",
        {"raw": RAW},
    )
    assert text_columns, "no tables outside the raw layer were found"
    for schema, table, column in text_columns:
        found = query(
            home,
            f'SELECT count(*) FROM {schema}.{table} WHERE "{column}" IN (SELECT unnest($values))',
            {"values": sorted(ninos | postcodes)},
        )[0][0]
        assert found == 0, f"{schema}.{table}.{column} holds raw NINos or postcodes"
    # dates of birth: no date column of a table linked to the raw layer repeats the record's own date of birth
    date_columns = query(
        home,
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns AS c "
        "WHERE c.table_schema NOT IN ($raw, 'reference') AND c.data_type = 'DATE' "
        "AND EXISTS (SELECT 1 FROM information_schema.columns AS k WHERE k.table_schema = c.table_schema "
        "AND k.table_name = c.table_name AND k.column_name = 'line_number')",
        {"raw": RAW},
    )
    assert date_columns
    for schema, table, column in date_columns:
        found = query(
            home,
            f"SELECT count(*) FROM {schema}.{table} AS t JOIN {RAW}.raw_scan AS r USING (scan_quarter, line_number) "
            f'WHERE t."{column}" = r.date_of_birth',
        )[0][0]
        assert found == 0, f"{schema}.{table}.{column} repeats dates of birth"
    forbidden = {"nino", "date_of_birth", "postcode"}
    outside_raw = query(
        home,
        "SELECT table_schema || '.' || table_name, column_name FROM information_schema.columns "
        "WHERE table_schema <> $raw AND table_catalog = current_database()",
        {"raw": RAW},
    )
    assert not [(table, column) for table, column in outside_raw if column in forbidden]


def test_no_raw_value_anywhere_in_the_dagster_instance(full_series):
    ninos, postcodes, rows = personal_value_sample(full_series.home)
    needles = [value.encode("utf-8") for value in ninos | postcodes]
    # a whole raw line would carry the NINo; dates of birth are searched in their file form next to the NINo
    needles += [f"{nino}|{born}".encode() for nino, _, born in rows if nino and born]
    files = [path for path in Path(full_series.home.dagster_home).rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in files), "the instance's event log storage was not found"
    pattern = any_of(set(needles))
    for path in files:
        leaked = found_in(pattern, path.read_bytes())
        assert not leaked, f"{path} holds {len(leaked)} raw values"


def test_cubes_of_the_whole_series_and_their_noise(full_series):
    from nino_assets.cubes.cross_classifications import PUBLISHED
    from nino_assets.disclosure.assets import DisclosureControl

    variance = DisclosureControl().variance
    [(cells, mean, noise_variance, smallest, largest, forbidden)] = query(
        full_series.home,
        f"""
        SELECT count(*), avg(p.perturbed_value - c.registrations), var_pop(p.perturbed_value - c.registrations),
               min(p.perturbed_value - c.registrations), max(p.perturbed_value - c.registrations),
               count(*) FILTER (WHERE p.perturbed_value BETWEEN 1 AND 2)
        FROM derived_cells($quarters, $published, {RECORD_KEY_RANGE}) AS c
        JOIN stat.perturbed_counts AS p
            USING (quarter, period_type, nationality_member, age_member, sex_member, geography_member)
        """,
        {"quarters": [quarter.label for quarter in full_series.quarters],
         "published": [classification.as_struct() for classification in PUBLISHED]},
    )
    print(f"\npublished cells of the whole series: {cells:,}; noise mean {mean:.5f}, variance {noise_variance:.4f}")
    assert cells == query(full_series.home, "SELECT count(*) FROM stat.perturbed_counts")[0][0] > 200_000
    assert abs(mean) < 0.05
    assert abs(noise_variance / variance - 1) < 0.10
    assert (smallest, largest, forbidden) == (-3, 3, 0)
