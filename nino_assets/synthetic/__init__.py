"""The synthetic Migrant Workers Scan: one file a quarter at DWP's published volumes, with realistic faults.

Real extracts are personal data; these stand in for them. See `generator` for how a quarter's file is made,
`calibration` and `nationalities` for what it is calibrated on, `faults` for what goes wrong in it.
"""

from nino_assets.synthetic.calibration import expected_quarter_volume
from nino_assets.synthetic.faults import DEFAULT_FAULT_RATES, NO_FAULTS, FaultRates, StructuralDamage
from nino_assets.synthetic.generator import generate_quarter, generate_series
from nino_assets.synthetic.postcodes import write_postcode_lookup
from nino_assets.synthetic.seed import DEFAULT_SEED

__all__ = [
    "DEFAULT_FAULT_RATES",
    "DEFAULT_SEED",
    "NO_FAULTS",
    "FaultRates",
    "StructuralDamage",
    "expected_quarter_volume",
    "generate_quarter",
    "generate_series",
    "write_postcode_lookup",
]
