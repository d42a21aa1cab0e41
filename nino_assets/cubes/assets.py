"""Cubes stage: the finest cells, from which every published cell is derived.

Dimensions (`stat.cube_dimensions`): nationality (country -> subgroup -> world area -> EU or non-EU -> total), age
(band -> total), sex (each -> total) and geography (local authority -> region -> country -> total, with "Overseas
registration" and "Unknown" as their own members at each level).

`finest_cells` holds, for each quarter, the count and cell key of each finest (country, age band, sex, local
authority) cell that has registrations. A cell of any level, for a quarter or the year to a quarter, is derived
from them by one SQL definition (`sql/derived_cells.sql`): its count and its key (the sum of its record keys modulo
the key range) are sums over its finest cells. A registration is counted in its scan's quarter (late ones
included), so a new quarter's scan changes no cell of an earlier quarter.
"""

import dagster as dg

from nino_assets.clean.assets import REGISTRATIONS
from nino_assets.geography.assets import GEOCODED_REGISTRATIONS
from nino_assets.shared.deliveries import carry_delivery
from nino_assets.shared.partitions import quarter_range_label, quarterly_partitions, quarters_of, single_run_backfill
from nino_assets.geography.postcodes import AREA_NAMES, OVERSEAS_CODE, UNKNOWN_CODE
from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.reference.assets import AGE_BANDS, LOCAL_AUTHORITIES, NATIONALITIES
from nino_assets.shared.tables import STATISTICS, Column, Table
from nino_assets.shared.warehouse import Warehouse, count_rows, replace_partitions, replace_table, sql_text

OWNERS = ["team:nino-production"]
GROUP = "cubes"

CUBE_DIMENSIONS = Table(
    schema=STATISTICS,
    name="cube_dimensions",
    description="Members of every level of the cube's dimensions, with their parents.",
    columns=(
        Column("member_id", "INTEGER", "Identifier of the member, as the counts refer to it.", nullable=False),
        Column("dimension", "VARCHAR", "nationality, age, sex or geography.", nullable=False),
        Column("level", "VARCHAR", "Level within the dimension, e.g. country, subgroup, world_area, eu_group, total.",
               nullable=False),
        Column("code", "VARCHAR", "Code of the member (GSS code, age band, F/M, DWP label).", nullable=False),
        Column("label", "VARCHAR", "Label as published.", nullable=False),
        Column("parent_member_id", "INTEGER", "The member one level up; null for the total."),
        Column("depth", "INTEGER", "0 for the total, increasing downwards.", nullable=False),
    ),
    primary_key=("member_id",),
)

_MEMBER = "Member of the dimension at its finest level (stat.cube_dimensions.member_id)."
_REG = REGISTRATIONS.name
_GEO = GEOCODED_REGISTRATIONS.name

FINEST_CELLS = Table(
    schema=STATISTICS,
    name="finest_cells",
    description="Unperturbed count and cell key of every non-empty finest cell (quarter x country of nationality x "
                "age band x sex x local authority). Never published: every published cell is derived from these.",
    columns=(
        Column("quarter", "VARCHAR", "The quarter of registration (partition).", ((_REG, "registration_quarter"),),
               nullable=False),
        Column("nationality_member", "INTEGER", _MEMBER + " A country.", ((_REG, "nationality"),), nullable=False),
        Column("age_member", "INTEGER", _MEMBER + " An age band.", ((_REG, "age_band"),), nullable=False),
        Column("sex_member", "INTEGER", _MEMBER + " F or M.", ((_REG, "sex"),), nullable=False),
        Column("geography_member", "INTEGER", _MEMBER + " A local authority, Overseas or Unknown.",
               ((_GEO, "lad_code"),), nullable=False),
        Column("registrations", "INTEGER", "Number of registrations in the cell (unperturbed).",
               ((_GEO, "line_number"),), nullable=False),
        Column("cell_key", "INTEGER", f"Sum of the cell's record keys modulo {RECORD_KEY_RANGE}.",
               ((_REG, "record_key"),), nullable=False),
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


def define_placed_registrations(connection) -> None:
    """The temporary macro of the registrations of some quarters with their places, which the finest cells count
    (each connection defines its own)."""
    connection.execute(sql_text("placed_registrations"))


@dg.asset(
    name=FINEST_CELLS.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"duckdb"},
    pool="warehouse",
    deps=[REGISTRATIONS.name, GEOCODED_REGISTRATIONS.name, CUBE_DIMENSIONS.name],
    partitions_def=quarterly_partitions,
    backfill_policy=single_run_backfill,
    description=(
        "Count and cell key of every non-empty finest cell (quarter x country of nationality x age band x sex x "
        "local authority), from which every published cell is derived. Unperturbed: never published."
    ),
    metadata=FINEST_CELLS.definition_metadata(),
)
def finest_cells(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    quarters = quarters_of(context)
    with warehouse.transaction() as connection:
        define_placed_registrations(connection)
        replace_partitions(connection, FINEST_CELLS, quarters, sql_text(FINEST_CELLS.name),
                           {"quarters": [quarter.label for quarter in quarters], "record_key_range": RECORD_KEY_RANGE})
        cells = count_rows(connection, FINEST_CELLS, quarters)
        deliveries = carry_delivery(connection, FINEST_CELLS.name, GEOCODED_REGISTRATIONS.name, quarters)
        [(registrations,)] = connection.execute(
            f"SELECT coalesce(sum(registrations), 0) FROM {FINEST_CELLS.qualified_name} "
            "WHERE quarter = ANY($labels)", {"labels": [quarter.label for quarter in quarters]},
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "quarters": quarter_range_label(quarters),
            "dagster/row_count": cells,
            "registrations": int(registrations),
            "deliveries": dg.MetadataValue.json(deliveries),
            **FINEST_CELLS.definition_metadata(),
        }
    )


cube_assets = [cube_dimensions, finest_cells]
# The warehouse tables this stage writes: a suite named after one of its assets validates that asset's table.
cube_tables = [CUBE_DIMENSIONS, FINEST_CELLS]
