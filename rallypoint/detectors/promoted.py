"""Terms an analyst promoted into the lexicon: ``rallypoint lexicon add``, read by every later run.

What it does
    A learned term (``terms.parquet``) or any phrase an analyst confirms is added to the
    lake's own lexicon file, ``LAKE/lexicon/promoted.json`` (the lexicon format of
    ``docs/signals.md``: ``signals`` by kind, ``code_words``), which ``detect`` loads on
    top of the built-in lexicons. Every addition is appended to
    ``LAKE/lexicon/history.jsonl`` (term, kind, language, when, who); the number of
    additions is the lexicon's **version**, which each run records in ``run.json``
    with the file's SHA-256, so a run says exactly which words it knew.

    A phrase that the lexicon loader would refuse (not a valid pattern in both Python's
    ``re`` and Rust's ``regex``) is refused before anything is written; adding a term
    twice is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rallypoint.detectors.mobilization.lexicon import LEXICON_KINDS, LexiconError, load_lexicons
from rallypoint.lake import Lake, write_json_atomic

#: What a promoted term can be: a signal the lexicons list, or a code word.
KINDS: tuple[str, ...] = (*LEXICON_KINDS, "code_word")
FILE, HISTORY = "promoted.json", "history.jsonl"
MAX_TERM = 200


def promoted_path(lake: Lake) -> Path:
    return lake.root / "lexicon" / FILE


def promoted_paths(lake: Lake) -> list[Path]:
    """The extra lexicon files a run of this lake loads (none before the first promotion)."""
    path = promoted_path(lake)
    return [path] if path.exists() else []


def _empty() -> dict[str, Any]:
    return {"about": "terms promoted by analysts (rallypoint lexicon add)", "signals": {}, "code_words": []}


def add_term(lake: str | Path | Lake, term: str, kind: str, lang: str | None = None, *, by: str | None = None,
             meaning: str | None = None) -> dict[str, Any]:
    """Add ``term`` as ``kind`` to the lake's promoted lexicon; returns ``{version, added, path}``."""
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    lake.require()
    term = " ".join((term or "").split())
    if not term or len(term) > MAX_TERM:
        raise LexiconError(f"A promoted term must be 1 to {MAX_TERM} characters long.")
    if kind not in KINDS:
        raise LexiconError(f"Unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    path = promoted_path(lake)
    data = json.loads(path.read_text("utf-8")) if path.exists() else _empty()
    known = (data.get("signals", {}).get(kind, []) if kind != "code_word"
             else [c["phrase"] for c in data.get("code_words", [])])
    if term in known:
        return {"version": version(lake)["version"], "added": False, "path": str(path)}
    if kind == "code_word":
        entry = {"phrase": term, "meaning": meaning or "promoted from a learned term"}
        data.setdefault("code_words", []).append(entry)
    else:
        data.setdefault("signals", {}).setdefault(kind, []).append(term)
    # the whole file is checked by the loader before it replaces the old one
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as tmp:
        json.dump(data, tmp, ensure_ascii=False)
    try:
        load_lexicons([tmp.name])
    except LexiconError:
        raise LexiconError(f"The term {term!r} is not a phrase the lexicons can match.") from None
    finally:
        os.unlink(tmp.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)
    record = {"term": term, "kind": kind, "lang": lang, "at": datetime.now(UTC).isoformat(), "by": by}
    with open(path.parent / HISTORY, "a", encoding="utf-8") as log:
        log.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {"version": version(lake)["version"], "added": True, "path": str(path)}


def version(lake: Lake) -> dict[str, Any]:
    """What ``run.json`` records: the number of promotions, the file's SHA-256, its terms by kind."""
    path = promoted_path(lake)
    if not path.exists():
        return {"version": 0, "sha256": None, "terms": {}}
    history = path.parent / HISTORY
    n = sum(1 for line in history.read_text("utf-8").splitlines() if line.strip()) if history.exists() else 0
    data = json.loads(path.read_text("utf-8"))
    terms = {k: list(v) for k, v in data.get("signals", {}).items()}
    if data.get("code_words"):
        terms["code_word"] = [c["phrase"] for c in data["code_words"]]
    return {"version": n, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "terms": terms}


__all__ = ["KINDS", "add_term", "promoted_paths", "version"]
