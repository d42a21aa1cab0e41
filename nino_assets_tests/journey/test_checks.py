"""The expectation suites as blocking asset checks: a rule broken on purpose fails its check, blocks what is
downstream in the same run, and shows only aggregates."""

import hashlib
import json
import re

import dagster as dg
import duckdb
import pandas as pd
import pytest

from nino_assets.geography import assets as geography_assets
from nino_assets.shared import suite_checks as checks, warehouse
from nino_assets.clean.assets import REGISTRATIONS
from nino_assets.clean.nino_format import NINO_REGEX
from nino_assets.definitions import ALL_ASSETS, ALL_CHECKS, JOURNEY_TO_QA, resources, suite_parameter_values
from nino_assets.disclosure.assets import DisclosureControl
from nino_assets.shared.expectations import Suite, load_suites, safe_observations, validate
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.warehouse import range_tags
from nino_assets_tests.support.pipeline_world import Record, cleaning_without_the_age_rule, write_world

Q1 = Quarter(2002, 1)
ADULTS = [Record(nino=f"AB{number:06d}C") for number in range(30)]
CHILD = Record(nino="CE123456A", date_of_birth="1990-06-01", postcode="M1 1AE")  # aged 11 in 2002


def run_everything(home, instance=None):
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], selection=JOURNEY_TO_QA, resources=resources(home), tags=range_tags([Q1]),
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
    assert set(checks) == expected | {"volume_against_history", "delivery_is_new", "records_reconcile",
                                      "disclosure_rules", "no_personal_data"}
    assert all(evaluation.passed for evaluation in checks.values())
    specs = [spec for checks_definition in ALL_CHECKS for spec in checks_definition.check_specs]
    assert specs and all(spec.blocking for spec in specs)


def test_an_under_16_slipped_past_cleaning_fails_its_check_and_blocks_downstream(nino_home, monkeypatch):
    write_world(nino_home, {Q1: [*ADULTS, CHILD]})
    monkeypatch.setattr("nino_assets.shared.warehouse.sql_text", cleaning_without_the_age_rule(warehouse.sql_text))
    instance = dg.DagsterInstance.ephemeral()
    result = run_everything(nino_home, instance)

    checks = evaluations(result)
    assert not checks["adults_only"].passed
    assert checks["adults_only"].metadata["unexpected_count"].value == 1
    assert checks["one_registration_per_person"].passed
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "registrations" in materialized  # a blocking check does not stop its own asset being written
    assert "geocoded_registrations" not in materialized  # but nothing downstream of it runs in that run
    assert "perturbed_counts" not in materialized and "supplementary_tables" not in materialized
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


def test_a_suite_runs_inside_duckdb_and_catches_a_duplicate_pseudonym_without_a_pandas_frame(monkeypatch):
    [suite] = [suite for suite in load_suites() if suite.asset_name == REGISTRATIONS.name]
    pseudonyms = [hashlib.sha256(str(number).encode()).hexdigest() for number in range(1000)]
    frames = []
    real_init = pd.DataFrame.__init__

    def counted_init(self, *arguments, **keywords):
        frames.append(type(self).__name__)
        real_init(self, *arguments, **keywords)

    monkeypatch.setattr(pd.DataFrame, "__init__", counted_init)
    with duckdb.connect() as connection:
        connection.execute("CREATE SCHEMA stat")
        connection.execute(f"CREATE TABLE {REGISTRATIONS.qualified_name} AS SELECT * FROM (VALUES "
                           + ", ".join(f"('{p}', '2002-Q{1 + number % 2}', {16 + number % 60}, 'Asia')"
                                       for number, p in enumerate(pseudonyms))
                           + f", ('{pseudonyms[7]}', '2002-Q2', 15, 'Asia'), ('{pseudonyms[8]}', '2002-Q3', 15, 'Asia')"
                           ") AS t(pseudonym, scan_quarter, age, world_area)")
        only_read = Suite(suite.asset_name, suite.source, {**suite.definition, "expectations": [
            expectation for expectation in suite.expectations
            if expectation["kwargs"].get("column") in {"pseudonym", "age", "world_area"}]})
        outcomes, cost = checks.validate_in_warehouse(connection, only_read, REGISTRATIONS, ["2002-Q1", "2002-Q2"],
                                                       suite_parameter_values(DisclosureControl()))
    by_name = {outcome.check_name: outcome for outcome in outcomes}
    # the pair sharing a pseudonym, and the one under 16 (the 2002-Q3 row is outside the quarters validated)
    assert not by_name["one_registration_per_person"].passed
    assert by_name["one_registration_per_person"].observed["unexpected_count"] == 2
    assert not by_name["adults_only"].passed and by_name["adults_only"].observed["unexpected_count"] == 1
    assert by_name["world_area_known"].passed and by_name["world_area_known"].observed["element_count"] == 1001
    assert cost["engine"] == "GX SQL on DuckDB"
    assert frames == []  # no pandas frame was built: GX's metrics ran as SQL in DuckDB


