"""The lake's touch index (rallypoint.touch_index) against a full scan of the records, its versioning
with the lake's partitions, and expand's answers from it against the scan route's."""

from __future__ import annotations

import shutil

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from graph_fixtures import build_small_lake

from rallypoint import touch_index
from rallypoint.dashboard import expand
from rallypoint.lake import Lake


@pytest.fixture()
def small_groups(monkeypatch):
    """Row groups of a few rows, so that every lookup has groups to choose among."""
    monkeypatch.setattr(touch_index, "ROW_GROUP", 7)


@pytest.fixture()
def world(tmp_path, small_groups):
    return build_small_lake(tmp_path / "lake", n_accounts=60, n_records=240, seed=11)


class ScanIndex:
    """The same three lookups answered by scanning every record: the route expand took before the index."""

    def __init__(self, lake: Lake) -> None:
        self.scan = pl.scan_parquet([str(p) for p in lake.interaction_files()]).select(touch_index.SOURCE_COLUMNS)

    def by_keys(self, keys) -> pl.DataFrame:
        wanted = pl.Series(list(keys), dtype=pl.String).implode()
        return (touch_index.touches(self.scan).filter(pl.col("key").is_in(wanted))
                .select("account_id", "key", "kind").unique().collect())

    def by_authors(self, authors) -> pl.DataFrame:
        wanted = pl.Series(list(authors), dtype=pl.String).implode()
        return (touch_index.touches(self.scan.filter(pl.col("account_id").is_in(wanted)))
                .select("account_id", "key", "kind").unique().collect())

    def names(self, accounts) -> pl.DataFrame:
        wanted = pl.Series(list(accounts), dtype=pl.String).implode()
        return (self.scan.filter(pl.col("account_id").is_in(wanted)).select("account_id", "account_name")
                .drop_nulls().unique("account_id").collect())


def ordered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns)


def test_lookups_equal_a_scan_of_the_records(world):
    index = touch_index.ensure(world.lake)
    scan = ScanIndex(world.lake)
    everything = touch_index.touches(scan.scan).collect()
    assert pq.read_metadata(index.pairs[0].keys).num_row_groups > 5  # the lookups below choose among groups
    for keys in (everything["key"].unique().sort().to_list(), everything["key"].unique().sort().to_list()[::17],
                 [f"{world.token}-acc003", "#nothing-of-this", ""]):
        assert ordered(index.by_keys(keys)).equals(ordered(scan.by_keys(keys)))
    authors = everything["author"].unique().sort().to_list()
    for chosen in (authors, authors[::9], [authors[-1], "nobody"]):
        assert ordered(index.by_authors(chosen)).equals(ordered(scan.by_authors(chosen)))
        named = index.names(chosen)
        assert set(named["account_id"]) == set(scan.names(chosen)["account_id"])
    assert index.by_keys([]).height == 0 and index.by_authors(["nobody"]).height == 0


def test_the_index_follows_the_lake_partitions(world, tmp_path):
    lake = world.lake
    first = touch_index.ensure(lake)
    built = {p: p.stat().st_mtime_ns for pair in first.pairs for p in pair.files}
    assert len(built) == 3 * len(lake.interaction_files()) and all(p.exists() for p in built)
    touch_index.ensure(lake)
    assert {p: p.stat().st_mtime_ns for p in built} == built  # current files are reused, not rewritten

    # a new ingest's partition: only its files are built, and its touches answer
    source = lake.interaction_files()[0]
    table = pq.read_table(source)
    newcomer = table.slice(0, 3).set_column(table.schema.get_field_index("account_id"), "account_id",
                                            pl.Series(["newcomer"] * 3).to_arrow())
    added = source.with_name("ingest-later.parquet")
    pq.write_table(newcomer, added)
    second = touch_index.ensure(lake)
    assert {p: p.stat().st_mtime_ns for p in built} == built
    assert len(second.pairs) == len(first.pairs) + 1
    assert set(second.by_authors(["newcomer"])["account_id"]) >= {"newcomer"}

    # a partition rewritten in place (other rows, same name) is indexed again
    pq.write_table(table.slice(0, 5), source)
    third = touch_index.ensure(lake)
    assert ordered(third.by_authors(table["account_id"].to_pylist())).equals(
        ordered(ScanIndex(lake).by_authors(table["account_id"].to_pylist())))

    # a partition that leaves the lake (quarantined) takes its index files with it
    shutil.move(added, tmp_path / "quarantined.parquet")
    fourth = touch_index.ensure(lake)
    assert not any(p.exists() for p in touch_index._pair(lake, added).files)
    assert fourth.by_authors(["newcomer"]).height == 0


