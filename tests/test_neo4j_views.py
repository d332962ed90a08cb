"""Saved Cypher views (``rallypoint.neo4j.views``): loading, parameters, and runs against the real server."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner
from graph_fixtures import build_small_lake, delete_token, write_small_run

from rallypoint.cli import main
from rallypoint.graph.export import SealedQueryRefused, WriteQueryRefused
from rallypoint.neo4j.loaders import load_lake_into_neo4j
from rallypoint.neo4j.runs import write_run_to_neo4j
from rallypoint.neo4j.views import View, ViewError, load_views, parse_params, run_view

HOSTILE = 'a name"}) DETACH DELETE n //'


def _user_views(folder, body: str):
    folder.mkdir(exist_ok=True)
    (folder / "mine.toml").write_text(body)
    return folder


def test_the_built_in_views_load_and_each_declares_typed_parameters():
    views, problems = load_views([])
    assert problems == []
    assert {"top_clusters", "cluster_members", "shared_targets", "hashtag_accounts", "domain_sharers"} <= set(views)
    for view in views.values():
        assert view.description and view.cypher
        for param in view.params:
            assert f"${param.name}" in view.cypher  # every declared parameter is used


def test_a_malformed_view_is_left_out_alone_in_one_sentence_naming_its_file(tmp_path):
    folder = _user_views(tmp_path / "views", """
[views.good]
description = "fine"
cypher = "MATCH (a:Account {id: $id}) RETURN a"
params.id = { type = "string" }

[views.bad]
cypher = "MATCH (a) RETURN a"
params.n = { type = "list" }

[views.nocypher]
description = "no query"
""")
    views, problems = load_views([folder])
    assert "good" in views and "bad" not in views and "nocypher" not in views
    assert "top_clusters" in views  # the built-in ones stay
    assert len(problems) == 2 and all(str(folder / "mine.toml") in p for p in problems)
    (folder / "broken.toml").write_text("[views.x\n")
    _, problems = load_views([folder])
    assert any("broken.toml" in p and "not valid TOML" in p for p in problems)
    with pytest.raises(ViewError, match="does not exist"):
        load_views([tmp_path / "missing"])


def test_parameters_are_typed_defaulted_and_checked():
    view = View.from_table("v", {"description": "d", "cypher": "RETURN $n, $flag, $who",
                                 "params": {"n": {"type": "int", "default": 5}, "flag": {"type": "bool"},
                                            "who": {"type": "string"}}}, source=__import__("pathlib").Path("x"))
    assert view.bind({"flag": "yes", "who": HOSTILE}) == {"n": 5, "flag": True, "who": HOSTILE}
    assert view.bind({"flag": "0", "who": "", "n": "7"})["n"] == 7
    with pytest.raises(ViewError, match="of type int"):
        view.bind({"flag": "true", "who": "x", "n": "seven"})
    with pytest.raises(ViewError, match="needs --param flag"):
        view.bind({"who": "x"})
    with pytest.raises(ViewError, match="no parameter 'nn'"):
        view.bind({"flag": "true", "who": "x", "nn": "1"})
    assert parse_params(["a=b=c", "x="]) == {"a": "b=c", "x": ""}
    with pytest.raises(ViewError, match="NAME=VALUE"):
        parse_params(["novalue"])
    with pytest.raises(ViewError, match="default that is not of type int"):
        View.from_table("w", {"cypher": "RETURN $n", "params": {"n": {"type": "int", "default": True}}},
                        source=__import__("pathlib").Path("x"))


# --- against the shared server: views only read; the fixture's data carries its own token ---------
@pytest.fixture(scope="module")
def loaded(tmp_path_factory, neo4j_driver):
    world = build_small_lake(tmp_path_factory.mktemp("neo4j-views") / "lake")
    world.run_id = write_small_run(world.lake, world.token)
    load_lake_into_neo4j(world.lake.root, None)
    write_run_to_neo4j(world.lake.root, world.run_id, None)
    yield world, neo4j_driver
    delete_token(neo4j_driver, world.token)


@pytest.mark.neo4j
def test_built_in_views_answer_from_the_graph(loaded):
    world, _ = loaded
    views, _ = load_views([])
    top = run_view(views["top_clusters"], {"run_id": world.run_id})
    assert top["columns"][:2] == ["cluster", "score"]
    assert [row[0] for row in top["rows"]] == ["c1"]  # c2 scores 0.4, below the run's flag
    members = run_view(views["cluster_members"], {"run_id": world.run_id, "cluster": "c1", "limit": "3"})
    assert len(members["rows"]) == 3 and members["truncated"] is False
    roles = Counter(row[2] for row in run_view(views["cluster_members"],
                                                 {"run_id": world.run_id, "cluster": "c1"})["rows"])
    assert roles == {"seeder": 1, "amplifier": 7}

    records = world.records.to_pylist()
    tag = f"{world.token}tag0"
    expected = Counter(r["account_id"] for r in records if tag in (r["hashtags"] or []))
    found = run_view(views["hashtag_accounts"], {"tag": tag, "limit": "100"})
    assert {row[0]: row[2] for row in found["rows"]} == dict(expected)
    assert run_view(views["hashtag_accounts"], {"tag": HOSTILE})["rows"] == []  # a value is only ever a value


@pytest.mark.neo4j
@pytest.mark.parametrize("cypher, refusal", [
    ("MATCH (a:Account) WHERE a.id STARTS WITH $token SET a.tampered = true RETURN a", WriteQueryRefused),
    ("CREATE (n:Tampered {id: $token}) RETURN n", WriteQueryRefused),
    ("MATCH (a:Account) WHERE a.id STARTS WITH $token DETACH DELETE a", WriteQueryRefused),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row WITH row, $token AS t LIMIT 1 RETURN row", SealedQueryRefused),
    ("CALL dbms.listConfig() YIELD name WITH name, $token AS t LIMIT 1 RETURN name", SealedQueryRefused),
])
def test_a_view_that_would_write_or_reach_out_is_refused_and_changes_nothing(loaded, tmp_path, cypher, refusal):
    world, driver = loaded
    folder = _user_views(tmp_path / "views", f"""
