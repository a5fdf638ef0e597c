"""lidtool.asr.graph / decode: phone bigram, HMM expansion, Viterbi decoding."""
import math

import numpy as np

from lidtool.asr.decode import equal_alignment, viterbi
from lidtool.asr.gmm import GmmSet
from lidtool.asr.graph import (phone_lm_fst, phone_loop_graph, training_graph,
                               write_phone_bigram_arpa)
from lidtool.asr.lang import prepare_lang
from lidtool.asr.model import AcousticModel
from lidtool.asr.tree import ContextTree


def _read_arpa(path):
    uni, bi, bow, sec = {}, {}, {}, None
    for line in path.read_text().splitlines():
        if line.startswith("\\1-grams"):
            sec = 1
        elif line.startswith("\\2-grams"):
            sec = 2
        elif line.startswith("\\end"):
            sec = None
        elif sec and line.strip():
            parts = line.split("\t")
            if sec == 1:
                uni[parts[1]] = 10 ** float(parts[0])
                if len(parts) > 2:
                    bow[parts[1]] = 10 ** float(parts[2])
            else:
                a, b = parts[1].split()
                bi[(a, b)] = 10 ** float(parts[0])
    return uni, bi, bow


def test_bigram_is_normalised(tmp_path):
    phones = ["<eps>", "sil", "a", "b", "c"]
    write_phone_bigram_arpa(tmp_path / "lm.arpa", [["sil", "a", "b", "sil"], ["a", "a", "c"]],
                            phones)
    uni, bi, bow = _read_arpa(tmp_path / "lm.arpa")
    vocab = ["sil", "a", "b", "c", "</s>"]
    assert math.isclose(sum(uni[w] for w in vocab), 1.0, rel_tol=1e-4)
    for h in ["<s>", "sil", "a", "b", "c"]:
        tot = sum(bi[(h, w)] if (h, w) in bi else bow.get(h, 1.0) * uni[w] for w in vocab)
        assert math.isclose(tot, 1.0, rel_tol=1e-4), h


def _toy_model(lang, D=2):
    tree = ContextTree.monophone(list(range(1, len(lang.phones))), 3)
    P = tree.num_pdfs
    means = np.arange(P, dtype=float)[:, None] * np.ones((1, D)) * 5
    return AcousticModel(lang.phones, lang.silence_ids, tree,
                         GmmSet.single_gaussians(means, np.ones((P, D))),
                         np.full((len(lang.phones), 3), 0.6), delta_order=0, cmn=False,
                         raw_dim=D, var_floor=np.full(D, 1e-3))


def test_phone_loop_decodes_the_true_state_sequence(tmp_path):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("w a b\n")
    lang = prepare_lang(lex)
    lang.write(tmp_path / "lang")
    model = _toy_model(lang)
    write_phone_bigram_arpa(tmp_path / "lm.arpa", [["a", "b", "a"]], lang.phones)
    G = phone_lm_fst(tmp_path / "lm.arpa", tmp_path / "lang" / "lm_symbols.txt",
                     tmp_path / "G.fst")
    graph = phone_loop_graph(G, model, len(lang.phones))   # "#0" follows the phones
    # frames drawn exactly at the pdf means of: b (3 states) a (3 states) sil (3 states)
    truth = [model.tree.pdf((lang.phones.index(p),), k)
             for p in ("b", "a", "sil") for k in range(3) for _ in range(2)]
    x = model.gmm.means[truth, 0, :]
    ali = viterbi(graph, model.gmm.all_loglikes(x), acoustic_scale=1.0, beam=20)
    np.testing.assert_array_equal(ali.pdfs, truth)


def test_training_graph_equal_alignment_and_forced_alignment(tmp_path):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("w a b\n")
    lang = prepare_lang(lex)
    model = _toy_model(lang)
    g = training_graph(lang.utterance_fst(["w"]), model)
    eq = equal_alignment(g, 12)
    assert eq is not None and len(eq) == 12
    assert equal_alignment(g, 5) is None                 # 2 phones x 3 states need 6 frames
    truth = [model.tree.pdf((lang.phones.index(p),), k)
             for p in ("sil", "a", "b") for k in range(3) for _ in range(3)]
    x = model.gmm.means[truth, 0, :]
    ali = viterbi(g, model.gmm.all_loglikes(x), acoustic_scale=1.0, beam=20)
    np.testing.assert_array_equal(ali.pdfs, truth)
    assert ali.score < 0
