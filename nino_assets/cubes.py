"""Cubes stage: counts and cell keys of every cell of every published cross-classification.

Dimensions (`stat.cube_dimensions`): nationality (country -> subgroup -> world area -> total), age (band -> total),
sex (each -> total) and geography (local authority -> region -> country -> total, with "Overseas registration" and
"Unknown" as their own members at each level). Periods: each quarter of registration, and the year to the end of
each quarter (the bulletin's headline period; the year to a fourth quarter is the calendar year).

A partition of `registration_counts` is a quarter: its own cells and those of the year ending with it, so the
year-ending cells read the three quarters before it too. A registration is counted in its scan's quarter (late
ones included), so a new quarter's scan changes no cell of an earlier quarter.
"""

import dagster as dg

from nino_assets.geography import GEOCODED_REGISTRATIONS
from nino_assets.partitions import quarter_range_label, quarterly_partitions, quarters_of, single_run_backfill
from nino_assets.postcodes import AREA_NAMES, OVERSEAS_CODE, UNKNOWN_CODE
from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.reference import AGE_BANDS, LOCAL_AUTHORITIES, NATIONALITIES
from nino_assets.tables import STATISTICS, Column, Table
from nino_assets.warehouse import Warehouse, count_rows, delete_partitions, ensure_table, replace_table, sql_text

OWNERS = ["team:nino-production"]
GROUP = "cubes"
YEAR_QUARTERS = 4
QUARTERS_PER_PASS = 8
"""The 64 grouping sets of the whole series at once would hold ~100 million groups in memory (about 20 GB of hash
tables); eight quarters a pass hold about 8 million, inside the warehouse's memory limit, and spill nothing."""

CUBE_DIMENSIONS = Table(
    schema=STATISTICS,
    name="cube_dimensions",
    description="Members of every level of the cube's dimensions, with their parents.",
    columns=(
        Column("member_id", "INTEGER", "Identifier of the member, as the counts refer to it.", nullable=False),
        Column("dimension", "VARCHAR", "nationality, age, sex or geography.", nullable=False),
        Column("level", "VARCHAR", "Level within the dimension, e.g. country, subgroup, world_area, total.",
               nullable=False),
        Column("code", "VARCHAR", "Code of the member (GSS code, age band, F/M, DWP label).", nullable=False),
        Column("label", "VARCHAR", "Label as published.", nullable=False),
        Column("parent_member_id", "INTEGER", "The member one level up; null for the total."),
        Column("depth", "INTEGER", "0 for the total, increasing downwards.", nullable=False),
    ),
    primary_key=("member_id",),
)

_LEVEL = "Which level of its dimension the cell is at."
_MEMBER = "Member of the dimension (stat.cube_dimensions.member_id)."
_GEO = GEOCODED_REGISTRATIONS.name

REGISTRATION_COUNTS = Table(
    schema=STATISTICS,
    name="registration_counts",
    description="Unperturbed count and cell key of every non-empty cell. Never published: see perturbed_counts.",
    columns=(
        Column("quarter", "VARCHAR", "The quarter (partition): the period's last quarter.",
               ((_GEO, "registration_quarter"),), nullable=False),
        Column("period_type", "VARCHAR", "quarter, or year_ending (the four quarters to `quarter`).",
               ((_GEO, "registration_quarter"),), nullable=False),
        Column("nationality_level", "VARCHAR", _LEVEL, nullable=False),
        Column("nationality_member", "INTEGER", _MEMBER, ((_GEO, "nationality"), (_GEO, "subgroup"),
               (_GEO, "world_area")), nullable=False),
        Column("age_level", "VARCHAR", _LEVEL, nullable=False),
        Column("age_member", "INTEGER", _MEMBER, ((_GEO, "age_band"),), nullable=False),
        Column("sex_level", "VARCHAR", _LEVEL, nullable=False),
        Column("sex_member", "INTEGER", _MEMBER, ((_GEO, "sex"),), nullable=False),
        Column("geography_level", "VARCHAR", _LEVEL, nullable=False),
        Column("geography_member", "INTEGER", _MEMBER, ((_GEO, "lad_code"), (_GEO, "region_code"),
               (_GEO, "country_code")), nullable=False),
        Column("registrations", "INTEGER", "Number of registrations in the cell (unperturbed).",
               ((_GEO, "pseudonym"),), nullable=False),
        Column("cell_key", "INTEGER", f"Sum of the cell's record keys modulo {RECORD_KEY_RANGE}.",
               ((_GEO, "record_key"),), nullable=False),
    ),
    partition_column="quarter",
)


