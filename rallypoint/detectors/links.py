"""What a link is for, from its domain: money, logistics (sign-up, transport, lodging, group invites), petitions.

What it computes
    For every URL, the categories of :func:`load_link_domains`' table that its domain
    falls in: ``money`` (crowdfunding and payment pages), ``logistics`` (sign-up forms,
    event registration, buses and lodging, invitations into messaging groups) and
    ``petition``; ``shortener`` when it goes through a link shortener (its destination
    is unknown without following it, which rallypoint never does: the link may be
    hostile). A campaign that moves its money and its logistics as bare links, with no
    text at all, is still seen (``docs/signals.md``).

How
    A URL's host is lower-cased and stripped of ``www.`` / ``m.``; a redirect wrapper
    (``l.facebook.com/l.php?u=...``, ``google.com/url?q=...``) is unwrapped to the link
    it carries. Tracking parameters are already gone (the ingest's URL normalization).
    An entry is a domain, which also matches its subdomains, or a domain with a path
    prefix (``t.me/+`` is an invitation into a private group, ``t.me/name`` a public
    channel). Matching is a join of each URL's host and parent domains against the
    table, then a path-prefix filter: O(distinct URLs x domain depth), columnar.

Files
    ``rallypoint/detectors/lexicons/link_domains.json``; a user file of the same format
    (JSON or TOML) adds entries: ``{"categories": {"money": ["my-fund.org"]},
    "shorteners": [...], "redirectors": {"host/path": "param"}}``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import polars as pl

from rallypoint.detectors.mobilization.lexicon import LexiconError

#: The categories a link can fall in (the keys of the file's ``categories``).
LINK_CATEGORIES: tuple[str, ...] = ("money", "logistics", "petition")
SHORTENER = "shortener"
BUILTIN_FILE = "link_domains.json"
_KEYS = {"about", "categories", "shorteners", "redirectors"}
#: Parent domains tried per host (a.b.example.co.uk -> 5 candidates at most).
_MAX_DEPTH = 5


@dataclass
class LinkDomains:
    """Entries ``(domain, path prefix, category)`` and the redirect wrappers to unwrap."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)
    redirectors: dict[str, str] = field(default_factory=dict)

    def table(self) -> pl.DataFrame:
        return pl.DataFrame(self.entries, schema={"domain": pl.String, "prefix": pl.String, "category": pl.String},
                            orient="row").unique()


def load_link_domains(extra_paths: tuple[str | Path, ...] | list[str | Path] = (), *, builtin: bool = True
                      ) -> LinkDomains:
    """The shipped link-domain table plus user files (which add entries). A bad file raises
    :class:`LexiconError` in one sentence naming it."""
    domains = LinkDomains()
    sources: list[tuple[str, str]] = []
    if builtin:
        sources.append((resources.files("rallypoint.detectors").joinpath("lexicons", BUILTIN_FILE).read_text("utf-8"),
                        f"lexicons/{BUILTIN_FILE}"))
    for path in extra_paths:
        try:
            sources.append((Path(path).read_text("utf-8"), str(path)))
        except (OSError, UnicodeDecodeError) as exc:
            raise LexiconError(f"Cannot read the link-domain file {path}: {exc}.") from None
    for text, name in sources:
        _merge(domains, _parse(text, name), name)
    return domains


def _parse(text: str, name: str) -> dict:
    try:
        data = tomllib.loads(text) if name.endswith(".toml") else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise LexiconError(f"The link-domain file {name} is not valid JSON or TOML: {exc}.") from None
    if not isinstance(data, dict):
        raise LexiconError(f"The link-domain file {name} must hold an object.")
    unknown = set(data) - _KEYS
    if unknown:
        raise LexiconError(f"The link-domain file {name} has an unknown key {sorted(unknown)[0]!r}.")
    return data


