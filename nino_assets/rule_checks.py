"""Blocking checks that a suite cannot express: they need history (earlier quarters) or arithmetic across tables.

- `volume_against_history` (raw_scan): a quarter's records against the previous quarter and the same quarter a
  year earlier. It fails when the volume moved by more than VOLUME_TOLERANCE against both, unless a discontinuity
  (reference.discontinuities) was in force, which explains it; the check then passes and says which one.
- `records_reconcile` (registrations): records in = registrations counted + records excluded, per quarter.
- `no_personal_data` (registrations, geocoded_registrations): no column holds a record's own NINo or postcode (as
  recorded or normalised) or date of birth, compared record by record with the raw layer.
- `disclosure_rules` (perturbed_counts): every published cell (derived from the finest cells) is perturbed; no
  perturbed value in 1..js; no noise beyond D; published values are the perturbed ones rounded to the base; and the
  cells of random cross-classifications (years and totals among them) in random periods, recounted from the
  records, have the derived cells' counts and keys, and the published ones their perturbed values.
Only counts, rates and quarter labels reach the results. Each records its outcome for the publication gate.
"""

import dagster as dg

from nino_assets.clean import REGISTRATION_EXCLUSIONS, REGISTRATIONS
import random
import zlib

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.cross_classifications import PUBLISHED, CrossClassification, sample
from nino_assets.disclosure import PERTURBED_COUNTS, DisclosureControl, define_cell_macros
from nino_assets.geography import GEOCODED_REGISTRATIONS
from nino_assets.ingest import RAW_SCAN
from nino_assets.gate import record_outcomes
from nino_assets.postcodes import UK_POSTCODE_REGEX
from nino_assets.partitions import quarter_range_label, quarterly_partitions, quarters_of
from nino_assets.tables import Table
from nino_assets.warehouse import Warehouse

VOLUME_TOLERANCE = 0.35
"""The largest change of a quarter's volume, against both the previous quarter and a year earlier, that passes
without a discontinuity to explain it. The published series moves by up to a third in ordinary quarters."""
LASTING_EFFECT_QUARTERS = 4
"""A discontinuity with no end date explains changes for this many quarters from its first."""
RECOUNTED_CLASSIFICATIONS = 4
RECOUNTED_PERIODS = 3
"""The disclosure check recounts every cell of this many random cross-classifications, in this many random periods
of the run, from the records."""


def _labels(context) -> tuple[list, dict]:
    quarters = quarters_of(context)
    return quarters, {"labels": [quarter.label for quarter in quarters]}


def _recorded(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, quarters, passed: bool,
              metadata: dict) -> dg.AssetCheckResult:
    """The check's result, with its outcome recorded for the publication gate."""
    [check_key] = [spec.key for spec in context.check_specs]
    observed = {key: value.data if isinstance(value, dg.JsonMetadataValue) else value
                for key, value in metadata.items()}
    record_outcomes(warehouse, context.run.run_id, check_key.asset_key.to_user_string(), {check_key.name: passed},
                    quarters, {check_key.name: observed})
    return dg.AssetCheckResult(passed=passed, metadata={"quarters": quarter_range_label(quarters), **metadata})


@dg.asset_check(asset=RAW_SCAN.name, blocking=True, partitions_def=quarterly_partitions, pool="warehouse",
                description=f"Volume against the previous quarter and a year earlier (tolerance "
                            f"{VOLUME_TOLERANCE:.0%} against both, unless a discontinuity explains it).")
