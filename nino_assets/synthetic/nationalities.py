"""The nationality mix of registrations, shifting over time.

Each component (one country, or the rest of a DWP sub-region) has a share in per cent at a few anchor times, linear
in between and flat beyond the ends; a quarter's shares are the components at its midpoint, normalised. Anchors sit
at the turning points DWP's bulletins describe: EU8 accession (May 2004), EU2 accession (2007) and the end of its
restrictions (2014), Croatia (July 2013), the end of free movement (2021), the Ukraine schemes (2022) and the rise of
South Asian and African registrations after 2021. The 2025 anchors are the published top 15 shares
(`nino_published_top_nationalities_2025.csv`); for 2002-2010, world-area factors fitted to DWP's published shares
(`nino_published_national_2002_2010.csv`) bring the EU and Asia to their published shares, and the EU8 and EU2
anchors put those groups within two points of theirs.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from nino_assets.shared.quarters import Quarter
from nino_assets.synthetic.calibration import quarter_midpoint
from nino_assets.synthetic.reference import grouped_countries

# Countries with their own trend: anchor time (fractional year) -> per cent of registrations.
_COUNTRY_TRENDS: dict[str, dict[float, float]] = {
    # European Union
    "POL": {2002.0: 1.5, 2003.5: 2.7, 2003.9: 2.8, 2004.3: 3.0, 2004.5: 11, 2004.9: 24, 2006.0: 31, 2007.5: 28,
            2008.5: 21, 2009.5: 16, 2011.0: 14, 2014.0: 10, 2016.5: 8, 2018.5: 5.5, 2020.0: 4, 2021.2: 1.5,
            2022.5: 0.6, 2024.9: 0.45},
    "ROU": {2002.0: 1.1, 2004.5: 1.3, 2005.5: 0.35, 2006.5: 0.2, 2007.1: 2.2, 2008.5: 3.8, 2010.5: 3.2, 2013.5: 4,
            2014.1: 12, 2015.5: 21, 2016.5: 22, 2017.5: 20, 2019.5: 19, 2020.5: 14, 2021.5: 5, 2022.5: 2.2,
            2024.9: 1.2},
    "BGR": {2002.0: 0.6, 2004.5: 0.7, 2005.5: 0.15, 2006.5: 0.1, 2007.1: 1.1, 2008.5: 2.1, 2010.5: 1.6, 2013.5: 1.5,
            2014.1: 4.5, 2015.5: 5.5, 2016.5: 5, 2019.5: 4.5, 2020.5: 3.5, 2021.5: 1.8, 2022.5: 0.9, 2024.9: 0.5},
    "HRV": {2013.4: 0.1, 2013.6: 0.5, 2015.5: 0.9, 2020.0: 0.6, 2022.0: 0.2},
    "IRL": {2002.0: 1.5, 2020.0: 1.2, 2022.0: 1.8, 2024.9: 2.0},
    # Asia
    "IND": {2002.0: 7.5, 2004.0: 7.5, 2005.5: 6, 2007.5: 6.5, 2009.5: 9.5, 2010.5: 10.5, 2011.5: 9, 2012.5: 7,
            2015.5: 5, 2019.5: 7, 2020.5: 10, 2021.5: 18, 2022.5: 20, 2023.5: 23, 2024.9: 22.8},
    "PAK": {2002.0: 4.5, 2005.5: 3.2, 2009.5: 5.5, 2010.5: 6, 2012.5: 4, 2016.5: 2, 2020.5: 3, 2021.5: 5,
            2022.5: 6, 2023.5: 7.5, 2024.9: 9.9},
    "BGD": {2002.0: 2.2, 2010.5: 2.5, 2013.5: 1.2, 2019.5: 1, 2021.5: 2, 2023.5: 3.5, 2024.9: 2.8},
    "NPL": {2002.0: 0.6, 2010.5: 1, 2016.5: 0.3, 2020.5: 0.5, 2022.5: 1.5, 2023.5: 3, 2024.9: 4.4},
    "LKA": {2002.0: 1.8, 2010.5: 1.5, 2016.5: 0.5, 2022.5: 1.2},
    "CHN": {2002.0: 3.8, 2005.5: 3, 2010.5: 3, 2016.5: 2.6, 2020.5: 3.5, 2022.5: 4, 2024.9: 4.9},
    "HKG": {2002.0: 0.6, 2020.5: 0.5, 2021.5: 1.4, 2024.9: 1.0},
    "PHL": {2002.0: 2.4, 2004.5: 3, 2007.5: 2.6, 2010.5: 1.5, 2016.5: 0.9, 2021.5: 1.8, 2022.5: 2, 2024.9: 1.3},
    "THA": {2002.0: 0.8, 2024.9: 0.5},
    "AFG": {2002.0: 1.2, 2010.5: 1.2, 2016.5: 0.6, 2021.5: 0.8, 2022.5: 1.6, 2024.9: 1.8},
    "IRN": {2002.0: 1.4, 2010.5: 1.3, 2016.5: 0.8, 2020.5: 0.8, 2022.5: 1.5, 2024.9: 2.1},
    "IRQ": {2002.0: 1.4, 2010.5: 0.9, 2016.5: 0.5, 2024.9: 0.8},
    "SYR": {2002.0: 0.2, 2016.5: 0.6, 2024.9: 0.8},
    # Rest of the world and other Europe
    "NGA": {2002.0: 2, 2010.5: 2, 2016.5: 1, 2020.5: 2, 2021.5: 3.5, 2022.5: 6.5, 2023.5: 9, 2024.9: 8.1},
    "GHA": {2002.0: 1.5, 2010.5: 1.2, 2016.5: 0.5, 2022.5: 1.3, 2024.9: 1.6},
    "ZWE": {2002.0: 3.5, 2004.5: 3, 2010.5: 1.2, 2016.5: 0.4, 2022.5: 1.8, 2023.5: 2, 2024.9: 1.3},
    "ZAF": {2002.0: 6, 2004.5: 5, 2008.5: 2.5, 2012.5: 1, 2016.5: 0.8},
    "ERI": {2002.0: 0.2, 2010.5: 0.3, 2016.5: 0.6, 2020.5: 0.5, 2023.5: 1, 2024.9: 1.6},
    "SDN": {2002.0: 0.3, 2016.5: 0.4, 2022.5: 0.5, 2023.5: 1, 2024.9: 1.5},
    "USA": {2002.0: 2.5, 2010.5: 2, 2016.5: 1.5, 2020.5: 2, 2024.9: 2.7},
    "CAN": {2002.0: 1.2, 2024.9: 0.8},
    "AUS": {2002.0: 7, 2005.5: 4.5, 2008.5: 3.5, 2012.5: 2, 2016.5: 1.4, 2020.5: 1.2, 2022.5: 1.7},
    "NZL": {2002.0: 3, 2008.5: 1.5, 2016.5: 0.7},
    "BRA": {2002.0: 2, 2008.5: 1.5, 2016.5: 0.9, 2022.5: 1.2, 2024.9: 1.0},
    "UKR": {2002.0: 0.6, 2014.5: 0.3, 2022.1: 0.4, 2022.4: 10, 2022.9: 7, 2023.5: 3.5, 2024.2: 2.5, 2024.9: 2.3},
    "RUS": {2002.0: 0.6, 2024.9: 0.3},
    "ALB": {2002.0: 0.3, 2020.5: 0.4, 2022.5: 1.0, 2024.9: 0.7},
    "TUR": {2002.0: 1.2, 2016.5: 0.6, 2022.5: 1.2, 2024.9: 1.0},
}

# The rest of each DWP sub-region: its trend, and the relative weights of its notable members (others weigh 1).
_REST_TRENDS: dict[str, dict[float, float]] = {
    "European Union EU15": {2002.0: 21, 2004.0: 20, 2005.5: 14, 2007.5: 13, 2009.5: 16, 2011.0: 17, 2013.5: 21,
                            2015.5: 16, 2016.5: 15, 2018.5: 14, 2020.0: 12, 2021.2: 5, 2022.5: 3.0},
    "European Union EU8": {2002.0: 1.0, 2003.5: 1.8, 2003.9: 1.9, 2004.3: 2.0, 2004.5: 4.5, 2004.9: 10, 2006.0: 12.5,
                           2007.5: 13, 2008.5: 12, 2009.5: 11, 2011.0: 11.5, 2013.5: 10, 2016.5: 7, 2019.5: 5,
                           2020.5: 4, 2021.5: 1.4, 2022.5: 0.6, 2024.9: 0.4},
    "European Union Other": {2002.0: 0.25},
    "Other Europe": {2002.0: 1.5, 2024.9: 1.3},
    "Middle East and Central Asia": {2002.0: 1.5, 2024.9: 1.3},
    "East Asia": {2002.0: 2, 2024.9: 0.8},
    "South Asia": {2002.0: 0.05},
    "South East Asia": {2002.0: 2, 2024.9: 1.5},
    "Sub-Saharan Africa": {2002.0: 4, 2010.5: 3, 2016.5: 1.5, 2024.9: 3.0},
    "North Africa": {2002.0: 1, 2024.9: 0.8},
    "North America": {2002.0: 0.05},
    "Central and South America": {2002.0: 2, 2016.5: 1, 2024.9: 1.6},
    "Oceania": {2002.0: 0.1},
}
_NOTABLE_WEIGHTS: dict[str, float] = {
    # EU14 without Ireland
    "ITA": 22, "ESP": 20, "FRA": 15, "PRT": 14, "DEU": 9, "GRC": 5, "NLD": 3.5, "BEL": 2, "SWE": 1.5,
    "AUT": 0.8, "DNK": 0.8, "FIN": 0.6, "LUX": 0.1,
    # EU8 without Poland
    "LTU": 30, "SVK": 22, "LVA": 18, "HUN": 18, "CZE": 9, "EST": 2, "SVN": 1,
    "CYP": 1, "MLT": 1,
    # elsewhere
    "MDA": 3, "NOR": 3, "CHE": 3, "GEO": 2, "BIH": 2, "MKD": 2, "BLR": 2, "ARM": 1.5, "AZE": 1.5, "ISL": 1.5,
    "SAU": 6, "ARE": 4, "ISR": 5, "JOR": 4, "LBN": 4, "KAZ": 3, "KWT": 3, "UZB": 2, "YEM": 2,
    "JPN": 10, "KOR": 10, "TWN": 6, "MNG": 2,
    "MYS": 12, "VNM": 10, "IDN": 6, "SGP": 5, "MMR": 3, "KHM": 1,
    "KEN": 20, "UGA": 12, "SOM": 12, "ZMB": 8, "CMR": 6, "SLE": 6, "COD": 6, "ETH": 6, "MWI": 5, "TZA": 5,
    "MUS": 5, "GMB": 3, "SEN": 3, "CIV": 3, "NAM": 2, "BWA": 2, "RWA": 2, "AGO": 2, "LBR": 2,
    "EGY": 12, "MAR": 8, "DZA": 6, "LBY": 4, "TUN": 4,
    "PRI": 1,
    "JAM": 20, "COL": 15, "TTO": 8, "ARG": 8, "MEX": 8, "VEN": 6, "CHL": 5, "ECU": 5, "PER": 5, "GUY": 3,
    "BRB": 3, "CUB": 2, "BOL": 2, "DOM": 2,
    "FJI": 8, "PNG": 2, "WSM": 1, "TON": 1,
}
# DWP's published world-area shares for 2002-2010 are met by scaling whole world areas at each year's midpoint
# (fitted to `nino_published_national_2002_2010.csv`; 1 elsewhere): the EU8 surge raised the EU's share while other
# nationalities' numbers changed little, which the per-country anchors alone would have to repeat everywhere.
_WORLD_AREA_FACTORS: dict[str, dict[float, float]] = {
    "European Union": {2002.5: 1.10, 2003.5: 0.99, 2004.5: 1.08, 2005.5: 1.35, 2006.5: 1.52, 2007.5: 1.61,
                       2008.5: 1.39, 2009.5: 1.21, 2010.5: 1.34, 2013.5: 1.0},
    "Asia": {2002.5: 1.0, 2003.5: 0.89, 2004.5: 0.96, 2005.5: 0.91, 2006.5: 0.96, 2007.5: 1.01, 2008.5: 0.87,
             2009.5: 1.04, 2010.5: 1.26, 2013.5: 1.0},
}
# Territories with no settled population of their own: never drawn.
_UNINHABITED = frozenset({"ATF", "BVT", "CCK", "CXR", "HMD", "IOT", "PCN", "SGS", "UMI", "VAT", "GRL", "FLK"})


@cache
def _components() -> tuple[tuple[str, ...], np.ndarray, np.ndarray, list[dict[float, float]], np.ndarray]:
    """(codes, each code's component, its weight within the component, the trends, its world-area factor index)."""
    countries = grouped_countries()
    codes = tuple(countries["iso_alpha3"].to_list())
    sub_regions = countries["dwp_sub_region"].to_list()
    factor_names = list(_WORLD_AREA_FACTORS)
    factor = np.array(
        [factor_names.index(area) if area in _WORLD_AREA_FACTORS else -1 for area in countries["dwp_world_region"]]
    )
    trends: list[dict[float, float]] = list(_COUNTRY_TRENDS.values()) + list(_REST_TRENDS.values())
    rest_index = {sub_region: len(_COUNTRY_TRENDS) + i for i, sub_region in enumerate(_REST_TRENDS)}
    own_index = {code: i for i, code in enumerate(_COUNTRY_TRENDS)}
    component = np.array(
        [own_index[code] if code in own_index else rest_index[sub] for code, sub in zip(codes, sub_regions)]
    )
    weight = np.array(
        [
            1.0 if code in own_index else 0.0 if code in _UNINHABITED else _NOTABLE_WEIGHTS.get(code, 1.0)
            for code in codes
        ]
    )
    # Normalise within each component, so that a component's trend is its share whatever its membership.
    totals = np.bincount(component, weights=weight, minlength=len(trends))
    return codes, component, weight / totals[component], trends, factor


def _at(anchors: dict[float, float], t: float, default: float = 0.0) -> float:
    return float(np.interp(t, list(anchors), list(anchors.values()))) if anchors else default


def nationality_codes() -> tuple[str, ...]:
    """The ISO alpha-3 codes valid records draw from: every country with a DWP grouping."""
    return _components()[0]


def nationality_probabilities(quarter: Quarter) -> np.ndarray:
    """The probability of each code in `nationality_codes()` for a registration in `quarter`."""
    _, component, weight, trends, factor = _components()
    t = quarter_midpoint(quarter)
    shares = np.array([_at(trend, t) for trend in trends])
    factors = np.array([_at(anchors, t, default=1.0) for anchors in _WORLD_AREA_FACTORS.values()] + [1.0])
    probabilities = shares[component] * weight * factors[factor]
    return probabilities / probabilities.sum()
