"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Third-party data with peer tools' results (never edited)."""
    assert SHARED_REFERENCE.exists(), f"missing {SHARED_REFERENCE}"
    return SHARED_REFERENCE
