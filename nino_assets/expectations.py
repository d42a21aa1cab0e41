"""Great Expectations suites from `expectations/`: loading them, validating a batch, and reporting only aggregates.

A suite is a GX 1.x suite file named after the asset it gates (`expectations/<asset>.json`). Each expectation may
name its check in `meta.check_name`; otherwise the name is made from its type and column. Tolerances (`mostly`,
bounds) live in the suite, not in Python.

What a result may show is an allowlist, because record-level assets hold personal data: counts and percentages of
unexpected and missing values, and the observed value of expectations whose observed value is an aggregate (a row
count, a share, a mean). Lists, indexes and samples of unexpected values, and observed minima and maxima, never
leave this module.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"

SAFE_RESULT_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent")
AGGREGATE_EXPECTATIONS = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_table_row_count_to_equal",
        "expect_column_proportion_of_unique_values_to_be_between",
        "expect_column_unique_value_count_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_stdev_to_be_between",
        "expect_column_sum_to_be_between",
    }
)
"""Expectations whose observed value is an aggregate of many records, safe to show."""

_COLUMN_ARGUMENTS = ("column", "column_A", "column_B")


@dataclass(frozen=True)
class Suite:
    """A suite file: the asset it gates, and its expectations as GX reads them."""

    asset_name: str
    path: Path
    definition: dict

    @property
    def expectations(self) -> list[dict]:
        return self.definition["expectations"]

    @property
    def row_wise(self) -> bool:
        """Whether every expectation judges each row on its own, so that batches of rows may be validated apart."""
        return all(judges_rows_alone(expectation) for expectation in self.expectations)

    def parts(self) -> list[Suite]:
        """The suite as its row-wise expectations and the others (uniqueness, table-level), each a suite of its own,
        so that the first can be validated in batches and the second reads only its own columns."""
        groups = ([e for e in self.expectations if judges_rows_alone(e)],
                  [e for e in self.expectations if not judges_rows_alone(e)])
        return [Suite(self.asset_name, self.path, {**self.definition, "expectations": group})
                for group in groups if group]

    def check_names(self) -> list[str]:
        return [check_name(expectation) for expectation in self.expectations]

    def columns(self) -> list[str]:
        """The columns the expectations read: only these are handed over from the warehouse."""
        columns: list[str] = []
        for expectation in self.expectations:
            for name in _columns_read(expectation):
                if name not in columns:
                    columns.append(name)
        return columns

    def hashed_columns(self) -> set[str]:
        """The columns only uniqueness expectations read. They are handed over as 64-bit hashes of their values:
        distinct hashes mean distinct values, and 16 million 64-character pseudonyms as strings took 6 GiB in pandas
        against 128 MiB as hashes. A collision (odds about 1 in 10^5 at 16 million rows) can only fail the check,
        never pass a duplicate."""
        readers: dict[str, set[str]] = {}
        for expectation in self.expectations:
            for name in _columns_read(expectation):
                readers.setdefault(name, set()).add(expectation["type"])
        return {name for name, types in readers.items() if types == {"expect_column_values_to_be_unique"}}


def _columns_read(expectation: dict) -> list[str]:
    arguments = expectation.get("kwargs", {})
    return [name for name in (*(arguments.get(key) for key in _COLUMN_ARGUMENTS), *arguments.get("column_list", []))
            if name]


def judges_rows_alone(expectation: dict) -> bool:
    return (expectation["type"].startswith("expect_column_values_to_")
            and not expectation["type"].endswith("_to_be_unique"))


def check_name(expectation: dict) -> str:
    named = expectation.get("meta", {}).get("check_name")
    if named:
        return named
    column = expectation.get("kwargs", {}).get("column")
    short_type = expectation["type"].removeprefix("expect_")
    return f"{short_type}__{column}" if column else short_type


def load_suites(directory: Path = EXPECTATIONS_DIR) -> list[Suite]:
    """Every suite file in the folder, checked for what the loader needs; errors name the file."""
    suites = []
    for path in sorted(directory.glob("*.json")):
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        if definition.get("name") != path.stem:
            raise ValueError(f"{path}: the suite's name must be the asset's, {path.stem!r}")
        if not definition.get("expectations"):
            raise ValueError(f"{path}: the suite has no expectations")
        suite = Suite(asset_name=path.stem, path=path, definition=definition)
        names = suite.check_names()
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"{path}: check names repeat: {sorted(duplicates)}; set meta.check_name")
        suites.append(suite)
    return suites


@dataclass(frozen=True)
class ExpectationOutcome:
    check_name: str
    expectation_type: str
    passed: bool
    tolerances: dict
    observed: dict


def validate(suite: Suite, frame: pd.DataFrame) -> list[ExpectationOutcome]:
    """Validate a batch against a suite with GX; one outcome per expectation, aggregates only."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch_definition = (
        context.data_sources.add_pandas(suite.asset_name)
        .add_dataframe_asset(suite.asset_name)
        .add_batch_definition_whole_dataframe(suite.asset_name)
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        gx.ExpectationSuite(**suite.definition),
        result_format={"result_format": "BASIC", "partial_unexpected_count": 0, "include_unexpected_rows": False},
    )
    by_name = {check_name(expectation): expectation for expectation in suite.expectations}
    outcomes = []
    for expectation_result in result.results:
        configuration = expectation_result.expectation_config
        name = check_name({"type": configuration.type, "kwargs": configuration.kwargs, "meta": configuration.meta})
        outcomes.append(
            ExpectationOutcome(
                check_name=name,
                expectation_type=configuration.type,
                passed=bool(expectation_result.success),
                tolerances={key: value for key, value in by_name[name].get("kwargs", {}).items()},
                observed=safe_observations(configuration.type, expectation_result.result),
            )
        )
    return outcomes


def merge_batches(batches: list[list[ExpectationOutcome]]) -> list[ExpectationOutcome]:
    """One outcome per expectation from the outcomes of several batches of a row-wise suite: counts add up, and an
    expectation passes only if it passed on every batch (so a `mostly` tolerance holds for each batch)."""
    merged = []
    for outcomes in zip(*batches):
        counts = {key: sum(outcome.observed.get(key, 0) for outcome in outcomes)
                  for key in ("element_count", "unexpected_count", "missing_count")}
        judged = counts["element_count"] - counts["missing_count"]
        observed = {**counts, "unexpected_percent": 100 * counts["unexpected_count"] / judged if judged else 0.0,
                    "missing_percent": 100 * counts["missing_count"] / counts["element_count"]
                    if counts["element_count"] else 0.0}
        first = outcomes[0]
        merged.append(ExpectationOutcome(first.check_name, first.expectation_type,
                                         all(outcome.passed for outcome in outcomes), first.tolerances, observed))
    return merged


def safe_observations(expectation_type: str, result: dict) -> dict:
    """The parts of a GX result that are aggregates; everything record-level is dropped."""
    observed = {key: result[key] for key in SAFE_RESULT_KEYS if result.get(key) is not None}
    value = result.get("observed_value")
    if expectation_type in AGGREGATE_EXPECTATIONS and isinstance(value, int | float):
        observed["observed_value"] = value
    return observed
