"""Shared machinery of every stage: the warehouse and its tables, quarters and partitions, the data folder, the
files the package carries (SQL, suites), the expectation loader and the ledger of check outcomes."""
