"""The reference tables the generator is calibrated on, read once per process from `nino_assets/reference/data`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference" / "data"


def _read(name: str) -> pl.DataFrame:
    # Every column as text: codes such as iso_numeric "004" must keep their leading zeros.
    return pl.read_csv(REFERENCE_DIR / name, infer_schema_length=0)


@cache
def published_annual_registrations() -> dict[int, int]:
    """Registrations summed over UK local authorities, by calendar year (the volumes the generator targets)."""
    frame = _read("nino_published_national_annual.csv")
    return {int(year): int(count) for year, count in frame.select("year", "registrations").iter_rows()}


@cache
def grouped_countries() -> pl.DataFrame:
    """Countries that DWP groups (iso_alpha3, dwp_sub_region, dwp_world_region): the nationalities of valid records."""
    return (
        _read("countries.csv")
        .filter(pl.col("dwp_sub_region").is_not_null())
        .select("iso_alpha3", "dwp_nationality", "dwp_sub_region", "dwp_world_region")
        .sort("iso_alpha3")
    )


@cache
def all_country_codes() -> frozenset[str]:
    return frozenset(_read("countries.csv")["iso_alpha3"].to_list())


@cache
def local_authorities() -> pl.DataFrame:
    """The 361 local authorities with their region, country and mid-2020 population."""
    population = _read("la_population.csv").select("lad_code", pl.col("population").cast(pl.Int64))
    return _read("local_authorities.csv").join(population, on="lad_code", how="left").sort("lad_code")