[views.sneaky]
description = "looks harmless"
cypher = \"\"\"{cypher}\"\"\"
params.token = {{ type = "string" }}
""")
    before = driver.execute_query("MATCH (a:Account) WHERE a.id STARTS WITH $t RETURN count(a) AS n",
                                  t=world.token).records[0]["n"]
    views, problems = load_views([folder])
    assert problems == []
    with pytest.raises(refusal, match="The view sneaky"):
        run_view(views["sneaky"], {"token": world.token})
    result = CliRunner().invoke(main, ["graph", "view", "sneaky", "--views", str(folder),
                                       "--param", f"token={world.token}"])
    assert result.exit_code == 2 and result.stderr.startswith("error: The view sneaky")
    assert "Traceback" not in result.output
    after = driver.execute_query("MATCH (a:Account) WHERE a.id STARTS WITH $t RETURN count(a) AS n, "
                                 "count(a.tampered) AS tampered", t=world.token).records[0]
    assert (after["n"], after["tampered"]) == (before, 0)
    assert driver.execute_query("MATCH (n:Tampered) RETURN count(n) AS n").records[0]["n"] == 0


@pytest.mark.neo4j
def test_the_view_commands_list_run_and_explain_mistakes_in_one_sentence(loaded):
    world, _ = loaded
    runner = CliRunner()
    listed = runner.invoke(main, ["graph", "views"])
    assert listed.exit_code == 0 and "cluster_members  run_id=<string> cluster=<string> [limit=500]" in listed.stdout
    ran = runner.invoke(main, ["graph", "view", "cluster_members", "--param", f"run_id={world.run_id}",
                               "--param", "cluster=c2", "--limit", "2"])
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    assert len(summary["rows"]) == 2 and summary["truncated"] is True
    for args, words in ((["graph", "view", "nope"], "no view 'nope'"),
                        (["graph", "view", "cluster_members", "--param", "cluster=c1"], "needs --param run_id"),
                        (["graph", "view", "top_clusters", "--param", "run_id=x", "--param", "limit=many"],
                         "of type int")):
        result = runner.invoke(main, args)
        assert result.exit_code == 2 and words in result.stderr and "Traceback" not in result.output
