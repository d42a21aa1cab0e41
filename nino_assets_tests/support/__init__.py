"""Helpers the tests share: hand-made worlds, scan files, the warehouse's queries, the service's client."""