@dg.asset(
    name=CUBE_DIMENSIONS.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"duckdb"},
    pool="warehouse",
    deps=[NATIONALITIES.name, AGE_BANDS.name, LOCAL_AUTHORITIES.name],
    description=CUBE_DIMENSIONS.description,
    metadata=CUBE_DIMENSIONS.definition_metadata(),
)
def cube_dimensions(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.transaction() as connection:
        row_count = replace_table(
            connection,
            CUBE_DIMENSIONS,
            sql_text(CUBE_DIMENSIONS.name),
            {
                "overseas_code": OVERSEAS_CODE,
                "overseas_label": AREA_NAMES[OVERSEAS_CODE],
                "unknown_code": UNKNOWN_CODE,
                "unknown_label": AREA_NAMES[UNKNOWN_CODE],
            },
        )
        levels = connection.execute(
            f"SELECT dimension || ' / ' || level, count(*) FROM {CUBE_DIMENSIONS.qualified_name} "
            "GROUP BY ALL ORDER BY min(member_id)"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={"dagster/row_count": row_count, "members_by_level": dg.MetadataValue.json(dict(levels))}
    )


@dg.asset(
    name=REGISTRATION_COUNTS.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"duckdb"},
    pool="warehouse",
    deps=[
        dg.AssetDep(
            GEOCODED_REGISTRATIONS.name,
            # the year to a quarter reads the three quarters before it
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=1 - YEAR_QUARTERS, allow_nonexistent_upstream_partitions=True
            ),
        ),
        CUBE_DIMENSIONS.name,
    ],
    partitions_def=quarterly_partitions,
    backfill_policy=single_run_backfill,
    description=(
        "Count and cell key of every non-empty cell of nationality x age x sex x geography at every level, "
        "totals included, for each quarter and the year to its end. Unperturbed: never published."
    ),
    metadata=REGISTRATION_COUNTS.definition_metadata(),
)
def registration_counts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    quarters = quarters_of(context)
    with warehouse.transaction() as connection:
        ensure_table(connection, REGISTRATION_COUNTS)
        delete_partitions(connection, REGISTRATION_COUNTS, quarters)
        for first in range(0, len(quarters), QUARTERS_PER_PASS):
            batch = quarters[first : first + QUARTERS_PER_PASS]
            first_needed = batch[0]
            for _ in range(YEAR_QUARTERS - 1):
                first_needed = first_needed.previous()
            connection.execute(
                f"INSERT INTO {REGISTRATION_COUNTS.qualified_name} BY NAME {sql_text(REGISTRATION_COUNTS.name)}",
                {
                    "quarters": [quarter.label for quarter in batch],
                    "first_needed_quarter": first_needed.label,
                    "last_quarter": batch[-1].label,
                    "record_key_range": RECORD_KEY_RANGE,
                },
            )
        cells = count_rows(connection, REGISTRATION_COUNTS, quarters)
        cells_by_period_type = dict(
            connection.execute(
                f"SELECT period_type, count(*) FROM {REGISTRATION_COUNTS.qualified_name} "
                "WHERE quarter IN (SELECT unnest($labels)) GROUP BY ALL ORDER BY 1",
                {"labels": [quarter.label for quarter in quarters]},
            ).fetchall()
        )
    return dg.MaterializeResult(
        metadata={
            "quarters": quarter_range_label(quarters),
            "dagster/row_count": cells,
            "cells_by_period_type": dg.MetadataValue.json(cells_by_period_type),
            "cross_classifications": 4 * 2 * 2 * 4,
            **REGISTRATION_COUNTS.definition_metadata(),
        }
    )


cube_assets = [cube_dimensions, registration_counts]
