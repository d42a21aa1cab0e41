"""Blocking checks on the geocoded registrations that a suite cannot express: the postcode goes no further."""

from nino_assets.clean.checks import no_personal_data_check
from nino_assets.geography.assets import GEOCODED_REGISTRATIONS

geography_checks = [no_personal_data_check(GEOCODED_REGISTRATIONS)]
