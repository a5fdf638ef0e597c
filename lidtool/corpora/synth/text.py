"""Per-language text: frequency-weighted word sequences from real vocabulary.

Each language has an espeak-ng voice and a text kind:
- `words`: wordfreq's word list for the language, used as is (alphabetic words only);
- `pinyin`: Mandarin words from wordfreq 'zh' written as tone-numbered pinyin (pypinyin),
  one token per word (`zhong1guo2`), for the `cmn-latn-pinyin` voice — espeak-ng reads
  Chinese characters partly as English;
- `hanzi`: wordfreq 'zh' words in characters (the Cantonese voice reads them);
- `kana`: Japanese words from wordfreq 'ja' in hiragana (pykakasi) — kanji is unsupported;
- `hakka`: no Hakka word list ships in a package, so the 'zh' vocabulary is carried over
  character by character onto Hakka syllables (Pha̍k-fa-sṳ with tone diacritics) through a
  fixed hash: a Zipf-shaped lexicon with Hakka phonotactics that the `hak` voice reads.
The vocabulary comes from wordfreq, or, for a language entry with `catalogs: <locale>`, from
the gettext message catalogues installed on the machine (lidtool.corpora.synth.catalog_text;
Thai, Burmese, Sinhala, Kannada, Marathi and Malayalam have no wordfreq list).
Every word and every sentence is run through espeak_TextToPhonemes; a word or sentence
during which espeak-ng switches language (an `(en)` marker) is rejected.
"""
from __future__ import annotations

import json
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np

from lidtool.errors import ConfigError
from lidtool.fileio import atomic_open

TEXT_KINDS = ("words", "pinyin", "hanzi", "kana", "hakka")


@dataclass(frozen=True)
class LanguageSpec:
    label: str          # the language label written to utt2lang
    voice: str          # espeak-ng voice name
    text: str           # one of TEXT_KINDS
    wordfreq: str       # wordfreq language code of the source vocabulary
    catalogs: str | None = None   # gettext locale whose catalogues replace wordfreq


# label -> (voice, text kind, wordfreq code); conf/corpus*.yaml may add or override entries
BUILTIN_LANGUAGES = {
    "cmn": ("cmn-latn-pinyin", "pinyin", "zh"),
    "yue": ("yue", "hanzi", "zh"),
    "hak": ("hak", "hakka", "zh"),
    "ja": ("ja", "kana", "ja"),
    "ko": ("ko", "words", "ko"),
    "vi": ("vi", "words", "vi"),
    "vi-central": ("vi-vn-x-central", "words", "vi"),
    "vi-south": ("vi-vn-x-south", "words", "vi"),
    "en-us": ("en-us", "words", "en"),
    "en-scotland": ("en-gb-scotland", "words", "en"),
    "en-029": ("en-029", "words", "en"),
    "es": ("es", "words", "es"),
    "es-419": ("es-419", "words", "es"),
    "pt": ("pt", "words", "pt"),
    "pt-br": ("pt-br", "words", "pt"),
    "ru": ("ru", "words", "ru"),
    "de": ("de", "words", "de"),
    "it": ("it", "words", "it"),
    "tr": ("tr", "words", "tr"),
    "fr": ("fr", "words", "fr"),      # espeak-ng's file name; language fr-fr is no voice name
    "pl": ("pl", "words", "pl"),
    "cs": ("cs", "words", "cs"),
    "fi": ("fi", "words", "fi"),
    "ca": ("ca", "words", "ca"),
}

_HAKKA_INITIALS = ["", "p", "ph", "m", "f", "v", "t", "th", "n", "l", "k", "kh", "ng", "h",
                   "ts", "tsh", "s", "ch", "chh", "sh", "j"]
_HAKKA_FINALS = ["a", "e", "i", "o", "u", "ai", "oi", "ui", "au", "eu", "iu", "am", "em", "im",
                 "an", "en", "in", "on", "un", "ang", "ong", "ung", "ap", "ep", "ip", "at",
                 "et", "it", "ot", "ut", "ak", "ok", "uk", "ia", "ie", "io", "iau", "iam",
                 "ian", "iang", "iong", "iung", "ua", "uai", "uan", "uang"]
_HAKKA_TONES = ["\u0302", "\u0301", "\u0300", "", "\u030d"]   # â á à a a̍ (PFS marks)


def language_spec(label: str, overrides: dict | None = None) -> LanguageSpec:
    entry = (overrides or {}).get(label)
    if entry is not None:
        try:
            catalogs = entry.get("catalogs")
            return LanguageSpec(label, str(entry["voice"]), str(entry.get("text", "words")),
                                str(entry.get("wordfreq", label.split("-")[0])),
                                None if catalogs is None else str(catalogs))
        except (TypeError, KeyError):
            raise ConfigError("languages", f"entry for '{label}' needs at least 'voice'",
                              fix="languages: {xx: {voice: xx, text: words, wordfreq: xx}} "
                                  "(or catalogs: xx instead of wordfreq)") \
                from None
    if label not in BUILTIN_LANGUAGES:
        raise ConfigError("languages", f"unknown language label '{label}'",
                          fix=f"use one of {sorted(BUILTIN_LANGUAGES)} or add it under "
                              "'languages:' in the corpus config")
    voice, kind, code = BUILTIN_LANGUAGES[label]
    return LanguageSpec(label, voice, kind, code)


