"""Secrets from the environment: each as the variable `NAME` itself, or as the content of the file that `NAME_FILE`
names, the way container platforms and systemd's credentials hand secrets over. Never from a file of the project."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class UnreadableSecret(Exception):
    """`NAME_FILE` names a file that cannot be read."""


def read_secret(name: str, environment: Mapping[str, str] | None = None) -> str | None:
    """The secret `name`, from `NAME_FILE`'s file (without its final newline) or from `NAME`; None when neither is
    set."""
    environment = os.environ if environment is None else environment
    path = environment.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UnreadableSecret(f"{name}_FILE names {path}, which cannot be read: {error.strerror}") from None
    return environment.get(name) or None
