"""Which cells are published: the cross-classifications the release's tables (and so the bulletin) are made of.

A cross-classification names a period type and one level of each dimension (the levels of `stat.cube_dimensions`).
Only the cells of these are perturbed, rounded and stored (`perturbed_counts`); any other cell is derived from the
finest cells and perturbed by the same rule when it is asked for (the query service, the disclosure check's sample).
Pure: no DuckDB.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass

PERIOD_TYPES = ("quarter", "year_ending")
LEVELS = {
    "nationality": ("country", "subgroup", "world_area", "eu_group", "total"),
    "age": ("band", "total"),
    "sex": ("sex", "total"),
    "geography": ("local_authority", "region", "country", "total"),
}


@dataclass(frozen=True)
class CrossClassification:
    period_type: str
    nationality_level: str = "total"
    age_level: str = "total"
    sex_level: str = "total"
    geography_level: str = "total"

    def __post_init__(self):
        if self.period_type not in PERIOD_TYPES:
            raise ValueError(f"unknown period type {self.period_type!r}")
        for dimension, levels in LEVELS.items():
            if getattr(self, f"{dimension}_level") not in levels:
                raise ValueError(f"{getattr(self, f'{dimension}_level')!r} is not a level of {dimension}")

    def as_struct(self) -> dict[str, str]:
        """As `derived_cells` takes it."""
        return asdict(self)


def _published() -> tuple[CrossClassification, ...]:
    shapes = {
        # tables 1 and 2: nationality at each level, everything else in total
        *((level, "total", "total", "total") for level in LEVELS["nationality"]),
        # tables 3 and 4: each level of geography, in all and by world area of nationality
        *((nationality, "total", "total", geography)
          for nationality in ("total", "world_area") for geography in LEVELS["geography"]),
        # table 5: age band by sex, with their totals
        *(("total", age, sex, "total") for age in LEVELS["age"] for sex in LEVELS["sex"]),
    }
    return tuple(CrossClassification(period_type, *shape)
                 for period_type in PERIOD_TYPES for shape in sorted(shapes))


PUBLISHED = _published()
"""Every cross-classification a table shows, for quarters and for years to a quarter alike (the tables read some
of each; the others are a few thousand cells a quarter, cheaper to keep than to reason about)."""

EVERY = tuple(CrossClassification(period_type, *levels)
              for period_type in PERIOD_TYPES for levels in itertools.product(*LEVELS.values()))
"""All 160 cross-classifications a user of the query service can ask for."""


def sample(count: int, seed: int) -> list[CrossClassification]:
    """Cross-classifications drawn at random by a seed (so a check is repeatable): as many of years as of quarters,
    any level of each dimension, totals included."""
    chooser = random.Random(seed)
    by_period = [[classification for classification in EVERY if classification.period_type == period_type]
                 for period_type in PERIOD_TYPES]
    return [chooser.choice(by_period[number % len(PERIOD_TYPES)]) for number in range(count)]
