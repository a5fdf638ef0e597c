"""LID score files: one line `<utt> <lang> <score>` for every utterance x target language.

`read_scores` turns such a file into a dense matrix [utterances x languages] and refuses
anything that would make the metrics silently wrong (a missing or duplicated pair, a score
that is not a finite number), naming the file and line. `write_scores` is the one writer
every back-end (i-vector cosine scoring, logistic regression, DNN inference) uses: rows
sorted by utterance then language, written atomically, numbers printed so that they read
back to the same float.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lidtool.errors import InputError
from lidtool.fileio import atomic_open


class ScoreFileError(InputError):
    """A score file (or the language list / utt2lang given with it) is malformed."""


@dataclass
class Scores:
    """A dense score matrix read from a score file.

    `matrix[i, j]` is the score of utterance `utts[i]` for language `langs[j]`; `utts` is
    sorted, `langs` is in the target order (the order given, else sorted). `lines[utt]` is
    the line where the utterance first appears, for error messages.
    """
    path: str
    utts: list[str]
    langs: list[str]
    matrix: np.ndarray
    lines: dict[str, int] = field(default_factory=dict)
    ignored_langs: list[str] = field(default_factory=list)

    def error(self, utt: str, message: str, fix: str | None = None) -> ScoreFileError:
        return ScoreFileError(self.path, message, line=self.lines.get(utt), fix=fix)


def _parse_score(path, lineno: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScoreFileError(path, f"score '{text}' is not a number", line=lineno) from None
    if not math.isfinite(value):
        raise ScoreFileError(path, f"score '{text}' is not finite (NaN/inf)", line=lineno,
                             fix="look for a diverged model or a failed back-end")
    return value


def read_scores(path, langs: Sequence[str] | None = None) -> Scores:
    """Read `<utt> <lang> <score>` lines into a `Scores` matrix.

    `langs` selects the target languages (in that order); scores for other languages in
    the file are ignored (listed in `.ignored_langs`). Without it, every language in the
    file is a target, sorted. Every utterance must have exactly one score for every target
    language. Line order in the file does not matter.
    """
    path = Path(path)
    if not path.is_file():
        raise ScoreFileError(path, "score file does not exist")
    if langs is not None:
        langs = list(langs)
        if not langs:
            raise ScoreFileError(path, "the list of target languages is empty")
        dup = sorted({lang for lang in langs if langs.count(lang) > 1})
        if dup:
            raise ScoreFileError(path, f"target language list repeats {', '.join(dup)}")
    values: dict[tuple[str, str], float] = {}
    where: dict[tuple[str, str], int] = {}
    first_line: dict[str, int] = {}
    file_langs: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            fields = raw.split()
            if len(fields) != 3:
                got = "an empty line" if not fields else f"{len(fields)} fields"
                raise ScoreFileError(path, f"expected '<utt> <lang> <score>', got {got}",
                                     line=lineno)
            utt, lang, text = fields
            score = _parse_score(path, lineno, text)
            key = (utt, lang)
            if key in values:
                raise ScoreFileError(path, f"duplicate score for utterance '{utt}', language "
                                     f"'{lang}' (first at line {where[key]})", line=lineno)
            values[key] = score
            where[key] = lineno
            first_line.setdefault(utt, lineno)
            file_langs.add(lang)
    if not values:
        raise ScoreFileError(path, "score file is empty")
    if langs is None:
        targets = sorted(file_langs)
        ignored: list[str] = []
    else:
        missing = [lang for lang in langs if lang not in file_langs]
        if missing:
            raise ScoreFileError(path, f"no scores at all for target language(s) "
                                 f"{', '.join(missing)}",
                                 fix="check --langs / --langs-file against the score file")
        targets = langs
        ignored = sorted(file_langs - set(langs))
    utts = sorted(first_line)
    matrix = np.empty((len(utts), len(targets)), dtype=np.float64)
    for i, utt in enumerate(utts):
        for j, lang in enumerate(targets):
            value = values.get((utt, lang))
            if value is None:
                raise ScoreFileError(path, f"utterance '{utt}' has no score for language "
                                     f"'{lang}'", line=first_line[utt],
                                     fix="every utterance needs a score for every target "
                                     "language")
            matrix[i, j] = value
    return Scores(str(path), utts, list(targets), matrix, first_line, ignored)


def _format(value) -> str:
    # str() of a numpy float32/float64 scalar is the shortest text that reads back exactly.
    return str(value)


def write_scores(path, utts: Sequence[str], langs: Sequence[str], matrix) -> None:
    """Write `matrix[i, j]` as `<utts[i]> <langs[j]> <score>`, sorted by utterance then
    language, atomically. Refuses NaN/inf scores (a `ScoreFileError` naming the pair)."""
    utts = [str(u) for u in utts]
    langs = [str(lang) for lang in langs]
    arr = np.asarray(matrix)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.shape != (len(utts), len(langs)):
        raise ValueError(f"score matrix has shape {arr.shape}, expected "
                         f"({len(utts)}, {len(langs)}) for {len(utts)} utterances x "
                         f"{len(langs)} languages")
    for name, items in (("utterance", utts), ("language", langs)):
        if len(set(items)) != len(items):
            dup = sorted({x for x in items if items.count(x) > 1})
            raise ValueError(f"repeated {name} id(s): {', '.join(dup[:5])}")
        bad = [x for x in items if not x or any(c.isspace() for c in x)]
        if bad:
            raise ValueError(f"{name} id {bad[0]!r} is empty or contains whitespace")
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        i, j = bad[0]
        raise ScoreFileError(path, f"refusing to write non-finite score {arr[i, j]} for "
                             f"utterance '{utts[i]}', language '{langs[j]}' "
                             f"({len(bad)} non-finite in all)")
    row_order = sorted(range(len(utts)), key=lambda i: utts[i])
    col_order = sorted(range(len(langs)), key=lambda j: langs[j])
    with atomic_open(path) as f:
        for i in row_order:
            for j in col_order:
                f.write(f"{utts[i]} {langs[j]} {_format(arr[i, j])}\n")


def read_lang_list(path) -> list[str]:
    """A target-language list file: the first field of every non-empty line, in order
    (so both a plain list and a `lang id` table work). Repeats are errors."""
    path = Path(path)
    if not path.is_file():
        raise ScoreFileError(path, "language list file does not exist")
    langs: list[str] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            fields = raw.split()
            if not fields:
                continue
            lang = fields[0]
            if lang in seen:
                raise ScoreFileError(path, f"language '{lang}' repeated (first at line "
                                     f"{seen[lang]})", line=lineno)
            seen[lang] = lineno
            langs.append(lang)
    if not langs:
        raise ScoreFileError(path, "language list file is empty")
    return langs