def test_regex_expectations_are_judged_in_duckdb_as_python_judges_them():
    """GX has no regex operator for DuckDB of its own: the adapter's must agree with Python's `re.search`."""
    [suite] = [suite for suite in load_suites() if suite.asset_name == "raw_scan"]
    [well_formed] = [e for e in suite.expectations if e["type"] == "expect_column_values_to_match_regex"]
    values = ["AB123456C", "ab123456c", "AB 12 34 56 C", "QQ123456Z", "AB12345", "", None]
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE scan AS SELECT unnest($values) AS " + well_formed["kwargs"]["column"],
                           {"values": values})
        [outcome] = validate(Suite("raw_scan", suite.source, {**suite.definition, "expectations": [well_formed]}),
                             connection, "SELECT * FROM scan", {"nino_regex": NINO_REGEX})
    expected = sum(1 for value in values if value is not None and not re.search(NINO_REGEX, value))
    assert outcome.observed["unexpected_count"] == expected > 0
    assert outcome.observed["missing_count"] == 1 and not outcome.passed


def test_a_suite_must_be_named_after_its_asset_and_name_its_checks_once(tmp_path):
    (tmp_path / "raw_scan.json").write_text(json.dumps({"name": "other", "expectations": [{"type": "x"}]}))
    with pytest.raises(ValueError, match="raw_scan.json: the suite's name must be the asset's"):
        load_suites(tmp_path)
    twice = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nino"}}
    (tmp_path / "raw_scan.json").write_text(json.dumps({"name": "raw_scan", "expectations": [twice, twice]}))
    with pytest.raises(ValueError, match="check names repeat"):
        load_suites(tmp_path)


def quarterly_scans(quarters, volumes):
    return {
        quarter: [
            Record(nino=f"A{'BCEGHJKLMNPRSTWXYZ'[index]}{number:06d}C",
                   registration_date=f"{quarter.year}-{quarter.start.month + 1:02d}-10")
            for number in range(volume)
        ]
        for index, (quarter, volume) in enumerate(zip(quarters, volumes))
    }


def run_range(home, quarters, instance=None):
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], selection=JOURNEY_TO_QA, resources=resources(home), tags=range_tags(quarters),
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )


def test_a_volume_drop_of_40_percent_fails_the_history_check_and_blocks_cleaning(nino_home):
    quarters = [Quarter(2011, 1), Quarter(2011, 2), Quarter(2011, 3), Quarter(2011, 4), Quarter(2012, 1)]
    write_world(nino_home, quarterly_scans(quarters, [50, 50, 50, 50, 30]))
    result = run_range(nino_home, quarters)
    check = evaluations(result)["volume_against_history"]
    assert not check.passed
    assert check.metadata["outside_tolerance"].value == ["2012-Q1: -40% on the quarter, -40% on the year"]
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "raw_scan" in materialized and "registrations" not in materialized
    assert "supplementary_tables" not in materialized


def test_a_drop_a_discontinuity_explains_passes_and_says_so(nino_home):
    quarters = [Quarter(2019, 2), Quarter(2019, 3), Quarter(2019, 4), Quarter(2020, 1), Quarter(2020, 2)]
    write_world(nino_home, quarterly_scans(quarters, [50, 50, 50, 50, 20]))
    check = evaluations(run_range(nino_home, quarters))["volume_against_history"]
    assert check.passed
    [explained] = check.metadata["explained_by_discontinuities"].value
    assert explained.startswith("2020-Q2: -60% on the quarter") and "covid19" in explained


def test_a_perturbed_cell_of_value_1_fails_the_disclosure_rules(nino_home, monkeypatch):
    write_world(nino_home, {Q1: [*ADULTS, Record(nino="CE123456A", nationality="IND", postcode="M1 1AE")]})
    real_sql_text = warehouse.sql_text

    def perturbation_with_a_bug(asset_name):
        text = real_sql_text(asset_name)
        if asset_name == "derived_cells":
            correct = "cells.registrations + coalesce(ptable.pvalue"
            assert correct in text
            # a cell of 1 published as 1: its noise taken away again
            text = text.replace(correct, "CASE WHEN cells.registrations = 1 THEN 1 - ptable.pvalue "
                                         "ELSE cells.registrations END + coalesce(ptable.pvalue")
        return text

    monkeypatch.setattr("nino_assets.disclosure.assets.sql_text", perturbation_with_a_bug)
    result = run_everything(nino_home)
    check = evaluations(result)["disclosure_rules"]
    assert not check.passed
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "perturbed_counts" in materialized and "supplementary_tables" not in materialized
    assert check.metadata["perturbed_values_in_1_to_js"].value > 0
    assert check.metadata["cells_published"].value == check.metadata["cells_perturbed"].value
    assert check.metadata["cells_recounted_from_records"].value > 0


