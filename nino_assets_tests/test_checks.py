"""The expectation suites as blocking asset checks: a rule broken on purpose fails its check, blocks what is
downstream in the same run, and shows only aggregates."""

import json

import dagster as dg
import pytest

from nino_assets import warehouse
from nino_assets.definitions import ALL_ASSETS, ALL_CHECKS, resources
from nino_assets.expectations import load_suites, safe_observations
from nino_assets.quarters import Quarter
from nino_assets_tests.conftest import range_tags
from nino_assets_tests.pipeline_world import Record, write_world

Q1 = Quarter(2002, 1)
ADULTS = [Record(nino=f"AB{number:06d}C") for number in range(30)]
CHILD = Record(nino="CE123456A", date_of_birth="1990-06-01", postcode="M1 1AE")  # aged 11 in 2002


def run_everything(home, instance=None):
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], resources=resources(home), tags=range_tags([Q1]),
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )


def evaluations(result):
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def test_every_expectation_is_a_blocking_check_that_passes_on_good_data(nino_home):
    write_world(nino_home, {Q1: ADULTS})
    result = run_everything(nino_home)
    assert result.success
    checks = evaluations(result)
    expected = {name for suite in load_suites() for name in suite.check_names()}
    assert set(checks) == expected
    assert all(evaluation.passed for evaluation in checks.values())
    specs = [spec for checks_definition in ALL_CHECKS for spec in checks_definition.check_specs]
    assert specs and all(spec.blocking for spec in specs)


def test_an_under_16_slipped_past_cleaning_fails_its_check_and_blocks_downstream(nino_home, monkeypatch):
    write_world(nino_home, {Q1: [*ADULTS, CHILD]})
    real_sql_text = warehouse.sql_text

    def cleaning_without_the_age_rule(asset_name):
        """The clean stage with a bug: the adult rule dropped, and children banded with the 16-17s."""
        text = real_sql_text(asset_name)
        if asset_name == "registrations":
            text = text.replace("WHEN age < 16 THEN", "WHEN false THEN")
            text = text.replace("ON records.age BETWEEN", "ON greatest(records.age, 16) BETWEEN")
        return text

    monkeypatch.setattr("nino_assets.warehouse.sql_text", cleaning_without_the_age_rule)
    instance = dg.DagsterInstance.ephemeral()
    result = run_everything(nino_home, instance)

    checks = evaluations(result)
    assert not checks["adults_only"].passed
    assert checks["adults_only"].metadata["unexpected_count"].value == 1
    assert checks["one_registration_per_person"].passed
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "registrations" in materialized  # a blocking check does not stop its own asset being written
    assert "geocoded_registrations" not in materialized  # but nothing downstream of it runs in that run
    assert "perturbed_counts" not in materialized
    logged = json.dumps([entry.to_json() if hasattr(entry, "to_json") else str(entry)
                         for entry in instance.all_logs(result.run_id)])
    assert "adults_only" in logged
    assert "CE123456A" not in logged and "1990-06-01" not in logged


def test_results_keep_aggregates_only():
    result = {
        "element_count": 10, "unexpected_count": 2, "unexpected_percent": 20.0,
        "partial_unexpected_list": ["AB123456C"], "partial_unexpected_index_list": [3],
        "partial_unexpected_counts": [{"value": "AB123456C", "count": 1}], "observed_value": "1990-06-01",
    }
    assert safe_observations("expect_column_values_to_match_regex", result) == {
        "element_count": 10, "unexpected_count": 2, "unexpected_percent": 20.0,
    }
    assert safe_observations("expect_column_min_to_be_between", {"observed_value": 11}) == {}
    assert safe_observations("expect_table_row_count_to_be_between", {"observed_value": 31}) == {"observed_value": 31}


def test_a_suite_must_be_named_after_its_asset_and_name_its_checks_once(tmp_path):
    (tmp_path / "raw_scan.json").write_text(json.dumps({"name": "other", "expectations": [{"type": "x"}]}))
    with pytest.raises(ValueError, match="raw_scan.json: the suite's name must be the asset's"):
        load_suites(tmp_path)
    twice = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nino"}}
    (tmp_path / "raw_scan.json").write_text(json.dumps({"name": "raw_scan", "expectations": [twice, twice]}))
    with pytest.raises(ValueError, match="check names repeat"):
        load_suites(tmp_path)
