"""The cell key method of disclosure control, in three parts kept apart as the ONS `cell-key-perturbation` package
keeps them: record keys (`record_keys`), cell keys (`cell_keys`) and the perturbation table (`ptable`).
Pure modules: the SQL that applies them runs inside DuckDB, on the warehouse's tables.
"""