def _merge(domains: LinkDomains, data: dict, name: str) -> None:
    categories = data.get("categories", {})
    groups = [(c, categories.get(c)) for c in categories] + [(SHORTENER, data.get("shorteners", []))]
    for category, entries in groups:
        if category not in (*LINK_CATEGORIES, SHORTENER):
            raise LexiconError(f"The link-domain file {name} names an unknown category {category!r}; "
                               f"use {', '.join(LINK_CATEGORIES)}.")
        if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip() for e in entries):
            raise LexiconError(f"The link-domain file {name} lists {category!r} entries that are not domains.")
        for entry in entries:
            domain, _, prefix = entry.strip().lower().partition("/")
            domains.entries.append((domain.removeprefix("www."), "/" + prefix if prefix else "", category))
    redirectors = data.get("redirectors", {})
    if not isinstance(redirectors, dict) or not all(isinstance(v, str) for v in redirectors.values()):
        raise LexiconError(f"The link-domain file {name} has redirectors that are not {{host/path: parameter}}.")
    domains.redirectors.update({k.lower(): v for k, v in redirectors.items()})


def unwrap(url: str, redirectors: dict[str, str]) -> str:
    """The link a redirect wrapper carries (``l.facebook.com/l.php?u=X`` -> X), else ``url``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = (parts.hostname or "").removeprefix("www.")
    for where in (host + parts.path.rstrip("/"), host):
        param = redirectors.get(where)
        if param:
            inner = parse_qs(parts.query).get(param)
            return inner[0] if inner else url
    return url


_HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?([^/?#:]+)"
_PATH = r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*(/[^?#]*)?"


def classify_urls(urls: pl.Series, domains: LinkDomains | None = None) -> pl.DataFrame:
    """Per distinct URL of ``urls`` (strings): ``url``, ``domain`` (the matched entry's domain, or
    the host) and ``category`` (null when no entry matches). One row per (url, category)."""
    domains = domains or load_link_domains()
    distinct = urls.drop_nulls().unique().alias("url").to_frame()
    wrapped = distinct["url"].str.contains("|".join(_escape(k) for k in domains.redirectors)) if domains.redirectors \
        else pl.Series([False] * distinct.height)
    # redirect wrappers are few: their query strings are decoded one by one
    target = distinct.with_columns(
        target=pl.when(wrapped).then(pl.col("url").map_elements(lambda u: unwrap(u, domains.redirectors),
                                                                   return_dtype=pl.String))
        .otherwise(pl.col("url")))
    parts = target.with_columns(
        host=pl.col("target").str.extract(_HOST, 1).str.to_lowercase().str.strip_chars(".")
        .str.replace(r"^(?:www\d?|m|mobile)\.", ""),
        path=pl.col("target").str.extract(_PATH, 1).fill_null("/").str.to_lowercase(),
    )
    labels = pl.col("host").str.split(".")
    candidates = parts.with_columns(
        domain=pl.concat_list([labels.list.slice(-k).list.join(".") for k in range(2, _MAX_DEPTH + 1)])
    ).explode("domain").filter(pl.col("domain").str.contains(r"\.")).unique(["url", "domain"])
    matched = candidates.join(domains.table(), on="domain", how="inner").filter(
        pl.col("path").str.starts_with(pl.col("prefix"))).select("url", "domain", "category").unique()
    unmatched = parts.join(matched.select("url"), on="url", how="anti").select(
        "url", domain=pl.col("host"), category=pl.lit(None, pl.String))
    return pl.concat([matched, unmatched]).sort("url", "category")


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def url_categories(frame: pl.DataFrame, domains: LinkDomains | None = None) -> pl.DataFrame:
    """``frame`` (``id``, ``urls``: list of strings) -> ``id`` and, per category in
    :data:`LINK_CATEGORIES` plus ``shortener``, ``<category>_link`` (bool) and
    ``matched_<category>_link`` (the matched domains)."""
    kinds = (*LINK_CATEGORIES, SHORTENER)
    exploded = frame.select("id", url=pl.col("urls")).explode("url").drop_nulls("url")
    found = exploded.join(classify_urls(exploded["url"], domains).drop_nulls("category"), on="url", how="inner")
    per_id = found.group_by("id").agg(
        [pl.col("domain").filter(pl.col("category") == k).unique().sort().alias(f"matched_{k}_link") for k in kinds])
    out = frame.select("id").join(per_id, on="id", how="left")
    return out.with_columns(
        *[pl.col(f"matched_{k}_link").fill_null(pl.lit([], pl.List(pl.String))) for k in kinds]
    ).with_columns(*[(pl.col(f"matched_{k}_link").list.len() > 0).alias(f"{k}_link") for k in kinds])


__all__ = ["LINK_CATEGORIES", "SHORTENER", "LinkDomains", "classify_urls", "load_link_domains", "unwrap",
           "url_categories"]
