"""Not code: the Great Expectations suites, one folder a stage, installed as the package data
`nino_assets.expectations`."""
