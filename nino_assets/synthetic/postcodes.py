"""A synthetic postcode geography in the shape of the National Statistics Postcode Lookup (NSPL).

Postcodes and output areas are made up; the local authorities, regions and countries are the real ones
(`local_authorities.csv`). Each LA gets output areas in proportion to its population, several postcodes per output
area, and postcode districts in the postcode areas that really cover it (London boroughs E, N, SE, SW, W...;
Birmingham B; Glasgow G), so that postcodes look right and an LA's postcodes share districts.

Registrations are placed by LA weight = population x a concentration factor: migrants registering for a NINo are
concentrated in London and the large cities far beyond their share of the population.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from nino_assets.synthetic.reference import local_authorities
from nino_assets.synthetic.seed import DEFAULT_SEED

LOOKUP_COLUMNS = ("pcds", "pcd7", "oa21cd", "lad23cd", "rgn23cd", "ctry23cd")

_PEOPLE_PER_OUTPUT_AREA = 4000  # real OAs hold ~300 people; fewer, larger ones keep the lookup small
_MIN_OUTPUT_AREAS = 6
_POSTCODES_PER_OUTPUT_AREA = (3, 9)  # drawn uniformly in [low, high)
_POSTCODES_PER_DISTRICT = 250  # of the 10 sectors x 400 units a district could hold; real ones hold ~2,000
_LOOKUP_DISTRICTS = range(1, 80)  # districts 80-98 are never in the lookup: unknown postcodes come from there
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in the inward code

_AREAS_BY_LA_NAME = {
    "City of London": "EC", "Westminster": "W SW WC NW", "Camden": "NW WC N", "Islington": "N EC",
    "Hackney": "E N", "Tower Hamlets": "E", "Southwark": "SE", "Lambeth": "SE SW", "Wandsworth": "SW",
    "Hammersmith and Fulham": "W SW", "Kensington and Chelsea": "W SW", "Lewisham": "SE", "Greenwich": "SE",
    "Newham": "E", "Haringey": "N", "Brent": "NW HA", "Ealing": "W UB", "Hounslow": "TW", "Hillingdon": "UB HA",
    "Harrow": "HA", "Barnet": "N NW EN", "Enfield": "EN N", "Waltham Forest": "E", "Redbridge": "IG",
    "Barking and Dagenham": "IG RM", "Havering": "RM", "Bexley": "DA", "Bromley": "BR", "Croydon": "CR SE",
    "Sutton": "SM", "Merton": "SW CR", "Kingston upon Thames": "KT", "Richmond upon Thames": "TW SW",
    "Birmingham": "B", "Sandwell": "B", "Manchester": "M", "Salford": "M", "Trafford": "M", "Leeds": "LS",
    "Bradford": "BD", "Sheffield": "S", "Liverpool": "L", "Bristol, City of": "BS", "Leicester": "LE",
    "Nottingham": "NG", "Coventry": "CV", "Newcastle upon Tyne": "NE", "Cardiff": "CF", "Glasgow City": "G",
    "City of Edinburgh": "EH", "Aberdeen City": "AB", "Dundee City": "DD", "Southampton": "SO", "Portsmouth": "PO",
    "Reading": "RG", "Slough": "SL", "Luton": "LU", "Milton Keynes": "MK", "Peterborough": "PE", "Cambridge": "CB",
    "Oxford": "OX", "Brighton and Hove": "BN", "Wolverhampton": "WV", "Walsall": "WS", "Stoke-on-Trent": "ST",
    "Derby": "DE", "West Northamptonshire": "NN", "North Northamptonshire": "NN", "Kirklees": "HD",
    "Calderdale": "HX", "Wakefield": "WF", "Doncaster": "DN", "Kingston upon Hull, City of": "HU", "York": "YO",
    "Plymouth": "PL", "Swansea": "SA", "Newport": "NP", "Sunderland": "SR", "Middlesbrough": "TS",
    "Bolton": "BL", "Oldham": "OL", "Rochdale": "OL", "Stockport": "SK", "Wigan": "WN", "Preston": "PR",
    "Blackburn with Darwen": "BB", "Blackpool": "FY", "Norwich": "NR", "Ipswich": "IP", "Colchester": "CO",
    "Chelmsford": "CM", "Southend-on-Sea": "SS", "Medway": "ME", "Swindon": "SN", "Exeter": "EX",
    "Gloucester": "GL", "Bournemouth, Christchurch and Poole": "BH", "Lincoln": "LN", "Boston": "PE",
    "Warrington": "WA", "Cheshire West and Chester": "CH", "Wirral": "CH", "Cumberland": "CA",
    "Stockton-on-Tees": "TS", "County Durham": "DH", "Darlington": "DL", "North Yorkshire": "YO HG DL",
    "Telford and Wrekin": "TF", "Worcester": "WR", "Herefordshire, County of": "HR", "Dudley": "DY",
}
# Everywhere else: a postcode area of the LA's region (Northern Ireland is all BT).
_AREAS_BY_REGION = {
    "E12000001": "NE SR DH DL TS",
    "E12000002": "BB BL CA CH CW FY L LA M OL PR SK WA WN",
    "E12000003": "BD DN HD HG HU HX LS S WF YO",
    "E12000004": "DE LE LN NG NN S PE",
    "E12000005": "B CV DY HR ST TF WR WS WV",
    "E12000006": "AL CB CM CO IP LU NR PE SG SS WD EN",
    "E12000007": "E N SE SW W",
    "E12000008": "BN CT GU ME MK OX PO RG RH SL SO TN HP",
    "E12000009": "BA BH BS DT EX GL PL SN SP TA TQ TR",
    "W92000004": "CF NP SA LL SY LD",
    "S92000003": "AB DD DG EH FK G HS IV KA KW KY ML PA PH TD ZE",
    "N92000002": "BT",
}
_LETTERED_DISTRICT_AREAS = frozenset({"EC", "WC"})  # central London districts read EC1A, WC2H

# Registrations per head relative to the UK as a whole (1 elsewhere).
_INNER_LONDON = frozenset({
    "City of London", "Camden", "Greenwich", "Hackney", "Hammersmith and Fulham", "Haringey", "Islington",
    "Kensington and Chelsea", "Lambeth", "Lewisham", "Newham", "Southwark", "Tower Hamlets", "Wandsworth",
    "Westminster",
})
_INNER_LONDON_FACTOR = 5.0
_OUTER_LONDON_FACTOR = 3.0
_CITY_FACTORS = {
    "Slough": 3.0, "Boston": 3.0, "Luton": 2.5, "Peterborough": 2.5, "Birmingham": 2.5, "Manchester": 2.5,
    "Leicester": 2.5, "Cambridge": 2.5, "Oxford": 2.5, "Reading": 2.5, "Glasgow City": 2.0,
    "City of Edinburgh": 2.0, "Leeds": 2.0, "Bristol, City of": 2.0, "Liverpool": 2.0, "Sheffield": 2.0,
    "Nottingham": 2.0, "Coventry": 2.0, "Cardiff": 2.0, "Belfast": 2.0, "Newcastle upon Tyne": 2.0,
    "Southampton": 2.0, "Milton Keynes": 2.0, "Salford": 2.0, "Bradford": 1.8, "Wolverhampton": 1.8,
    "West Northamptonshire": 1.8, "Aberdeen City": 1.8, "Norwich": 1.6,
    "Brighton and Hove": 1.6, "Portsmouth": 1.6, "Derby": 1.6, "Sandwell": 1.6, "Kingston upon Hull, City of": 1.5,
    "Stoke-on-Trent": 1.5, "Swansea": 1.4, "Crawley": 2.0, "Hounslow": 3.5, "Brent": 4.0, "Ealing": 3.5,
}


@dataclass(frozen=True)
class PostcodeGeography:
    """The lookup and what the generator needs to draw postcodes from it."""

    lookup: pl.DataFrame  # LOOKUP_COLUMNS, one row per postcode, grouped by LA
    pcds: np.ndarray  # the lookup's pcds column
    la_codes: np.ndarray  # lad23cd of each LA, in lookup order
    la_weights: np.ndarray  # probability that a registration is in each LA
    la_first_row: np.ndarray  # the LA's first row in the lookup
    la_row_count: np.ndarray  # how many postcodes the LA has

    def draw_postcodes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Row numbers in `lookup` for n registrations: an LA by weight, then one of its postcodes uniformly."""
        la = rng.choice(self.la_weights.size, size=n, p=self.la_weights)
        return self.la_first_row[la] + (rng.random(n) * self.la_row_count[la]).astype(np.int64)


