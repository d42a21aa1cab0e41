"""Geography stage: each registration placed by its postcode; the postcode goes no further."""
