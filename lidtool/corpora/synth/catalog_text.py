"""Word frequencies from the gettext message catalogues installed on this machine, for
languages that wordfreq has no list for (Thai, Burmese, Sinhala, Kannada, Marathi, Malayalam).

The translated messages of every `<root>/<locale>/LC_MESSAGES/*.mo` file (Debian's
iso-codes country / language / currency names, GTK, GLib, apt, dpkg, ... — whatever the
installed packages ship) are split on white space and punctuation; a token made only of
letters and combining marks, with at least one non-ASCII letter, is a word (untranslated
English and format strings drop out). Thai and Burmese are written without spaces between
words, so their "words" are the space-separated phrases of the messages (espeak-ng reads
them; build_vocabulary caps a word at 24 characters). A word's frequency is its count over
all messages. The result depends on the packages installed (the vocabulary saved with a
corpus records what was used); it is read from disk only, never downloaded.
"""
from __future__ import annotations

import gettext
import unicodedata
from collections import Counter
from pathlib import Path

from lidtool.errors import ConfigError

LOCALE_ROOT = "/usr/share/locale"


def _tokens(message: str):
    word = []
    for ch in message + " ":
        if unicodedata.category(ch)[0] in "LM" or ch in "\u200c\u200d":
            word.append(ch)
            continue
        if word:
            yield "".join(word)
            word = []


def catalog_frequencies(locale: str, root=LOCALE_ROOT) -> dict[str, float]:
    """{word: relative frequency} of the translations in <root>/<locale>/LC_MESSAGES/*.mo."""
    files = sorted(Path(root, locale, "LC_MESSAGES").glob("*.mo"))
    if not files:
        raise ConfigError(Path(root, locale, "LC_MESSAGES"), "no gettext catalogue (*.mo) "
                          f"for locale '{locale}'", fix="install the iso-codes package or "
                          "give the language a wordfreq code instead of 'catalogs'")
    counts: Counter = Counter()
    for path in files:
        try:
            with open(path, "rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog
        except (OSError, ValueError) as err:
            raise ConfigError(path, f"unreadable gettext catalogue: {err}") from None
        for key, text in catalog.items():
            if not key or not isinstance(text, str):    # "" is the catalogue's header
                continue
            for token in _tokens(text):
                if not token.isascii() and any(unicodedata.category(c)[0] == "L" and
                                               not c.isascii() for c in token):
                    counts[token] += 1
    total = sum(counts.values())
    if not total:
        raise ConfigError(Path(root, locale, "LC_MESSAGES"), f"the catalogues of '{locale}' "
                          "hold no translated word")
    return {w: n / total for w, n in counts.items()}
