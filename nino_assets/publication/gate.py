"""The publication gate: nothing is published unless every blocking check of every asset it draws on has passed on
the data now in the warehouse, for every quarter it publishes.

Dagster's blocking checks stop downstream steps of the same run only; a later run that asks just for publication is
not stopped by them, and a single-run backfill's check evaluation belongs to no one partition. So each check records
its outcome per quarter in `quality.check_outcomes`, and each write of a table's quarters deletes their outcomes in
the same transaction (see `shared.warehouse.void_check_outcomes`; the ledger is `shared.check_outcomes`): data not yet checked has no outcome. The gate reads that
ledger and refuses, naming every check that failed or was not evaluated on the data it would publish, every quarter
whose latest delivery was refused (`shared.acceptance`), and every quarter whose layers hold different deliveries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph  # as the UI draws it (dagster 1.13)

from nino_assets.shared.acceptance import Journey, refused_quarters
from nino_assets.shared.check_outcomes import GatedCheck, blocking_checks_upstream, refusals
from nino_assets.shared.deliveries import disagreements
from nino_assets.shared.quarters import Quarter
from nino_assets.shared.warehouse import Warehouse


class PublicationRefused(Exception):
    """A publication asset was asked to run while a blocking check upstream has not passed on its data."""


@dataclass(frozen=True)
class PublicationGate:
    """The blocking checks each asset draws on, from the whole journey's graph (a run that selects publication alone
    holds no upstream checks). Built by the definitions and handed to the publication assets as a resource."""

    checks_by_asset: Mapping[str, tuple[GatedCheck, ...]]
    journey: Journey  # the partitioned layers, which must hold the same delivery of each quarter, and their checks

    @classmethod
    def of_journey(cls, assets: Sequence, checks: Sequence) -> PublicationGate:
        graph = AssetGraph.from_assets([*assets, *checks])
        return cls({key.to_user_string(): tuple(blocking_checks_upstream(graph, key))
                    for key in graph.get_all_asset_keys()}, Journey.of(graph))

    def enforce(self, context: dg.AssetExecutionContext, warehouse: Warehouse, quarters: Sequence[Quarter]) -> dict:
        """Refuse, naming the checks, unless every blocking check upstream passed on these quarters' data.

        Returns what the gate saw, as metadata for the publication asset."""
        asset = context.asset_key.to_user_string()
        checks = self.checks_by_asset[asset]
        with warehouse.transaction() as connection:
            labels = [quarter.label for quarter in quarters]
            problems = (refused_quarters(connection, labels) + refusals(connection, checks, labels)
                        + disagreements(connection, self.journey.layers, labels))
        if problems:
            raise PublicationRefused(
                f"{asset} refused: {len(problems)} problem(s) with the data it would publish (a delivery refused, a "
                "blocking check upstream not passed, or a quarter's layers holding different deliveries):\n  - "
                + "\n  - ".join(problems)
            )
        return {"gate_checks_passed": len(checks), "gate_quarters": len(quarters)}
