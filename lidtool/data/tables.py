"""Kaldi text tables (`<key> <value...>` per line, sorted by key in C locale).

Readers keep each key's line number so that later checks (missing wav, unknown language)
can point at the exact line. Writers sort and write atomically.

A table of a split part (`data/x/split4/3/wav.scp`, made by split_data_dir) points its
errors at the user's own file: `where(key)` gives the line of `key` in `data/x/wav.scp`
(read only when an error or warning asks for it), since that is the file to fix.
Keys and values must be UTF-8; a line that is not is an error naming it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping

from lidtool.errors import DataDirError
from lidtool.fileio import atomic_open


class Table(dict):
    """An ordered `key -> value` dict that remembers where each key came from."""

    def __init__(self, path=None):
        super().__init__()
        self.path = str(path) if path is not None else None
        self.lines: dict[str, int] = {}
        self._source: tuple[str, dict[str, int]] | None | bool = False   # False: not looked up

    def where(self, key: str) -> tuple[str | None, int | None]:
        """(file, line) of `key`: the user's file for a table of a split part."""
        source = self._source_lines()
        if source is not None and key in source[1]:
            return source[0], source[1][key]
        return self.path, self.lines.get(key)

    def error(self, key: str, message: str, fix: str | None = None) -> DataDirError:
        path, line = self.where(key)
        return DataDirError(path or "<table>", message, line=line, fix=fix)

    def _source_lines(self) -> tuple[str, dict[str, int]] | None:
        if self._source is False:
            self._source = None
            source = split_source(self.path) if self.path else None
            if source is not None:
                lines: dict[str, int] = {}
                with open(source, "rb") as f:
                    for lineno, raw in enumerate(f, 1):
                        parts = raw.split(maxsplit=1)
                        if parts:
                            lines.setdefault(parts[0].decode("utf-8", "replace"), lineno)
                self._source = (str(source), lines)
        return self._source


_SPLIT_ROOT = re.compile(r"^split\d+(spk)?$")


def split_source(path) -> Path | None:
    """`data/x/<name>` for `data/x/splitN[spk]/J/<name>` when that file exists, else None."""
    path = Path(path)
    part, root = path.parent, path.parent.parent
    if part.name.isdigit() and _SPLIT_ROOT.match(root.name):
        source = root.parent / path.name
        if source.is_file():
            return source
    return None


def read_table(path, *, require_sorted: bool = True, allow_empty_value: bool = False,
               fix_hint: str | None = None) -> Table:
    """Read `path` into a Table; duplicates, empty values and (optionally) unsorted keys
    are errors naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(path, "file does not exist")
    table = Table(path)
    prev = None
    # surrogateescape keeps bad bytes as lone surrogates, so the line that holds one is known
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            try:
                line.encode("utf-8")
            except UnicodeEncodeError as err:
                byte = ord(line[err.start]) - 0xDC00
                raise DataDirError(path, f"not valid UTF-8 (byte 0x{byte:02x} at column "
                                   f"{err.start + 1}): {_shown(line[:80])!r}", line=lineno,
                                   fix="convert the file to UTF-8 (iconv -f <encoding> -t "
                                   "utf-8) or use ASCII ids") from None
            if not line.strip():
                raise DataDirError(path, "empty line", line=lineno, fix=fix_hint or "remove it")
            parts = line.split(maxsplit=1)
            key = parts[0]
            value = parts[1].strip() if len(parts) > 1 else ""
            if not value and not allow_empty_value:
                raise DataDirError(path, f"key '{key}' has no value", line=lineno,
                                   fix=fix_hint)
            if key in table:
                raise DataDirError(path, f"duplicate key '{key}' (first at line "
                                   f"{table.lines[key]})", line=lineno,
                                   fix=fix_hint or "utils/fix_data_dir.sh")
            if require_sorted and prev is not None and key < prev:
                raise DataDirError(path, f"not sorted: '{key}' comes after '{prev}'",
                                   line=lineno, fix=fix_hint or
                                   "LC_ALL=C sort -k1,1 -u, or utils/fix_data_dir.sh")
            table[key] = value
            table.lines[key] = lineno
            prev = key
    return table


def _shown(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def merge_tables(paths, *, allow_empty_value: bool = False) -> dict[str, str]:
    """The union of the tables of parallel jobs (their scps, utt2num_frames...); a key in two
    of them is an error naming the second file and line."""
    rows: dict[str, str] = {}
    origin: dict[str, str] = {}
    for path in paths:
        table = read_table(path, allow_empty_value=allow_empty_value)
        for key, value in table.items():
            if key in rows:
                raise DataDirError(path, f"'{key}' was written by two jobs (also in "
                                   f"{origin[key]})", line=table.lines[key])
            rows[key] = value
            origin[key] = str(path)
    return rows


def write_table(path, items: Mapping[str, object] | Iterable[tuple[str, object]]) -> None:
    """Write `key value` lines sorted by key (C locale order), atomically."""
    pairs = items.items() if isinstance(items, Mapping) else items
    rows = sorted((str(k), v) for k, v in pairs)
    with atomic_open(path) as f:
        for key, value in rows:
            if isinstance(value, (list, tuple)):
                value = " ".join(str(v) for v in value)
            f.write(f"{key} {value}\n")


def invert(table: Mapping[str, str]) -> dict[str, list[str]]:
    """utt2spk -> spk2utt (values sorted), likewise utt2lang -> lang2utt."""
    out: dict[str, list[str]] = {}
    for key, value in table.items():
        out.setdefault(value, []).append(key)
    return {k: sorted(v) for k, v in sorted(out.items())}
