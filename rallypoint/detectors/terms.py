"""Learned code words: the words a flagged mobilization cluster pushes far more than everyone else.

What it computes
    For each *teaching* cluster (flagged in the first scoring pass, with a call, a
    structural call or a money / logistics link among its pushed texts), the words and
    2-3-word phrases of its mobilizing texts (those with a date, a place, a time, a call
    or logistics) whose rate is far above the lake's background, by the weighted
    log-odds ratio with an informative Dirichlet prior of Monroe, Colaresi & Quinn
    (2008, "Fightin' Words", *Political Analysis* 16(4)):

        delta_w = log((y_w + a_w) / (n + a0 - y_w - a_w)) - log((b_w + a_w) / (m + a0 - b_w - a_w))
        z_w     = delta_w / sqrt(1 / (y_w + a_w) + 1 / (b_w + a_w))

    with ``y_w`` the term's count in the cluster's mobilizing texts (``n`` terms in all),
    ``b_w`` in the background (``m``), and the prior ``a_w = a0 * b_w / m`` proportional to
    the background (``a0`` = :data:`PRIOR_WEIGHT`), which shrinks rare terms toward no
    difference. A term is kept when ``z_w >= Z_MIN``, at least :data:`MIN_ACCOUNTS`
    accounts of the cluster wrote it (a term pushed, not one person's habit), it has no
    digit (dates and times are signals of their own) and its first and last words have
    at least :data:`MIN_WORD` letters (function words are no code words), and not every
    word is one the built-in lexicons' phrases or date words are made of ("quem",
    "ônibus", "coming", "janeiro", "neste": the lexicons and the date grammar read them
    already, and a food bank's volunteers write them too). At most
    :data:`TOP_TERMS` per cluster, highest ``z`` first. Its ``language`` is the most
    common ``lang`` of the texts that use it.

    Tokens are lower-cased Unicode words (``\\w+``), so any script and any language
    works, with or without a lexicon; links, mentions and numbers are left out.

    :func:`term_hits` then finds, in every *other* cluster's pushed texts, the learned
    terms they use: weak evidence (``learned_term`` rows) for the second scoring pass.

Complexity
    Tokenizing is a few polars string passes over the teaching texts and over those
    texts of a background sample (about :data:`BACKGROUND_TEXTS` texts, a deterministic
    hash sample) that contain a candidate's first word (an Aho-Corasick pre-filter);
    counting is a group-by. O(text length).
"""

from __future__ import annotations

import math
import re

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint.detectors.evidence import empty_evidence
from rallypoint.detectors.mobilization import load_lexicons
from rallypoint.detectors.mobilization.patterns import fold, fold_expr
from rallypoint.schema import TERMS_SCHEMA

PRIOR_WEIGHT = 1000.0
Z_MIN = 3.29  # two-sided 0.001
MIN_ACCOUNTS = 3
TOP_TERMS = 15
MAX_WORDS = 3
MIN_WORD = 4
BACKGROUND_TEXTS = 50_000
#: What makes a pushed text a mobilizing one (signal columns of the pipeline's text signals).
MOBILIZING = ("call_to_action", "structural_call", "logistics", "code_word", "money_link", "logistics_link")
_URL = r"(?:https?://|www\.)\S+|[@#]\w+"


def lexicon_words() -> frozenset[str]:
    """The words (folded) the built-in lexicons' signal phrases and date words (months,
    weekdays, "this", "next", "tomorrow", ...) are made of."""
    lex = load_lexicons()
    phrases = [phrase for kind in lex.signals.values() for phrase in kind] + lex.dates.phrases()
    return frozenset(word for phrase in phrases for word in re.findall(r"[a-z]+", fold(phrase))
                     if len(word) >= MIN_WORD)


def _tokens(text: pl.Expr) -> pl.Expr:
    return (text.fill_null("").str.normalize("NFC").str.to_lowercase().str.replace_all(_URL, " ")
            .str.extract_all(r"\w+"))


def _n_tokens(text: pl.Expr) -> pl.Expr:
    """How many tokens :func:`_tokens` finds, counted without building the lists."""
    return text.fill_null("").str.replace_all(_URL, " ").str.count_matches(r"\w+")


