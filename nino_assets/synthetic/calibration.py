"""How many registrations each quarter's scan holds, calibrated on DWP's published series.

The published calendar-year totals (`nino_published_national_annual.csv`, summed over UK local authorities) are split
into quarters by a seasonal profile, so that the statistically valid, LA-geocoded records of a year add up to the
published figure exactly (before sampling a scaled-down series). On top come records with an overseas address or no
usable postcode, which DWP's national totals include and the LA sum leaves out: 12% of the LA sum in 2002 falling to
5-6% from 2005 (`nino_published_national_2002_2010.csv` against the annual file).
"""

from __future__ import annotations

import math

import numpy as np

from nino_assets.shared.quarters import SERIES_START, Quarter
from nino_assets.synthetic.reference import published_annual_registrations

FIRST_QUARTER = Quarter.containing(SERIES_START)

# Share of a calendar year's registrations in each quarter. Registrations peak in the autumn and winter (students,
# the seasonal work that ends in September) and dip in spring and summer.
_USUAL_SEASON = (0.26, 0.24, 0.23, 0.27)
# Years whose quarters moved for a known reason (the series' known discontinuities).
_SEASON_BY_YEAR: dict[int, tuple[float, float, float, float]] = {
    2004: (0.19, 0.23, 0.28, 0.30),  # EU8 accession on 1 May
    2014: (0.27, 0.21, 0.24, 0.28),  # end of EU2 restrictions in January; recording change lowers the spring
    2015: (0.28, 0.25, 0.22, 0.25),  # ... and lifts the year to June 2015
    2018: (0.24, 0.23, 0.23, 0.30),  # backlogs cleared by the new processing centres, late 2018 to early 2019
    2019: (0.30, 0.24, 0.22, 0.24),
    2020: (0.40, 0.1875, 0.205, 0.2075),  # COVID-19: Q2 2020 about 55,000, the lowest quarter of the series
    2021: (0.17, 0.21, 0.28, 0.34),  # end of free movement in January, then the new visa routes build up
    2022: (0.21, 0.24, 0.26, 0.29),  # Ukraine schemes from the spring
    2023: (0.27, 0.25, 0.24, 0.24),
    2024: (0.30, 0.26, 0.23, 0.21),  # visa rule changes bring the level down through the year
}

# Overseas and unknown-geography records as a fraction of the LA-geocoded ones, by year (national / LA sum - 1).
_GEOGRAPHY_EXCESS_YEARS = (2002.5, 2003.5, 2004.5, 2005.5, 2006.5, 2007.5, 2008.5, 2009.5, 2010.5)
_GEOGRAPHY_EXCESS = (0.120, 0.111, 0.096, 0.060, 0.059, 0.047, 0.055, 0.059, 0.053)
OVERSEAS_SHARE_OF_EXCESS = 0.4
"""Of the records outside UK local authorities, the share with an overseas address; the rest have no usable postcode."""


def quarter_midpoint(quarter: Quarter) -> float:
    """The quarter's middle as a fractional year (2004-Q2 -> 2004.375): the time axis of every calibrated trend."""
    return quarter.year + (quarter.number - 0.5) / 4


def _season(year: int) -> tuple[float, ...]:
    return _SEASON_BY_YEAR.get(year, _USUAL_SEASON)


def _split_year(total: int, shares: tuple[float, ...]) -> list[int]:
    # Largest-remainder rounding, so that the four quarters add up to the published year exactly.
    exact = [total * share / sum(shares) for share in shares]
    counts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(4), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def expected_quarter_volume(quarter: Quarter) -> int:
    """Statistically valid registrations geocoded to a UK local authority that the model puts in `quarter`.

    Before faults, overseas and unknown-geography records. Quarters after the last published year continue its level.
    """
    if quarter < FIRST_QUARTER:
        raise ValueError(f"the series starts at {FIRST_QUARTER}; there is no volume for {quarter}")
    published = published_annual_registrations()
    last_year = max(published)
    if quarter.year > last_year:
        return _split_year(published[last_year], _USUAL_SEASON)[quarter.number - 1]
    return _split_year(published[quarter.year], _season(quarter.year))[quarter.number - 1]


def geography_excess(quarter: Quarter) -> float:
    """Overseas plus unknown-geography records per LA-geocoded record in `quarter`."""
    return float(np.interp(quarter_midpoint(quarter), _GEOGRAPHY_EXCESS_YEARS, _GEOGRAPHY_EXCESS))
