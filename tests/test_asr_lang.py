"""lidtool.asr.lang: lexicon checks, lang dir round trip, the L transducer."""
import kaldifst
import pytest

from lidtool.asr.lang import Lang, prepare_lang, read_lexicon
from lidtool.errors import ConfigError, DataDirError


def _lex(tmp_path, text):
    p = tmp_path / "lexicon.txt"
    p.write_text(text)
    return p


def test_lexicon_errors_name_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"lexicon.txt:2: word 'b' has no pronunciation"):
        read_lexicon(_lex(tmp_path, "a x y\nb\n"))
    with pytest.raises(ConfigError, match=r"lexicon.txt:1: '#0' is reserved"):
        read_lexicon(_lex(tmp_path, "#0 x\n"))
    with pytest.raises(ConfigError, match="OOV word 'zz'"):
        prepare_lang(_lex(tmp_path, "a x y\n"), oov="zz")


def test_lang_roundtrip_and_utterance_paths(tmp_path):
    lang = prepare_lang(_lex(tmp_path, "ni n i\nhao h ao\nhao x ao\n"))
    assert lang.phones == ["<eps>", "sil", "ao", "h", "i", "n", "x"]
    assert "<sil>" in lang.words
    lang.write(tmp_path / "lang")
    again = Lang.load(tmp_path / "lang")
    assert again.phones == lang.phones and again.words == lang.words
    assert again.lexicon == lang.lexicon
    fst = again.utterance_fst(["ni", "hao"])
    # enumerate phone strings: 2 pronunciations x optional silence at 3 places
    paths = set()
    nbest = kaldifst.shortest_path(fst, n=50)
    stack = [(nbest.start, ())]
    while stack:
        s, seq = stack.pop()
        if nbest.final(s) != kaldifst.TropicalWeight.zero:
            paths.add(seq)
        for arc in kaldifst.ArcIterator(nbest, s):
            stack.append((arc.nextstate, seq + ((arc.ilabel,) if arc.ilabel else ())))
    names = {" ".join(lang.phones[i] for i in p) for p in paths}
    assert "n i h ao" in names and "sil n i sil x ao sil" in names
    assert len(names) == 2 * 2 ** 3


def test_oov_handling(tmp_path):
    lang = prepare_lang(_lex(tmp_path, "a x\nunk y\n"))
    with pytest.raises(DataDirError, match=r"text:4: word 'b' is not in the lexicon"):
        lang.words_to_ids(["a", "b"], ("text", 4))
    lang2 = prepare_lang(_lex(tmp_path, "a x\nunk y\n"), oov="unk")
    assert lang2.words_to_ids(["a", "b"], ("text", 4)) == [lang2.word_ids["a"],
                                                           lang2.word_ids["unk"]]
