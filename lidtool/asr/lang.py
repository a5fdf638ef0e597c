"""Phone set, lexicon and the lexicon transducer L (Kaldi's data/lang, reduced to what a
phone recogniser needs).

A lang dir written by `prepare_lang` holds:
  phones.txt      `<eps> 0` then every phone (silence first), Kaldi symbol-table format
  words.txt       `<eps> 0` then every lexicon word
  lexicon.txt     `word p1 p2 ...` (one line per pronunciation, as read)
  lm_symbols.txt  phones plus `#0 <s> </s>` (the symbol table of the phone bigram G)
  lang.json       silence phones, optional-silence probability, OOV word
  L.fst           words <- phones with optional silence between words (binary OpenFst)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import kaldifst

from lidtool.errors import ConfigError, DataDirError
from lidtool.fileio import atomic_open, atomic_path


def read_symbols(path) -> dict[str, int]:
    """A Kaldi symbol table `sym id` -> dict, with file/line errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "symbol table does not exist")
    out: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise ConfigError(path, f"expected '<symbol> <integer>', got {line.strip()!r}",
                                  line=lineno)
            if parts[0] in out:
                raise ConfigError(path, f"duplicate symbol '{parts[0]}'", line=lineno)
            out[parts[0]] = int(parts[1])
    return out


def write_symbols(path, symbols: list[str]) -> None:
    with atomic_open(path) as f:
        for i, s in enumerate(symbols):
            f.write(f"{s} {i}\n")


def read_lexicon(path) -> list[tuple[str, list[str], int]]:
    """`word p1 p2 ...` lines -> [(word, phones, line)]; empty pronunciations are errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "lexicon does not exist")
    entries = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise ConfigError(path, f"word '{parts[0]}' has no pronunciation", line=lineno,
                                  fix="give every word at least one phone")
            if parts[0] in ("<eps>", "#0", "<s>", "</s>"):
                raise ConfigError(path, f"'{parts[0]}' is reserved", line=lineno)
            entries.append((parts[0], parts[1:], lineno))
    if not entries:
        raise ConfigError(path, "lexicon is empty")
    return entries


@dataclass
class Lang:
    """What the recogniser needs to know about the language."""
    phones: list[str]                  # index = phone id; phones[0] == "<eps>"
    words: list[str]                   # index = word id; words[0] == "<eps>"
    lexicon: list[tuple[str, list[str]]]
    silence: list[str]
    sil_prob: float = 0.5
    oov: str | None = None
    path: Path | None = None
    _lfst: object = field(default=None, repr=False)

    @property
    def phone_ids(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.phones)}

    @property
    def word_ids(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    @property
    def num_phones(self) -> int:
        return len(self.phones) - 1

    @property
    def silence_ids(self) -> list[int]:
        ids = self.phone_ids
        return [ids[p] for p in self.silence]

    # ------------------------------------------------------------------ L
    def lexicon_fst(self):
        """L: phones in, words out; optional silence (prob sil_prob) at the start and
        after every word, Kaldi's make_lexicon_fst shape. Olabel-sorted for composition."""
        if self._lfst is not None:
            return self._lfst
        pid, wid = self.phone_ids, self.word_ids
        p, sil = self.sil_prob, pid[self.silence[0]]
        no_sil, with_sil = -math.log(1.0 - p), -math.log(p)
        L = kaldifst.StdVectorFst()
        start, loop, sil_state = L.add_state(), L.add_state(), L.add_state()
        L.start = start
        L.add_arc(start, kaldifst.StdArc(0, 0, no_sil, loop))
        L.add_arc(start, kaldifst.StdArc(0, 0, with_sil, sil_state))
        L.add_arc(sil_state, kaldifst.StdArc(sil, 0, 0.0, loop))
        for word, prons in self._prons().items():
            for pron in prons:
                cost = math.log(len(prons))
                src, olabel = loop, wid[word]
                for ph in pron[:-1]:
                    nxt = L.add_state()
                    L.add_arc(src, kaldifst.StdArc(pid[ph], olabel, cost, nxt))
                    src, olabel, cost = nxt, 0, 0.0
                L.add_arc(src, kaldifst.StdArc(pid[pron[-1]], olabel, cost + no_sil, loop))
                L.add_arc(src, kaldifst.StdArc(pid[pron[-1]], olabel, cost + with_sil,
                                               sil_state))
        L.set_final(loop, 0.0)
        kaldifst.arcsort(L, sort_type="olabel")
        self._lfst = L
        return L

    def _prons(self) -> dict[str, list[list[str]]]:
        out: dict[str, list[list[str]]] = {}
        for word, pron in self.lexicon:
            out.setdefault(word, []).append(pron)
        return out

    def words_to_ids(self, words: list[str], where: tuple[str, int | None]) -> list[int]:
        wid = self.word_ids
        out = []
        for w in words:
            if w not in wid:
                if self.oov is None:
                    raise DataDirError(where[0], f"word '{w}' is not in the lexicon",
                                       line=where[1],
                                       fix="add it to the lexicon or prepare the lang "
                                           "with --oov <word>")
                w = self.oov
            out.append(wid[w])
        return out

    def utterance_fst(self, words: list[str], where: tuple[str, int | None] = ("<text>", None)):
        """Phone-level FST of one transcript: L composed with the linear word sequence;
        input labels are phones (output labels the words)."""
        W = kaldifst.make_linear_acceptor(self.words_to_ids(words, where))
        fst = kaldifst.compose(self.lexicon_fst(), W)
        kaldifst.connect(fst)
        if fst.num_states == 0:
            raise DataDirError(where[0], "transcript has no phone sequence", line=where[1])
        return fst

    # ------------------------------------------------------------------ io
    def write(self, lang_dir) -> Path:
        d = Path(lang_dir)
        d.mkdir(parents=True, exist_ok=True)
        write_symbols(d / "phones.txt", self.phones)
        write_symbols(d / "words.txt", self.words)
        write_symbols(d / "lm_symbols.txt", self.phones + ["#0", "<s>", "</s>"])
        with atomic_open(d / "lexicon.txt") as f:
            for word, pron in self.lexicon:
                f.write(f"{word} {' '.join(pron)}\n")
        with atomic_open(d / "lang.json") as f:
            json.dump({"silence": self.silence, "sil_prob": self.sil_prob, "oov": self.oov},
                      f, indent=1)
        with atomic_path(d / "L.fst") as tmp:
            self.lexicon_fst().write(tmp)
        return d

    @classmethod
    def load(cls, lang_dir) -> "Lang":
        d = Path(lang_dir)
        if not (d / "lang.json").is_file():
            raise ConfigError(d, "not a lang dir (no lang.json)",
                              fix="make it with `lidtool asr-prepare-lang`")
        meta = json.loads((d / "lang.json").read_text(encoding="utf-8"))
        phones = _ordered(read_symbols(d / "phones.txt"), d / "phones.txt")
        words = _ordered(read_symbols(d / "words.txt"), d / "words.txt")
        lex = [(w, p) for w, p, _ in read_lexicon(d / "lexicon.txt")]
        return cls(phones, words, lex, meta["silence"], meta["sil_prob"], meta["oov"], d)


