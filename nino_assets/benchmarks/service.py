"""The query service under load: p50 and p95 latency of a mix of tables from about 100 to 100,000 cells over a
released cube, with concurrent readers, through HTTP on loopback as a Stat-Xplore client sees it.

Usage: python -m nino_assets.benchmarks.service --cube FOLDER [--readers 1,2,4] [--rounds 10]
FOLDER is a release's service folder (`outputs/releases/<Q>/service/`, as `published_cube` writes it); it is served
read-only, as if released, by the service in a process of its own. After one request of each table (timed apart:
the first table at a coarser grain builds that grain's cells), each reader sends every table of the mix once a
round, in its own shuffled order; a latency is from sending the request to the last byte of the response.
Target: p95 under 1 s for every table.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.released_files import CUBE_MANIFEST
from nino_assets.shared.quarters import Quarter
from nino_assets.service.schema import DATABASE_ID, MEASURE_ID, Schema, build_schema
from nino_assets.service.server import serving_in_process

KEY = "benchmark"
TARGET_P95_SECONDS = 1.0


def _values(schema: Schema, dimension: str, valueset: int = 0) -> list[str]:
    field = schema.field_by_dimension(dimension)
    return [value.id for value in list(field.valuesets.values())[valueset]]


def table_mix(schema: Schema) -> dict[str, dict]:
    """The tables timed, by name: the shapes users ask for, from a series to the largest the benchmark covers."""
    quarter, nationality, age, sex, geography = (schema.field_by_dimension(name).id
                                                 for name in ("quarter", "nationality", "age", "sex", "geography"))
    quarters = _values(schema, "quarter")
    years = [quarters[start:start + 4] for start in range(len(quarters) % 4, len(quarters), 4)]

    def recode(values, total=True):
        return {"map": [value if isinstance(value, list) else [value] for value in values], "total": total}

    def body(dimensions, recodes):
        return {"database": DATABASE_ID, "measures": [MEASURE_ID], "recodes": recodes,
                "dimensions": [[dimension] for dimension in dimensions]}

    latest_year = recode([quarters[-4:]], total=False)
    return {
        "quarterly series": body([quarter], {}),
        "years x world area x sex": body([quarter, nationality, sex], {
            quarter: recode(years, total=False), nationality: recode(_values(schema, "nationality", 2)),
            sex: recode(_values(schema, "sex"))}),
        "local authority x world area, latest year": body([geography, nationality, quarter], {
            quarter: latest_year, geography: recode(_values(schema, "geography")),
            nationality: recode(_values(schema, "nationality", 2))}),
        "nationality x age x sex, latest quarter": body([nationality, age, sex, quarter], {
            quarter: recode([quarters[-1]], total=False), nationality: recode(_values(schema, "nationality")),
            age: recode(_values(schema, "age")), sex: recode(_values(schema, "sex"))}),
        "local authority x age x sex, last 4 quarters": body([quarter, geography, age, sex], {
            quarter: recode(quarters[-4:], total=False), geography: recode(_values(schema, "geography")),
            age: recode(_values(schema, "age")), sex: recode(_values(schema, "sex"))}),
        "local authority x world area x age x sex, latest year": body([geography, nationality, age, sex, quarter], {
            quarter: latest_year, geography: recode(_values(schema, "geography")),
            nationality: recode(_values(schema, "nationality", 2)), age: recode(_values(schema, "age")),
            sex: recode(_values(schema, "sex"))}),
        "nationality x region x quarter, 31 quarters": body([nationality, geography, quarter], {
            quarter: recode(quarters[-31:], total=False), nationality: recode(_values(schema, "nationality"), False),
            geography: recode(_values(schema, "geography", 1), total=False)}),
    }


def _reader(url: str, mix: dict[str, dict], rounds: int, seed: int, latencies: dict[str, list[float]],
            cells: dict[str, int], lock: threading.Lock) -> None:
    session = requests.Session()
    session.headers["APIKey"] = KEY
    order = random.Random(seed)
    for _ in range(rounds):
        names = list(mix)
        order.shuffle(names)
        for name in names:
            started = time.perf_counter()
            response = session.post(f"{url}table", json=mix[name])
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            with lock:
                latencies[name].append(elapsed)
                if name not in cells:
                    cells[name] = int(np.prod([len(field["items"]) for field in response.json()["fields"]]))


def measure(url: str, mix: dict[str, dict], readers: int, rounds: int) -> tuple[dict, dict, float]:
    latencies: dict[str, list[float]] = {name: [] for name in mix}
    cells: dict[str, int] = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=_reader, args=(url, mix, rounds, seed, latencies, cells, lock))
               for seed in range(readers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, cells, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cube", required=True, type=Path, help="a release's service folder")
    parser.add_argument("--readers", default="1,2,4", help="concurrent readers to measure, comma-separated")
    parser.add_argument("--rounds", type=int, default=10, help="times each reader sends each table")
    arguments = parser.parse_args(argv)
    cube = arguments.cube.resolve()
    manifest = json.loads((cube / CUBE_MANIFEST).read_text(encoding="utf-8"))
    reference = Quarter.from_label(manifest["release"])
    mix = table_mix(build_schema(manifest, reference))
    with tempfile.TemporaryDirectory() as scratch:
        home = NinoHome(root=scratch)
        service_root = home.service
        (service_root / reference.label).mkdir(parents=True)
        (service_root / reference.label / "v1").symlink_to(cube, target_is_directory=True)  # released as it is
        keys = Path(scratch) / "keys.txt"
        keys.write_text(KEY + "\n", encoding="utf-8")
        started = time.perf_counter()
        with serving_in_process(home.root_path, keys, "--rate-limit", str(10**9)) as url:
            requests.get(f"{url}schema", headers={"APIKey": KEY}).raise_for_status()  # loads the cube
            print(f"Cube {cube} ({manifest['rows']:,} finest cells, release {reference.label}) served in "
                  f"{time.perf_counter() - started:.1f} s from start\n")
            # each table once first: the first table at a coarser grain builds that grain's cells, once
            print("First request of each table (builds the grains it reads):")
            for name, body in mix.items():
                started = time.perf_counter()
                requests.post(f"{url}table", json=body, headers={"APIKey": KEY}).raise_for_status()
                print(f"  {name:<56} {(time.perf_counter() - started) * 1000:>8.0f} ms")
            print()
            header = f"{'table':<56} {'cells':>8} {'readers':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
            print(header + "\n" + "-" * len(header))
            worst = 0.0
            for readers in (int(text) for text in arguments.readers.split(",")):
                latencies, cells, wall = measure(url, mix, readers, arguments.rounds)
                for name in mix:
                    p50, p95 = np.percentile(latencies[name], [50, 95])
                    worst = max(worst, p95)
                    print(f"{name:<56} {cells[name]:>8,} {readers:>7} {p50 * 1000:>8.0f} {p95 * 1000:>8.0f} "
                          f"{max(latencies[name]) * 1000:>8.0f}")
                every = [value for values in latencies.values() for value in values]
                print(f"{'all tables':<56} {'':>8} {readers:>7} {np.percentile(every, 50) * 1000:>8.0f} "
                      f"{np.percentile(every, 95) * 1000:>8.0f} {max(every) * 1000:>8.0f}   "
                      f"({len(every) / wall:.1f} tables/s)\n")
    verdict = "met" if worst < TARGET_P95_SECONDS else "NOT met"
    print(f"Target p95 < {TARGET_P95_SECONDS:.0f} s for every table: {verdict} (worst p95 {worst * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
