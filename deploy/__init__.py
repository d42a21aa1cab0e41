"""Not code: the production deployment's files; the instance and workspace files are installed as the package data
`nino_assets.deploy_files`."""
