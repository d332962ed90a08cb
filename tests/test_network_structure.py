"""The network picture's structure: backbone, sub-groups, group-in-a-box layout, labels that fit, edge colours."""

from __future__ import annotations

import networkx as nx
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallypoint.dashboard.network import drawn_edges, edgeless, edges_by_type
from rallypoint.dashboard.network_zoom import WHOLE, view_box, views
from rallypoint.dashboard.palette import BETWEEN_COLOUR, WEIGHT_SHADES
from rallypoint.dashboard.structure import backbone, fitting_labels, structure, sub_groups


def _edges(pairs: list[tuple[str, str, int]], main_type: str = "co_repost") -> pl.DataFrame:
    return pl.DataFrame({"account_a": [a for a, _, _ in pairs], "account_b": [b for _, b, _ in pairs],
                         "weight": [w for _, _, w in pairs], "main_type": [main_type] * len(pairs)},
                        schema={"account_a": pl.String, "account_b": pl.String, "weight": pl.Int64,
                                "main_type": pl.String})


def _two_cliques(k: int = 12) -> tuple[list[str], pl.DataFrame]:
    """Two dense groups of ``k`` joined by one light edge, plus an account with no edge."""
    a, b = [f"a{i}" for i in range(k)], [f"b{i}" for i in range(k)]
    pairs = [(x, y, 5 + (i * j) % 4) for grp in (a, b) for i, x in enumerate(grp) for j, y in enumerate(grp) if i < j]
    return [*a, *b, "loner"], _edges([*pairs, ("a0", "b0", 1)])


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 25), st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24), st.integers(1, 9)),
                                    min_size=1, max_size=80))
def test_the_backbone_keeps_every_component_connected_and_each_accounts_strongest_edge(n, raw):
    accounts = [f"u{i}" for i in range(n)]
    seen, pairs = set(), []
    for x, y, w in raw:
        x, y = x % n, y % n
        if x != y and (min(x, y), max(x, y)) not in seen:
            seen.add((min(x, y), max(x, y)))
            pairs.append((accounts[min(x, y)], accounts[max(x, y)], w))
    edges = _edges(pairs)
    keep = backbone(accounts, edges)
    full, kept = nx.Graph(), nx.Graph()
    full.add_nodes_from(accounts)
    kept.add_nodes_from(accounts)
    full.add_edges_from((a, b) for a, b, _ in pairs)
    kept.add_edges_from((a, b) for (a, b, _), k in zip(pairs, keep, strict=True) if k)
    assert {frozenset(c) for c in nx.connected_components(full)} == {frozenset(c) for c in nx.connected_components(kept)}
    for account in accounts:  # an account's heaviest edge is always drawn
        own = [(w, k) for (a, b, w), k in zip(pairs, keep, strict=True) if account in (a, b)]
        if own:
            top = max(w for w, _ in own)
            assert any(k for w, k in own if w == top)


def test_two_dense_groups_are_found_and_laid_out_apart():
    accounts, edges = _two_cliques()
    group = sub_groups(accounts, edges)
    assert group[:12].tolist() == [group[0]] * 12 and group[12:24].tolist() == [group[12]] * 12
    assert group[0] != group[12] and group[24] == group.max()  # the account with no edge comes last
    laid = structure(accounts, edges)
    xy = laid.positions
    centre_a, centre_b = xy[:12].mean(axis=0), xy[12:24].mean(axis=0)
    spread = max(np.hypot(*(xy[:12] - centre_a).T).max(), np.hypot(*(xy[12:24] - centre_b).T).max())
    assert np.hypot(*(centre_a - centre_b)) > 2 * spread  # each group in its own disc, apart
    assert laid.backbone.sum() < edges.height  # not every edge of a clique is drawn


def test_edges_between_groups_are_grey_and_one_type_is_coloured_by_weight():
    accounts, edges = _two_cliques()
    members = pl.DataFrame({"account_id": accounts})
    drawn = drawn_edges(members, edges)
    between = drawn.between
    assert between.sum() == 1 and (drawn.colours[between] == BETWEEN_COLOUR).all()
    assert set(drawn.colours[~between]) <= set(WEIGHT_SHADES)  # one type only: colour says weight
    assert any(label.startswith("co_repost weight") for label, _ in drawn.legend)
    assert not edges_by_type(np.array(["co_engage"] * 95 + ["co_repost"] * 5, dtype=object))
    assert edges_by_type(np.array(["co_engage"] * 80 + ["co_repost"] * 20, dtype=object))


