"""Crashes an operator meets: a real `nino run` killed with SIGKILL in the middle of its run, then run again; two
`nino run` started together on a new data folder: the second waits for the first."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from nino_assets.publication.supplementary_tables import LAYOUTS

NINO = str(Path(sys.executable).with_name("nino"))
QUARTERS = "2002-Q1..2002-Q2"


def _environment(home: Path) -> dict[str, str]:
    return {**os.environ, "NINO_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}


def _tables(home: Path) -> dict[str, bytes]:
    folder = home / "outputs" / "releases" / "2002-Q2" / "tables"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.csv"))}


def test_a_run_killed_mid_way_leaves_no_wedge_and_the_next_run_gets_the_same_tables(tmp_path):
    killed, uninterrupted = tmp_path / "killed", tmp_path / "uninterrupted"
    subprocess.run([NINO, "generate", "--quarters", QUARTERS], env=_environment(killed), check=True,
                   capture_output=True)
    shutil.copytree(killed / "landing", uninterrupted / "landing")

    log = (tmp_path / "killed_run.log").open("w")
    process = subprocess.Popen([NINO, "run", "--quarters", QUARTERS], env=_environment(killed), stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    instance = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (killed / "dagster" / "storage").exists():
            instance = instance or dg.DagsterInstance.from_config(str(killed / "dagster"))
            if instance.event_log_storage.get_concurrency_run_ids():
                break  # a step holds the warehouse pool's slot
        time.sleep(0.2)
    delay = random.Random(os.getpid()).uniform(0, 3)  # then a random moment of the run
    time.sleep(delay)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    log.close()
    held = dg.DagsterInstance.from_config(str(killed / "dagster")).event_log_storage.get_concurrency_run_ids()

    again = subprocess.run([NINO, "run", "--quarters", QUARTERS], env=_environment(killed), capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "The run succeeded" in again.stdout
    assert "blocked by limit" not in again.stdout + again.stderr
    print(f"killed {delay:.1f} s after a step took the slot; slots held by: {sorted(held)}")
    for run_id in held:  # the dead run's slot, given back before the new run asked for it
        assert f"Freed the warehouse pool's slot held by run {run_id}, whose process is gone." in again.stdout

    instance = dg.DagsterInstance.from_config(str(killed / "dagster"))
    statuses = {run.run_id: run.status for run in instance.get_runs()}
    assert dg.DagsterRunStatus.STARTED not in statuses.values()  # the killed run is failed, not left running
    assert not instance.event_log_storage.get_concurrency_run_ids()

    subprocess.run([NINO, "run", "--quarters", QUARTERS], env=_environment(uninterrupted), check=True,
                   capture_output=True, timeout=900)
    assert _tables(killed) == _tables(uninterrupted) and len(_tables(killed)) == len(LAYOUTS), (
        f"killed after {delay:.1f} s")


def test_two_runs_started_together_on_a_new_data_folder_run_one_after_the_other(tmp_path):
    home = tmp_path / "data"
    subprocess.run([NINO, "generate", "--quarters", "2002-Q1"], env=_environment(home), check=True,
                   capture_output=True)
    shutil.rmtree(home / "dagster")  # a new instance: both starts must create it
    runs = [subprocess.Popen([NINO, "run", "--quarters", "2002-Q1"], env=_environment(home), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=900) for run in runs]
    for run, (stdout, stderr) in zip(runs, outputs):
        assert "Traceback" not in stderr and "IntegrityError" not in stderr, stderr[-3000:]
        assert run.returncode == 0, stdout[-2000:] + stderr[-2000:]
    waited = [run for run, other, (stdout, _) in zip(runs, runs[::-1], outputs)
              if f"Waiting for the nino run of process {other.pid} on this data folder" in stdout]
    assert len(waited) == 1, [stdout[:500] for stdout, _ in outputs]  # one ran, the other waited for it
