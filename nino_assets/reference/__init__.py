"""Reference stage: versioned classifications and lookups (local authorities, nationalities, age bands, the
postcode lookup, discontinuities, the release calendar), each with its source and vintage."""
