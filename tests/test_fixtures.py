"""The recordings kept in tests/ are an unchanged copy of the shared ones."""

import filecmp
from pathlib import Path

import pytest

from .helpers import SHARED

COPY = Path(__file__).resolve().parent / "fixtures" / "piwheels-master"
ORIGINAL = SHARED / "fixtures" / "piwheels-master"


@pytest.mark.skipif(not ORIGINAL.is_dir(), reason="no shared folder here")
def test_copy_is_unchanged():
    names = sorted(p.name for p in ORIGINAL.iterdir())
    assert names == sorted(p.name for p in COPY.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(
        ORIGINAL, COPY, names, shallow=False)
    assert mismatch == [] and errors == []
