"""Which delivery each layer holds: the ledger `quality.layer_deliveries`, one row per layer and quarter, naming the
scan delivery (its SHA-256) the layer's rows of that quarter come from.

The raw layer records the delivery it loaded; each later layer, in the same transaction as its write, records the
delivery of the layer it was built from. A delivery refused by a check is put back whole (`shared.acceptance`), but a
run that stops in a step can leave a quarter's layers holding different deliveries: the ledger makes that visible in
the tables and the UI, and the publication gate refuses to publish a quarter whose layers disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from nino_assets.shared.quarters import Quarter
from nino_assets.shared.warehouse import LAYER_DELIVERIES, ensure_table

SHOWN_DIGITS = 12
"""A delivery is shown in metadata by this many digits of its SHA-256."""


def record_delivery(connection: duckdb.DuckDBPyConnection, layer: str, deliveries: Mapping[str, str]) -> None:
    """The raw layer's quarters (label -> SHA-256 of the file loaded), in the caller's transaction."""
    ensure_table(connection, LAYER_DELIVERIES)
    connection.execute(
        f"INSERT OR REPLACE INTO {LAYER_DELIVERIES.qualified_name} "
        "SELECT $layer, unnest($quarters), unnest($digests)",
        {"layer": layer, "quarters": list(deliveries), "digests": list(deliveries.values())},
    )


def carry_delivery(connection: duckdb.DuckDBPyConnection, layer: str, built_from: str,
                   quarters: Sequence[Quarter]) -> dict[str, str]:
    """Record that `layer`'s quarters hold the delivery `built_from` holds, in the caller's transaction; returns
    quarter -> the delivery's shown digits, for the asset's metadata."""
    ensure_table(connection, LAYER_DELIVERIES)
    labels = [quarter.label for quarter in quarters]
    connection.execute(f"DELETE FROM {LAYER_DELIVERIES.qualified_name} WHERE layer = $layer "
                       "AND quarter = ANY($labels)", {"layer": layer, "labels": labels})
    connection.execute(
        f"INSERT INTO {LAYER_DELIVERIES.qualified_name} "
        f"SELECT $layer, quarter, delivery_sha256 FROM {LAYER_DELIVERIES.qualified_name} "
        "WHERE layer = $built_from AND quarter = ANY($labels)",
        {"layer": layer, "built_from": built_from, "labels": labels},
    )
    rows = connection.execute(
        f"SELECT quarter, left(delivery_sha256, $digits) FROM {LAYER_DELIVERIES.qualified_name} "
        "WHERE layer = $layer AND quarter = ANY($labels) ORDER BY quarter",
        {"layer": layer, "labels": labels, "digits": SHOWN_DIGITS},
    ).fetchall()
    return dict(rows)


def _held(connection: duckdb.DuckDBPyConnection, layers: Sequence[str], quarters: Sequence[str]) -> list:
    """(quarter, whether every layer holds one and the same delivery, which layer holds what) for each quarter."""
    ensure_table(connection, LAYER_DELIVERIES)
    return connection.execute(
        f"""
        WITH expected AS (
            SELECT layer, quarter FROM (SELECT unnest($layers) AS layer), (SELECT unnest($quarters) AS quarter)
        ),
        held AS (
            SELECT expected.quarter, expected.layer, left(deliveries.delivery_sha256, $digits) AS delivery
            FROM expected
            LEFT JOIN {LAYER_DELIVERIES.qualified_name} AS deliveries USING (layer, quarter)
        )
        SELECT quarter, count(DISTINCT delivery) = 1 AND count(delivery) = count(*) AS agree,
               string_agg(layer || ' ' || coalesce(delivery, 'none'), ', ' ORDER BY layer)
        FROM held
        GROUP BY quarter
        ORDER BY quarter
        """,
        {"layers": list(layers), "quarters": list(quarters), "digits": SHOWN_DIGITS},
    ).fetchall()


def disagreements(connection: duckdb.DuckDBPyConnection, layers: Sequence[str], quarters: Sequence[str]) -> list[str]:
    """One line per quarter whose layers do not all hold the same delivery (or one holds none): which holds what."""
    return [f"{quarter}: the layers hold different deliveries ({held})"
            for quarter, agree, held in _held(connection, layers, quarters) if not agree]


def quarters_agreeing(connection: duckdb.DuckDBPyConnection, layers: Sequence[str],
                      quarters: Sequence[str]) -> list[str]:
    """The quarters every one of whose layers holds the same delivery."""
    return [quarter for quarter, agree, _ in _held(connection, layers, quarters) if agree]
