"""A delivery is taken whole or not at all.

A write of a table's quarters first keeps the quarters as last accepted (`warehouse.keep_accepted_state`): their
rows, check outcomes and delivery. The quarter is then *pending*. Each blocking check, as it records its outcome,
judges the pending quarters it evaluated, in the same transaction:

- it failed: the delivery is **refused**. Every table pending for those quarters gets its accepted rows, outcomes and
  delivery back, so the warehouse holds the quarters exactly as before the delivery came (nothing of a first
  delivery), and `quality.refused_deliveries` records which delivery was refused, by which check, and what the
  warehouse kept. The publication gate refuses a quarter whose latest delivery was refused;
- it passed, and the quarter is now whole (every layer of the journey holds the same delivery and every blocking check
  of every layer has passed on it): the delivery is **accepted**, the kept copy is dropped and any earlier refusal of
  the quarter is cleared.

A run that fails in a step rather than a check (or is killed) leaves its quarters pending: the gate refuses them (their
layers disagree or are unchecked), `nino run` restores them when its run fails, and the next delivery's run takes
them whole or restores them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import duckdb

from nino_assets.shared.check_outcomes import GatedCheck, blocking_checks_of, quarters_passed, record_outcomes
from nino_assets.shared.deliveries import SHOWN_DIGITS, quarters_agreeing
from nino_assets.shared.partitions import quarter_range_label
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.tables import QUALITY, Column, Table
from nino_assets.shared.warehouse import (
    ACCEPTED_SUFFIX,
    LAYER_DELIVERIES,
    PENDING_QUARTERS,
    Warehouse,
    ensure_table,
    quarter_state,
)

REFUSED_DELIVERIES = Table(
    schema=QUALITY,
    name="refused_deliveries",
    description="The latest refused delivery of each quarter not delivered whole since: what was refused, by which "
    "blocking check, and the delivery the warehouse kept instead. The publication gate refuses these quarters.",
    columns=(
        Column("quarter", "VARCHAR", "The scan quarter.", nullable=False),
        Column("refused_sha256", "VARCHAR", "SHA-256 of the refused delivery (as the failing layer held it)."),
        Column("refused_by", "VARCHAR", "The failing asset and checks.", nullable=False),
        Column("kept_sha256", "VARCHAR", "SHA-256 of the delivery the warehouse kept; empty for a first delivery."),
        Column("run_id", "VARCHAR", "The Dagster run whose check refused it.", nullable=False),
        Column("refused_at", "TIMESTAMP", "When (UTC).", nullable=False),
    ),
    primary_key=("quarter",),
)


@dataclass(frozen=True)
class Journey:
    """What a delivery must pass to be accepted: the partitioned layers and every blocking check on them."""

    layers: tuple[str, ...]  # in the journey's order: the raw layer first
    checks: tuple[GatedCheck, ...]

    @classmethod
    def of(cls, asset_graph) -> Journey:
        keys = [key for key in asset_graph.toposorted_asset_keys if asset_graph.get(key).partitions_def is not None]
        return cls(tuple(key.to_user_string() for key in keys), tuple(blocking_checks_of(asset_graph, keys)))


def pending(connection: duckdb.DuckDBPyConnection, labels: Sequence[str]) -> list[str]:
    """Which of these quarters are pending: written since their delivery was last accepted."""
    ensure_table(connection, PENDING_QUARTERS)
    return [quarter for (quarter,) in connection.execute(
        f"SELECT DISTINCT quarter FROM {PENDING_QUARTERS.qualified_name} WHERE quarter = ANY($labels) "
        "ORDER BY quarter", {"labels": list(labels)}).fetchall()]


def _deliveries_of(connection: duckdb.DuckDBPyConnection, layer: str, labels: Sequence[str]) -> dict[str, str]:
    return dict(connection.execute(
        f"SELECT quarter, delivery_sha256 FROM {LAYER_DELIVERIES.qualified_name} WHERE layer = $layer "
        "AND quarter = ANY($labels)", {"layer": layer, "labels": list(labels)}).fetchall())


def _pending_tables(connection: duckdb.DuckDBPyConnection, labels: Sequence[str]) -> list[tuple[str, str, list]]:
    return connection.execute(
        f"SELECT table_name, partition_column, list(quarter ORDER BY quarter) FROM {PENDING_QUARTERS.qualified_name} "
        "WHERE quarter = ANY($labels) GROUP BY ALL ORDER BY table_name", {"labels": list(labels)},
    ).fetchall()


def _forget_kept(connection: duckdb.DuckDBPyConnection, labels: Sequence[str], restore: bool) -> None:
    """Drop the kept copies of these pending quarters, after putting them back in place when `restore`."""
    for table_name, partition_column, quarters in _pending_tables(connection, labels):
        for source, condition, parameters in quarter_state(table_name, partition_column, quarters):
            if restore:
                connection.execute(f"DELETE FROM {source} WHERE {condition}", parameters)
                connection.execute(f"INSERT INTO {source} BY NAME FROM {source}{ACCEPTED_SUFFIX} WHERE {condition}",
                                   parameters)
            connection.execute(f"DELETE FROM {source}{ACCEPTED_SUFFIX} WHERE {condition}", parameters)
    connection.execute(f"DELETE FROM {PENDING_QUARTERS.qualified_name} WHERE quarter = ANY($labels)",
                       {"labels": list(labels)})


def refuse(connection: duckdb.DuckDBPyConnection, layer: str, labels: Sequence[str], refused_by: str,
           run_id: str) -> dict[str, dict[str, str]]:
    """Put these pending quarters back as last accepted and record the refusal, naming the deliveries `layer` held
    before and after; quarter -> refused and kept deliveries (shown digits), for the check's metadata."""
    labels = pending(connection, labels)
    if not labels:
        return {}
    refused = _deliveries_of(connection, layer, labels)
    _forget_kept(connection, labels, restore=True)
    kept = _deliveries_of(connection, layer, labels)
    ensure_table(connection, REFUSED_DELIVERIES)
    connection.execute(
        f"INSERT OR REPLACE INTO {REFUSED_DELIVERIES.qualified_name} BY NAME "
        "SELECT unnest($labels) AS quarter, unnest($refused) AS refused_sha256, $refused_by AS refused_by, "
        "unnest($kept) AS kept_sha256, $run_id AS run_id, now() AT TIME ZONE 'UTC' AS refused_at",
        {"labels": labels, "refused": [refused.get(label) for label in labels], "refused_by": refused_by,
         "kept": [kept.get(label) for label in labels], "run_id": run_id},
    )
    return {label: {"refused": (refused.get(label) or "none")[:SHOWN_DIGITS],
                    "kept": kept[label][:SHOWN_DIGITS] if label in kept else "nothing (a first delivery)"}
            for label in labels}


