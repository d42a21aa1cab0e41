"""Times the generation of the whole series, 2002-Q1 to the latest complete quarter, into a temporary folder."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from nino_assets import scan_format
from nino_assets.quarters import series_quarters
from nino_assets.synthetic.generator import generate_series


def main() -> None:
    quarters = series_quarters(date.today())
    with tempfile.TemporaryDirectory(prefix="nino-benchmark-") as folder:
        started = time.perf_counter()
        written = generate_series(quarters, Path(folder), skip_existing=False)
        seconds = time.perf_counter() - started
        records = sum(_declared_records(path) for path in written)
    print(f"quarters {len(written)} ({quarters[0]} to {quarters[-1]})")
    print(f"records {records:,}")
    print(f"seconds {seconds:.1f}")
    print(f"records/s {records / seconds:,.0f}")


def _declared_records(path: Path) -> int:
    with path.open("rb") as scan:
        scan.seek(-64, 2)
        last_line = scan.read().decode("utf-8").rstrip("\n").rsplit("\n", 1)[-1]
    return scan_format.parse_trailer(last_line, 0)


if __name__ == "__main__":
    main()