def test_labels_that_fit_never_overlap_each_other_nor_another_marker():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 400, size=(300, 2))
    labels = np.array([f"account_{i}" for i in range(300)], dtype=object)
    radius = np.full(300, 4.0)
    shown = fitting_labels(xy, labels, rng.uniform(size=300), char_px=7, line_px=12, radius_px=radius,
                           bounds=(400, 400))
    assert 0 < shown.sum() < 300
    idx = np.flatnonzero(shown)
    x0, x1 = xy[idx, 0] + 6, xy[idx, 0] + 8 + 7 * np.char.str_len(labels[idx].astype(str))
    y0, y1 = xy[idx, 1] - 6, xy[idx, 1] + 6
    overlap = (x0[:, None] < x1[None]) & (x1[:, None] > x0[None]) & (y0[:, None] < y1[None]) & (y1[:, None] > y0[None])
    np.fill_diagonal(overlap, False)
    assert not overlap.any()
    covers = ((xy[None, :, 0] + 4 >= x0[:, None]) & (xy[None, :, 0] - 4 <= x1[:, None])
              & (xy[None, :, 1] + 4 >= y0[:, None]) & (xy[None, :, 1] - 4 <= y1[:, None]))
    covers[np.arange(len(idx)), idx] = False
    assert not covers.any()
    assert (x1 <= 400).all()


def test_zoom_views_name_each_group_and_box_only_its_accounts():
    accounts, edges = _two_cliques()
    laid = structure(accounts, edges)
    offered = views(laid.group, isolated=True)
    assert offered[WHOLE] == "the whole network" and len(offered) == 4
    assert offered[int(laid.group.max())].startswith("accounts with no edge to another member (1)")
    x0, x1, y0, y1 = view_box(laid.positions, laid.group, 0)
    inside = ((laid.positions[:, 0] >= x0) & (laid.positions[:, 0] <= x1)
              & (laid.positions[:, 1] >= y0) & (laid.positions[:, 1] <= y1))
    assert inside[laid.group == 0].all() and not inside[laid.group == 1].all()
    assert view_box(laid.positions, laid.group, WHOLE) is None


def test_a_structure_computed_once_draws_the_same_edges_as_computing_it_again():
    accounts, edges = _two_cliques()
    members = pl.DataFrame({"account_id": accounts})
    again, reused = drawn_edges(members, edges), drawn_edges(members, edges, shape=structure(accounts, edges))
    for field in ("ia", "ib", "band", "between", "colours"):
        assert getattr(again, field).tolist() == getattr(reused, field).tolist(), field
    assert again.legend == reused.legend and again.n_drawn == reused.n_drawn


def test_members_without_an_edge_are_named_on_the_picture_when_they_form_a_disc():
    accounts, edges = _two_cliques()
    one_alone, note = edgeless(pl.DataFrame({"account_id": accounts}), edges)
    assert one_alone.tolist() == [False] * 24 + [True] and note == ""  # one account is no disc
    members = pl.DataFrame({"account_id": [*accounts, "loner2", "loner3"]})
    alone, note = edgeless(members, edges)
    assert alone.sum() == 3 and alone[-3:].all() and note == "3 accounts with no edge to another member"


def _planted(n: int = 300, groups: int = 6, seed: int = 4) -> tuple[list[str], pl.DataFrame]:
    """``n`` accounts in ``groups`` planted groups: dense inside, sparse and light between, integer weights."""
    rng = np.random.default_rng(seed)
    label = np.arange(n) % groups
    i, j = np.triu_indices(n, 1)
    same = label[i] == label[j]
    keep = rng.random(len(i)) < np.where(same, 0.3, 0.01)
    weight = np.where(same, rng.integers(2, 9, len(i)), 1)[keep]
    accounts = [f"u{k:03d}" for k in range(n)]
    return accounts, _edges([(accounts[a], accounts[b], int(w)) for a, b, w in zip(i[keep], j[keep], weight,
                                                                                      strict=True)])


