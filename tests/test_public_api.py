"""The package's public face: every name in __all__ resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rallypoint


def test_every_public_name_resolves_to_what_it_names():
    import rallypoint.ingest.pipeline  # a subpackage import must not shadow a public name

    for name in rallypoint.__all__:
        value = getattr(rallypoint, name)
        assert value is not None and not isinstance(value, type(rallypoint)), name


def test_import_is_light():
    probe = "import sys, rallypoint; print('numpy' in sys.modules, 'polars' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["False", "False"]


def test_the_cli_imports_operations_only_through_the_public_face():
    from pathlib import Path

    cli = (Path(rallypoint.__file__).parent / "cli.py").read_text()
    deep = [line.strip() for line in cli.splitlines()
            if line.strip().startswith("from rallypoint.") and "errors" not in line and "allocator" not in line]
    assert deep == [], deep


def test_the_public_face_takes_an_options_object_and_changes_to_it():
    options = rallypoint.DetectOptions(threshold=0.5)
    assert options.with_changes(seed=3) == rallypoint.DetectOptions(threshold=0.5, seed=3)
    assert options.with_changes() is options
    with pytest.raises(rallypoint.RallypointError):
        options.with_changes(threshold=-1)