def ngrams(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """One row per (``by`` columns, text, term): the words and 2-3-word phrases of ``text``
    that can be terms — no digit anywhere, the first and last words at least
    :data:`MIN_WORD` letters long (so "at the", "de los" are no terms; "fishing trip" is)."""
    words = frame.with_row_index("_doc").select("_doc", *by, w=_tokens(pl.col("text"))).explode("w").drop_nulls("w")
    doc, word = pl.col("_doc"), pl.col("w")
    usable = ~word.str.contains(r"\d")
    edge = usable & (word.str.len_chars() >= MIN_WORD)
    parts = []
    for k in range(1, MAX_WORDS + 1):
        # shifts over the whole column, checked to stay inside one text (no window per text)
        same = pl.all_horizontal([doc.shift(-i) == doc for i in range(1, k)]) if k > 1 else pl.lit(True)
        inner = pl.all_horizontal([usable.shift(-i) for i in range(1, k - 1)]) if k > 2 else pl.lit(True)
        gram = words.with_columns(
            term=pl.concat_str([word.shift(-i) for i in range(k)], separator=" "),
            _ok=(same & edge & edge.shift(-(k - 1)) & inner).fill_null(False))
        parts.append(gram.filter("_ok").select("_doc", *by, "term"))
    return pl.concat(parts).unique(["_doc", "term"]).drop("_doc")


def _sample(texts: pl.DataFrame, size: int) -> pl.DataFrame:
    step = max(1, math.ceil(texts.height / size))
    return texts.filter(pl.col("id").hash(seed=0) % step == 0) if step > 1 else texts


def _containing(texts: pl.DataFrame, words: list[str]) -> pl.DataFrame:
    """The texts that may hold one of ``words`` (a substring pre-filter: tokenizing only those)."""
    return texts.filter(pl.col("text").str.to_lowercase().str.contains_any(words)) if words else texts.head(0)


_EMPTY_LEARNED = {"cluster_id": pl.Int64, "term": pl.String, "language": pl.String, "statistic": pl.Float64,
                  "count": pl.Int64, "background_count": pl.Int64}


def learn_terms(signals: pl.DataFrame, teachers: list[int], background: pl.DataFrame,
                langs: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per teaching cluster, the terms its mobilizing texts push (``cluster_id``, ``term``,
    ``language``, ``statistic``, ``count``, ``background_count``).

    ``signals``: per (cluster, text) the pipeline's signals (``cluster_id``, ``id``,
    ``account_id``, ``text`` and the :data:`MOBILIZING` flags); ``background``: the lake's
    texts (``id``, ``text``), sampled here; ``langs``: ``id``, ``lang``.
    """
    flags = [pl.col(c).fill_null(False) for c in MOBILIZING if c in signals.columns]
    texts = signals.filter(pl.col("cluster_id").is_in(teachers) & pl.any_horizontal(flags)).unique(
        ["cluster_id", "id"])
    sample = _sample(background.filter(pl.col("text").str.len_chars() > 0), BACKGROUND_TEXTS)
    m = int(sample.select(_n_tokens(pl.col("text")).sum()).item() or 0)
    if texts.height == 0 or m == 0:
        return pl.DataFrame(schema=_EMPTY_LEARNED)
    grams = ngrams(texts.select("cluster_id", "id", "account_id", "text"), ["cluster_id", "id", "account_id"])
    per = grams.group_by("cluster_id", "term").agg(y=pl.len().cast(pl.Int64),
                                                   n_accounts=pl.col("account_id").n_unique())
    common = pl.Series(sorted(lexicon_words()), dtype=pl.String).implode()
    all_common = pl.col("term").str.split(" ").list.eval(fold_expr(pl.element()).is_in(common)).list.all()
    per = per.filter((pl.col("n_accounts") >= MIN_ACCOUNTS) & ~all_common)
    totals = texts.group_by("cluster_id").agg(n=_n_tokens(pl.col("text")).sum())
    words = per["term"].str.split(" ").list.first().unique().to_list()
    counts = (ngrams(_containing(sample, words).select("text"), []).join(per.select("term").unique(), on="term")
              .group_by("term").agg(b=pl.len().cast(pl.Int64)))
    a0 = PRIOR_WEIGHT
    scored = (per.join(totals, on="cluster_id").join(counts, on="term", how="left")
              .with_columns(b=pl.col("b").fill_null(0))
              # a term the background sample never uses still gets a prior worth one use
              .with_columns(a=a0 * (pl.col("b").clip(1, None) / m))
              .with_columns(
                  delta=((pl.col("y") + pl.col("a")) / (pl.col("n") + a0 - pl.col("y") - pl.col("a"))).log()
                  - ((pl.col("b") + pl.col("a")) / (m + a0 - pl.col("b") - pl.col("a"))).log(),
                  var=1 / (pl.col("y") + pl.col("a")) + 1 / (pl.col("b") + pl.col("a")))
              .with_columns(statistic=pl.col("delta") / pl.col("var").sqrt()))
    kept = (scored.filter(pl.col("statistic") >= Z_MIN)
            .sort(["cluster_id", "statistic", "term"], descending=[False, True, False])
            .group_by("cluster_id", maintain_order=True).head(TOP_TERMS))
    if langs is not None:
        used = grams.join(kept.select("cluster_id", "term"), on=["cluster_id", "term"]).join(langs, on="id")
        top = (used.drop_nulls("lang").group_by("cluster_id", "term", "lang").len()
               .sort(["cluster_id", "term", "len", "lang"], descending=[False, False, True, False])
               .group_by("cluster_id", "term", maintain_order=True).agg(language=pl.col("lang").first()))
        kept = kept.join(top, on=["cluster_id", "term"], how="left")
    else:
        kept = kept.with_columns(language=pl.lit(None, pl.String))
    return kept.select("cluster_id", "term", "language", "statistic", count="y", background_count="b")


def term_hits(signals: pl.DataFrame, learned: pl.DataFrame) -> pl.DataFrame:
    """Texts of clusters that use a term another cluster taught: ``cluster_id``, ``id``,
    ``account_id``, ``timestamp``, ``text``, ``thread``, ``term``, ``teacher``."""
    by = ["cluster_id", "id", "account_id", "timestamp", "text", "thread"]
    if learned.height == 0:
        return signals.select(by).head(0).with_columns(term=pl.lit(None, pl.String), teacher=pl.lit(None, pl.Int64))
    texts = _containing(signals.select(by).unique(["cluster_id", "id"]),
                        learned["term"].str.split(" ").list.first().unique().to_list())
    teachers = learned.select("term", teacher=pl.col("cluster_id"), _s=pl.col("statistic"))
    hits = ngrams(texts, by).join(teachers, on="term").filter(pl.col("cluster_id") != pl.col("teacher"))
    # one row per text: its strongest learned term
    return (hits.sort(["cluster_id", "id", "_s", "term"], descending=[False, False, True, False])
            .unique(["cluster_id", "id"], keep="first", maintain_order=True).drop("_s"))


def terms_table(learned: pl.DataFrame, names: dict[int, str]) -> pa.Table:
    """``terms.parquet``: one row per term, the clusters that taught it named as in the run."""
    if learned.height == 0:
        return TERMS_SCHEMA.empty_table()
    named = learned.with_columns(cluster=pl.col("cluster_id").replace_strict(names, return_dtype=pl.String))
    table = (named.sort("cluster").group_by("term", maintain_order=True).agg(
        language=pl.col("language").drop_nulls().first(), clusters=pl.col("cluster"),
        statistic=pl.col("statistic").max(), count=pl.col("count").sum(),
        background_count=pl.col("background_count").max())
             .sort(["statistic", "term"], descending=[True, False]))
    arrow = table.select(TERMS_SCHEMA.names).to_arrow()
    return pa.table([arrow.column(n).cast(TERMS_SCHEMA.field(n).type) for n in TERMS_SCHEMA.names],
                    schema=TERMS_SCHEMA)


#: Evidence kind of a text using a term another cluster taught (``rallypoint.detectors.terms``).
TERM_KIND = "learned_term"


def learned_terms(first_pass: pl.DataFrame, signals: pl.DataFrame, records: pa.Table
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Terms the first pass's flagged mobilization clusters taught, and the other clusters' texts using them."""
    teaching = first_pass.filter(pl.col("flagged") & ((pl.col("mobilization_score") > 0) | (pl.col("quiet_score") > 0)))
    teachers = teaching["cluster_id"].to_list()
    if not teachers or signals.height == 0:
        empty = learn_terms(signals.head(0), [], pl.DataFrame(schema={"id": pl.String, "text": pl.String}))
        return empty, term_hits(signals.head(0), empty)
    langs = signals.select("id", "lang").unique("id")
    # the background is a sample of rows taken in Arrow (every step-th record, the same ones for
    # the same lake): converting every text of a 10M-record lake for 50,000 of them cost seconds
    step = max(1, records.num_rows // (4 * BACKGROUND_TEXTS))
    background = pl.from_arrow(records.select(["id", "text"]).take(np.arange(0, records.num_rows, step)))
    learned = learn_terms(signals, teachers, background, langs)
    return learned, term_hits(signals, learned)


def term_evidence(hits: pl.DataFrame) -> pl.DataFrame:
    """``learned_term`` evidence rows: the text, its thread, the term matched."""
    if hits.height == 0:
        return empty_evidence()
    return hits.select(
        pl.col("cluster_id").cast(pl.Int64), "id", "account_id", pl.col("timestamp").cast(pl.Datetime("us", "UTC")),
        kind=pl.lit(TERM_KIND), target=pl.col("thread"), text=pl.col("text"),
        matched=pl.concat_list([pl.col("term")]))


def taught_terms(hits: pl.DataFrame) -> pl.DataFrame:
    """Per cluster, the learned terms it uses: ``learned_terms`` list of {term, teacher, n} (most used first)."""
    schema = {"cluster_id": pl.Int64,
              "learned_terms": pl.List(pl.Struct({"term": pl.String, "teacher": pl.Int64, "n": pl.Int64}))}
    if hits.height == 0:
        return pl.DataFrame(schema=schema)
    return (hits.group_by("cluster_id", "term", "teacher").agg(n=pl.col("thread").n_unique().cast(pl.Int64))
            .sort(["cluster_id", "n", "term"], descending=[False, True, False])
            .group_by("cluster_id", maintain_order=True).agg(learned_terms=pl.struct("term", "teacher", "n")))


__all__ = ["TERM_KIND", "learn_terms", "learned_terms", "ngrams", "taught_terms", "term_evidence", "term_hits",
           "terms_table"]
