"""This project's cell key engine (DuckDB SQL) against the ONS `cell-key-perturbation` package (pandas): the same
tables perturbed from the same records, with the same record keys in [0, 256) and the package's 10/5 ptable.

Usage: python -m nino_assets.benchmarks.cell_key [--warehouse PATH]
Each engine runs in its own process, so that its time and peak memory are its own. Records: a 1,000,000-record
sample and the whole series' geocoded registrations (built by `nino run` when no warehouse is given).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from nino_assets.cell_key.ptable import load_ons_ptable

ONS_PTABLE = Path(sys.prefix) / "ptable_10_5_rule.csv"
KEY_RANGE = 256
THRESHOLD = 10
# (geography column, other tabulated columns), as the ONS package takes them. The records carry the published
# cube's integer member ids (stat.cube_dimensions), the form both engines are given.
TABLES = [
    ("region", ["quarter", "world_area", "sex"]),
    ("local_authority", ["quarter", "world_area"]),
    ("country", ["quarter", "age_band", "sex"]),
    ("region", ["quarter", "nationality"]),
]
SIZES = {"1M": 1_000_000, "full": None}
REPEATS = 3  # each engine's best of three, the usual way to time a computation on a shared machine


def _records_sql(size: int | None) -> str:
    sample = f" USING SAMPLE {size} ROWS (reservoir, 42)" if size else ""
    return f"""
        -- sampled before the join, so that each engine's process draws the same sample
        WITH sampled AS (SELECT * FROM stat.registrations{sample}),
        records AS (SELECT * FROM sampled JOIN stat.geocoded_registrations USING (scan_quarter, line_number)),
        members AS (SELECT * FROM stat.cube_dimensions)
        SELECT
            CAST(4 * year(records.registration_date) + quarter(records.registration_date) AS SMALLINT) AS quarter,
            CAST(nationality.member_id AS SMALLINT) AS nationality,
            CAST(subgroup.parent_member_id AS SMALLINT) AS world_area,
            CAST(band.member_id AS SMALLINT) AS age_band,
            CAST(sex.member_id AS SMALLINT) AS sex,
            CAST(local_authority.member_id AS SMALLINT) AS local_authority,
            CAST(local_authority.parent_member_id AS SMALLINT) AS region,
            CAST(region.parent_member_id AS SMALLINT) AS country,
            CAST(records.record_key % {KEY_RANGE} AS SMALLINT) AS record_key
        FROM records
        JOIN members AS nationality ON nationality.level = 'country' AND nationality.code = records.nationality
        JOIN members AS subgroup ON subgroup.member_id = nationality.parent_member_id
        JOIN members AS band ON band.level = 'band' AND band.code = records.age_band
        JOIN members AS sex ON sex.level = 'sex' AND sex.code = records.sex
        JOIN members AS local_authority
            ON local_authority.level = 'local_authority' AND local_authority.code = records.lad_code
        JOIN members AS region ON region.member_id = local_authority.parent_member_id
    """


def run_ons(warehouse: str, size: int | None) -> dict:
    import pandas as pd
    from cell_key_perturbation.create_perturbed_table import create_perturbed_table

    with duckdb.connect(warehouse, read_only=True) as connection:
        records = connection.sql(_records_sql(size)).df()
    ptable = pd.read_csv(ONS_PTABLE)
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        tables = [
            create_perturbed_table(records, ptable, [geography], others, "record_key",
                                   use_existing_ons_id=False, threshold=THRESHOLD)
            for geography, others in TABLES
        ]
        timings.append(time.perf_counter() - started)
    seconds = min(timings)
    results = {}
    for number, ((geography, others), table) in enumerate(zip(TABLES, tables)):
        table = table[table["pre_sdc_count"] > 0]
        results[number] = sorted(
            [*map(str, key), None if pd.isna(count) else int(count)]
            for *key, count in table[[geography, *others, "count"]].itertuples(index=False)
        )
    return {"records": len(records), "seconds": seconds, "tables": results}


def _perturb_tables(connection: duckdb.DuckDBPyConnection, ptable) -> None:
    """Each table: cells (count, cell key) grouped from the records, then the ptable's noise by (pcv, ckey)."""
    for number, (geography, others) in enumerate(TABLES):
        dimensions = ", ".join([geography, *others])
        connection.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE perturbed_{number} AS
            WITH cells AS (
                SELECT {dimensions}, count(*) AS cell_value,
                       CAST(sum(record_key) % {KEY_RANGE} AS INTEGER) AS ckey
                FROM records GROUP BY ALL
            ),
            keyed AS (SELECT *, {ptable.pcv_sql("cell_value")} AS pcv FROM cells)
            SELECT {dimensions}, cell_value + pvalue AS perturbed
            FROM keyed JOIN ons_ptable USING (pcv, ckey)
            """
        )


def run_duckdb(warehouse: str, size: int | None) -> dict:
    with duckdb.connect(warehouse, read_only=True, config={"preserve_insertion_order": False}) as connection:
        # Member ids of one level are contiguous, so a table's keys span few bits: up to 16 bits, DuckDB groups
        # into a perfect hash table (an array) instead of a hash map, which is half again as fast here.
        connection.execute("SET perfect_ht_threshold = 16")
        connection.execute(f"CREATE TEMP TABLE records AS {_records_sql(size)}")
        ptable = load_ons_ptable(ONS_PTABLE)  # the engine's own loader and pcv rule, as an external ptable
        connection.register("ptable_lookup", ptable.lookup_frame())
        connection.execute("CREATE TEMP TABLE ons_ptable AS SELECT * FROM ptable_lookup")
        records = connection.execute("SELECT count(*) FROM records").fetchone()[0]
        timings = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            _perturb_tables(connection, ptable)
            timings.append(time.perf_counter() - started)
        seconds = min(timings)
        results = {
            number: sorted(
                [*map(str, row[:-1]), row[-1] if row[-1] >= THRESHOLD else None]
                for row in connection.execute(f"SELECT * FROM perturbed_{number}").fetchall()
            )
            for number in range(len(TABLES))
        }
    return {"records": records, "seconds": seconds, "tables": results}


def _child(engine: str, warehouse: str, size_name: str) -> None:
    outcome = (run_ons if engine == "ons" else run_duckdb)(warehouse, SIZES[size_name])
    outcome["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(outcome))


def _measure(engine: str, warehouse: str, size_name: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "nino_assets.benchmarks.cell_key", "--child", engine, warehouse, size_name],
        check=True, capture_output=True, text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _build_warehouse(folder: Path) -> str:
    """The whole series through `nino run`'s main job, in `folder`."""
    import os

    environment = {**os.environ, "NINO_HOME": str(folder)}
    subprocess.run([sys.executable, "-m", "nino_assets.cli", "run"], check=True, env=environment)
    return str(folder / "warehouse" / "nino.duckdb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", help="a warehouse holding the full series (default: build one)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        _child(*arguments.child)
        return
    if arguments.warehouse:
        warehouse = arguments.warehouse
    else:
        import tempfile

        warehouse = _build_warehouse(Path(tempfile.mkdtemp(prefix="nino-ckm-benchmark-")))
    print(f"{len(TABLES)} tables, record keys in [0, {KEY_RANGE}), ONS 10/5 ptable, threshold {THRESHOLD}\n")
    print(f"{'records':>12} {'engine':<28} {'seconds':>8} {'peak MiB':>9} {'speed-up':>9} identical")
    for size_name in SIZES:
        ons = _measure("ons", warehouse, size_name)
        ours = _measure("duckdb", warehouse, size_name)
        identical = ons["tables"] == ours["tables"]
        print(f"{ons['records']:>12,} {'ONS cell-key-perturbation':<28} {ons['seconds']:8.2f} {ons['peak_mib']:9,.0f}")
        print(f"{ours['records']:>12,} {'nino-stats (DuckDB SQL)':<28} {ours['seconds']:8.2f} "
              f"{ours['peak_mib']:9,.0f} {ons['seconds'] / ours['seconds']:8.1f}x {'yes' if identical else 'NO'}")


if __name__ == "__main__":
    main()