def accept_whole(connection: duckdb.DuckDBPyConnection, journey: Journey, labels: Sequence[str]) -> list[str]:
    """Accept the pending quarters among these that are now whole; which were accepted."""
    candidates = pending(connection, labels)
    whole = set(quarters_agreeing(connection, journey.layers, candidates)) & set(
        quarters_passed(connection, journey.checks, candidates))
    accepted = [label for label in candidates if label in whole]
    if accepted:
        _forget_kept(connection, accepted, restore=False)
        ensure_table(connection, REFUSED_DELIVERIES)
        connection.execute(f"DELETE FROM {REFUSED_DELIVERIES.qualified_name} WHERE quarter = ANY($labels)",
                           {"labels": accepted})
    return accepted


def restore_pending(warehouse: Warehouse, journey: Journey, quarters: Sequence[Quarter], refused_by: str,
                    run_id: str) -> dict[str, dict[str, str]]:
    """A run that failed outside a check: its pending quarters put back as last accepted, the refusal recorded."""
    with warehouse.transaction() as connection:
        return refuse(connection, journey.layers[0], [quarter.label for quarter in quarters], refused_by, run_id)


def _refused_in(connection: duckdb.DuckDBPyConnection, run_id: str, labels: Sequence[str]) -> list[str]:
    ensure_table(connection, REFUSED_DELIVERIES)
    return [quarter for (quarter,) in connection.execute(
        f"SELECT quarter FROM {REFUSED_DELIVERIES.qualified_name} WHERE run_id = $run_id "
        "AND quarter = ANY($labels)", {"run_id": run_id, "labels": list(labels)}).fetchall()]