@pytest.mark.parametrize("hops", [1, 2])
@pytest.mark.parametrize("cap", [100_000, 60, 12])
def test_expand_from_the_index_equals_the_scan_route(world, monkeypatch, hops, cap):
    seeds = [f"{world.token}-acc{i:03d}" for i in (3, 17, 40)]
    with monkeypatch.context() as small_steps:  # candidates' touches read a few at a time, the scan's all at once
        small_steps.setattr(expand, "FIRST_PREFIX", 2)
        small_steps.setattr(expand, "PREFIX_GROWTH", 2)
        indexed = expand.expand_from_lake(world.lake, seeds, hops=hops, max_nodes=cap)
    monkeypatch.setattr(touch_index, "ensure", ScanIndex)
    scanned = expand.expand_from_lake(world.lake, seeds, hops=hops, max_nodes=cap)
    assert indexed.accounts.height > len(seeds) or cap < 100_000
    assert ordered(indexed.accounts).equals(ordered(scanned.accounts))
    assert indexed.edges.equals(scanned.edges)
    assert ordered(indexed.touches).equals(ordered(scanned.touches))
    assert (indexed.n_nodes, indexed.kinds, indexed.truncated) == (scanned.n_nodes, scanned.kinds, scanned.truncated)
    assert indexed.truncated == (cap < 100_000) and indexed.n_nodes <= cap


def test_fit_takes_the_longest_prefix_that_fits(world, monkeypatch):
    """The one-pass count against the definition: the node count of every prefix, computed one by one."""
    index = touch_index.ensure(world.lake)
    found = pl.DataFrame({"account_id": [f"{world.token}-acc003"], "hop": [0]})
    touched = index.by_authors(found["account_id"]).join(found.select("account_id"), on="account_id", how="semi")
    keys = touched.select("key").unique()
    grown = expand._candidates(index.by_keys(keys["key"]), found, keys)
    around = index.by_authors(grown["account_id"]).join(grown.select("account_id"), on="account_id", how="semi")

    def nodes(k: int) -> int:
        taken = grown.head(k).select("account_id")
        more = pl.concat([found.select("account_id"), taken])
        joining = expand._joining(pl.concat([touched, around.join(taken, on="account_id", how="semi")]))
        return expand._node_count(more, joining)

    counts = np.array([nodes(k) for k in range(grown.height + 1)])
    assert grown.height > 3 and (np.diff(counts) >= 1).all()
    def around_of(first):
        return around.join(first, on="account_id", how="semi")

    assert grown.height > 3 * 2
    for first in (2, 3):  # the prefixes read grow until one overflows: with 2, 8, 32… and 3, 9, 27…
        monkeypatch.setattr(expand, "FIRST_PREFIX", first)
        monkeypatch.setattr(expand, "PREFIX_GROWTH", first)
        for cap in sorted({1, int(counts[0]), int(counts[2]), int(counts[5]), int(counts[-1]) - 1, int(counts[-1])}):
            taken, touches, cut = expand._fit(found, touched, grown, around_of, cap)
            fitting = int((counts <= cap).sum())
            assert cut == (counts[-1] > cap)
            assert taken.equals(grown.head(grown.height if not cut else max(0, fitting - 1)))
            assert ordered(touches).equals(ordered(around_of(taken.select("account_id"))))


def test_a_damaged_index_says_so_in_one_sentence_and_is_rebuilt_once_deleted(world):
    from rallypoint.errors import LakeError

    index = touch_index.ensure(world.lake)
    before = index.by_keys([f"{world.token}-acc003"])
    damaged = index.pairs[0].keys
    damaged.write_bytes(damaged.read_bytes()[:-40] + b"\0" * 40)  # the footer torn: the file is rebuilt
    assert ordered(touch_index.ensure(world.lake).by_keys([f"{world.token}-acc003"])).equals(ordered(before))
    touch_index._footers.clear()
    data = bytearray(damaged.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    data[4:-footer] = b"\xff" * (len(data) - footer - 4)  # pages garbled, footer intact: the lookup fails
    damaged.write_bytes(bytes(data))
    with pytest.raises(LakeError, match="touch index could not be read.*delete .*index") as caught:
        touch_index.ensure(world.lake).by_keys([f"{world.token}-acc003"])
    assert "\n" not in str(caught.value)
    shutil.rmtree(world.lake.root / "index")
    assert ordered(touch_index.ensure(world.lake).by_keys([f"{world.token}-acc003"])).equals(ordered(before))


def test_the_dashboard_warm_up_brings_the_index_up_to_date(world):
    from rallypoint.dashboard import warm

    assert not (world.lake.root / "index").exists()
    warm._warm_up(str(world.lake.root))
    pairs = [touch_index._pair(world.lake, source) for source in world.lake.interaction_files()]
    assert pairs and all(path.exists() for pair in pairs for path in pair.files)
