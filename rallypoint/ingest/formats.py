"""Opening inputs (plain, gzip, zstd), telling their format, and planning parts.

``open_input`` decompresses by magic bytes, not by file name. ``sniff`` reads the
first 64 KiB and names the format: Parquet by its ``PAR1`` magic; JSON by the keys of
the first object (a Telegram export has ``messages``; an X API v2 page ``data`` or
``includes``; a v2 tweet ``author_id``; a v1.1 tweet ``user`` or ``id_str``; a
canonical record ``account_id`` and ``action``); CSV by its header (CooRTweet's
``object_id, account_id, content_id, timestamp_share``; CrowdTangle's ``Facebook Id``
or ``Post Created``; Meta Content Library's ``creation_time``; canonical CSV the
required fields). ``plan_parts`` cuts plain JSON Lines files into byte ranges at line
boundaries; every other input is one part, streamed. A byte range numbers its lines
from 1 at its own start, and ``newlines_before`` gives the offset that turns them into
the file's lines, counted only for the ranges that rejected something: counting every
line while planning would read the whole input once more before any work starts.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rallypoint.errors import InputError
from rallypoint.ingest.readers import FORMATS, Part
from rallypoint.schema import REQUIRED_FIELDS


class UnknownFormatError(InputError):
    """A readable file whose content matches none of the known formats."""


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
SNIFF_BYTES = 64 * 1024
#: Plain JSON Lines files are cut into parts of about this many bytes. Small parts
#: keep every core busy to the end (no lone last part) and the working set small
#: (each part is still one Arrow parse of one block).
PART_BYTES = 8 * 1024 * 1024
#: Files in a source folder that are never interactions (the simulator's ground truth).
SKIPPED_NAMES = frozenset({"labels.csv"})

COORTWEET_COLUMNS = frozenset({"object_id", "account_id", "content_id", "timestamp_share"})
CROWDTANGLE_MARKERS = frozenset({"Facebook Id", "Post Created", "Page Name", "User Name"})
MCL_MARKERS = frozenset({"creation_time", "post_owner.id", "post_owner.name"})


def compression(path: Path) -> str | None:
    """``gzip``, ``zstd`` or None, from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


@contextmanager
def open_input(path: Path) -> Iterator[BinaryIO]:
    """The decompressed bytes of ``path``; a corrupt or truncated stream is an InputError."""
    kind = compression(path)
    try:
        if kind == "gzip":
            with gzip.open(path, "rb") as fh:
                yield fh
        elif kind == "zstd":
            import zstandard

            with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
                yield io.BufferedReader(fh)
        else:
            with open(path, "rb") as fh:
                yield fh
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{path} is a truncated or corrupt {kind or 'compressed'} file ({exc}).") from exc
    except Exception as exc:
        if type(exc).__name__ == "ZstdError":
            raise InputError(f"{path} is a truncated or corrupt zstd file ({exc}).") from exc
        raise


def head_bytes(path: Path, size: int = SNIFF_BYTES) -> bytes:
    with open_input(path) as fh:
        return fh.read(size)


def expand_sources(sources: list[Path]) -> list[tuple[Path, bool]]:
    """(file, found in a folder) for the files named and those inside folders named.

    Folder contents are sorted; hidden and ``_``-prefixed entries and the simulator's
    ``labels.csv`` are skipped.
    """
    files: list[tuple[Path, bool]] = []
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise InputError(f"The source {source} does not exist.")
        if source.is_dir():
            inside = sorted(
                p for p in source.rglob("*")
                if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(source).parts)
                and p.name not in SKIPPED_NAMES
            )
            if not inside:
                raise InputError(f"The folder {source} holds no input files.")
            files.extend((p, True) for p in inside)
        else:
            files.append((source, False))
    return files


def sniff(path: Path) -> str:
    """The format of ``path`` (one of FORMATS), or an InputError saying why not."""
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty.")
    head = head_bytes(path)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise InputError(f"{path} is empty.")
    if text[:1] in (b"{", b"["):
        return _sniff_json(path, text)
    return _sniff_csv(path, text)


def family(fmt: str) -> str:
    return {"jsonl": "json", "x-v2": "json", "x-v1": "json", "telegram": "json"}.get(
        fmt, "parquet" if fmt == "parquet" else "csv"
    )


def resolve_format(path: Path, fmt: str) -> str:
    """The format to read ``path`` with: sniffed for ``auto``, else checked against the content."""
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"Unknown format {fmt!r}; use one of auto, {', '.join(FORMATS)}.")
    try:
        found = sniff(path)
    except UnknownFormatError:
        if fmt == "auto":
            raise
        raise UnknownFormatError(f"{path} is not a {fmt} file: its content matches no known format.") from None
    if fmt != "auto" and found != fmt:
        raise InputError(f"{path} is not a {fmt} file: its content looks like {found}.")
    return found


