"""The default seed of the synthetic world: its postcode geography and every quarter's scan derive from it."""

DEFAULT_SEED = 2002
