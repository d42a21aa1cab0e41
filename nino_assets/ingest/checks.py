"""Blocking checks on the raw scan that a suite cannot express, because they need history.

- `volume_against_history`: a quarter's records against the previous quarter and the same quarter a year earlier.
  It fails when the volume moved by more than VOLUME_TOLERANCE against both, unless a discontinuity
  (reference.discontinuities) was in force, which explains it; the check then passes and says which one.
- `delivery_is_new`: a quarter's delivery is not another quarter's resent: at most RESENT_SHARE of its records have
  a NINo already in the raw layer from earlier quarters, and at most DATED_OUTSIDE_SHARE of its registrations are dated
  outside its quarter (a late registration is dated in an earlier quarter, but only a few are).
"""

import dagster as dg

from nino_assets.ingest.assets import RAW_SCAN
from nino_assets.reference.assets import DISCONTINUITIES
from nino_assets.shared.acceptance import Journey, recorded_result
from nino_assets.shared.check_outcomes import run_quarters
from nino_assets.shared.partitions import quarterly_partitions
from nino_assets.shared.quarters import quarter_starts
from nino_assets.shared.warehouse import Warehouse

VOLUME_TOLERANCE = 0.35
"""The largest change of a quarter's volume, against both the previous quarter and a year earlier, that passes
without a discontinuity to explain it. The published series moves by up to a third in ordinary quarters."""
RESENT_SHARE = 0.5
"""The largest share of a delivery's records with a NINo already in earlier quarters' scans: re-registrations are
under 1%."""
DATED_OUTSIDE_SHARE = 0.5
"""The largest share of a delivery's registrations dated outside its quarter: late registrations are a few %."""
LASTING_EFFECT_QUARTERS = 4
"""A discontinuity with no end date explains changes for this many quarters from its first."""


@dg.asset_check(asset=RAW_SCAN.name, blocking=True, partitions_def=quarterly_partitions, pool="warehouse",
                description=f"Volume against the previous quarter and a year earlier (tolerance "
                            f"{VOLUME_TOLERANCE:.0%} against both, unless a discontinuity explains it).")
def volume_against_history(context: dg.AssetCheckExecutionContext, warehouse: Warehouse,
                           journey: dg.ResourceParam[Journey]) -> dg.AssetCheckResult:
    quarters, parameters = run_quarters(context)
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
                WHERE now.scan_quarter = ANY($labels)
            )
            SELECT changes.scan_quarter, changes.records, changes.against_previous, changes.against_year_before,
                   string_agg(discontinuities.discontinuity_id, ', ') AS explained_by
            FROM changes
            LEFT JOIN {DISCONTINUITIES.qualified_name} AS discontinuities
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
    return recorded_result(
        context, warehouse, journey, quarters, not outside,
        {
            "tolerance": VOLUME_TOLERANCE,
            "outside_tolerance": dg.MetadataValue.json(outside),
            "explained_by_discontinuities": dg.MetadataValue.json(explained),
        },
    )



@dg.asset_check(asset=RAW_SCAN.name, blocking=True, partitions_def=quarterly_partitions, pool="warehouse",
                description=f"The delivery is this quarter's, not another's resent: at most {RESENT_SHARE:.0%} of its "
                            f"records with a NINo already in earlier quarters' scans, at most "
                            f"{DATED_OUTSIDE_SHARE:.0%} of its registrations dated outside its quarter.")
def delivery_is_new(context: dg.AssetCheckExecutionContext, warehouse: Warehouse,
                    journey: dg.ResourceParam[Journey]) -> dg.AssetCheckResult:
    quarters, parameters = run_quarters(context)
    with warehouse.get_connection() as connection:
        rows = connection.execute(
            f"""
            WITH quarter_starts AS (
                -- joined once a quarter, not derived from the label once a record (0.75 s over the series)
                SELECT quarter AS scan_quarter, quarter_start FROM (SELECT unnest($quarter_starts, recursive := true))
            ),
            delivered AS (
                SELECT scan_quarter, records.nino, records.registration_date, quarter_starts.quarter_start
                FROM {RAW_SCAN.qualified_name} AS records
                JOIN quarter_starts USING (scan_quarter)
                WHERE records.scan_quarter = ANY($labels)
            ),
            seen_elsewhere AS (
                SELECT DISTINCT delivered.scan_quarter, delivered.nino
                FROM delivered
                JOIN {RAW_SCAN.qualified_name} AS others
                  ON others.nino = delivered.nino AND others.scan_quarter < delivered.scan_quarter
            )
            SELECT delivered.scan_quarter, count(*) AS records,
                   -- a share of records, not of distinct NINos: the same within a file, without a distinct count
                   count(seen_elsewhere.nino) / count(*) AS resent_share,
                   count(*) FILTER (WHERE delivered.registration_date NOT BETWEEN delivered.quarter_start
                                    AND delivered.quarter_start + INTERVAL 3 MONTH - INTERVAL 1 DAY) / count(*)
                       AS dated_outside_share
            FROM delivered
            LEFT JOIN seen_elsewhere USING (scan_quarter, nino)
            GROUP BY ALL ORDER BY 1
            """,
            {**parameters, "quarter_starts": quarter_starts(quarters)},
        ).fetchall()
    refused = [f"{quarter}: {resent:.0%} of its records have a NINo in earlier quarters' scans, {outside:.0%} of its "
               "registrations are dated outside the quarter"
               for quarter, _records, resent, outside in rows
               if resent > RESENT_SHARE or outside > DATED_OUTSIDE_SHARE]
    return recorded_result(
        context, warehouse, journey, quarters, not refused,
        {
            "largest_share_already_delivered": round(max((row[2] for row in rows), default=0), 4),
            "largest_share_dated_outside_quarter": round(max((row[3] for row in rows), default=0), 4),
            "deliveries_refused": dg.MetadataValue.json(refused),
        },
    )


ingest_checks = [volume_against_history, delivery_is_new]
