"""Publication stage: a release's tables, bulletin and cube, behind the publication gate."""
