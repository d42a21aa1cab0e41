"""Ingest stage: the quarter's scan checked whole and loaded byte for byte into the raw layer; the scan's format."""