def _is_word(word: str) -> bool:
    return bool(word) and all(unicodedata.category(c)[0] in "LM" for c in word) \
        and len(word) <= 24


def _hakka_syllable(char: str) -> str:
    h = zlib.crc32(char.encode("utf-8"))
    ini = _HAKKA_INITIALS[h % len(_HAKKA_INITIALS)]
    fin = _HAKKA_FINALS[(h // 64) % len(_HAKKA_FINALS)]
    tone = _HAKKA_TONES[(h // 8192) % len(_HAKKA_TONES)]
    if fin[-1] in "ptk":                  # checked syllables take only the entering tones
        tone = _HAKKA_TONES[3 + (h // 8192) % 2]
    vowel = next(i for i, c in enumerate(fin) if c in "aeiou")
    if fin[vowel] == "i" and len(fin) > vowel + 1 and fin[vowel + 1] in "aeiou":
        vowel += 1                        # mark the main vowel (ia -> iâ)
    return ini + fin[:vowel + 1] + tone + fin[vowel + 1:]


def _convert(words: list[str], kind: str) -> list[tuple[str, str]]:
    """(written form used for espeak, source word) for each convertible word."""
    out = []
    if kind == "pinyin":
        from pypinyin import Style, lazy_pinyin
        for w in words:
            syl = lazy_pinyin(w, style=Style.TONE3, neutral_tone_with_five=True,
                              errors="ignore")
            if syl and len(syl) == len(w) and all(s[-1].isdigit() for s in syl):
                out.append(("".join(syl), w))
    elif kind == "kana":
        import pykakasi
        kks = pykakasi.kakasi()
        for w in words:
            hira = "".join(part["hira"] for part in kks.convert(w))
            if hira and all("\u3041" <= c <= "\u309f" or c == "\u30fc" for c in hira):
                out.append((hira, w))
    elif kind == "hakka":
        for w in words:
            if all("\u4e00" <= c <= "\u9fff" for c in w):
                out.append((unicodedata.normalize("NFC",
                                                  "".join(_hakka_syllable(c) for c in w)), w))
    elif kind in ("words", "hanzi"):
        out = [(w, w) for w in words]
    else:
        raise ConfigError("languages", f"unknown text kind '{kind}'",
                          fix=f"use one of {TEXT_KINDS}")
    return out


def build_vocabulary(spec: LanguageSpec, size: int) -> list[tuple[str, float]]:
    """Up to `size` (word, relative frequency) pairs that espeak-ng reads in `spec.voice`
    without switching language. Call inside `run_isolated` (it uses libespeak-ng)."""
    from lidtool.corpora.synth.espeak import Espeak
    freqs = _source_frequencies(spec)
    engine = Espeak.get()
    ranked = sorted(freqs.items(), key=lambda kv: (-kv[1], kv[0]))[:size * 4]
    source = [w for w, _ in ranked if _is_word(w)]
    vocab, seen = [], set()
    for written, word in _convert(source, spec.text):
        if written in seen:
            continue
        seen.add(written)
        if engine.switches_language(written, spec.voice) is not None:
            continue
        if not engine.phonemes(written, spec.voice).strip():
            continue
        vocab.append((written, float(freqs[word])))
        if len(vocab) >= size:
            break
    if len(vocab) < min(size, 50):
        origin = f"catalogs:{spec.catalogs}" if spec.catalogs else spec.wordfreq
        raise ConfigError("languages", f"only {len(vocab)} words of '{origin}' are "
                          f"read by voice '{spec.voice}' without a language switch",
                          fix=f"check the text kind ('{spec.text}') of '{spec.label}'")
    return vocab


def _source_frequencies(spec: LanguageSpec) -> dict[str, float]:
    if spec.catalogs is not None:
        from lidtool.corpora.synth.catalog_text import catalog_frequencies
        return catalog_frequencies(spec.catalogs)
    import wordfreq
    if spec.wordfreq not in wordfreq.available_languages("small"):
        raise ConfigError("languages", f"wordfreq has no word list for '{spec.wordfreq}' "
                          f"(language '{spec.label}')",
                          fix="pick another wordfreq code, or 'catalogs: <locale>'")
    return wordfreq.get_frequency_dict(spec.wordfreq)


def save_vocabulary(path, vocab: list[tuple[str, float]]) -> None:
    with atomic_open(path) as f:
        json.dump(vocab, f, ensure_ascii=False)


def load_vocabulary(path) -> list[tuple[str, float]]:
    with open(path, encoding="utf-8") as f:
        return [(w, float(p)) for w, p in json.load(f)]


class SentenceSampler:
    """Frequency-weighted word sequences from a vocabulary (weights flattened by `power`)."""

    def __init__(self, vocab: list[tuple[str, float]], power: float = 0.6):
        self.words = [w for w, _ in vocab]
        p = np.asarray([f for _, f in vocab], dtype=np.float64) ** power
        self.cdf = np.cumsum(p / p.sum())

    def sample(self, rng: np.random.Generator, n_words: int) -> list[str]:
        idx = np.searchsorted(self.cdf, rng.random(n_words), side="right")
        return [self.words[min(i, len(self.words) - 1)] for i in idx]