def test_a_300_account_cluster_gets_the_sub_groups_of_an_unbounded_leiden(monkeypatch):
    import random

    import igraph as ig

    from rallypoint.dashboard import structure as module

    accounts, edges = _planted()
    group = sub_groups(accounts, edges, seed=3)
    # the same Leiden left to run until a pass changes nothing (igraph's n_iterations=-1), same seed
    built = module._graph(accounts, edges)
    ig.set_random_number_generator(random.Random(3))
    try:
        free = built.graph.community_leiden(objective_function="modularity", weights=built.weights,
                                            n_iterations=-1).membership
    finally:
        ig.set_random_number_generator(random)
    assert len(set(group.tolist())) == 6
    pairs = np.triu_indices(len(accounts), 1)
    together, free_together = group[pairs[0]] == group[pairs[1]], np.equal(*np.asarray(free)[np.asarray(pairs)])
    assert (together == free_together).all()
    shape = structure(accounts, edges, seed=3)
    assert np.isfinite(shape.positions).all() and (shape.group == group).all()
    # and the passes are bounded: a Leiden that never settles stops at LEIDEN_ITERATIONS
    passes = []
    original = ig.Graph.community_leiden

    def restless(self, *args, **kwargs):
        passes.append(kwargs["n_iterations"])
        found = original(self, *args, **kwargs)
        return ig.VertexClustering(self, [(m + len(passes)) % 7 for m in found.membership])

    monkeypatch.setattr(ig.Graph, "community_leiden", restless)
    assert len(sub_groups(accounts, edges)) == len(accounts)
    assert passes == [1] * module.LEIDEN_ITERATIONS


def _column_of_accounts(n: int, weakest: int) -> tuple[pl.DataFrame, np.ndarray]:
    """``n`` accounts one above the other, closer than a label's height once drawn, all of one strength
    but ``weakest``: only every other label can be written, and ``weakest`` is not among them unless chosen."""
    members = pl.DataFrame({"account_id": [f"u{i}" for i in range(n)], "account_name": [f"handle_{i}" for i in range(n)],
                            "role": ["amplifier"] * n, "high_profile": [False] * n,
                            "strength": [9.9 if i == weakest else 10.0 for i in range(n)],
                            "n_actions": [1] * n, "degree": [0] * n})
    return members, np.column_stack([np.zeros(n), 10.0 * np.arange(n)])


def _written_labels(figure) -> dict[str, str]:
    """account id -> the label the figure writes beside it (the chosen accounts' labels are annotations at
    their account's position, read back through the chosen accounts' trace)."""
    written = {a: t for trace in figure.data if trace["mode"] == "markers+text" and trace["text"] is not None
               for a, t in zip(trace["customdata"], trace["text"], strict=True) if t}
    at = {(x, y): a for trace in figure.data if trace["customdata"] is not None
          for a, x, y in zip(trace["customdata"], trace["x"], trace["y"], strict=True)}
    return written | {at[(note.x, note.y)]: note.text for note in figure.layout.annotations if (note.x, note.y) in at}


def test_the_figure_writes_labels_only_where_they_fit_at_its_size_and_the_chosen_accounts_first():
    from rallypoint.dashboard.network import MARGIN, PLOT_WIDTH_PX, label_pixels, network_figure

    members, positions = _column_of_accounts(30, weakest=15)
    no_edges = _edges([])
    height = 520
    plain = network_figure(members, no_edges, positions, height=height)
    layout = plain.layout
    ranges = (list(layout.xaxis.range), list(layout.yaxis.range))
    assert ranges[0][0] < 0 < ranges[0][1] and ranges[1][0] < 0 and ranges[1][1] > positions[:, 1].max()
    written = _written_labels(plain)
    assert 5 < len(written) < 30 and "u15" not in written
    # the labels written do not overlap at the size the figure is drawn (a line of text is 15 px there)
    xy = label_pixels(positions, ranges, PLOT_WIDTH_PX, height - MARGIN["t"] - MARGIN["b"])
    rows = np.sort(xy[[int(a[1:]) for a in written], 1])
    assert (np.diff(rows) >= 15).all()
    assert ((xy[:, 1] >= 0) & (xy[:, 1] <= height - MARGIN["t"] - MARGIN["b"])).all()
    # the account the analyst chose is named, before stronger ones
    chosen = _written_labels(network_figure(members, no_edges, positions, height=height, selected={"u15"}))
    assert chosen["u15"] == "<b>handle_15</b>" and "u14" not in chosen and "u16" not in chosen
    # two chosen neighbours, closer than a line: both named, one moved off the other's line
    both = network_figure(members, no_edges, positions, height=height, selected={"u15", "u16"})
    assert {"u15", "u16"} <= set(_written_labels(both))
    (a, b) = [(note.xanchor, xy[int(note.text[10:-4]), 1] - note.yshift) for note in both.layout.annotations]
    assert a[0] != b[0] or abs(a[1] - b[1]) >= 16  # on either side, or a line apart