def volume_against_history(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    quarters, parameters = _labels(context)
    with warehouse.get_connection() as connection:
        rows = connection.execute(
            f"""
            WITH volumes AS (
                SELECT scan_quarter, count(*) AS records,
                       CAST(left(scan_quarter, 4) AS INTEGER) AS year,
                       CAST(right(scan_quarter, 1) AS INTEGER) AS quarter_number,
                       4 * year + quarter_number AS n
                FROM {RAW_SCAN.qualified_name} GROUP BY ALL
            ),
            changes AS (
                SELECT now.scan_quarter, now.records,
                       now.records / previous.records - 1 AS against_previous,
                       now.records / year_before.records - 1 AS against_year_before,
                       make_date(now.year, 3 * now.quarter_number - 2, 1) AS quarter_start
                FROM volumes AS now
                LEFT JOIN volumes AS previous ON previous.n = now.n - 1
                LEFT JOIN volumes AS year_before ON year_before.n = now.n - 4
                WHERE now.scan_quarter IN (SELECT unnest($labels))
            )
            SELECT changes.scan_quarter, changes.records, changes.against_previous, changes.against_year_before,
                   string_agg(discontinuities.discontinuity_id, ', ') AS explained_by
            FROM changes
            LEFT JOIN reference.discontinuities
                ON discontinuities.start_date < changes.quarter_start + INTERVAL 3 MONTH
               AND coalesce(discontinuities.end_date,
                            discontinuities.start_date + INTERVAL {3 * LASTING_EFFECT_QUARTERS} MONTH)
                   >= changes.quarter_start
            GROUP BY ALL ORDER BY 1
            """,
            parameters,
        ).fetchall()
    outside, explained = [], []
    for quarter, _records, previous, year_before, explained_by in rows:
        if previous is None or year_before is None:
            continue  # the series' first year has no history to compare with
        if abs(previous) > VOLUME_TOLERANCE and abs(year_before) > VOLUME_TOLERANCE:
            (explained if explained_by else outside).append(
                f"{quarter}: {previous:+.0%} on the quarter, {year_before:+.0%} on the year"
                + (f" ({explained_by})" if explained_by else "")
            )
    return _recorded(
        context, warehouse, quarters, not outside,
        {
            "tolerance": VOLUME_TOLERANCE,
            "outside_tolerance": dg.MetadataValue.json(outside),
            "explained_by_discontinuities": dg.MetadataValue.json(explained),
        },
    )


@dg.asset_check(asset=REGISTRATIONS.name, blocking=True, partitions_def=quarterly_partitions, pool="warehouse",
                description="Records in (raw_scan) = registrations counted + records excluded, per quarter.")
def records_reconcile(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    quarters, parameters = _labels(context)
    with warehouse.get_connection() as connection:
        rows = connection.execute(
            f"""
            WITH records_in AS (SELECT scan_quarter, count(*) AS n FROM {RAW_SCAN.qualified_name}
                                WHERE scan_quarter IN (SELECT unnest($labels)) GROUP BY ALL),
            counted AS (SELECT scan_quarter, count(*) AS n FROM {REGISTRATIONS.qualified_name}
                        WHERE scan_quarter IN (SELECT unnest($labels)) GROUP BY ALL),
            excluded AS (SELECT scan_quarter, sum(records) AS n FROM {REGISTRATION_EXCLUSIONS.qualified_name}
                         WHERE scan_quarter IN (SELECT unnest($labels)) GROUP BY ALL)
            SELECT records_in.scan_quarter, records_in.n, coalesce(counted.n, 0), coalesce(excluded.n, 0)
            FROM records_in LEFT JOIN counted USING (scan_quarter) LEFT JOIN excluded USING (scan_quarter)
            """,
            parameters,
        ).fetchall()
    unbalanced = [f"{quarter}: {n_in} in, {n_out} counted, {n_excluded} excluded"
                  for quarter, n_in, n_out, n_excluded in rows if n_in != n_out + n_excluded]
    return _recorded(
        context, warehouse, quarters, not unbalanced,
        {
            "records_in": sum(row[1] for row in rows),
            "records_counted": sum(row[2] for row in rows),
            "records_excluded": sum(row[3] for row in rows),
            "unbalanced_quarters": dg.MetadataValue.json(unbalanced),
        },
    )


CELL = "quarter, period_type, nationality_member, age_member, sex_member, geography_member"


@dg.asset_check(asset=PERTURBED_COUNTS.name, blocking=True, partitions_def=quarterly_partitions, pool="warehouse",
                description="Every published cell perturbed; no value in 1..js; no noise beyond D; published values "
                            "rounded to the base; random cross-classifications recounted from the records agree.")
def disclosure_rules(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, disclosure_control: DisclosureControl
) -> dg.AssetCheckResult:
    quarters, parameters = _labels(context)
    ptable = disclosure_control.ptable()
    largest_noise = int(abs(ptable.noise).max())
    smallest = disclosure_control.smallest_published if not disclosure_control.external_ptable_csv else 0
    # a seed from the run's quarters: the same run checks the same sample
    seed = zlib.crc32(",".join(parameters["labels"]).encode())
    periods = random.Random(seed).sample(parameters["labels"], min(RECOUNTED_PERIODS, len(quarters)))
    with warehouse.get_connection() as connection:
        define_cell_macros(connection)
        [(cells, perturbed, forbidden, beyond_bound, badly_rounded)] = connection.execute(
            f"""
            SELECT count(derived.quarter), count(published.quarter),
                   count(*) FILTER (WHERE published.perturbed_value BETWEEN 1 AND $smallest),
                   count(*) FILTER (WHERE abs(published.perturbed_value - derived.registrations) > $largest_noise),
                   count(*) FILTER (WHERE published.published_value % $base <> 0
                                       OR abs(published.published_value - published.perturbed_value) > $base // 2)
            FROM derived_cells($labels, $published, $record_key_range) AS derived
            FULL JOIN (SELECT * FROM {PERTURBED_COUNTS.qualified_name}
                       WHERE quarter IN (SELECT unnest($labels))) AS published USING ({CELL})
            """,
            {**parameters, "published": [classification.as_struct() for classification in PUBLISHED],
             "record_key_range": RECORD_KEY_RANGE, "smallest": smallest, "largest_noise": largest_noise,
             "base": disclosure_control.rounding_base},
        ).fetchall()
        recounted = mismatched = perturbed_again = 0
        for classification in sample(RECOUNTED_CLASSIFICATIONS, seed):
            compared, differing, published_cells = _recount_from_records(connection, classification, periods)
            recounted += compared
            mismatched += differing
            perturbed_again += sum(1 for count, key, value in published_cells
                                   if ptable.perturb(count, key % ptable.key_range) != value)
    passed = cells == perturbed and forbidden == beyond_bound == badly_rounded == mismatched == perturbed_again == 0
    return _recorded(
        context, warehouse, quarters, passed,
        {
            "cells_published": cells,
            "cells_perturbed": perturbed,
            "perturbed_values_in_1_to_js": forbidden,
            "noise_beyond_bound": beyond_bound,
            "bound_D": largest_noise,
            "published_values_not_rounded_to_base": badly_rounded,
            "cells_recounted_from_records": recounted,
            "cells_differing_from_records": mismatched,
            "published_cells_not_perturbed_as_recounted": perturbed_again,
        },
    )


def _recount_from_records(connection, classification: CrossClassification, periods: list[str]):
    """Every cell of one cross-classification in some periods, counted from the records (not the finest cells) and
    compared with the derived cell: how many cells were compared, how many differ in count or key, and the
    recounted count, key and published perturbed value of those that are published."""
    rows = connection.execute(
        f"""
        WITH finest AS (
            SELECT dimension, code, member_id FROM stat.cube_dimensions
            -- each dimension's finest level (Overseas and Unknown are members of every level of geography)
            WHERE dimension = 'nationality' AND level = 'country' OR dimension = 'age' AND level = 'band'
               OR dimension = 'sex' AND level = 'sex' OR dimension = 'geography' AND level = 'local_authority'
        ),
        levels AS (
            SELECT * FROM member_at_level()
        ),
        records AS (
            -- each record in each period it counts in: its quarter's, or the years to its quarter and the next three
            SELECT
                quarter_label(quarter_number(records.registration_quarter) + ahead.quarters) AS quarter,
                nationality.ancestor_id AS nationality_member,
                age.ancestor_id AS age_member,
                sex.ancestor_id AS sex_member,
                geography.ancestor_id AS geography_member,
                records.record_key
            FROM stat.geocoded_registrations AS records
            JOIN (VALUES (0), (1), (2), (3)) AS ahead(quarters)
                ON ahead.quarters < CASE $period_type WHEN 'year_ending' THEN 4 ELSE 1 END
            JOIN finest AS country ON country.dimension = 'nationality' AND country.code = records.nationality
            JOIN finest AS band ON band.dimension = 'age' AND band.code = records.age_band
            JOIN finest AS person_sex ON person_sex.dimension = 'sex' AND person_sex.code = records.sex
            JOIN finest AS area ON area.dimension = 'geography' AND area.code = records.lad_code
            JOIN levels AS nationality
                ON nationality.member_id = country.member_id AND nationality.level = $nationality_level
            JOIN levels AS age ON age.member_id = band.member_id AND age.level = $age_level
            JOIN levels AS sex ON sex.member_id = person_sex.member_id AND sex.level = $sex_level
            JOIN levels AS geography ON geography.member_id = area.member_id AND geography.level = $geography_level
            WHERE records.registration_quarter IN (
                SELECT quarter_label(quarter_number(period) - back.quarters)
                FROM (SELECT unnest($periods) AS period), (VALUES (0), (1), (2), (3)) AS back(quarters))
        ),
        recounted AS (
            SELECT quarter, $period_type AS period_type, nationality_member, age_member, sex_member,
                   geography_member, count(*) AS registrations, sum(record_key) % $record_key_range AS cell_key
            FROM records
            WHERE quarter IN (SELECT unnest($periods))
            GROUP BY ALL
        )
        SELECT recounted.registrations, recounted.cell_key, derived.registrations, derived.cell_key,
               published.perturbed_value
        FROM recounted
        FULL JOIN derived_cells($periods, [$classification], $record_key_range) AS derived USING ({CELL})
        LEFT JOIN {PERTURBED_COUNTS.qualified_name} AS published USING ({CELL})
        """,
        {**classification.as_struct(), "classification": classification.as_struct(), "periods": periods,
         "record_key_range": RECORD_KEY_RANGE},
    ).fetchall()
    differing = sum(1 for count, key, derived_count, derived_key, _ in rows
                    if (count, key) != (derived_count, derived_key))
    published = [(count, key, value) for count, key, _, _, value in rows if value is not None and count is not None]
    return len(rows), differing, published


def no_personal_data_check(table: Table) -> dg.AssetChecksDefinition:
    """Each record's text columns against its raw NINo and postcode, its date columns against its date of birth."""
    texts = [column.name for column in table.columns if column.sql_type == "VARCHAR"]
    dates = [column.name for column in table.columns if column.sql_type == "DATE"]
    leaks = ", ".join(
        [f"count(*) FILTER (WHERE t.{name} IN (r.nino, r.postcode, r.postcode_key)) AS {name}" for name in texts]
        + [f"count(*) FILTER (WHERE t.{name} = r.date_of_birth) AS {name}" for name in dates]
    )

    @dg.asset_check(asset=table.name, name="no_personal_data", blocking=True, partitions_def=quarterly_partitions,
                    pool="warehouse", description="No column repeats the record's NINo, postcode or date of birth.")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        quarters, parameters = _labels(context)
        with warehouse.get_connection() as connection:
            # only postcodes of the UK form identify an address: "OVERSEAS" and placeholders are not compared
            [counts] = connection.execute(
                f"""
                WITH normalised AS (
                    SELECT scan_quarter, line_number, nino, date_of_birth, postcode,
                           upper(replace(postcode, ' ', '')) AS postcode_key
                    FROM {RAW_SCAN.qualified_name} WHERE scan_quarter IN (SELECT unnest($labels))
                ),
                identifying AS (
                    SELECT scan_quarter, line_number, nino, date_of_birth,
                           CASE WHEN regexp_full_match(postcode_key, $uk_postcode_regex) THEN postcode END AS postcode,
                           CASE WHEN regexp_full_match(postcode_key, $uk_postcode_regex) THEN postcode_key END
                               AS postcode_key
                    FROM normalised
                )
                SELECT {leaks} FROM {table.qualified_name} AS t JOIN identifying AS r USING (scan_quarter, line_number)
                WHERE t.scan_quarter IN (SELECT unnest($labels))
                """,
                {**parameters, "uk_postcode_regex": UK_POSTCODE_REGEX},
            ).fetchall()
        by_column = {name: count for name, count in zip([*texts, *dates], counts) if count}
        return _recorded(
            context, warehouse, quarters, not by_column,
            {
                "columns_compared": len(texts) + len(dates),
                "records_repeating_raw_values_by_column": dg.MetadataValue.json(by_column),
            },
        )

    return _check


rule_checks = [
    volume_against_history,
    records_reconcile,
    no_personal_data_check(REGISTRATIONS),
    no_personal_data_check(GEOCODED_REGISTRATIONS),
    disclosure_rules,
]