def _district_label(area: str, number: int) -> str:
    if area in _LETTERED_DISTRICT_AREAS:
        return f"{area}{(number - 1) // 8 + 1}{'ABHMNRVY'[(number - 1) % 8]}"
    return f"{area}{number}"


def _inward_codes(units: np.ndarray) -> list[str]:
    """Inward codes ("2AB") for unit numbers in [0, 4000): sector digit, then two unit letters."""
    sector, rest = np.divmod(units, len(UNIT_LETTERS) ** 2)
    first, second = np.divmod(rest, len(UNIT_LETTERS))
    letters = UNIT_LETTERS
    return [f"{s}{letters[a]}{letters[b]}" for s, a, b in zip(sector.tolist(), first.tolist(), second.tolist())]


def pcd7(pcds: str) -> str:
    """NSPL's 7-character form: the outward code left-justified in 4 characters, then the inward code."""
    outward, inward = pcds.split(" ")
    return outward.ljust(4) + inward


def _la_weights(authorities: pl.DataFrame) -> np.ndarray:
    factors = np.array(
        [
            _CITY_FACTORS.get(name, _INNER_LONDON_FACTOR if name in _INNER_LONDON else
                              _OUTER_LONDON_FACTOR if region == "E12000007" else 1.0)
            for name, region in authorities.select("lad_name", "region_code").iter_rows()
        ]
    )
    weights = authorities["population"].to_numpy().astype(float) * factors
    return weights / weights.sum()


