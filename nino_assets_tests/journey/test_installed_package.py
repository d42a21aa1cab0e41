"""The package installed as a user installs it (a wheel, not editable, into a fresh virtual environment) runs the
main job on two quarters from outside the checkout: its SQL, suites and reference data travel inside it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from nino_assets.publication.supplementary_tables import LAYOUTS

ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_installed_in_a_fresh_environment_runs_two_quarters(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels),
                    str(ROOT)], check=True, capture_output=True)
    [wheel] = wheels.glob("nino_stats-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # the dependencies come from the test environment (one line of a .pth file: its folder only, so not the
    # checkout's editable finder); nino-stats itself only from the wheel
    [site_packages] = (venv / "lib").glob("python*/site-packages")
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)],
                   check=True, capture_output=True)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    environment = {**os.environ, "NINO_HOME": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "dagster"),
                   "PYTHONPATH": ""}
    (tmp_path / "dagster").mkdir()
    located = subprocess.run([str(venv / "bin" / "python"), "-c", "import nino_assets; print(nino_assets.__file__)"],
                             cwd=outside, env=environment, capture_output=True, text=True, check=True).stdout
    assert Path(located).is_relative_to(site_packages)

    run = subprocess.run([str(venv / "bin" / "nino"), "run", "--quarters", "2002-Q1..2002-Q2"], cwd=outside,
                         env=environment, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "The run succeeded" in run.stdout
    tables = tmp_path / "data" / "outputs" / "releases" / "2002-Q2" / "tables"
    assert len(list(tables.glob("table_*.csv"))) == len(LAYOUTS)
    assert (tmp_path / "data" / "outputs" / "releases" / "2002-Q2" / "bulletin" / "index.html").is_file()
