"""Not code: the SQL transforms, one folder a stage, installed as the package data `nino_assets.sql`."""
