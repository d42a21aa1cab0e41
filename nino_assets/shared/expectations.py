"""Great Expectations suites from `expectations/`: loading them, validating them inside DuckDB, and reporting only
aggregates.

A suite is a GX 1.x suite file named after the asset it gates (`expectations/<stage>/<asset>.json`). Each expectation may
name its check in `meta.check_name`; otherwise the name is made from its type and column. Tolerances (`mostly`,
bounds) live in the suite, not in Python.

Suites run through GX's SQL datasource on the warehouse's own connection (duckdb-engine), so GX's metrics are SQL
queries in DuckDB and no column is copied out. Two gaps of GX 1.24 on DuckDB are adapted here, and only for the GX
versions the tests ran the adapter with: `SqlAlchemyExecutionEngine.execute_query` closes its connection before the
rows are fetched, which duckdb-engine answers with no rows (every metric then fails with IndexError, GX issue 11579),
so `_fetch_before_closing` reads them first; and GX knows no regular-expression operator for DuckDB, so
`_regex_for_duckdb` gives it DuckDB's `regexp_matches` (a search, as GX's regex expectations mean it).

What a result may show is an allowlist, because record-level assets hold personal data: counts and percentages of
unexpected and missing values, and the observed value of expectations whose observed value is an aggregate (a row
count, a share, a mean). Lists, indexes and samples of unexpected values, and observed minima and maxima, never
leave this module.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import duckdb

from nino_assets.shared.package_files import suite_files

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
    source: str  # the file, as `expectations/<stage>/<asset>.json`, for messages
    definition: dict

    @property
    def expectations(self) -> list[dict]:
        return self.definition["expectations"]

    def check_names(self) -> list[str]:
        return [check_name(expectation) for expectation in self.expectations]

    def columns(self) -> list[str]:
        """The columns the expectations read: the batch query selects only these."""
        columns: list[str] = []
        for expectation in self.expectations:
            for name in _columns_read(expectation):
                if name not in columns:
                    columns.append(name)
        return columns


def _columns_read(expectation: dict) -> list[str]:
    arguments = expectation.get("kwargs", {})
    return [name for name in (*(arguments.get(key) for key in _COLUMN_ARGUMENTS), *arguments.get("column_list", []))
            if name]


def check_name(expectation: dict) -> str:
    named = expectation.get("meta", {}).get("check_name")
    if named:
        return named
    column = expectation.get("kwargs", {}).get("column")
    short_type = expectation["type"].removeprefix("expect_")
    return f"{short_type}__{column}" if column else short_type


def load_suites(folder: Traversable | None = None) -> list[Suite]:
    """Every suite file under `expectations/` (or the folder given), checked for what the loader needs; errors name
    the file."""
    suites = []
    for relative, entry in suite_files(folder).items():
        path = f"expectations/{relative}.json"
        asset_name = entry.name.removesuffix(".json")
        try:
            definition = json.loads(entry.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        if definition.get("name") != asset_name:
            raise ValueError(f"{path}: the suite's name must be the asset's, {asset_name!r}")
        if not definition.get("expectations"):
            raise ValueError(f"{path}: the suite has no expectations")
        suite = Suite(asset_name=asset_name, source=path, definition=definition)
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


TESTED_GX_VERSIONS = ("1.24.",)
"""GX releases whose SQL engine needs the adapter and was tested with it (and duckdb-engine 0.17)."""


def _fetch_before_closing(engine, query):
    """`SqlAlchemyExecutionEngine.execute_query`, with the rows read while its connection is still open."""
    with engine.get_connection() as connection:
        return engine._execute_query_with_recovery(connection, query).freeze()()


_REGEX_METRIC_MODULES = ("column_values_match_regex", "column_values_not_match_regex",
                         "column_values_match_regex_list", "column_values_not_match_regex_list")


def _regex_for_duckdb(gx_regex_expression):
    """GX's `get_dialect_regex_expression`, answering for DuckDB too."""
    import sqlalchemy

    def regex_expression(column, regex, dialect, positive=True):
        if getattr(getattr(dialect, "dialect", dialect), "name", None) == "duckdb":
            matches = sqlalchemy.func.regexp_matches(column, sqlalchemy.literal(regex))
            return matches if positive else sqlalchemy.not_(matches)
        return gx_regex_expression(column, regex, dialect, positive)

    regex_expression.adapted_for_duckdb = True
    return regex_expression


