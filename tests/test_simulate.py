"""``rallypoint simulate``: a synthetic world whose files, labels and planted groups behave as documented."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.json as pj
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rallypoint.cli import main
from rallypoint.errors import RallypointError
from rallypoint.schema import RECORD_SCHEMA, TARGETED_ACTIONS
from rallypoint.simulate import World, phrases, simulate_world
from rallypoint.simulate.campaigns import parse_mix
from rallypoint.simulate.texts import date_phrase

SMALL = {"accounts": 400, "days": 4, "records": 6000}


def read_records(out: Path) -> pa.Table:
    """All records of a world, parsed strictly with the canonical schema (extra fields are errors)."""
    options = pj.ParseOptions(explicit_schema=RECORD_SCHEMA, unexpected_field_behavior="error")
    return pa.concat_tables(pj.read_json(f, parse_options=options) for f in sorted(out.glob("interactions-*.jsonl.gz")))


def read_labels(out: Path) -> list[dict]:
    with open(out / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """One test-sized world (3,000 accounts, 14 days, ~60k records), shared by the tests below."""
    out = tmp_path_factory.mktemp("world")
    summary = simulate_world(out, accounts=3000, days=14, seed=3, records=60_000)
    table = read_records(out)
    return {
        "out": out, "summary": summary, "records": pl.from_arrow(table), "table": table,
        "labels": read_labels(out), "manifest": json.loads((out / "world.json").read_text()),
    }


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate_world(a, seed=5, **SMALL)
    simulate_world(b, seed=5, **SMALL)
    simulate_world(c, seed=6, **SMALL)
    for name in ["interactions-0000.jsonl.gz", "labels.csv", "world.json"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "labels.csv").read_bytes() != (c / "labels.csv").read_bytes()


def test_every_record_parses_with_the_canonical_schema(world):
    table = world["table"]
    assert table.num_rows == world["summary"]["records"]
    assert abs(table.num_rows - 60_000) / 60_000 < 0.1, "records should scale to roughly the requested number"
    records = world["records"]
    assert records["id"].n_unique() == records.height
    for field in ["id", "platform", "account_id", "timestamp", "action"]:
        assert records[field].null_count() == 0, field
    targeted = records.filter(pl.col("action").is_in(sorted(TARGETED_ACTIONS)))
    assert targeted["target_id"].null_count() == 0
    assert records.filter(pl.col("action") == "post")["target_id"].null_count() == records.filter(
        pl.col("action") == "post").height


def test_targets_exist_and_come_before_their_responses(world):
    records = world["records"]
    originals = records.select(pl.col("id").alias("target_id"), pl.col("timestamp").alias("target_ts"),
                               pl.col("account_id").alias("author"), pl.col("platform").alias("target_platform"))
    joined = records.filter(pl.col("target_id").is_not_null()).join(originals, on="target_id", how="left")
    assert joined["target_ts"].null_count() == 0, "every target_id names a record of the world"
    assert (joined["timestamp"] > joined["target_ts"]).all()
    assert (joined["target_account_id"] == joined["author"]).all()
    assert (joined["platform"] == joined["target_platform"]).all(), "nobody reposts across platforms"


def test_times_lie_inside_the_world_and_after_account_creation(world):
    records, manifest = world["records"], world["manifest"]
    start = datetime.fromisoformat(manifest["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(manifest["end"].replace("Z", "+00:00"))
    assert records["timestamp"].min() >= start
    assert records["timestamp"].max() < end
    assert (records["account_created_at"] < records["timestamp"]).all()


def test_world_has_platforms_languages_and_optional_fields(world):
    records = world["records"]
    assert set(records["platform"].unique()) == {"x", "telegram", "facebook"}
    assert set(records["lang"].unique()) >= {"en", "pt", "es"}
    assert records.filter(pl.col("platform") == "telegram")["channel_id"].null_count() == 0
    for field in ["urls", "hashtags", "mentions", "media", "text"]:
        assert records[field].null_count() < records.height, field
    replies = records.filter(pl.col("action") == "reply")
    assert (replies["mentions"].list.first() == replies["target_account_id"]).mean() > 0.9


def test_activity_is_heavy_tailed(world):
    per_account = world["records"].group_by("account_id").len()["len"].to_numpy()
    assert per_account.max() > 20 * np.median(per_account)


def test_labels_match_the_manifest(world):
    labels, manifest, records = world["labels"], world["manifest"], world["records"]
    by_campaign: dict[str, set[str]] = {}
    for row in labels:
        by_campaign.setdefault(row["campaign_id"], set()).add(row["account_id"])
    planted = {c["campaign_id"]: c for c in manifest["campaigns"]}
    assert set(by_campaign) == set(planted)
    for cid, members in by_campaign.items():
        assert len(members) == planted[cid]["size"]
        assert {r["kind"] for r in labels if r["campaign_id"] == cid} == {planted[cid]["kind"]}
    acting = set(records["account_id"].unique())
    assert {r["account_id"] for r in labels} <= acting


def test_default_mix_has_loud_stealthy_mobilization_in_three_languages_and_a_ring(world):
    campaigns = world["manifest"]["campaigns"]
    mobilization = [c for c in campaigns if c["kind"] == "mobilization"]
    assert len(mobilization) >= 3
    assert {c["lang"] for c in mobilization} == {"en", "pt", "es", "de"}
    assert {c["loudness"] for c in mobilization} == {"loud", "stealthy", "coded", "textfree"}
    mobilization = [c for c in mobilization if c["loudness"] in ("loud", "stealthy")]
    assert [c for c in campaigns if c["kind"] == "amplification"]
    loud = [c for c in mobilization if c["loudness"] == "loud"]
    stealthy = [c for c in mobilization if c["loudness"] == "stealthy"]
    assert max(c["size"] for c in stealthy) < min(c["size"] for c in loud)
    assert min(c["median_response_s"] for c in stealthy) > max(c["median_response_s"] for c in loud)
    assert max(c["waves"] for c in stealthy) < min(c["waves"] for c in loud)


def test_seeders_are_high_profile_members_of_their_campaign(world):
    records, labels = world["records"], world["labels"]
    for campaign in world["manifest"]["campaigns"]:
        if campaign["kind"] != "mobilization" or campaign["loudness"] not in ("loud", "stealthy"):
            continue
        seeder = campaign["seeding_account_id"]
        assert (seeder, campaign["campaign_id"]) in {(r["account_id"], r["campaign_id"]) for r in labels}
        assert records.filter(pl.col("account_id") == seeder)["high_profile"].all()


def test_campaign_members_are_mostly_recent_accounts(world):
    records = world["records"]
    created = records.unique("account_id").select("account_id", "account_created_at")
    start = datetime(2022, 12, 26, tzinfo=UTC)
    recent = created.with_columns(recent=(pl.lit(start) - pl.col("account_created_at")).dt.total_days() < 40)
    members = {r["account_id"] for r in world["labels"]}
    share_members = recent.filter(pl.col("account_id").is_in(sorted(members)))["recent"].mean()
    share_others = recent.filter(~pl.col("account_id").is_in(sorted(members)))["recent"].mean()
    assert share_members > 0.5 > 0.1 > share_others


def _texts_of(records: pl.DataFrame, accounts: set[str]) -> list[str]:
    return records.filter(pl.col("account_id").is_in(sorted(accounts)) & pl.col("text").is_not_null())["text"].to_list()


def test_campaign_texts_name_the_place_and_are_in_each_language(world):
    records, labels = world["records"], world["labels"]
    for campaign in world["manifest"]["campaigns"]:
        if campaign["kind"] != "mobilization" or campaign["loudness"] not in ("loud", "stealthy"):
            continue
        members = {r["account_id"] for r in labels if r["campaign_id"] == campaign["campaign_id"]}
        calls = records.filter(pl.col("account_id").is_in(sorted(members)) & pl.col("text").is_not_null()
                               & (pl.col("lang") == campaign["lang"]))
        texts = calls["text"].to_list()
        naming_place = [t for t in texts if campaign["place"].lower() in t.lower()]
        # stealthy calls hide the event behind a code word more often than they name the place
        assert len(naming_place) >= (1 if campaign["loudness"] == "stealthy" else 3), campaign["campaign_id"]
        event = datetime.fromisoformat(campaign["event_date"])
        lang = campaign["lang"]
        day_words = [str(event.day), phrases.WEEKDAYS[lang][event.weekday()].lower(),
                     *(w.lower() for w in phrases.TOMORROW[lang] + phrases.TODAY[lang])]
        naming_day = [t for t in naming_place if any(w in t.lower() for w in day_words)]
        assert len(naming_day) > 0.7 * len(naming_place), \
            "calls that name the place mostly name the day: its number, its weekday, today or tomorrow"
        assert len(set(texts)) > 0.5 * len(texts), "texts vary"


def test_members_co_share_links_and_near_duplicates_within_seconds(world):
    records, labels = world["records"], world["labels"]
    loud = [c for c in world["manifest"]["campaigns"] if c["kind"] == "mobilization" and c["loudness"] == "loud"]
    for campaign in loud:
        members = {r["account_id"] for r in labels if r["campaign_id"] == campaign["campaign_id"]}
        shared = records.filter(pl.col("account_id").is_in(sorted(members)) & pl.col("urls").is_not_null()).explode("urls")
        by_link = shared.filter(pl.col("urls").is_in(campaign["links"])).group_by("urls").agg(
            pl.col("account_id").n_unique().alias("accounts"))
        assert by_link["accounts"].max() >= 5, campaign["campaign_id"]


def test_viral_posts_are_reposted_by_many_over_hours(world):
    records = world["records"]
    for viral in world["manifest"]["lookalikes"]["viral_posts"]:
        reposts = records.filter((pl.col("target_id") == viral["post_id"]) & (pl.col("action") == "repost"))
        assert reposts.height >= 500
        assert reposts["account_id"].n_unique() == reposts.height
        hours = (reposts["timestamp"] - datetime.fromisoformat(viral["timestamp"].replace("Z", "+00:00")))
        hours = hours.dt.total_seconds().to_numpy() / 3600
        assert np.percentile(hours, 75) - np.percentile(hours, 25) > 2, "spread over hours, not seconds"
        assert np.median(hours) > 1


def test_aggregator_bots_react_within_seconds_and_fans_within_minutes(world):
    lookalikes = world["manifest"]["lookalikes"]
    assert lookalikes["news_aggregator_bots"][0]["median_delay_s"] < 60
    assert 60 < lookalikes["fandoms"][0]["median_delay_s"] < 15 * 60
    assert len(lookalikes["fandoms"][0]["fan_account_ids"]) >= 30
    labelled = {r["account_id"] for r in world["labels"]}
    assert not labelled & set(lookalikes["news_aggregator_bots"][0]["account_ids"])
    assert not labelled & set(lookalikes["fandoms"][0]["fan_account_ids"])


def test_news_links_are_shared_by_many_people(world):
    records = world["records"]
    for outlet in world["manifest"]["lookalikes"]["news_outlets"]:
        links = records.filter(pl.col("urls").is_not_null()).explode("urls").filter(
            pl.col("urls").str.contains(outlet["domain"], literal=True))
        assert links["account_id"].n_unique() > 20, outlet["domain"]


def test_lawful_protests_name_place_and_date_but_spread_slowly(world):
    records = world["records"]
    for protest in world["manifest"]["lookalikes"]["lawful_protests"]:
        posts = records.filter(pl.col("account_id") == protest["account_id"])
        assert posts.height >= 3
        assert all(protest["place"] in t for t in posts["text"].to_list())
        assert protest["median_delay_s"] > 3600
        assert protest["distinct_sharers"] > 30


def test_politicians_are_high_profile_reposted_and_in_no_campaign(world):
    records = world["records"]
    labelled = {r["account_id"] for r in world["labels"]}
    for politician in world["manifest"]["lookalikes"]["politicians"]:
        assert politician["account_id"] not in labelled
        assert records.filter(pl.col("account_id") == politician["account_id"])["high_profile"].all()
        assert politician["reposts_received"] > 10


def test_frames_are_bounded_by_the_chunk_size():
    world = World(seed=2, **SMALL)
    heights = [frame.height for frame in world.frames(chunk_rows=700)]
    assert max(heights) <= 700
    assert sum(heights) == world.records_generated
    assert len(heights) > SMALL["records"] // 700


def test_shards_rotate_and_null_fields_are_omitted(tmp_path):
    simulate_world(tmp_path, seed=4, chunk_rows=1000, records_per_file=2000, **SMALL)
    shards = sorted(tmp_path.glob("interactions-*.jsonl.gz"))
    assert len(shards) >= 3
    lines_per_shard = [gzip.decompress(s.read_bytes()).count(b"\n") for s in shards]
    assert set(lines_per_shard[:-1]) == {2000} and 0 < lines_per_shard[-1] <= 2000
    with gzip.open(shards[0], "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for _, line in zip(range(200), f, strict=False)]
    assert all(None not in line.values() for line in lines)
    assert all(line["timestamp"].endswith("Z") for line in lines)
    assert not list(tmp_path.glob(".*tmp"))


def test_campaign_mix_selects_kinds(tmp_path):
    assert parse_mix("none") == []
    assert {s.kind for s in parse_mix("amplification")} == {"amplification"}
    assert {s.loudness for s in parse_mix("stealthy")} == {"stealthy"}
    assert len(parse_mix("mobilization,amplification")) == len(parse_mix("default"))
    with pytest.raises(RallypointError, match="unknown campaign kind"):
        parse_mix("mobilisation")
    summary = simulate_world(tmp_path, seed=1, campaigns="none", **SMALL)
    assert summary["labelled_accounts"] == 0
    assert read_labels(tmp_path) == []


@pytest.mark.parametrize("bad", [{"accounts": 10}, {"days": 0}, {"records": 5}, {"seed": -1}])
def test_bad_parameters_get_one_clear_sentence(tmp_path, bad):
    with pytest.raises(RallypointError) as info:
        simulate_world(tmp_path, **{**SMALL, **bad})
    assert str(info.value).endswith(".")
    assert not list(tmp_path.iterdir()), "nothing is written when the parameters are wrong"


def test_cli_writes_a_world_and_reports_it(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["simulate", "--out", str(tmp_path), "--accounts", "400", "--days", "3",
                                  "--records", "4000", "--seed", "9"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (tmp_path / "labels.csv").exists() and summary["records"] > 3000
    bad = runner.invoke(main, ["simulate", "--out", str(tmp_path / "x"), "--campaigns", "nonsense"])
    assert bad.exit_code == 2
    assert "unknown campaign kind" in bad.output


@settings(max_examples=300, deadline=None)
@given(lang=st.sampled_from(["en", "pt", "es"]), days_ahead=st.integers(0, 12), hour=st.integers(0, 23),
       seed=st.integers(0, 2**32 - 1), event_offset=st.integers(0, 30))
def test_date_phrases_are_true_on_the_day_they_are_written(lang, days_ahead, hour, seed, event_offset):
    event = datetime(2022, 12, 20, 18, tzinfo=UTC) + timedelta(days=event_offset)
    post = event.replace(hour=hour) - timedelta(days=days_ahead)
    phrase = date_phrase(np.random.default_rng(seed), lang, int(post.timestamp()), int(event.timestamp())).lower()
    tomorrow = {"en": ["tomorrow", "tmrw"], "pt": ["amanhã", "amanha"], "es": ["mañana", "manana"]}[lang]
    today = {"en": ["today", "this morning"], "pt": ["hoje", "hj"], "es": ["hoy"]}[lang]
    if any(word in phrase for word in tomorrow):
        assert days_ahead == 1
    if any(word in phrase for word in today):
        assert days_ahead == 0
    weekdays = [w.lower() for w in phrases.WEEKDAYS[lang]]
    named = [w for w in weekdays if w in phrase.split() or w + "," in phrase.split()]
    if named:
        assert named == [weekdays[event.weekday()]], "a weekday named is the event's weekday"
        assert days_ahead <= 6
    if not (any(w in phrase for w in tomorrow + today) or named):
        assert str(event.day) in phrase, "absolute forms name the day of the month"


def test_campaign_members_tag_the_seeder_and_raid_prominent_replies(world):
    records, labels = world["records"], world["labels"]
    members = {r["account_id"] for r in labels}
    seeders = {c["seeding_account_id"] for c in world["manifest"]["campaigns"] if c["seeding_account_id"]}
    tagged = records.filter(pl.col("account_id").is_in(sorted(members)) & pl.col("mentions").is_not_null()).explode(
        "mentions")
    assert tagged.filter(pl.col("mentions").is_in(sorted(seeders))).height >= 5
    politicians = {p["account_id"] for p in world["manifest"]["lookalikes"]["politicians"]}
    outlets = {o["account_id"] for o in world["manifest"]["lookalikes"]["news_outlets"]}
    raids = records.filter(pl.col("account_id").is_in(sorted(members)) & (pl.col("action") == "reply")
                           & pl.col("target_account_id").is_in(sorted(politicians | outlets)))
    per_target = raids.group_by("target_id").len()
    assert per_target["len"].max() >= 10, "members pile into one prominent post's replies"


def test_long_thin_worlds_still_roughly_respect_the_record_budget(tmp_path):
    summary = simulate_world(tmp_path, accounts=300, days=90, seed=1, records=15_000)
    assert 0.8 * 15_000 < summary["records"] < 1.5 * 15_000
    manifest = json.loads((tmp_path / "world.json").read_text())
    assert all(o["posts"] >= 90 for o in manifest["lookalikes"]["news_outlets"]), "every group still acts daily"


def test_live_events_put_one_hashtag_in_many_mouths_within_hours(world):
    records = world["records"]
    labelled = {r["account_id"] for r in world["labels"]}
    events = world["manifest"]["lookalikes"]["live_events"]
    assert {e["lang"] for e in events} == {"en", "pt", "es"}
    for event in events:
        start = datetime.fromisoformat(event["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(event["end"].replace("Z", "+00:00"))
        tagged = records.filter(pl.col("hashtags").list.contains(event["hashtag"])
                                & pl.col("timestamp").is_between(start, end, closed="left"))
        assert tagged["account_id"].n_unique() >= 30
        assert not labelled & set(tagged["account_id"].to_list())


def _created(records: pl.DataFrame, accounts) -> pl.Series:
    return (records.filter(pl.col("account_id").is_in(list(accounts))).group_by("account_id")
            .agg(pl.col("account_created_at").first())["account_created_at"])


def test_campaigns_no_lexicon_knows(world):
    """Coded campaigns (en, and de without a lexicon) and a text-free ring, labelled as mobilization."""
    records, labels = world["records"], world["labels"]
    planted = {c["campaign_id"]: c for c in world["manifest"]["campaigns"]}
    members = {cid: {r["account_id"] for r in labels if r["campaign_id"] == cid}
               for cid in ("m6-en-coded", "m7-de-coded", "m8-en-fundring")}
    for cid in ("m6-en-coded", "m7-de-coded"):
        mine = records.filter(pl.col("account_id").is_in(list(members[cid])) & pl.col("text").is_not_null())
        code = planted[cid]["code_word"]
        assert mine["text"].str.contains(code, literal=True).sum() > 20
        start = datetime.fromisoformat(planted[cid]["campaign_start"].replace("Z", "+00:00"))
        fresh = (_created(records, members[cid]) > start - timedelta(days=21)).mean()
        assert 0.6 < fresh < 1.0
    ring = records.filter(pl.col("account_id").is_in(list(members["m8-en-fundring"])))
    assert ring["text"].is_null().all() and ring["urls"].is_not_null().all()
    created = _created(records, members["m8-en-fundring"])
    assert created.max() - created.min() < timedelta(days=1)
    assert {r["kind"] for r in labels if r["campaign_id"] in members} == {"mobilization"}


def test_lookalikes_with_links_logistics_or_young_accounts_are_unlabelled(world):
    records, labels = world["records"], world["labels"]
    labelled = {r["account_id"] for r in labels}
    lookalikes = world["manifest"]["lookalikes"]
    charity = lookalikes["charity_drives"][0]
    newcomers = lookalikes["newcomer_waves"][0]
    club = lookalikes["supporters_clubs"][0]
    everyone = {charity["account_id"], club["account_id"], *charity["sharer_account_ids"],
                *newcomers["account_ids"], *club["member_account_ids"]}
    assert not everyone & labelled
    # the newcomers were all created within days of each other, and mostly act outside their welcomes
    created = _created(records, newcomers["account_ids"])
    assert created.max() - created.min() < timedelta(days=5)
    theirs = records.filter(pl.col("account_id").is_in(newcomers["account_ids"]))
    assert theirs.height > 4 * newcomers["welcomes"]
    # the charity's sharers and the club's members are long-standing accounts
    for accounts in (charity["sharer_account_ids"], club["member_account_ids"]):
        assert (_created(records, accounts) < datetime(2022, 6, 1, tzinfo=UTC)).mean() > 0.8
    posts = records.filter(pl.col("account_id") == club["account_id"])
    assert posts["text"].str.to_lowercase().str.contains("coach", literal=True).all()


def test_chain_messages_are_copies_by_ordinary_accounts_once_each(world):
    """The look-alike of a campaign's copies of its call: one notice with a date and a place per
    language, copied with an edit or two by unlabelled accounts, one copy each, some within
    minutes of another; ``co_text`` at 0.7 (``--text-threshold``, which matches copies with one
    edit) takes most copies of a notice for one text."""
    from rallypoint.detectors.coaction.co_text import text_groups

    records, table = world["records"], world["table"]
    labelled = {r["account_id"] for r in world["labels"]}
    chains = world["manifest"]["lookalikes"]["chain_messages"]
    assert {c["lang"] for c in chains} == {"en", "pt", "es"}
    code, _ = text_groups(table, threshold=0.7)
    for chain in chains:
        copiers = chain["copier_account_ids"]
        assert chain["copies"] == len(copiers) == len(set(copiers)) >= 12 and not set(copiers) & labelled
        rows = (records.with_columns(group=pl.Series(code))
                .filter(pl.col("account_id").is_in(copiers) & (pl.col("action") == "post")))
        copies = rows.filter(pl.col("group") == pl.col("group").filter(pl.col("group") >= 0).mode().first())
        assert copies.height >= 0.8 * len(copiers), chain["lang"]
        assert copies["text"].n_unique() > 1  # edited, not identical
        gaps = copies["timestamp"].sort().diff().drop_nulls()
        assert (gaps <= timedelta(minutes=15)).sum() >= 3 and gaps.max() > timedelta(hours=1)
