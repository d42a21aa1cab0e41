"""Disclosure stage: the perturbation table and the published cells perturbed, by the cell key method.

The method's parameters live in one place, the `DisclosureControl` resource (defaults from
`cell_key.ptable.DEFAULT_PTABLE_PARAMETERS`, reasoned in the README's method section). A team that already has a
ptable in the ONS `cell-key-perturbation` layout (pcv, ckey, pvalue) names its CSV in `external_ptable_csv` instead.
"""

import dagster as dg
import polars as pl

from nino_assets.cell_key.ptable import (
    DEFAULT_PTABLE_PARAMETERS,
    Ptable,
    PtableParameters,
    generate_ptable,
    load_ons_ptable,
)
from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.cubes.cross_classifications import PUBLISHED
from nino_assets.cubes.assets import FINEST_CELLS
from nino_assets.shared.deliveries import carry_delivery
from nino_assets.shared.partitions import quarter_range_label, quarterly_partitions, quarters_of, single_run_backfill
from nino_assets.shared.tables import REFERENCE, STATISTICS, Column, Table
from nino_assets.shared.warehouse import Warehouse, count_rows, replace_partitions, replace_table, sql_text

YEAR_QUARTERS = 4

OWNERS = ["team:nino-disclosure-control"]


class DisclosureControl(dg.ConfigurableResource):
    """The cell key method's settings: the ptable (generated from parameters, or an external one) and the rounding."""

    max_perturbation: int = DEFAULT_PTABLE_PARAMETERS.max_perturbation
    variance: float = DEFAULT_PTABLE_PARAMETERS.variance
    smallest_published: int = DEFAULT_PTABLE_PARAMETERS.smallest_published
    external_ptable_csv: str | None = None
    external_repeat_period: int = 250
    rounding_base: int = 10

    def blocked_values(self) -> list[int]:
        """The perturbed values never published, 1..js (js is the generated ptable's; an external ptable blocks
        what it blocks, and none is asserted here)."""
        return [] if self.external_ptable_csv else list(range(1, self.smallest_published + 1))

    def ptable(self) -> Ptable:
        if self.external_ptable_csv:
            table = load_ons_ptable(self.external_ptable_csv, repeat_period=self.external_repeat_period)
        else:
            table = generate_ptable(
                PtableParameters(self.max_perturbation, self.variance, self.smallest_published, RECORD_KEY_RANGE)
            )
        if RECORD_KEY_RANGE % table.key_range:
            # cell keys are kept modulo RECORD_KEY_RANGE and reduced to the ptable's range, which must divide it
            raise ValueError(f"the ptable's key range {table.key_range} does not divide {RECORD_KEY_RANGE}")
        return table


PTABLE = Table(
    schema=REFERENCE,
    name="ptable",
    description="The perturbation table in the ONS layout: the noise for each (pcv, ckey).",
    columns=(
        Column("pcv", "INTEGER", "Row: the cell value, or for values above the range its repeated row.",
               nullable=False),
        Column("ckey", "INTEGER", "Column: the cell key reduced to the table's key range.", nullable=False),
        Column("pvalue", "INTEGER", "The noise added to a cell of that row and key.", nullable=False),
    ),
    primary_key=("pcv", "ckey"),
)

PTABLE_RULE = Table(
    schema=REFERENCE,
    name="ptable_rule",
    description="How a cell value maps to a ptable row, and the key range: one row.",
    columns=(
        Column("max_pcv", "INTEGER", "The last row of the table.", nullable=False),
        Column("repeat_period", "INTEGER", "Values above max_pcv repeat the last `repeat_period` rows.",
               nullable=False),
        Column("key_range", "INTEGER", "Cell keys are reduced modulo this.", nullable=False),
    ),
)

_LEVEL = "Which level of its dimension the cell is at."
_MEMBER = "Member of the dimension (stat.cube_dimensions.member_id)."
_FINEST = FINEST_CELLS.name


def _member_column(dimension: str) -> Column:
    return Column(f"{dimension}_member", "INTEGER", _MEMBER, ((_FINEST, f"{dimension}_member"),), nullable=False)


PERTURBED_COUNTS = Table(
    schema=STATISTICS,
    name="perturbed_counts",
    description="Every published cell (the cross-classifications the tables show), perturbed, and rounded for "
                "tables. The only counts publication reads.",
    columns=(
        Column("quarter", "VARCHAR", "The quarter (partition): the period's last quarter.", ((_FINEST, "quarter"),),
               nullable=False),
        Column("period_type", "VARCHAR", "quarter, or year_ending (the four quarters to `quarter`).",
               ((_FINEST, "quarter"),), nullable=False),
        *(column for dimension in ("nationality", "age", "sex", "geography")
          for column in (Column(f"{dimension}_level", "VARCHAR", _LEVEL, nullable=False), _member_column(dimension))),
        Column("perturbed_value", "INTEGER", "The cell's count plus its noise from the ptable.",
               ((_FINEST, "registrations"), (_FINEST, "cell_key"), (PTABLE.name, "pvalue")), nullable=False),
        Column("published_value", "INTEGER", "The perturbed value rounded to the nearest multiple of the rounding "
               "base (10), as the tables show it.", ((_FINEST, "registrations"), (PTABLE.name, "pvalue")),
               nullable=False),
    ),
    partition_column="quarter",
)


