"""Geography stage: each registration placed by its postcode at registration; the postcode goes no further.

Output area -> local authority -> region -> country, by the postcode lookup. Registrations with an address abroad
are "Overseas registration" and those with no usable postcode "Unknown": both stay in the national totals and are
shown as their own rows. Outcomes are counted per scan quarter in `stat.geocoding_outcomes`.
"""

from collections import Counter

import dagster as dg

from nino_assets.clean.assets import REGISTRATIONS
from nino_assets.ingest.assets import RAW_SCAN
from nino_assets.shared.deliveries import carry_delivery
from nino_assets.shared.partitions import quarter_range_label, quarterly_partitions, quarters_of, single_run_backfill
from nino_assets.geography.postcodes import OVERSEAS_CODE, UK_POSTCODE_REGEX, UNKNOWN_CODE
from nino_assets.reference.assets import POSTCODE_LOOKUP
from nino_assets.shared.tables import STATISTICS, Column, Table
from nino_assets.shared.package_files import sql_text
from nino_assets.shared.warehouse import Warehouse, count_rows, quarter_batches, replace_partitions

OWNERS = ["team:nino-production"]
GROUP = "geography"

_LOOKUP = POSTCODE_LOOKUP.name
_POSTCODE = (RAW_SCAN.name, "postcode")

KEYS = ("scan_quarter", "line_number")
"""A placed registration is keyed as in stat.registrations (and the raw layer): what it is counted by (quarter,
nationality, age band, sex, record key) is held there once, not copied; only where it is placed is held here."""

GEOCODED_REGISTRATIONS = Table(
    schema=STATISTICS,
    name="geocoded_registrations",
    description="Where each counted registration is placed: its output area, local authority, region and country, "
                "keyed as in stat.registrations; no postcode.",
    columns=(
        *(
            Column(column.name, column.sql_type, column.description, ((REGISTRATIONS.name, column.name),),
                   column.nullable)
            for column in REGISTRATIONS.columns
            if column.name in KEYS
        ),
        Column("geocoding_outcome", "VARCHAR", "geocoded, overseas address, postcode missing, postcode malformed "
               "or postcode not in lookup.", (_POSTCODE, (_LOOKUP, "postcode_key")), nullable=False),
        Column("output_area_code", "VARCHAR", f"2021 output area; {OVERSEAS_CODE} or {UNKNOWN_CODE} otherwise.",
               (_POSTCODE, (_LOOKUP, "output_area_code")), nullable=False),
        Column("lad_code", "VARCHAR", f"Local authority district (December 2023); {OVERSEAS_CODE} or {UNKNOWN_CODE}.",
               (_POSTCODE, (_LOOKUP, "lad_code")), nullable=False),
        Column("region_code", "VARCHAR", f"Region; {OVERSEAS_CODE} or {UNKNOWN_CODE}.",
               (_POSTCODE, (_LOOKUP, "region_code")), nullable=False),
        Column("country_code", "VARCHAR", f"Country of the UK; {OVERSEAS_CODE} or {UNKNOWN_CODE}.",
               (_POSTCODE, (_LOOKUP, "country_code")), nullable=False),
    ),
    partition_column="scan_quarter",
)

GEOCODING_OUTCOMES = Table(
    schema=STATISTICS,
    name="geocoding_outcomes",
    description="Registrations of each scan by how their postcode was matched.",
    columns=(
        Column("scan_quarter", "VARCHAR", "Quarter of the scan (partition).", nullable=False),
        Column("geocoding_outcome", "VARCHAR", "How the postcode was matched.", nullable=False),
        Column("records", "BIGINT", "Number of registrations.", nullable=False),
    ),
    partition_column="scan_quarter",
)


@dg.asset(
    name=GEOCODED_REGISTRATIONS.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"duckdb"},
    pool="warehouse",
    deps=[REGISTRATIONS.name, POSTCODE_LOOKUP.name],
    partitions_def=quarterly_partitions,
    backfill_policy=single_run_backfill,
    description=(
        "Each counted registration placed in output area, local authority, region and country by the postcode at "
        "registration; overseas addresses and unmatched postcodes in their own areas, counted by outcome in "
        "stat.geocoding_outcomes. Holds only the place, keyed as in stat.registrations: not the postcode, and "
        "nothing stat.registrations already holds."
    ),
    metadata={**GEOCODED_REGISTRATIONS.definition_metadata(), "outcomes_table": GEOCODING_OUTCOMES.qualified_name},
)
def geocoded_registrations(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    quarters = quarters_of(context)
    outcomes: Counter = Counter()
    with warehouse.transaction() as connection:
        for batch in quarter_batches(connection, REGISTRATIONS, quarters):
            outcomes += geocode_batch(connection, batch)
        records_in = count_rows(connection, REGISTRATIONS, quarters)
        deliveries = carry_delivery(connection, GEOCODED_REGISTRATIONS.name, REGISTRATIONS.name, quarters)
        records_out = count_rows(connection, GEOCODED_REGISTRATIONS, quarters)
    return dg.MaterializeResult(
        metadata={
            "quarters": quarter_range_label(quarters),
            "dagster/row_count": records_out,
            "records_in": records_in,
            "records_out": records_out,
            "deliveries": dg.MetadataValue.json(deliveries),
            "outcomes": dg.MetadataValue.json(dict(sorted(outcomes.items()))),
            "geocoded_rate": outcomes.get("geocoded", 0) / max(records_out, 1),
            "overseas_registrations": outcomes.get("overseas address", 0),
            "unknown_area": records_out - outcomes.get("geocoded", 0) - outcomes.get("overseas address", 0),
            **GEOCODED_REGISTRATIONS.definition_metadata(),
        }
    )


def geocode_batch(connection, quarters) -> Counter:
    """Write the geocoded registrations and outcomes of these scan quarters; the registrations by outcome.

    Written straight from the transform (every registration comes out once), and counted back from the table."""
    labels = [quarter.label for quarter in quarters]
    replace_partitions(
        connection,
        GEOCODED_REGISTRATIONS,
        quarters,
        f"SELECT {', '.join(GEOCODED_REGISTRATIONS.column_names)} FROM ({sql_text(GEOCODED_REGISTRATIONS.name)})",
        {"quarters": labels, "uk_postcode_regex": UK_POSTCODE_REGEX, "overseas_code": OVERSEAS_CODE,
         "unknown_code": UNKNOWN_CODE},
    )
    replace_partitions(
        connection,
        GEOCODING_OUTCOMES,
        quarters,
        f"SELECT scan_quarter, geocoding_outcome, count(*) AS records FROM {GEOCODED_REGISTRATIONS.qualified_name} "
        "WHERE scan_quarter = ANY($labels) GROUP BY ALL",
        {"labels": labels},
    )
    return Counter(dict(connection.execute(
        f"SELECT geocoding_outcome, sum(records) FROM {GEOCODING_OUTCOMES.qualified_name} "
        "WHERE scan_quarter = ANY($labels) GROUP BY ALL", {"labels": labels}).fetchall()))


geography_assets = [geocoded_registrations]
# The warehouse tables this stage writes: a suite named after one of its assets validates that asset's table.
geography_tables = [GEOCODED_REGISTRATIONS, GEOCODING_OUTCOMES]
