"""The query service: the published cube as Stat-Xplore's Open Data API, perturbed on the fly.

`schema` (ids and nodes), `tables` (queries and response bodies), `cube` (the released cube in DuckDB), `access`
(API keys and rate limits) are pure or nearly so; `app` is the thin web layer; `python -m nino_assets.service` starts
it."""
