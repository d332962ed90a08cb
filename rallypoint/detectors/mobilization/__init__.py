"""Mobilization signals in text (English, Portuguese, Spanish): calls to a place and a date,
logistics, escalation, election delegitimization and code words.

The lexicons are data (``rallypoint/detectors/lexicons/``: one file per language, a
gazetteer of places, code words) that users extend with their own files::

    from rallypoint.detectors.mobilization import load_lexicons, detect_text_signals, summarize_signals
    lex = load_lexicons(extra_paths=["my_terms.json"])
    signals = detect_text_signals(table, lex)      # one row per text
    summary = summarize_signals(signals)           # rallypoint.schema.MOBILIZATION_STRUCT

Modules: :mod:`.patterns` (phrase -> regex), :mod:`.lexicon` (loading, merging),
:mod:`.dates` (date grammar and resolution), :mod:`.detect` (per-text signals),
:mod:`.summary` (per-cluster struct). What each signal means: ``docs/signals.md``.
"""

from .dates import DateGrammar
from .detect import FLAGS, SIGNALS_SCHEMA, SignalInputError, detect_text_signals
from .lexicon import LEXICON_KINDS, LexiconError, Lexicons, load_lexicons
from .pledges import answered_calls
from .summary import summarize_by, summarize_signals

__all__ = [
    "FLAGS",
    "SIGNALS_SCHEMA",
    "LEXICON_KINDS",
    "DateGrammar",
    "LexiconError",
    "Lexicons",
    "SignalInputError",
    "answered_calls",
    "detect_text_signals",
    "load_lexicons",
    "summarize_by",
    "summarize_signals",
]