#: A handle of zero-width characters: three characters long, but drawn as their code points.
INVISIBLE_HANDLE = "\u200b\u200c\u2060"


def test_a_handle_of_invisible_characters_is_measured_as_drawn(drawn_figures):
    """Drawn as ``[U+200B][U+200C][U+2060]``, it is measured at those 24 characters, not at its 3: in a row
    of accounts where a 3-character handle fits between two neighbours, it does not, and is not written."""
    from rallypoint.dashboard.network import MAX_LABEL_CHARS, network_figure, node_labels
    from rallypoint.dashboard.network_picture import network_picture

    revealed = "[U+200B][U+200C][U+2060]"
    n = 10
    members = pl.DataFrame({"account_id": [f"u{i}" for i in range(n)],
                            "account_name": [INVISIBLE_HANDLE if i == 4 else f"h{i:02d}" for i in range(n)],
                            "role": ["amplifier"] * n, "high_profile": [False] * n, "strength": [10.0] * n,
                            "n_actions": [1] * n, "degree": [0] * n})
    assert node_labels(members)[4] == revealed
    # one line, as it is fitted: a line break in a handle is not a taller label
    assert node_labels(members.with_columns(account_name=pl.lit("two\r\nlines\nhere")))[0] == "two lines here"
    # cut as drawn too: forty of them are not 320 characters across the drawing
    assert node_labels(members.with_columns(account_name=pl.lit("\u200b" * 40)))[0] == (
        "[U+200B]" * 4)[:MAX_LABEL_CHARS - 1] + "…"
    # in a row, about 70 px apart when drawn; joined in a chain, so no ring round them widens the drawing
    positions = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    chain = _edges([(f"u{i}", f"u{i + 1}", 1) for i in range(n - 1)])
    written = _written_labels(network_figure(members, chain, positions, height=300))
    assert written["u3"] == "h03" and written["u5"] == "h05"  # three characters fit before the next account
    assert "u4" not in written  # twenty-four do not
    assert _written_labels(network_figure(members, chain, positions, height=300, selected={"u4"}))["u4"] == (
        f"<b>{revealed}</b>")
    network_picture(members, chain, positions, selected=["u4"])  # the picture draws it as the figure does
    assert revealed in {t.get_text() for t in drawn_figures[-1].axes[0].texts}