def test_a_postcode_left_in_a_geocoded_table_fails_and_blocks_the_cubes(nino_home, monkeypatch):
    write_world(nino_home, {Q1: [*ADULTS, Record(nino="CE123456A", postcode="ZZ99 9ZZ")]})
    real_sql_text = geography_assets.sql_text

    def geocoding_with_a_leak(asset_name):
        """Geocoding with a bug: unmatched postcodes are written into the output area column."""
        text = real_sql_text(asset_name)
        if asset_name == "geocoded_registrations":
            text = text.replace("WHEN 'overseas address' THEN $overseas_code ELSE $unknown_code END AS output_area_code",
                                "WHEN 'overseas address' THEN $overseas_code ELSE postcode_key END AS output_area_code")
            text = text.replace("    lookup_of_uk_form.output_area_code,", "    lookup_of_uk_form.output_area_code, "
                                "postcodes.postcode_key,").replace("SELECT\n    * EXCLUDE (output_area_code,",
                                                                   "SELECT\n    * EXCLUDE (postcode_key, output_area_code,")
            assert text.count("postcode_key") > real_sql_text(asset_name).count("postcode_key") + 2, \
                "the geocoding SQL no longer holds the lines the bug replaces"
        return text

    monkeypatch.setattr(geography_assets, "sql_text", geocoding_with_a_leak)
    instance = dg.DagsterInstance.ephemeral()
    result = run_everything(nino_home, instance)
    leaks = [e for e in result.get_asset_check_evaluations()
             if e.check_name == "no_personal_data" and e.asset_key == dg.AssetKey("geocoded_registrations")]
    [check] = leaks
    assert not check.passed
    assert check.metadata["raw_ninos_or_postcodes_by_text_column"].value == {"output_area_code": 1}
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "geocoded_registrations" in materialized and "finest_cells" not in materialized
    assert "supplementary_tables" not in materialized
    assert "ZZ99" not in json.dumps([str(entry) for entry in instance.all_logs(result.run_id)])


def test_a_nino_and_a_date_of_birth_left_in_the_registrations_fail_and_block_geocoding(nino_home, monkeypatch):
    write_world(nino_home, {Q1: ADULTS})
    real_sql_text = warehouse.sql_text

    def cleaning_with_leaks(asset_name):
        """Cleaning with two bugs: the NINo kept as the nationality code, the date of birth as the arrival date."""
        text = real_sql_text(asset_name)
        if asset_name == "registrations":
            kept, leaked = ("scan_records.nationality AS nationality_code,", "scan_records.arrival_date,"), \
                ("scan_records.nino AS nationality_code,", "scan_records.date_of_birth AS arrival_date,")
            assert all(text.count(line) == 1 for line in kept), "the cleaning SQL no longer holds the lines the bugs replace"
            return text.replace(kept[0], leaked[0]).replace(kept[1], leaked[1])
        return text

    monkeypatch.setattr("nino_assets.shared.warehouse.sql_text", cleaning_with_leaks)
    instance = dg.DagsterInstance.ephemeral()
    result = run_everything(nino_home, instance)
    [check] = [e for e in result.get_asset_check_evaluations()
               if e.check_name == "no_personal_data" and e.asset_key == dg.AssetKey("registrations")]
    assert not check.passed
    assert check.metadata["raw_ninos_or_postcodes_by_text_column"].value == {"nationality_code": len(ADULTS)}
    assert check.metadata["records_with_their_date_of_birth_by_date_column"].value == {"arrival_date": len(ADULTS)}
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "registrations" in materialized and "geocoded_registrations" not in materialized
    assert ADULTS[0].nino not in json.dumps([str(entry) for entry in instance.all_logs(result.run_id)])


def test_the_previous_quarters_file_resent_as_this_quarters_fails_a_blocking_check_and_nothing_is_published(
        nino_home):
    q2 = Quarter(2002, 2)
    later = [record.but(registration_date="2002-05-20") for record in ADULTS[:10]]
    write_world(nino_home, {Q1: ADULTS, q2: ADULTS})  # the same records, only the header and the name changed
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], selection=JOURNEY_TO_QA, resources=resources(nino_home),
        tags=range_tags([Q1, q2]), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    new = evaluations(result)["delivery_is_new"]
    assert not new.passed
    assert new.metadata["deliveries_refused"].value == [
        "2002-Q2: 100% of its records have a NINo in earlier quarters' scans, 100% of its registrations are dated outside the "
        "quarter"]
    assert not result.asset_materializations_for_node("supplementary_tables")
    assert "AB000001C" not in str(new.metadata)

    write_world(nino_home, {Q1: ADULTS, q2: [*later, *(r.but(nino=f"CE{n:06d}A", registration_date="2002-05-20")
                                                     for n, r in enumerate(ADULTS[10:]))]})
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], selection=JOURNEY_TO_QA, resources=resources(nino_home),
        tags=range_tags([Q1, q2]), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert evaluations(result)["delivery_is_new"].passed  # a third of people registered again: not a resend
