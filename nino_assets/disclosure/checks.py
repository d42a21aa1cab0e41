"""The disclosure rule check on the perturbed counts, which a suite cannot express: arithmetic across tables.

- `disclosure_rules`: every published cell (derived from the finest cells) is perturbed; no perturbed value in
  1..js; no noise beyond D; published values are the perturbed ones rounded to the base; and the cells of random
  cross-classifications (years and totals among them) in random periods, recounted from the records, have the
  derived cells' counts and keys, and the published ones their perturbed values.
Only counts, rates and quarter labels reach the results.
"""

import random
import zlib

import dagster as dg

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.cubes.cross_classifications import PUBLISHED, CrossClassification, sample
from nino_assets.cubes.assets import CUBE_DIMENSIONS, define_placed_registrations
from nino_assets.disclosure.assets import PERTURBED_COUNTS, DisclosureControl, define_cell_macros
from nino_assets.shared.acceptance import Journey, recorded_result
from nino_assets.shared.check_outcomes import run_quarters
from nino_assets.shared.partitions import quarterly_partitions
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.warehouse import Warehouse

RECOUNTED_CLASSIFICATIONS = 4
RECOUNTED_PERIODS = 3
"""The disclosure check recounts every cell of this many random cross-classifications, in this many random periods
of the run, from the records."""


CELL = "quarter, period_type, nationality_member, age_member, sex_member, geography_member"


@dg.asset_check(asset=PERTURBED_COUNTS.name, blocking=True, partitions_def=quarterly_partitions, pool="warehouse",
                description="Every published cell perturbed; no value in 1..js; no noise beyond D; published values "
                            "rounded to the base; random cross-classifications recounted from the records agree.")
def disclosure_rules(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, disclosure_control: DisclosureControl,
    journey: dg.ResourceParam[Journey],
) -> dg.AssetCheckResult:
    quarters, parameters = run_quarters(context)
    ptable = disclosure_control.ptable()
    largest_noise = int(abs(ptable.noise).max())
    # a seed from the run's quarters: the same run checks the same sample
    seed = zlib.crc32(",".join(parameters["labels"]).encode())
    periods = random.Random(seed).sample(parameters["labels"], min(RECOUNTED_PERIODS, len(quarters)))
    with warehouse.get_connection() as connection:
        define_cell_macros(connection)
        define_placed_registrations(connection)
        [(cells, perturbed, forbidden, beyond_bound, badly_rounded)] = connection.execute(
            f"""
            SELECT count(derived.quarter), count(published.quarter),
                   count(*) FILTER (WHERE list_contains($blocked_values, published.perturbed_value)),
                   count(*) FILTER (WHERE abs(published.perturbed_value - derived.registrations) > $largest_noise),
                   count(*) FILTER (WHERE published.published_value % $base <> 0
                                       OR abs(published.published_value - published.perturbed_value) > $base // 2)
            FROM derived_cells($labels, $published, $record_key_range) AS derived
            FULL JOIN (SELECT * FROM {PERTURBED_COUNTS.qualified_name}
                       WHERE quarter = ANY($labels)) AS published USING ({CELL})
            """,
            {**parameters, "published": [classification.as_struct() for classification in PUBLISHED],
             "record_key_range": RECORD_KEY_RANGE, "blocked_values": disclosure_control.blocked_values(), "largest_noise": largest_noise,
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
    return recorded_result(
        context, warehouse, journey, quarters, passed,
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


def _counted_in(period_type: str, periods: list[str]) -> list[dict[str, str]]:
    """Which quarter's records count in which period: each period's own, or the four to it for years."""
    pairs = []
    for label in periods:
        quarter = Quarter.from_label(label)
        for _ in range(4 if period_type == "year_ending" else 1):
            pairs.append({"record_quarter": quarter.label, "period": label})
            quarter = quarter.previous()
    return pairs


def _recount_from_records(connection, classification: CrossClassification, periods: list[str]):
    """Every cell of one cross-classification in some periods, counted from the records (not the finest cells) and
    compared with the derived cell: how many cells were compared, how many differ in count or key, and the
    recounted count, key and published perturbed value of those that are published."""
    counted_in = _counted_in(classification.period_type, periods)
    rows = connection.execute(
        f"""
        WITH finest AS (
            SELECT dimension, code, member_id FROM {CUBE_DIMENSIONS.qualified_name}
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
                counted.period AS quarter,
                nationality.ancestor_id AS nationality_member,
                age.ancestor_id AS age_member,
                sex.ancestor_id AS sex_member,
                geography.ancestor_id AS geography_member,
                records.record_key
            -- a list of constants, so that the scans read only these quarters' records
            FROM placed_registrations($record_quarters) AS records
            JOIN (SELECT unnest($counted_in, recursive := true)) AS counted
                ON counted.record_quarter = records.registration_quarter
            JOIN finest AS country ON country.dimension = 'nationality' AND country.code = records.nationality
            JOIN finest AS band ON band.dimension = 'age' AND band.code = records.age_band
            JOIN finest AS person_sex ON person_sex.dimension = 'sex' AND person_sex.code = records.sex
            JOIN finest AS area ON area.dimension = 'geography' AND area.code = records.lad_code
            JOIN levels AS nationality
                ON nationality.member_id = country.member_id AND nationality.level = $nationality_level
            JOIN levels AS age ON age.member_id = band.member_id AND age.level = $age_level
            JOIN levels AS sex ON sex.member_id = person_sex.member_id AND sex.level = $sex_level
            JOIN levels AS geography ON geography.member_id = area.member_id AND geography.level = $geography_level
        ),
        recounted AS (
            SELECT quarter, $period_type AS period_type, nationality_member, age_member, sex_member,
                   geography_member, count(*) AS registrations, sum(record_key) % $record_key_range AS cell_key
            FROM records
            GROUP BY ALL
        )
        SELECT recounted.registrations, recounted.cell_key, derived.registrations, derived.cell_key,
               published.perturbed_value
        FROM recounted
        FULL JOIN derived_cells($periods, [$classification], $record_key_range) AS derived USING ({CELL})
        LEFT JOIN {PERTURBED_COUNTS.qualified_name} AS published USING ({CELL})
        """,
        {**classification.as_struct(), "classification": classification.as_struct(), "periods": periods,
         "counted_in": counted_in, "record_quarters": sorted({pair["record_quarter"] for pair in counted_in}),
         "record_key_range": RECORD_KEY_RANGE},
    ).fetchall()
    differing = sum(1 for count, key, derived_count, derived_key, _ in rows
                    if (count, key) != (derived_count, derived_key))
    published = [(count, key, value) for count, key, _, _, value in rows if value is not None and count is not None]
    return len(rows), differing, published


disclosure_checks = [disclosure_rules]
