"""Blocking checks on the registrations that a suite cannot express, because they compare layers.

- `records_reconcile`: records in (raw_scan) = registrations counted + records excluded, per quarter.
- `no_personal_data` (here and on geocoded_registrations): no column holds a record's own NINo or postcode (as
  recorded or normalised) or date of birth, compared record by record with the raw layer.
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
    """Each record's text columns against its raw NINo and postcode, its date columns against its date of birth."""
    texts = [column.name for column in table.columns if column.sql_type == "VARCHAR"]
    dates = [column.name for column in table.columns if column.sql_type == "DATE"]
    leaks = ", ".join(
        [f"count(*) FILTER (WHERE t.{name} IN (r.nino, r.postcode, r.postcode_key)) AS {name}" for name in texts]
        + [f"count(*) FILTER (WHERE t.{name} = r.date_of_birth) AS {name}" for name in dates]
    )

    @dg.asset_check(asset=table.name, name="no_personal_data", blocking=True, partitions_def=quarterly_partitions,
                    pool="warehouse", description="No column repeats the record's NINo, postcode or date of birth.")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse,
               journey: dg.ResourceParam[Journey]) -> dg.AssetCheckResult:
        quarters, parameters = run_quarters(context)
        with warehouse.get_connection() as connection:
            # only postcodes of the UK form identify an address: "OVERSEAS" and placeholders are not compared
            [counts] = connection.execute(
                f"""
                WITH normalised AS (
                    SELECT scan_quarter, line_number, nino, date_of_birth, postcode,
                           upper(replace(postcode, ' ', '')) AS postcode_key
                    FROM {RAW_SCAN.qualified_name} WHERE scan_quarter = ANY($labels)
                ),
                of_uk_form AS (
                    SELECT *, regexp_full_match(postcode_key, $uk_postcode_regex) AS postcode_is_of_uk_form
                    FROM normalised
                ),
                identifying AS (
                    SELECT scan_quarter, line_number, nino, date_of_birth,
                           CASE WHEN postcode_is_of_uk_form THEN postcode END AS postcode,
                           CASE WHEN postcode_is_of_uk_form THEN postcode_key END AS postcode_key
                    FROM of_uk_form
                )
                SELECT {leaks} FROM {table.qualified_name} AS t JOIN identifying AS r USING (scan_quarter, line_number)
                WHERE t.scan_quarter = ANY($labels)
                """,
                {**parameters, "uk_postcode_regex": UK_POSTCODE_REGEX},
            ).fetchall()
        by_column = {name: count for name, count in zip([*texts, *dates], counts) if count}
        return recorded_result(
            context, warehouse, journey, quarters, not by_column,
            {
                "columns_compared": len(texts) + len(dates),
                "records_repeating_raw_values_by_column": dg.MetadataValue.json(by_column),
            },
        )

    return _check


clean_checks = [records_reconcile, no_personal_data_check(REGISTRATIONS)]
