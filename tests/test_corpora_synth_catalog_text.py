"""Word frequencies from gettext catalogues (lidtool.corpora.synth.catalog_text) and the
`catalogs:` source of a corpus language entry."""
from __future__ import annotations

import struct

import pytest

from lidtool.corpora.synth.catalog_text import catalog_frequencies
from lidtool.corpora.synth.text import _source_frequencies, language_spec
from lidtool.errors import ConfigError


def write_mo(path, messages: dict[str, str]) -> None:
    """A GNU .mo file (no hash table) of `messages`, header entry included."""
    items = sorted({"": "Content-Type: text/plain; charset=UTF-8\n", **messages}.items())
    keys = [k.encode() for k, _ in items]
    vals = [v.encode() for _, v in items]
    n = len(items)
    start = 28 + 16 * n
    ids, strs, blob = [], [], b""
    for k in keys:
        ids.append((len(k), start + len(blob)))
        blob += k + b"\0"
    for v in vals:
        strs.append((len(v), start + len(blob)))
        blob += v + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    out += b"".join(struct.pack("<2I", *e) for e in ids + strs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + blob)


def test_catalog_words_counted_ascii_and_punctuation_dropped(tmp_path):
    write_mo(tmp_path / "kn" / "LC_MESSAGES" / "a.mo",
             {"File": "ಕಡತ", "Open file": "ಕಡತ ತೆರೆ", "%s: error": "%s: ದೋಷ (GTK)"})
    write_mo(tmp_path / "kn" / "LC_MESSAGES" / "b.mo", {"India": "ಭಾರತ, ಕಡತ"})
    freqs = catalog_frequencies("kn", root=tmp_path)
    assert set(freqs) == {"ಕಡತ", "ತೆರೆ", "ದೋಷ", "ಭಾರತ"}       # no 's', 'GTK', header
    assert freqs["ಕಡತ"] == pytest.approx(3 / 6)
    assert sum(freqs.values()) == pytest.approx(1.0)


def test_catalog_errors_name_the_place(tmp_path):
    with pytest.raises(ConfigError, match="no gettext catalogue") as err:
        catalog_frequencies("xx", root=tmp_path)
    assert "xx" in str(err.value)
    write_mo(tmp_path / "yy" / "LC_MESSAGES" / "a.mo", {"File": "File"})
    with pytest.raises(ConfigError, match="no translated word"):
        catalog_frequencies("yy", root=tmp_path)


def test_language_entry_with_catalogs_reads_them(tmp_path, monkeypatch):
    spec = language_spec("kn", {"kn": {"voice": "kn", "catalogs": "kn"}})
    assert spec.catalogs == "kn" and spec.voice == "kn"
    assert language_spec("es").catalogs is None
    write_mo(tmp_path / "kn" / "LC_MESSAGES" / "a.mo", {"File": "ಕಡತ"})
    monkeypatch.setattr(catalog_frequencies, "__defaults__", (str(tmp_path),))
    assert _source_frequencies(spec) == {"ಕಡತ": 1.0}