@cache
def postcode_geography(seed: int) -> PostcodeGeography:
    """The synthetic geography for `seed` (cached per process: scans and the lookup must agree)."""
    rng = np.random.default_rng([seed, 0x9C0DE])
    authorities = local_authorities()
    # The LAs named in _AREAS_BY_LA_NAME take their districts first, so that Westminster gets W1 and SW1.
    named = list(_AREAS_BY_LA_NAME)
    allocation_order = sorted(
        authorities.iter_rows(named=True),
        key=lambda la: named.index(la["lad_name"]) if la["lad_name"] in _AREAS_BY_LA_NAME else len(named),
    )
    next_district: dict[str, int] = {}
    next_oa_number = {"E": 1, "W": 1, "S": 1, "N": 1}
    rows_by_la: dict[str, pl.DataFrame] = {}
    for la in allocation_order:
        name = la["lad_name"]
        region_areas = _AREAS_BY_REGION[la["region_code"]].split()
        areas = _AREAS_BY_LA_NAME.get(name, "").split() or [str(rng.choice(region_areas))]
        oa_count = max(_MIN_OUTPUT_AREAS, round(la["population"] / _PEOPLE_PER_OUTPUT_AREA))
        per_oa = rng.integers(*_POSTCODES_PER_OUTPUT_AREA, size=oa_count)
        total = int(per_oa.sum())
        # Consecutive districts and sorted units, so that an OA's postcodes share a sector as real ones mostly do.
        pcds: list[str] = []
        for d in range(math.ceil(total / _POSTCODES_PER_DISTRICT)):
            area = areas[d % len(areas)]
            number = next_district.get(area, _LOOKUP_DISTRICTS.start)
            if number not in _LOOKUP_DISTRICTS:
                raise RuntimeError(f"postcode area {area} ran out of districts")
            next_district[area] = number + 1
            size = min(_POSTCODES_PER_DISTRICT, total - len(pcds))
            units = np.sort(rng.choice(len(UNIT_LETTERS) ** 2 * 10, size=size, replace=False))
            outward = _district_label(area, number)
            pcds.extend(f"{outward} {inward}" for inward in _inward_codes(units))
        letter = la["lad_code"][0]
        oa_codes = [f"{letter}00{next_oa_number[letter] + i:06d}" for i in range(oa_count)]
        next_oa_number[letter] += oa_count
        rows_by_la[la["lad_code"]] = pl.DataFrame(
            {
                "pcds": pcds,
                "pcd7": [pcd7(code) for code in pcds],
                "oa21cd": np.repeat(oa_codes, per_oa).tolist(),
                "lad23cd": [la["lad_code"]] * total,
                "rgn23cd": [la["region_code"]] * total,
                "ctry23cd": [la["country_code"]] * total,
            }
        )
    la_codes = authorities["lad_code"].to_list()
    row_count = np.array([rows_by_la[code].height for code in la_codes], dtype=np.int64)
    lookup = pl.concat([rows_by_la[code] for code in la_codes]).select(LOOKUP_COLUMNS)
    return PostcodeGeography(
        lookup=lookup,
        pcds=lookup["pcds"].to_numpy(),
        la_codes=np.array(la_codes),
        la_weights=_la_weights(authorities),
        la_first_row=np.concatenate([[0], np.cumsum(row_count)[:-1]]),
        la_row_count=row_count,
    )


def write_postcode_lookup(path: Path, *, seed: int = DEFAULT_SEED) -> Path:
    """Write the NSPL-shaped lookup CSV for `seed` atomically; scans generated with the same seed geocode against it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    postcode_geography(seed).lookup.write_csv(temporary)
    temporary.replace(path)
    return path


def unknown_postcodes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Well-formed postcodes that are not in the lookup (terminated, or too new for this lookup's vintage)."""
    areas = sorted({a for spec in _AREAS_BY_REGION.values() for a in spec.split()})
    area = np.array(areas)[rng.integers(0, len(areas), size=n)]
    district = rng.integers(_LOOKUP_DISTRICTS.stop, 99, size=n)
    inward = _inward_codes(rng.integers(0, len(UNIT_LETTERS) ** 2 * 10, size=n))
    return np.array([f"{a}{d} {i}" for a, d, i in zip(area.tolist(), district.tolist(), inward)], dtype="U10")


_MALFORMED_POSTCODES = ("N/A", "NONE", "NFA", "12345", "SW", "LS11", "B1 1A", "M1 1AAA", "G1 AA1", "1AB 2CD")


def malformed_postcodes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Postcodes no normalisation can rescue: placeholders, outward code alone, misplaced or extra characters."""
    return np.array(_MALFORMED_POSTCODES)[rng.integers(0, len(_MALFORMED_POSTCODES), size=n)]
