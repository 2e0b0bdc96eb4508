"""Fixtures of the bad-input suite (files, values, mappings).

Kept beside the suite rather than in tests/conftest.py so the helpers that share this folder
each keep their own fixtures.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from .cases import valid_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    """A small valid panel whose text columns hold 'NA' (Namibia) and other awkward text."""
    return valid_frame()


@pytest.fixture
def fingerprint():
    """SHA-256 of a file, or of a folder's files and their relative paths."""

    def digest(path: Path) -> str:
        h = hashlib.sha256()
        files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() \
            else [Path(path)]
        for file in files:
            h.update(str(file.relative_to(path) if Path(path).is_dir() else file.name).encode())
            h.update(file.read_bytes())
        return h.hexdigest()

    return digest
