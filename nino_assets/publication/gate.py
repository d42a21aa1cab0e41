"""The publication gate: nothing is published unless every blocking check of every asset it draws on has passed on
the data now in the warehouse, for every quarter it publishes.

Dagster's blocking checks stop downstream steps of the same run only; a later run that asks just for publication is
not stopped by them, and a single-run backfill's check evaluation belongs to no one partition. So each check records
its outcome per quarter in `quality.check_outcomes`, and each write of a table's quarters deletes their outcomes in
the same transaction (see `shared.warehouse.void_check_outcomes`; the ledger is `shared.check_outcomes`): data not yet checked has no outcome. The gate reads that
ledger and refuses, naming every check that failed or was not evaluated on the data it would publish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import duckdb
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph  # as the UI draws it (dagster 1.13)

from nino_assets.shared.deliveries import disagreements
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.warehouse import CHECK_OUTCOMES, WHOLE_TABLE, Warehouse, ensure_table

QUARTERS_NAMED = 4
"""A refusal names this many quarters of a check, then says how many more."""


class PublicationRefused(Exception):
    """A publication asset was asked to run while a blocking check upstream has not passed on its data."""


@dataclass(frozen=True)
class GatedCheck:
    asset: str
    check_name: str
    partitioned: bool

    @property
    def label(self) -> str:
        return f"{self.asset} / {self.check_name}"


def blocking_checks_upstream(asset_graph, asset_key: dg.AssetKey) -> list[GatedCheck]:
    """Every blocking check of every asset the given asset draws on, directly or not."""
    checks = []
    for upstream_key in asset_graph.get_ancestor_asset_keys(asset_key):
        node = asset_graph.get(upstream_key)
        for check_key in node.check_keys:
            check_node = asset_graph.get(check_key)
            if check_node.blocking:
                checks.append(GatedCheck(upstream_key.to_user_string(), check_key.name,
                                         partitioned=check_node.partitions_def is not None))
    return sorted(checks, key=lambda check: check.label)


def refusals(connection: duckdb.DuckDBPyConnection, checks: Sequence[GatedCheck], quarters: Sequence[str]) -> list[str]:
    """One line per check that has not passed on every quarter it must have: which, how, and on which quarters."""
    if not checks:
        return []
    ensure_table(connection, CHECK_OUTCOMES)
    rows = connection.execute(
        f"""
        WITH gated AS (
            SELECT unnest($assets) AS asset, unnest($names) AS check_name, unnest($partitioned) AS partitioned
        ),
        required AS (
            SELECT gated.asset, gated.check_name, quarters.quarter
            FROM gated
            JOIN (SELECT unnest($quarters) AS quarter UNION ALL SELECT $whole_table) AS quarters
              ON gated.partitioned = (quarters.quarter <> $whole_table)
        )
        SELECT required.asset, required.check_name,
               CASE WHEN outcomes.passed IS NULL THEN 'not evaluated on the data now in the warehouse'
                    ELSE 'failed' END AS problem,
               list(required.quarter ORDER BY required.quarter) AS quarters
        FROM required
        LEFT JOIN {CHECK_OUTCOMES.qualified_name} AS outcomes USING (asset, check_name, quarter)
        WHERE outcomes.passed IS DISTINCT FROM true
        GROUP BY ALL
        ORDER BY problem, required.asset, required.check_name
        """,
        {"assets": [check.asset for check in checks], "names": [check.check_name for check in checks],
         "partitioned": [check.partitioned for check in checks], "quarters": list(quarters),
         "whole_table": WHOLE_TABLE},
    ).fetchall()
    return [f"{asset} / {check_name}: {problem} ({_name_quarters(failed)})"
            for asset, check_name, problem, failed in rows]


def _name_quarters(labels: list[str]) -> str:
    if labels == [WHOLE_TABLE]:
        return "whole table"
    named = ", ".join(labels[:QUARTERS_NAMED])
    more = len(labels) - QUARTERS_NAMED
    return named + (f" and {more} more quarters" if more > 0 else "")


@dataclass(frozen=True)
class PublicationGate:
    """The blocking checks each asset draws on, from the whole journey's graph (a run that selects publication alone
    holds no upstream checks). Built by the definitions and handed to the publication assets as a resource."""

    checks_by_asset: Mapping[str, tuple[GatedCheck, ...]]
    layers: tuple[str, ...]  # the partitioned layers, which must hold the same delivery of each quarter

    @classmethod
    def of_journey(cls, assets: Sequence, checks: Sequence) -> PublicationGate:
        graph = AssetGraph.from_assets([*assets, *checks])
        layers = tuple(sorted(key.to_user_string() for key in graph.get_all_asset_keys()
                              if graph.get(key).partitions_def is not None))
        return cls({key.to_user_string(): tuple(blocking_checks_upstream(graph, key))
                    for key in graph.get_all_asset_keys()}, layers)

    def enforce(self, context: dg.AssetExecutionContext, warehouse: Warehouse, quarters: Sequence[Quarter]) -> dict:
        """Refuse, naming the checks, unless every blocking check upstream passed on these quarters' data.

        Returns what the gate saw, as metadata for the publication asset."""
        asset = context.asset_key.to_user_string()
        checks = self.checks_by_asset[asset]
        with warehouse.transaction() as connection:
            labels = [quarter.label for quarter in quarters]
            problems = refusals(connection, checks, labels) + disagreements(connection, self.layers, labels)
        if problems:
            raise PublicationRefused(
                f"{asset} refused: {len(problems)} problem(s) with the data it would publish (a blocking check "
                "upstream not passed, or a quarter's layers holding different deliveries):\n  - "
                + "\n  - ".join(problems)
            )
        return {"gate_checks_passed": len(checks), "gate_quarters": len(quarters)}
