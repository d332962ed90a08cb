"""What each co-action type counts as the same target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.detectors.coaction.co_text import near_duplicate_groups, normalize_text
from rallypoint.schema import RECORD_SCHEMA

T0 = datetime(2023, 1, 7, 15, tzinfo=UTC)


def posts(*rows: dict) -> pa.Table:
    out = []
    for k, row in enumerate(rows):
        row = {"action": "post", **row}
        row["timestamp"] = T0 + timedelta(seconds=row.pop("t"))
        out.append({"id": f"r{k}", "platform": "x", **row})
    return pa.Table.from_pylist(out, schema=RECORD_SCHEMA)


def pairs(table: pa.Table, kind: str, **kw) -> dict[tuple[str, str], int]:
    kw = {"window": 60, "min_participation": 1, "null_model": "none", **kw}
    result = build_coaction_edges(table, types=[kind], **kw)
    return dict(zip(zip(result.edges["account_a"].to_pylist(), result.edges["account_b"].to_pylist(), strict=True),
                    result.edges["weight"].to_pylist(), strict=True))


CALL = "All patriots meet at the Esplanada on Sunday at two, bring flags and water"


def test_co_text_pairs_near_duplicates_and_not_different_texts():
    table = posts(
        {"account_id": "a", "text": CALL, "t": 0},
        {"account_id": "b", "text": CALL.upper() + "!!! https://t.me/x", "t": 20},  # same words, shouting, a link
        {"account_id": "c", "text": CALL.replace("two", "three"), "t": 30},  # one word changed: still similar
        {"account_id": "d", "text": "Lovely weather at the beach today, the kids built a sandcastle", "t": 25},
    )
    assert set(pairs(table, "co_text", text_threshold=0.5)) == {("a", "b"), ("a", "c"), ("b", "c")}
    # at a strict threshold the changed word separates c
    assert set(pairs(table, "co_text", text_threshold=0.95)) == {("a", "b")}


def test_co_text_at_0_7_takes_a_copy_of_a_call_with_one_edit_for_a_copy():
    """A member's copy of a 21-word call with one filler word dropped, or one typo, is the
    same text at ``text_threshold`` 0.7; at the default 0.8 neither is, their word 3-gram
    Jaccard with the call being below it. A different call of the same template stays apart."""
    from rallypoint.detectors.coaction.co_text import SHINGLE_WORDS

    call = ("Stolen election! Everyone to the Esplanada on the 7th of January, buses leave Curitiba "
            "at ten, it is our last chance")
    dropped, typo = call.replace(" January,", ""), call.replace("ten", "tne")
    other = call.replace("Esplanada", "Avenida Paulista").replace("7th", "9th").replace("Curitiba", "Santos")

    def jaccard(x: str, y: str) -> float:
        grams = [{tuple(w[i:i + SHINGLE_WORDS]) for i in range(len(w) - SHINGLE_WORDS + 1)}
                 for w in (normalize_text_one(t).split() for t in (x, y))]
        return len(grams[0] & grams[1]) / len(grams[0] | grams[1])

    assert 0.7 < jaccard(call, typo) < jaccard(call, dropped) < 0.8
    table = posts(
        {"account_id": "a", "text": call, "t": 0},
        {"account_id": "b", "text": dropped, "t": 20},
        {"account_id": "c", "text": typo, "t": 30},
        {"account_id": "d", "text": other, "t": 40},
    )
    assert set(pairs(table, "co_text", text_threshold=0.7)) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert pairs(table, "co_text") == {}


def test_co_text_ignores_short_texts():
    table = posts({"account_id": "a", "text": "yes!", "t": 0}, {"account_id": "b", "text": "Yes", "t": 1})
    assert pairs(table, "co_text") == {}


def test_co_text_share_events_target_each_authored_texts_group_and_skip_the_rest():
    # the module's own entry point, as every type has one: one event per authored record
    # with a text of five words or more, near-duplicates on one target
    from rallypoint.detectors.coaction import co_text

    table = posts(
        {"account_id": "a", "text": CALL, "t": 0},
        {"account_id": "b", "text": CALL.upper() + "!!!", "t": 20},
        {"account_id": "c", "text": "Lovely weather at the beach today, the kids built a sandcastle", "t": 25},
        {"account_id": "d", "text": "yes!", "t": 26},  # too short
        {"account_id": "e", "action": "repost", "target_id": "r0", "text": CALL, "t": 30},  # not authored
    )
    events = co_text.share_events(table, threshold=0.8)
    target = dict(zip(events["id"].to_pylist(), events["target"].to_pylist(), strict=True))
    assert set(target) == {"r0", "r1", "r2"}
    assert target["r0"] == target["r1"] != target["r2"]
    assert target["r2"].endswith(normalize_text_one(table["text"][2].as_py())[:100])


def test_co_text_groups_code_each_record_into_the_sorted_labels_of_the_groups():
    # what the in-process plan pairs on: per record a code into the sorted distinct labels,
    # -1 for a record without a group; decoded, the codes are the share events' targets
    from rallypoint.detectors.coaction import co_text

    texts = [f"Group {word} meets at the square at noon with banners" for word in ("zeta", "alpha", "mu", "beta")]
    table = posts(*({"account_id": f"a{k}", "text": text, "t": k} for k, text in enumerate(texts * 2)),
                  {"account_id": "x", "text": "too short", "t": 9})
    code, labels = co_text.text_groups(table, threshold=0.8)
    assert labels.to_list() == sorted(labels.to_list()) and labels.n_unique() == len(labels) == 4
    assert code.tolist()[:4] == code.tolist()[4:8] and sorted(code[:4].tolist()) == [0, 1, 2, 3]
    assert code[8] == -1
    assert labels.gather(code[:8]).to_list() == co_text.text_targets(table).to_pylist()[:8]


def normalize_text_one(text: str) -> str:
    import polars as pl

    return normalize_text(pl.Series([text]))[0]


def test_normalized_texts_lose_case_links_and_punctuation_but_keep_handles_tags_and_accents():
    cases = {
        "Join us!!! https://x.co/a?b=1, at the CAPITOL...": "join us at the capitol",
        "Ônibus saindo de São Paulo:http://pix.me/x dia 8": "ônibus saindo de são paulo dia 8",
        "see.https://a.b/c": "see",  # a link glued to a word still goes
        "http:// is not a link": "http is not a link",
        "  @Senator #StopTheSteal\t\n-- now  ": "@senator #stopthesteal now",
        "https://only.link": "",
    }
    for text, normalized in cases.items():
        assert normalize_text_one(text) == normalized


def test_near_duplicate_groups_are_deterministic_for_a_seed():
    texts = [normalize_text_one(CALL), normalize_text_one(CALL + " now"), "something else entirely with many words"]
    first = near_duplicate_groups(texts, 0.5, seed=1)
    assert first[0] == first[1] != first[2]
    assert (near_duplicate_groups(texts, 0.5, seed=1) == first).all()


def test_near_duplicate_groups_in_small_chunks_equal_one_pass():
    # texts are hashed doc_chunk at a time and links checked link_chunk at a time so that
    # millions of texts fit in memory; the groups must not depend on the chunk sizes
    import numpy as np

    rng = np.random.default_rng(4)
    vocabulary = [f"w{k}" for k in range(40)]
    bases = [" ".join(rng.choice(vocabulary, 12)) for _ in range(30)]
    texts = [base + (" " + " ".join(rng.choice(vocabulary, int(rng.integers(0, 3)))) if rng.random() < 0.7 else "")
             for base in bases for _ in range(4)]
    whole = near_duplicate_groups(texts, 0.7)
    chunked = near_duplicate_groups(texts, 0.7, doc_chunk=7, link_chunk=5)
    assert 5 < len(set(whole.tolist())) < len(texts)  # some texts grouped, not all in one
    same_group = whole[:, None] == whole[None, :]
    assert (same_group == (chunked[:, None] == chunked[None, :])).all()


def test_minhash_signatures_are_the_minimum_of_each_permutation_over_a_texts_shingles():
    # signatures are computed per block of permutations over texts grouped by their number
    # of shingles; each entry must still be min over the text's shingles of (a x + b) mod p
    import numpy as np

    from rallypoint.detectors.coaction import minhash

    rng = np.random.default_rng(9)
    # texts with 1 to 40 shingles, shared shingle values, and texts 2 and 5 with none
    lengths = {doc: int(rng.integers(1, 41)) for doc in range(12) if doc not in (2, 5)}
    doc = np.repeat(np.array(list(lengths), dtype=np.int64), list(lengths.values()))
    hashes = rng.integers(0, 60, doc.size).astype(np.uint64) * np.uint64(2_654_435_761) % np.uint64(2**32)
    num_perm, seed = 20, 3
    got = minhash.signatures(doc, hashes, 12, num_perm=num_perm, seed=seed)
    draw = np.random.default_rng(seed)
    a = draw.integers(1, 1 << 31, num_perm, dtype=np.uint64).tolist()
    b = draw.integers(0, 1 << 31, num_perm, dtype=np.uint64).tolist()
    prime = (1 << 61) - 1
    for d in range(12):
        mine = [int(x) for x in hashes[doc == d]]
        want = [min(((a[p] * x + b[p]) % prime) & 0xFFFFFFFF for x in mine) if mine else 2**32 - 1
                for p in range(num_perm)]
        assert got[d].tolist() == want


def test_co_hashtags_needs_two_tags_and_ignores_order_and_case():
    table = posts(
        {"account_id": "a", "hashtags": ["StopTheSteal", "J6"], "t": 0},
        {"account_id": "b", "hashtags": ["j6", "stopthesteal"], "t": 5},
        {"account_id": "c", "hashtags": ["StopTheSteal"], "t": 6},  # one tag: not a script
        {"account_id": "d", "hashtags": ["StopTheSteal"], "t": 7},
    )
    assert pairs(table, "co_hashtags") == {("a", "b"): 1}


def test_co_mention_matches_handles_whatever_their_case():
    table = posts(
        {"account_id": "a", "mentions": ["@SenWhitfield"], "t": 0},
        {"account_id": "b", "mentions": ["@senwhitfield", "@other"], "t": 30},
        {"account_id": "c", "mentions": ["@other"], "t": 500},
    )
    assert pairs(table, "co_mention") == {("a", "b"): 1}


def test_co_reply_and_co_media():
    table = posts(
        {"account_id": "a", "action": "reply", "target_id": "p1", "t": 0},
        {"account_id": "b", "action": "reply", "target_id": "p1", "t": 10},
        {"account_id": "c", "action": "repost", "target_id": "p1", "t": 10},  # a repost is no reply
        {"account_id": "a", "media": ["hash1"], "t": 100},
        {"account_id": "c", "media": ["hash1", "hash1"], "t": 120},  # the same image twice is one share
    )
    assert pairs(table, "co_reply") == {("a", "b"): 1}
    assert pairs(table, "co_media") == {("a", "c"): 1}


def test_co_link_counts_each_url_of_a_post():
    table = posts(
        {"account_id": "a", "urls": ["https://fund.example/x", "https://t.me/+abc"], "t": 0},
        {"account_id": "b", "urls": ["https://t.me/+abc", "https://fund.example/x"], "t": 40},
    )
    result = build_coaction_edges(table, types=["co_link"], window=60, min_participation=1, null_model="none")
    edge = result.edges.to_pylist()[0]
    assert (edge["weight"], edge["n_shared"]) == (2, 2)
    assert sorted(result.actions_table()["target"].to_pylist()) == sorted(["https://fund.example/x", "https://t.me/+abc"] * 2)


def test_minhash_groups_find_most_true_near_duplicates_and_few_false_ones():
    import random

    from rallypoint.detectors.coaction.minhash import near_duplicate_groups

    rng = random.Random(5)
    vocabulary = [f"w{k}" for k in range(400)]
    bases = [[rng.choice(vocabulary) for _ in range(30)] for _ in range(40)]
    texts, family = [], []
    for f, base in enumerate(bases):
        for _ in range(5):  # five variants of each base text, one word changed (pairwise Jaccard >= 0.6)
            words = list(base)
            words[rng.randrange(30)] = rng.choice(vocabulary)
            texts.append(" ".join(words))
            family.append(f)
    labels = near_duplicate_groups(texts, threshold=0.5, seed=0)
    n = len(texts)
    same_family = [(i, j) for i in range(n) for j in range(i + 1, n) if family[i] == family[j]]
    other = [(i, j) for i in range(n) for j in range(i + 1, n) if family[i] != family[j]]
    found = sum(labels[i] == labels[j] for i, j in same_family)
    false = sum(labels[i] == labels[j] for i, j in other)
    assert found >= 0.9 * len(same_family)
    assert false == 0
