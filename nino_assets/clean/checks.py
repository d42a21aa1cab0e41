"""Blocking checks on the registrations that a suite cannot express, because they compare layers.

- `records_reconcile`: records in (raw_scan) = registrations counted + records excluded, per quarter.
- `no_personal_data` (here and on geocoded_registrations): no text column holds a NINo or postcode (as recorded or
  normalised) of the raw layer, and no date column a record's own date of birth.
Only counts, rates and quarter labels reach the results.
"""

import dagster as dg

from nino_assets.clean.assets import REGISTRATION_EXCLUSIONS, REGISTRATIONS
from nino_assets.geography.postcodes import UK_POSTCODE_REGEX
from nino_assets.ingest.assets import RAW_SCAN
from nino_assets.shared.acceptance import Journey, recorded_result
from nino_assets.shared.check_outcomes import run_quarters
from nino_assets.shared.partitions import quarterly_partitions
from nino_assets.shared.tables import Table
from nino_assets.shared.warehouse import Warehouse


@dg.asset_check(asset=REGISTRATIONS.name, blocking=True, partitions_def=quarterly_partitions, pool="warehouse",
                description="Records in (raw_scan) = registrations counted + records excluded, per quarter.")
def records_reconcile(context: dg.AssetCheckExecutionContext, warehouse: Warehouse,
                      journey: dg.ResourceParam[Journey]) -> dg.AssetCheckResult:
    quarters, parameters = run_quarters(context)
    with warehouse.get_connection() as connection:
        rows = connection.execute(
            f"""
            WITH records_in AS (SELECT scan_quarter, count(*) AS n FROM {RAW_SCAN.qualified_name}
                                WHERE scan_quarter = ANY($labels) GROUP BY ALL),
            counted AS (SELECT scan_quarter, count(*) AS n FROM {REGISTRATIONS.qualified_name}
                        WHERE scan_quarter = ANY($labels) GROUP BY ALL),
            excluded AS (SELECT scan_quarter, sum(records) AS n FROM {REGISTRATION_EXCLUSIONS.qualified_name}
                         WHERE scan_quarter = ANY($labels) GROUP BY ALL)
            SELECT records_in.scan_quarter, records_in.n, coalesce(counted.n, 0), coalesce(excluded.n, 0)
            FROM records_in LEFT JOIN counted USING (scan_quarter) LEFT JOIN excluded USING (scan_quarter)
            """,
            parameters,
        ).fetchall()
    unbalanced = [f"{quarter}: {n_in} in, {n_out} counted, {n_excluded} excluded"
                  for quarter, n_in, n_out, n_excluded in rows if n_in != n_out + n_excluded]
    return recorded_result(
        context, warehouse, journey, quarters, not unbalanced,
        {
            "records_in": sum(row[1] for row in rows),
            "records_counted": sum(row[2] for row in rows),
            "records_excluded": sum(row[3] for row in rows),
            "unbalanced_quarters": dg.MetadataValue.json(unbalanced),
        },
    )


def no_personal_data_check(table: Table) -> dg.AssetChecksDefinition:
    """The table's text values against the raw layer's NINos and postcodes, its dates against each record's own date
    of birth."""
    texts = [column.name for column in table.columns if column.sql_type == "VARCHAR"]
    dates = [column.name for column in table.columns if column.sql_type == "DATE"]

    @dg.asset_check(asset=table.name, name="no_personal_data", blocking=True, partitions_def=quarterly_partitions,
                    pool="warehouse", description="No text column holds a NINo or postcode of the raw layer; no date "
                                                  "column holds the record's date of birth.")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse,
               journey: dg.ResourceParam[Journey]) -> dg.AssetCheckResult:
        quarters, parameters = run_quarters(context)
        with warehouse.get_connection() as connection:
            values_by_column = dict(connection.execute(
                text_values_repeating_raw_values(table, texts), {**parameters, "uk_postcode_regex": UK_POSTCODE_REGEX}
            ).fetchall()) if texts else {}
            records_by_column = dict(zip(dates, connection.execute(
                dates_repeating_dates_of_birth(table, dates), parameters
            ).fetchone())) if dates else {}
        text_leaks = {name: count for name, count in values_by_column.items() if count}
        date_leaks = {name: count for name, count in records_by_column.items() if count}
        return recorded_result(
            context, warehouse, journey, quarters, not text_leaks and not date_leaks,
            {
                "columns_compared": len(texts) + len(dates),
                "raw_ninos_or_postcodes_by_text_column": dg.MetadataValue.json(text_leaks),
                "records_with_their_date_of_birth_by_date_column": dg.MetadataValue.json(date_leaks),
            },
        )

    return _check


def text_values_repeating_raw_values(table: Table, texts: list[str]) -> str:
    """How many of each text column's distinct values are a NINo or a UK-form postcode (as recorded or normalised) of
    the raw layer, in the run's quarters: any record's, not only the row's own. A column's distinct values are few
    (codes, labels, quarters), so they are collected in one pass and looked up among the raw values, without joining
    millions of rows to their raw records."""
    return f"""
        WITH distinct_values AS (
            SELECT {", ".join(f"list(DISTINCT {name}) AS {name}" for name in texts)}
            FROM {table.qualified_name} WHERE {table.partition_column} = ANY($labels)
        ),
        text_values AS (
            SELECT column_name, unnest(column_values) AS value
            FROM (UNPIVOT distinct_values ON {", ".join(texts)} INTO NAME column_name VALUE column_values)
        ),
        raw_values AS (
            SELECT nino AS value, false AS is_postcode FROM {RAW_SCAN.qualified_name} WHERE scan_quarter = ANY($labels)
            UNION ALL
            SELECT postcode, true FROM {RAW_SCAN.qualified_name} WHERE scan_quarter = ANY($labels)
            UNION ALL
            SELECT upper(replace(postcode, ' ', '')), true FROM {RAW_SCAN.qualified_name}
            WHERE scan_quarter = ANY($labels)
        )
        -- only postcodes of the UK form identify an address: "OVERSEAS" and placeholders are not personal data. The
        -- few values found are normalised again for the test: carrying each raw postcode's normal form to here cost
        -- more (1.5 s against 2.4-2.8 s over the series)
        SELECT column_name, count(DISTINCT value)
        FROM text_values JOIN raw_values USING (value)
        WHERE NOT is_postcode OR regexp_full_match(upper(replace(value, ' ', '')), $uk_postcode_regex)
        GROUP BY ALL
    """


def dates_repeating_dates_of_birth(table: Table, dates: list[str]) -> str:
    """How many rows hold their own record's date of birth, in each date column: record by record, since any date is
    someone's date of birth."""
    return f"""
        SELECT {", ".join(f"count(*) FILTER (WHERE t.{name} = r.date_of_birth)" for name in dates)}
        FROM {table.qualified_name} AS t JOIN {RAW_SCAN.qualified_name} AS r USING (scan_quarter, line_number)
        WHERE t.scan_quarter = ANY($labels) AND r.scan_quarter = ANY($labels)
    """


clean_checks = [records_reconcile, no_personal_data_check(REGISTRATIONS)]
