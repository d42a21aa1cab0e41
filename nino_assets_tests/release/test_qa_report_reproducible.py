"""The QA report a signatory signs depends on the data alone: two warehouses built apart from the same deliveries
give QA reports with the same bytes, and the disclosure check's recount is chosen by the data, not by chance."""

import hashlib
import shutil

import dagster as dg

from nino_assets.cli import run_main_job
from nino_assets.release.assets import qa_report_path
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import Quarter
from nino_assets.synthetic import generate_series, write_postcode_lookup

QUARTERS = [Quarter(2002, 1), Quarter(2002, 2)]


def test_two_warehouses_of_the_same_deliveries_give_the_same_qa_report(tmp_path):
    homes = [NinoHome(root=str(tmp_path / name)) for name in ("first", "second")]
    for home in homes:
        home.scans.mkdir(parents=True)
    write_postcode_lookup(homes[0].postcode_lookup)
    generate_series(QUARTERS, homes[0].scans, volume_scale=0.02)
    shutil.copytree(homes[0].landing, homes[1].landing, dirs_exist_ok=True)

    reports, recounts = [], []
    for home in homes:
        result = run_main_job(home, dg.DagsterInstance.ephemeral(), QUARTERS)
        assert result.success
        reports.append(qa_report_path(home, QUARTERS[-1]).read_bytes())
        [evaluation] = [check for check in result.get_asset_check_evaluations()
                        if check.check_name == "disclosure_rules"]
        recounts.append(evaluation.metadata["cells_recounted_from_records"].value)
    assert hashlib.sha256(reports[0]).hexdigest() == hashlib.sha256(reports[1]).hexdigest()
    assert recounts[0] == recounts[1] > 0
