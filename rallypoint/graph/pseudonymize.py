"""Keyed pseudonyms for account ids and names in exports.

A pseudonym is ``HMAC-SHA256(key, kind + ":" + value)``, hex, cut to 24 characters (96 bits:
collisions are out of reach for any real export). With the same key the same account gets the
same pseudonym in every file and every export, so researchers can join exports; without the key
nobody can recompute or reverse them (unlike a plain hash, which anyone can compute for a
guessed id). The key is never written anywhere: the manifest records only ``key_id``, a
fingerprint that tells whether two exports used the same key.

Complexity: one HMAC per distinct value (values repeat a lot in edge lists; they are hashed once).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable

from rallypoint.errors import RallypointError

KEY_ENV = "RALLYPOINT_PSEUDONYM_KEY"
PSEUDONYM_HEX_CHARS = 24
MIN_KEY_CHARS = 16
#: A key of one repeated character (16 spaces, "aaaa...") is no secret.
MIN_KEY_DISTINCT = 5


class PseudonymKeyError(RallypointError):
    """No usable pseudonymization key was given."""


def resolve_key(key: str | bytes | None = None) -> bytes:
    """The key from the argument or ``$RALLYPOINT_PSEUDONYM_KEY``; short or missing keys are refused."""
    if key is None:
        key = os.environ.get(KEY_ENV)
    if not key:
        raise PseudonymKeyError(
            f"Pseudonymizing needs a secret key: set {KEY_ENV} (at least {MIN_KEY_CHARS} characters)."
        )
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if len(raw.strip()) < MIN_KEY_CHARS:
        raise PseudonymKeyError(
            f"The pseudonymization key is too short: use at least {MIN_KEY_CHARS} characters (blanks do not count)."
        )
    if len(set(raw)) < MIN_KEY_DISTINCT:
        raise PseudonymKeyError(
            f"The pseudonymization key is too easy to guess: use at least {MIN_KEY_DISTINCT} different characters "
            "(a random key: `python -c 'import secrets; print(secrets.token_hex(24))'`)."
        )
    return raw


class Pseudonymizer:
    """Maps values to keyed pseudonyms, ``kind`` separating the namespaces (``acct``, ``name``)."""

    def __init__(self, key: str | bytes | None = None) -> None:
        self._key = resolve_key(key)
        self._cache: dict[tuple[str, str], str] = {}

    @property
    def key_id(self) -> str:
        """A fingerprint of the key (not the key): equal key ids mean the same key."""
        return hmac.new(self._key, b"rallypoint key id", hashlib.sha256).hexdigest()[:12]

    def __call__(self, value: str | None, kind: str = "acct") -> str | None:
        if value is None:
            return None
        cached = self._cache.get((kind, value))
        if cached is None:
            digest = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
            cached = f"{kind}_{digest[:PSEUDONYM_HEX_CHARS]}"
            self._cache[(kind, value)] = cached
        return cached

    def many(self, values: Iterable[str | None], kind: str = "acct") -> list[str | None]:
        return [self(v, kind) for v in values]


#: Shortest id or name replaced inside free text (reasons, notes): shorter tokens are ordinary
#: words and numbers ("3 high-profile members"), not names.
MIN_TEXT_TOKEN = 3


def text_replacer(mapping: dict[str, str]) -> Callable[[str | None], str | None]:
    """A function replacing every whole-token occurrence (``@`` allowed) of a mapping key in a text.

    Whole tokens only, so an id that happens to be part of a longer number or word is left alone;
    the longest key wins where keys overlap. ``None`` passes through.
    """
    keys = sorted((k for k in mapping if len(k) >= MIN_TEXT_TOKEN), key=len, reverse=True)
    if not keys:
        return lambda text: text
    pattern = re.compile(r"(?<![\w@])@?(" + "|".join(map(re.escape, keys)) + r")(?![\w])")
    return lambda text: None if text is None else pattern.sub(lambda m: mapping[m.group(1)], str(text))

