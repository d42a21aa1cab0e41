"""Clean stage: the statistical definitions applied, NINos pseudonymised, record keys assigned; the NINo rules."""