def _sniff_json(path: Path, text: bytes) -> str:
    first = _first_json_object(text)
    if first is None:
        first = _top_level_keys(path)
    keys = set(first)
    if "messages" in keys:
        return "telegram"
    if keys & {"data", "includes"}:
        return "x-v2"
    if {"account_id", "action"} <= keys:
        return "jsonl"
    if keys & {"user", "id_str", "retweeted_status", "in_reply_to_status_id_str"}:
        return "x-v1"
    if "author_id" in keys or "edit_history_tweet_ids" in keys:
        return "x-v2"
    raise UnknownFormatError(
        f"{path} is JSON but its fields ({', '.join(sorted(keys)[:8])}) match no known format; "
        "name one with --format."
    )


def _first_json_object(text: bytes) -> dict | None:
    """The first line as a JSON object (or the first item of a one-line array), if it is one."""
    line = text.split(b"\n", 1)[0].strip()
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(value, list):
        value = value[0] if value else {}
    return value if isinstance(value, dict) else None


def _top_level_keys(path: Path, limit: int = 200) -> list[str]:
    """Keys of a pretty-printed document's top object (or its array's first object)."""
    import ijson

    keys: list[str] = []
    with open_input(path) as fh:
        try:
            for prefix, event, value in ijson.parse(fh):
                if event == "map_key" and prefix in ("", "item"):
                    keys.append(value)
                    if value in ("messages", "data") or len(keys) >= limit:
                        break
                elif event == "end_map" and prefix in ("", "item"):
                    break
        except ijson.JSONError as exc:
            raise InputError(f"{path} is not valid JSON ({exc}).") from exc
    return keys


def _sniff_csv(path: Path, text: bytes) -> str:
    try:
        first_line = text.split(b"\n", 1)[0].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnknownFormatError(f"{path} is not text in UTF-8, nor Parquet or a known JSON format.") from exc
    header = next(csv.reader([first_line]), [])
    names = {h.strip() for h in header}
    if len(names) < 2:
        raise UnknownFormatError(f"{path} is not a known format: its first line is neither JSON nor a CSV header.")
    if names >= COORTWEET_COLUMNS:
        return "coortweet"
    if set(REQUIRED_FIELDS) <= names:
        return "csv"
    if names & CROWDTANGLE_MARKERS or "creation_time" in names and names & MCL_MARKERS:
        return "crowdtangle"
    raise UnknownFormatError(
        f"{path} is CSV but its columns ({', '.join(sorted(names)[:8])}) match no known format; "
        f"canonical CSV needs {', '.join(REQUIRED_FIELDS)}."
    )


def plan_parts(path: Path, fmt: str, part_bytes: int | None = None) -> list[Part]:
    """Parts of one input: byte ranges for plain JSON Lines, the whole file otherwise.

    Finding the cuts reads a few bytes per part, never the whole file.
    """
    part_bytes = part_bytes or PART_BYTES
    size = path.stat().st_size
    if fmt != "jsonl" or compression(path) is not None or size <= part_bytes:
        return [Part(path, fmt)]
    parts: list[Part] = []
    start = 0
    with open(path, "rb") as fh:
        while start < size:
            end = _next_line_start(fh, min(start + part_bytes, size), size)
            parts.append(Part(path, fmt, index=len(parts), start=start, end=end))
            start = end
    return parts


def newlines_before(path: Path, offsets: list[int]) -> dict[int, int]:
    """For each byte offset, the newlines in ``path`` before it (one pass up to the largest)."""
    counts: dict[int, int] = {}
    count = position = 0
    with open(path, "rb") as fh:
        for offset in sorted(set(offsets)):
            count += _count_newlines(fh, offset - position)
            position = offset
            counts[offset] = count
    return counts


def _next_line_start(fh: BinaryIO, pos: int, size: int) -> int:
    if pos >= size:
        return size
    fh.seek(pos - 1)
    while True:
        chunk = fh.read(1 << 16)
        if not chunk:
            return size
        nl = chunk.find(b"\n")
        if nl >= 0:
            return fh.tell() - len(chunk) + nl + 1


def _count_newlines(fh: BinaryIO, length: int) -> int:
    count = 0
    while length > 0:
        chunk = fh.read(min(length, 1 << 24))
        if not chunk:
            break
        count += chunk.count(b"\n")
        length -= len(chunk)
    return count