def _ordered(table: dict[str, int], path) -> list[str]:
    out = sorted(table, key=table.get)
    if [table[s] for s in out] != list(range(len(out))) or out[0] != "<eps>":
        raise ConfigError(path, "ids must be 0..N-1 with <eps> as 0")
    return out


def prepare_lang(lexicon_path, *, silence: list[str] | tuple[str, ...] = ("sil",),
                 sil_prob: float = 0.5, oov: str | None = None) -> Lang:
    """Build a Lang from a lexicon; silence phones are added to the phone set (and a
    silence word `<sil>` to the lexicon) when the lexicon does not use them."""
    if not silence:
        raise ConfigError(lexicon_path, "at least one silence phone is needed")
    if not 0.0 < sil_prob < 1.0:
        raise ConfigError(lexicon_path, f"sil_prob must be in (0, 1), got {sil_prob}")
    entries = read_lexicon(lexicon_path)
    lex = [(w, p) for w, p, _ in entries]
    seen_phones = sorted({p for _, pron, _ in entries for p in pron} - set(silence))
    for p in seen_phones + list(silence):
        if p.startswith("#") or p == "<eps>":
            raise ConfigError(lexicon_path, f"phone '{p}' is reserved")
    words = sorted({w for w, _ in lex})
    if "<sil>" not in words:
        lex.append(("<sil>", [silence[0]]))
        words.append("<sil>")
        words.sort()
    if oov is not None and oov not in words:
        raise ConfigError(lexicon_path, f"OOV word '{oov}' is not in the lexicon")
    return Lang(["<eps>"] + list(silence) + seen_phones, ["<eps>"] + words, lex,
                list(silence), sil_prob, oov)
