"""The README's quick start, walked as a newcomer walks it on a fresh data folder: `nino run` (the whole road from
the scans to the QA report), the sign-off command it prints, `nino publish` (refused before sign-off and before the
release's time), `nino serve` (which creates its API key file on first start) and a query with the PyPI `statxplore`
client. Each command is the installed `nino` in a process of its own, as a shell runs it.

The range is 2002-Q1..2003-Q1 (the year before the release's year is then in the series): a release covers every quarter from 2002-Q1 to its reference quarter, so a short road
must start where the series starts (the gate refuses a release whose earlier quarters are not in the warehouse)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from statxplore.http_session import StatSession
from statxplore.objects import Schema, Table

from nino_assets import cli
from nino_assets.shared.quarters import Quarter
from nino_assets.publication.supplementary_tables import notes
from nino_assets_tests.support.network import free_port
from nino_assets_tests.support.service_client import (
    DATABASE,
    MEASURE,
    QUARTER_FIELD,
    assert_published_tables_match,
    quarter_value,
    rounded,
)

NINO = str(Path(sys.executable).with_name("nino"))
RELEASE = Quarter(2003, 1)
QUARTERS = "2002-Q1..2003-Q1"


def nino(folder: Path, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`nino ARGUMENTS` run in `folder`, on its data folder `folder/data`, as from a shell there."""
    environment = {name: value for name, value in os.environ.items() if name != "DAGSTER_HOME"}
    environment["NINO_HOME"] = str(folder / "data")
    return subprocess.run([NINO, *arguments], cwd=folder, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def public_files(data: Path) -> list[Path]:
    return [path for area in ("public", "service") for path in (data / "outputs" / area).rglob("*") if path.is_file()]


def test_from_a_fresh_folder_to_a_served_release(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"

    # 1. nino run: ends with the QA report's path, its SHA-256 and the exact command that signs it off
    run = nino(tmp_path, "run", "--quarters", QUARTERS)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = Path(re.search(r"Read its QA report: (\S+)", run.stdout).group(1))
    report_sha256 = re.search(r"SHA-256: ([0-9a-f]{64})", run.stdout).group(1)
    assert report == data / "outputs" / "releases" / RELEASE.label / "qa" / "qa_report.md"
    assert hashlib.sha256(report.read_bytes()).hexdigest() == report_sha256
    [sign_off] = [line.strip() for line in run.stdout.splitlines() if " sign-off " in line]
    assert sign_off == (f"{NINO} sign-off --release {RELEASE.label} --signatory NAME --role ROLE "
                        f"--report-sha256 {report_sha256}")
    assert f"{NINO} publish --release {RELEASE.label}" in run.stdout
    assert "from Thu 22 May 2003 09:30 UK time" in run.stdout  # the calendar has the release of every quarter
    assert public_files(data) == []

    # 2. publishing before the sign-off is refused, with the reason
    unsigned = nino(tmp_path, "publish", "--release", RELEASE.label)
    assert unsigned.returncode == 2
    assert f"public_release: ReleaseRefused: {RELEASE.label} is not signed off: no sign-off is recorded" \
        in unsigned.stderr
    assert public_files(data) == []

    # 3. the printed sign-off command, with a name and a role
    words = shlex.split(sign_off)
    words[words.index("NAME")], words[words.index("ROLE")] = "A. Newcomer", "Statistician"
    signed = nino(tmp_path, *words[1:])
    assert signed.returncode == 0, signed.stderr
    assert f"{RELEASE.label} signed off by A. Newcomer (Statistician)" in signed.stdout

    # 4. signed off, but one second before its time (`nino publish` has no option to set the time: the test replaces
    # its clock): refused, and nothing public
    monkeypatch.setenv("NINO_HOME", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster"))
    monkeypatch.setattr(cli, "_now", lambda: datetime.fromisoformat("2003-05-22T09:29:59+01:00"))
    assert cli.main(["publish", "--release", RELEASE.label]) == 2
    assert "is not released until Thu 22 May 2003 09:30 UK time" in capsys.readouterr().err
    assert public_files(data) == []

    # 5. nino publish, now (long after 09:30 on 22 May 2003)
    published = nino(tmp_path, "publish", "--release", RELEASE.label)
    assert published.returncode == 0, published.stderr[-3000:]
    version_1 = data / "outputs" / "public" / "releases" / RELEASE.label / "v1"
    assert f"{RELEASE.label} is public as v1: {version_1}" in published.stdout
    cube = data / "outputs" / "service" / "releases" / RELEASE.label / "v1"
    assert (cube / "finest_cells.parquet").exists()
    # what is public says what DWP says of these statistics, and names only DWP staff for pre-release access
    bulletin = " ".join((version_1 / "bulletin" / "index.html").read_text(encoding="utf-8").split())
    for contradicted in ("not a measure of migration", "counts the arrival", "dependants, are not counted"):
        assert contradicted not in bulletin
    assert "in-flow of adult overseas nationals" in bulletin and "dependants of visa holders" in bulletin
    with (version_1 / "pre_release_access_list.csv").open(newline="", encoding="utf-8") as handle:
        assert {row["organisation"] for row in csv.DictReader(handle)} == {"Department for Work and Pensions"}
    assert "as at the date of registration" not in dict(notes(10))["Note 6"]

    # 6. nino serve: the first start creates the key file (0600) with a new key and says where it is
    keys = data / "service" / "api_keys.txt"
    assert not keys.exists()
    port = free_port()
    log = tmp_path / "serve.log"
    environment = {name: value for name, value in os.environ.items() if name != "DAGSTER_HOME"}
    with log.open("w") as output:
        server = subprocess.Popen([NINO, "serve", "--port", str(port)], cwd=tmp_path, env=environment,
                                  stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/webapi/rest/v1/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base_url}info", timeout=5)
            except urllib.error.HTTPError as refused:  # it answers: 403 without a key
                assert refused.code == 403
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
        assert f"Created the API key file {keys} (mode 0600)" in log.read_text()
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        [key] = [line for line in keys.read_text().splitlines() if line and not line.startswith("#")]
        assert re.fullmatch(r"[0-9a-f]{32}", key)

        # 7. a query with the statxplore client, as the README shows: the base URL is the only change
        session = StatSession(key)
        session.BASE_URL = base_url
        Schema(DATABASE).get(session)
        quarters = [Quarter(2002, number) for number in range(1, 5)] + [RELEASE]
        body = Table.query(session, database=DATABASE, measures=[MEASURE], dimensions=[[QUARTER_FIELD]],
                           recodes={QUARTER_FIELD: {"map": [[quarter_value(quarter)] for quarter in quarters],
                                                    "total": False}})
        served = body["cubes"][MEASURE]["values"]
        with (version_1 / "tables" / "table_1_registrations_by_world_area.csv").open(newline="") as handle:
            table_1 = {row["Quarter"]: int(row["All nationalities"]) for row in csv.DictReader(handle)}
        assert [rounded(value) for value in served] == [table_1[quarter.label] for quarter in quarters]
        assert all(value > 10_000 for value in served)
        # and every cell of every published table is the service's cell rounded
        manifest = json.loads((cube / "manifest.json").read_text(encoding="utf-8"))
        assert all(assert_published_tables_match(base_url, key, version_1 / "tables", manifest, RELEASE).values())
    finally:
        server.terminate()
        server.wait(timeout=30)

    # a second start keeps the key file as it is
    before = keys.read_bytes()
    arguments = cli.argparse.Namespace(home=str(data), api_keys=None, cell_limit=1, rate_limit=1, rate_window=1.0,
                                       max_body_bytes=1)
    monkeypatch.delenv("NINO_SERVICE_API_KEYS", raising=False)
    assert cli.ensure_api_keys(arguments) == keys and keys.read_bytes() == before


def test_a_refused_run_prints_its_reasons(tmp_path):
    """A range that does not start at 2002-Q1, on a fresh folder: the warehouse is built and checked, the release's
    outputs are refused by the gate, and the run prints why (each check not evaluated, on which quarters) and what
    to run instead, not only the names of the failed steps."""
    run = nino(tmp_path, "run", "--quarters", "2002-Q2")
    assert run.returncode == 1
    output = run.stdout
    assert "Failed steps:" in output
    assert "supplementary_tables: PublicationRefused: supplementary_tables refused:" in output
    assert "not evaluated on the data now in the warehouse (2002-Q1)" in output
    assert "run the whole series (`nino run`) or a range from 2002-Q1 (`nino run --quarters 2002-Q1..2002-Q2`)" \
        in output
    assert "Read its QA report" not in output
