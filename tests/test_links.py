"""Link categories from domains: money, logistics, petitions; shorteners, redirect wrappers, user files."""

from __future__ import annotations

import json

import polars as pl
import pytest

from rallypoint.detectors.links import classify_urls, load_link_domains, url_categories
from rallypoint.detectors.mobilization.lexicon import LexiconError


def categories(*urls: str) -> dict[str, set[str]]:
    found = classify_urls(pl.Series(list(urls), dtype=pl.String))
    return {u: set(found.filter(pl.col("url") == u)["category"].drop_nulls()) for u in urls}


def test_money_logistics_and_petition_domains_and_their_subdomains():
    got = categories(
        "https://www.gofundme.com/f/buses-to-dc", "https://gofund.me/abc", "https://m.paypal.me/someone",
        "https://forms.gle/AbC", "https://docs.google.com/forms/d/e/1/viewform", "https://chat.whatsapp.com/Inv1",
        "https://www.change.org/p/x", "https://link.mercadopago.com.ar/caravana",
    )
    assert got["https://www.gofundme.com/f/buses-to-dc"] == {"money"}
    assert got["https://gofund.me/abc"] == {"money"}
    assert got["https://m.paypal.me/someone"] == {"money"}
    assert got["https://forms.gle/AbC"] == {"logistics"}
    assert got["https://docs.google.com/forms/d/e/1/viewform"] == {"logistics"}
    assert got["https://chat.whatsapp.com/Inv1"] == {"logistics"}
    assert got["https://www.change.org/p/x"] == {"petition"}
    assert got["https://link.mercadopago.com.ar/caravana"] == {"money"}


def test_lookalike_domains_paths_and_public_channels_are_not_matched():
    got = categories("https://evilgofundme.com/x", "https://gofundme.com.evil.net/x", "https://docs.google.com/document/d/1",
                     "https://t.me/somechannel", "https://t.me/+PrivateInvite", "not a url gofundme.com")
    assert got["https://evilgofundme.com/x"] == set()
    assert got["https://gofundme.com.evil.net/x"] == set()
    assert got["https://docs.google.com/document/d/1"] == set()  # a document is not a form
    assert got["https://t.me/somechannel"] == set()  # a public channel is not an invitation
    assert got["https://t.me/+PrivateInvite"] == {"logistics"}
    assert got["not a url gofundme.com"] == set()


def test_redirect_wrappers_are_unwrapped_and_shorteners_reported():
    got = categories("https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.givesendgo.com%2Fbuses&h=AT0",
                     "https://www.google.com/url?q=https://forms.gle/x&sa=D", "https://bit.ly/3xYz")
    assert got["https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.givesendgo.com%2Fbuses&h=AT0"] == {"money"}
    assert got["https://www.google.com/url?q=https://forms.gle/x&sa=D"] == {"logistics"}
    assert got["https://bit.ly/3xYz"] == {"shortener"}  # never followed: its destination is unknown


def test_url_categories_per_record_text_or_no_text():
    frame = pl.DataFrame({"id": ["a", "b", "c"],
                          "urls": [["https://www.givesendgo.com/x", "https://forms.gle/y"], None, []]},
                         schema={"id": pl.String, "urls": pl.List(pl.String)})
    out = url_categories(frame).sort("id")
    assert out["money_link"].to_list() == [True, False, False]
    assert out["logistics_link"].to_list() == [True, False, False]
    assert out["matched_money_link"][0].to_list() == ["givesendgo.com"]


def test_a_user_file_adds_domains(tmp_path):
    extra = tmp_path / "mine.json"
    extra.write_text(json.dumps({"categories": {"money": ["kasse.example.de"]}, "shorteners": ["kurz.li"]}))
    domains = load_link_domains([extra])
    found = classify_urls(pl.Series(["https://kasse.example.de/bus", "https://kurz.li/x", "https://gofundme.com/y"]),
                          domains)
    assert dict(zip(found["url"], found["category"], strict=True)) == {
        "https://kasse.example.de/bus": "money", "https://kurz.li/x": "shortener", "https://gofundme.com/y": "money"}


@pytest.mark.parametrize("content", ['{"categories": {"weapons": ["x.com"]}}', '{"colour": 1}', "not json",
                                     '{"categories": {"money": [3]}}'])
def test_a_bad_file_is_refused_in_one_sentence_naming_it(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(LexiconError, match="bad.json"):
        load_link_domains([bad])