def _install_duckdb_adapter() -> None:
    import importlib

    import great_expectations as gx
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

    if not gx.__version__.startswith(TESTED_GX_VERSIONS):
        raise RuntimeError(f"great-expectations {gx.__version__} is not one the DuckDB adapter was tested with "
                           f"({', '.join(TESTED_GX_VERSIONS)}x): test it and add it to TESTED_GX_VERSIONS")
    SqlAlchemyExecutionEngine.execute_query = _fetch_before_closing
    for name in _REGEX_METRIC_MODULES:
        module = importlib.import_module(f"great_expectations.expectations.metrics.column_map_metrics.{name}")
        if not getattr(module.get_dialect_regex_expression, "adapted_for_duckdb", False):
            module.get_dialect_regex_expression = _regex_for_duckdb(module.get_dialect_regex_expression)


def validate(suite: Suite, connection: duckdb.DuckDBPyConnection, batch_query: str,
             parameters: dict | None = None) -> list[ExpectationOutcome]:
    """Validate the rows of `batch_query` (SQL on `connection`) against a suite with GX, inside DuckDB, with the
    values of the suite's `$PARAMETER`s; one outcome per expectation, aggregates only."""
    import duckdb_engine
    import great_expectations as gx
    import sqlalchemy

    _install_duckdb_adapter()
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    # a cursor of the warehouse's own connection (the same database), not a second opening of its file
    datasource = context.data_sources.add_sql(
        suite.asset_name, connection_string="duckdb:///:memory:",
        kwargs={"creator": lambda: duckdb_engine.ConnectionWrapper(connection.cursor()),
                "poolclass": sqlalchemy.pool.StaticPool},
    )
    batch = (datasource.add_query_asset(suite.asset_name, query=batch_query)
             .add_batch_definition_whole_table(suite.asset_name).get_batch())
    result = batch.validate(
        gx.ExpectationSuite(**suite.definition),
        result_format={"result_format": "BASIC", "partial_unexpected_count": 0, "include_unexpected_rows": False},
        expectation_parameters=parameters or {},
    )
    by_name = {check_name(expectation): expectation for expectation in suite.expectations}
    outcomes = []
    for expectation_result in result.results:
        configuration = expectation_result.expectation_config
        name = check_name({"type": configuration.type, "kwargs": configuration.kwargs, "meta": configuration.meta})
        if _raised(expectation_result.exception_info):
            # not GX's message: a database error can quote the value it failed on
            raise RuntimeError(f"{suite.source}: GX could not evaluate {name} on {suite.asset_name}")
        outcomes.append(
            ExpectationOutcome(
                check_name=name,
                expectation_type=configuration.type,
                passed=bool(expectation_result.success),
                tolerances=resolved_arguments(by_name[name].get("kwargs", {}), parameters or {}),
                observed=safe_observations(configuration.type, expectation_result.result),
            )
        )
    return outcomes


def resolved_arguments(kwargs: dict, parameters: dict) -> dict:
    """An expectation's arguments with each `{"$PARAMETER": name}` replaced by its value."""
    return {key: parameters[value["$PARAMETER"]] if isinstance(value, dict) and "$PARAMETER" in value else value
            for key, value in kwargs.items()}


def _raised(exception_info: dict) -> bool:
    """Whether GX raised computing an expectation: its info is flat, or keyed by the metric that raised."""
    if "raised_exception" in exception_info:
        return bool(exception_info["raised_exception"])
    return any(isinstance(info, dict) and info.get("raised_exception") for info in exception_info.values())


def safe_observations(expectation_type: str, result: dict) -> dict:
    """The parts of a GX result that are aggregates; everything record-level is dropped."""
    observed = {key: result[key] for key in SAFE_RESULT_KEYS if result.get(key) is not None}
    value = result.get("observed_value")
    if expectation_type in AGGREGATE_EXPECTATIONS and isinstance(value, int | float):
        observed["observed_value"] = value
    return observed