@dg.asset(
    name=PTABLE.name,
    group_name="reference",
    owners=OWNERS,
    kinds={"duckdb"},
    pool="warehouse",
    description=PTABLE.description + " Generated from the DisclosureControl parameters, or loaded from a CSV.",
    metadata={**PTABLE.definition_metadata(), "rule_table": PTABLE_RULE.qualified_name},
)
def ptable(warehouse: Warehouse, disclosure_control: DisclosureControl) -> dg.MaterializeResult:
    table = disclosure_control.ptable()
    lookup = table.lookup_frame().with_columns(pl.all().cast(pl.Int32))
    with warehouse.transaction() as connection:
        connection.register("ptable_lookup", lookup)
        row_count = replace_table(connection, PTABLE, "SELECT pcv, ckey, pvalue FROM ptable_lookup")
        replace_table(
            connection,
            PTABLE_RULE,
            "SELECT $max_pcv AS max_pcv, $repeat_period AS repeat_period, $key_range AS key_range",
            {"max_pcv": table.max_pcv, "repeat_period": table.repeat_period, "key_range": table.key_range},
        )
    description = table.metadata()
    rows = description.pop("rows")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": row_count,
            "source": disclosure_control.external_ptable_csv or "generated from parameters (maximum entropy)",
            "parameters": dg.MetadataValue.json(description),
            "rows": dg.MetadataValue.md(
                "| pcv | noises | mean | variance |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {row['pcv']} | {row['noises']} | {row['mean']:.6f} | {row['variance']:.6f} |"
                    for row in rows[:60]
                )
            ),
        }
    )


@dg.asset(
    name=PERTURBED_COUNTS.name,
    group_name="disclosure",
    owners=OWNERS,
    kinds={"duckdb"},
    pool="warehouse",
    deps=[
        dg.AssetDep(
            FINEST_CELLS.name,
            # the year to a quarter sums the three quarters before it too
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=1 - YEAR_QUARTERS, allow_nonexistent_upstream_partitions=True
            ),
        ),
        PTABLE.name,
    ],
    partitions_def=quarterly_partitions,
    backfill_policy=single_run_backfill,
    description=(
        f"Every published cell ({len(PUBLISHED)} cross-classifications, for each quarter and the year to it), "
        "derived from the finest cells and perturbed by the cell key method (count + ptable noise at its cell key), "
        "then rounded to the rounding base for the tables. Neither the unperturbed count nor the cell key is kept. "
        "Any other cell is perturbed by the same rule when asked for."
    ),
    metadata=PERTURBED_COUNTS.definition_metadata(),
)
def perturbed_counts(
    context: dg.AssetExecutionContext, warehouse: Warehouse, disclosure_control: DisclosureControl
) -> dg.MaterializeResult:
    quarters = quarters_of(context)
    labels = [quarter.label for quarter in quarters]
    classifications = [classification.as_struct() for classification in PUBLISHED]
    with warehouse.transaction() as connection:
        define_cell_macros(connection)
        replace_partitions(
            connection,
            PERTURBED_COUNTS,
            quarters,
            sql_text(PERTURBED_COUNTS.name),
            {"quarters": labels, "classifications": classifications, "record_key_range": RECORD_KEY_RANGE,
             "rounding_base": disclosure_control.rounding_base},
        )
        cells = count_rows(connection, PERTURBED_COUNTS, quarters)
        deliveries = carry_delivery(connection, PERTURBED_COUNTS.name, FINEST_CELLS.name, quarters)
    return dg.MaterializeResult(
        metadata={
            "quarters": quarter_range_label(quarters),
            "dagster/row_count": cells,
            "deliveries": dg.MetadataValue.json(deliveries),
            "cross_classifications": len(PUBLISHED),
            "rounding_base": disclosure_control.rounding_base,
            **PERTURBED_COUNTS.definition_metadata(),
        }
    )


def define_cell_macros(connection) -> None:
    """The temporary macros that derive and perturb cells (each connection defines its own)."""
    connection.execute(sql_text("ptable_row"))
    connection.execute(sql_text("derived_cells"))


disclosure_assets = [ptable, perturbed_counts]
# The warehouse tables this stage writes: a suite named after one of its assets validates that asset's table.
disclosure_tables = [PTABLE, PTABLE_RULE, PERTURBED_COUNTS]
