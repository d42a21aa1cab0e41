"""Quarterly partitions of the series, from 2002-Q1 to the latest complete quarter."""

from __future__ import annotations

import warnings

import dagster as dg

from nino_assets.shared.quarters import SERIES_START, Quarter

# A partition exists once its quarter has ended: the time window closes at 00:00 on the quarter's last day + 1.
quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    start=SERIES_START.isoformat(),
    cron_schedule="0 0 1 */3 *",
    fmt="%Y-%m-%d",
    timezone="Europe/London",
)

# Backfills to 2002 are routine: every partitioned asset takes a whole range of quarters in one run. The policy is
# marked beta on `@asset`; it is the design, so the warning each asset would repeat is said once here instead.
single_run_backfill = dg.BackfillPolicy.single_run()
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message="Parameter `allow_nonexistent_upstream_partitions`", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message="Parameter `partitions_def`", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning)


def quarters_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[Quarter]:
    """The quarters a run materialises, oldest first."""
    return sorted(Quarter.from_partition_key(key) for key in context.partition_keys)


def quarter_range_label(quarters: list[Quarter]) -> str:
    """How a run's quarters read in metadata: "2002-Q1" or "2002-Q1 .. 2026-Q3"."""
    if len(quarters) == 1:
        return quarters[0].label
    return f"{quarters[0].label} .. {quarters[-1].label}"
