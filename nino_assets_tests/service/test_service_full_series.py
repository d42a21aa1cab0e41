"""The query service over the whole synthetic series: the release's own cube, served as released, answers every
numeric cell of the release's published tables (CSVs of tables 1-5, years of four quarters included) with a value
that rounds to the published one."""

import json

import pytest

from nino_assets.service.app import ServiceSettings
from nino_assets_tests.support.service_client import assert_published_tables_match, serving_in_thread

pytestmark = pytest.mark.full_series


def test_each_published_table_cell_is_the_service_cell_rounded(full_series, tmp_path):
    reference = full_series.quarters[-1]
    release = full_series.home.working_release(reference.label)
    service_root = tmp_path / "releases"
    (service_root / reference.label).mkdir(parents=True)
    (service_root / reference.label / "v1").symlink_to(release / "service", target_is_directory=True)
    keys = tmp_path / "keys.txt"
    keys.write_text("full-series\n", encoding="utf-8")
    manifest = json.loads((release / "service" / "manifest.json").read_text())
    with serving_in_thread(ServiceSettings(service_root=service_root, api_keys_file=keys)) as url:
        compared = assert_published_tables_match(url, "full-series", release / "tables", manifest, reference)
    # every cell but the [x]: every quarter of table 1 (by all nationalities, 5 world areas, 14 subgroups and the
    # non-EU total), both years of every nationality and region, every local authority by world area, every age band
    # by sex each year, every world area and the non-EU total each year
    geography, nationality = manifest["dimensions"]["geography"], manifest["dimensions"]["nationality"]
    years_of_table_5 = len([quarter for quarter in full_series.quarters[3:] if quarter.number == reference.number])
    assert compared == {"Table_1": len(full_series.quarters) * 21, "Table_2": len(nationality["country"]) * 2,
                        "Table_3": len(geography["region"]) * 2, "Table_4": len(geography["local_authority"]) * 6,
                        "Table_5": years_of_table_5 * 12 * 3, "Table_6": years_of_table_5 * 7}
