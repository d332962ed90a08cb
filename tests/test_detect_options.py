"""DetectOptions: the one place detect's options, defaults and help live, validated once."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from rallypoint.cli import detect as detect_command
from rallypoint.detectors.options import DetectOptions, option_help
from rallypoint.detectors.pipeline import detect_run
from rallypoint.errors import RallypointError
from rallypoint.lake import Lake


def test_the_commands_defaults_and_help_are_the_options():
    params = {p.name: p for p in detect_command.params if isinstance(p, click.Option)}
    fields = DetectOptions.__dataclass_fields__
    shared = set(params) & set(fields)
    assert shared >= {"since", "window", "types", "min_participation", "null_model", "significance", "text_threshold",
                      "objective",
                      "resolution", "pair_budget", "threshold", "seed", "scheduler", "run_id"}
    for name in shared:
        assert params[name].default == fields[name].default, name
        if name != "neo4j_uri":  # the shared --neo4j option names its environment variable
            assert params[name].help == option_help(name), name


def test_reading_the_options_imports_no_numpy_before_the_allocator_is_set():
    probe = ("import sys, rallypoint.cli, rallypoint; rallypoint.DetectOptions.threshold; "
             "rallypoint.detect_option_help('window'); print('numpy' in sys.modules, 'polars' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["False", "False"]


def test_run_json_parameters_are_the_options_with_what_the_run_settled_on():
    options = DetectOptions(since="2021-01-02", window="60s", types="co_repost, co_link", threshold=0.4)
    assert options.types == ("co_repost", "co_link")
    params = options.parameters(resolution=0.05, strength_cap=10.0, sure_p_value=1e-4, pair_budget=7)
    assert list(params) == ["since", "until", "window", "types", "min_participation", "null_model", "significance",
                            "text_threshold", "loose_groups", "objective", "resolution", "strength_cap", "sure_p_value", "pair_budget", "threshold", "seed", "scheduler"]
    assert params["since"] == "2021-01-02T00:00:00+00:00" and params["until"] is None
    assert params["types"] == ["co_repost", "co_link"] and params["threshold"] == 0.4 and params["pair_budget"] == 7
    assert "run_id" not in params and "neo4j_uri" not in params
    with pytest.raises(TypeError):
        options.parameters(not_an_option=1)


@pytest.mark.parametrize("changes", [
    {"threshold": 1.5}, {"threshold": True}, {"objective": "louvain"}, {"resolution": 0}, {"seed": 0.5},
    {"types": "co_nope"}, {"window": "soon"}, {"null_model": "bogus"}, {"min_participation": 0},
    {"significance": 0}, {"text_threshold": 0}, {"text_threshold": 1.5}, {"pair_budget": 0}, {"run_id": "../up"}, {"since": "yesterday"},
    {"since": "2021-01-05", "until": "2021-01-01"},
])
def test_an_option_that_cannot_be_used_is_one_sentence_before_the_lake_is_read(tmp_path, changes):
    lake = Lake(tmp_path / "lake").ensure()
    with pytest.raises(RallypointError) as refused:
        detect_run(lake.root, show_progress=False, **changes)
    message = str(refused.value)
    assert message.endswith(".") and "\n" not in message and message.count(". ") <= 1, message
    assert not list(lake.runs_dir.glob("*")), "nothing of a run may be left behind"