def refused_quarters(connection: duckdb.DuckDBPyConnection, labels: Sequence[str]) -> list[str]:
    """One line per quarter whose latest delivery was refused and none delivered whole since, for the gate."""
    ensure_table(connection, REFUSED_DELIVERIES)
    rows = connection.execute(
        f"SELECT quarter, left(refused_sha256, $digits), refused_by, left(kept_sha256, $digits), run_id, "
        f"strftime(refused_at, '%Y-%m-%d %H:%M') FROM {REFUSED_DELIVERIES.qualified_name} "
        "WHERE quarter = ANY($labels) ORDER BY quarter",
        {"labels": list(labels), "digits": SHOWN_DIGITS},
    ).fetchall()
    return [f"{quarter}: its delivery {refused or 'none'} was refused by {refused_by} (run {run_id[:8]}, "
            f"{at} UTC); the warehouse keeps "
            + (f"the delivery last accepted, {kept}" if kept else "nothing of the quarter")
            + ": deliver the quarter again"
            for quarter, refused, refused_by, kept, run_id, at in rows]


def record_and_judge(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, journey: Journey, asset: str,
                     passed_by_check: Mapping[str, bool], quarters: Sequence[Quarter],
                     observed_by_check: Mapping[str, dict] | None = None) -> dict[str, object]:
    """Record the checks' outcomes and, in the same transaction, refuse or accept the pending quarters they
    evaluated; what was decided, as metadata for the checks' results."""
    failed = sorted(name for name, passed in passed_by_check.items() if not passed)
    with warehouse.transaction() as connection:
        # a quarter this run has refused holds its accepted data and outcomes again: a check evaluating it after the
        # refusal judges data it was not asked to, and leaves the outcomes as they were
        refused_here = set(_refused_in(connection, context.run.run_id, [quarter.label for quarter in quarters]))
        quarters = [quarter for quarter in quarters if quarter.label not in refused_here]
        if not quarters and refused_here:
            return {"not_recorded": "the run refused these quarters' delivery: they hold their accepted data"}
        record_outcomes(connection, context.run.run_id, asset, passed_by_check, quarters, observed_by_check)
        labels = [quarter.label for quarter in quarters]
        if not labels:
            return {}
        if failed:
            refused = refuse(connection, asset, labels, f"{asset} / {', '.join(failed)}", context.run.run_id)
            return {"delivery_refused": dg.MetadataValue.json(refused)} if refused else {}
        accepted = accept_whole(connection, journey, labels)
    return {"delivery_accepted": quarter_range_label([Quarter.from_label(label) for label in accepted])} \
        if accepted else {}


def recorded_result(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, journey: Journey, quarters,
                    passed: bool, metadata: dict) -> dg.AssetCheckResult:
    """A check's result, with its outcome recorded for the publication gate and the delivery judged."""
    [check_key] = [spec.key for spec in context.check_specs]
    observed = {key: value.data if isinstance(value, dg.JsonMetadataValue) else value
                for key, value in metadata.items()}
    decided = record_and_judge(context, warehouse, journey, check_key.asset_key.to_user_string(),
                               {check_key.name: passed}, quarters, {check_key.name: observed})
    return dg.AssetCheckResult(passed=passed,
                               metadata={"quarters": quarter_range_label(quarters), **metadata, **decided})