def _planted_members(n: int, loners: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """The planted groups' accounts as members (strength = weighted degree, handles ``handle_i``), plus
    ``loners`` accounts without an edge, their edges and their structure's positions."""
    accounts, edges = _planted(n)
    accounts = [*accounts, *(f"z{k:03d}" for k in range(loners))]
    strength = pl.concat([edges.select(pl.col("account_a").alias("account_id"), "weight"),
                          edges.select(pl.col("account_b").alias("account_id"), "weight")]).group_by(
        "account_id").agg(pl.col("weight").sum().cast(pl.Float64).alias("strength"))
    members = pl.DataFrame({"account_id": accounts}).join(strength, on="account_id", how="left").with_columns(
        pl.format("handle_{}", pl.col("account_id")).alias("account_name"), pl.lit("amplifier").alias("role"),
        pl.lit(False).alias("high_profile"), pl.lit(1).alias("n_actions"), pl.lit(1).alias("degree"),
        pl.col("strength").fill_null(0.0))
    return members, edges, structure(accounts, edges).positions


@pytest.fixture
def drawn_figures(monkeypatch):
    """The matplotlib figures ``network_picture`` draws, kept to read their texts and legend back."""
    import rallypoint.dashboard.network_picture as module

    made = []

    class Kept(module.Figure):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(module, "Figure", Kept)
    return made


def test_a_large_pictures_chosen_accounts_are_named_apart_and_drawn_on_top(drawn_figures):
    from rallypoint.dashboard.network import MAX_LABEL_CHARS
    from rallypoint.dashboard.network_picture import HEIGHT_PX, accounts_at, network_picture

    members, edges, positions = _planted_members(600)
    # the weakest accounts, whose labels the strong ones' crowd away, and one in each neighbour's way
    chosen = members.sort("strength")["account_id"].head(6).to_list()
    near = np.argsort(np.hypot(*(positions - positions[int(chosen[0][1:])]).T))[1]
    chosen.append(members["account_id"][int(near)])
    hostile = "$x^2$ <b>bold</b> [link](http://e.x) " * 3  # shown as its text, cut
    members = members.with_columns(pl.when(pl.col("account_id") == chosen[0]).then(pl.lit(hostile))
                                   .otherwise(pl.col("account_name")).alias("account_name"))
    names = [hostile[:MAX_LABEL_CHARS - 1] + "…", *(f"handle_{a}" for a in chosen[1:])]
    network_picture(members, edges, positions)
    assert not {t.get_text() for t in drawn_figures[-1].axes[0].texts} & set(names)  # unchosen, they go unnamed
    picture = network_picture(members, edges, positions, selected=chosen)
    figure = drawn_figures[-1]
    renderer = figure.canvas.get_renderer()
    texts = {t.get_text(): t for t in figure.axes[0].texts}
    assert set(names) <= set(texts)
    boxes = [texts[name].get_window_extent(renderer) for name in names]
    for i, box in enumerate(boxes):
        assert texts[names[i]].get_fontweight() == "bold"
        assert not any(box.overlaps(other) for other in boxes[i + 1:]), names[i]
        x, y = picture.xy[int(chosen[i][1:])]
        y = HEIGHT_PX - y  # the boxes are in display coordinates, y up
        # beside its account: next to it, within the few lines a label may move
        assert min(abs(box.x0 - x), abs(box.x1 - x)) < 25 and box.y0 - 60 < y < box.y1 + 60
    rows = np.isin(picture.accounts, chosen)
    assert picture.layer[rows].min() > picture.layer[~rows].max()  # on top of every other account
    for i in np.flatnonzero(rows):
        x, y = picture.xy[i]
        assert accounts_at(picture, {"x1": x, "y1": y, "width": picture.width}) == [picture.accounts[i]]


def test_the_note_on_accounts_without_an_edge_is_in_the_legend_and_a_ring_marks_them(drawn_figures):
    from rallypoint.dashboard.network import edgeless_ring, network_figure
    from rallypoint.dashboard.network_picture import network_picture

    members, edges, positions = _planted_members(300, loners=40)
    alone, note = edgeless(members, edges)
    assert note == "40 accounts with no edge to another member"
    x, y, r = edgeless_ring(positions, alone)
    distance = np.hypot(positions[:, 0] - x, positions[:, 1] - y)
    assert (distance[alone] < r).all() and (distance[~alone] > r).all()  # round them, over no other account
    picture = network_picture(members, edges, positions)
    figure = drawn_figures[-1]
    assert not [t for t in figure.axes[0].texts if "no edge" in t.get_text()]
    named = [t for t in figure.legends[0].get_texts() if "no edge" in t.get_text()]
    assert len(named) == 1 and "40 accounts" in named[0].get_text()
    # the words lie right of every account, outside the drawing
    assert named[0].get_window_extent(figure.canvas.get_renderer()).x0 > (picture.xy[:, 0] + picture.radius).max()
    interactive = network_figure(members, edges, positions)
    assert not [a for a in interactive.layout.annotations if "no edge" in a.text]
    assert [t.name for t in interactive.data if t.name and note in t.name]
    (ring,) = [s for s in interactive.layout.shapes if s.type == "circle"]
    assert np.allclose([(ring.x0 + ring.x1) / 2, (ring.y0 + ring.y1) / 2, (ring.x1 - ring.x0) / 2], [x, y, r])
    (x0, x1), (y0, y1) = interactive.layout.xaxis.range, interactive.layout.yaxis.range
    assert x0 < ring.x0 and ring.x1 < x1 and y0 < ring.y0 and ring.y1 < y1  # the whole ring is shown
