"""lidtool.asr HMM topologies: the skip topology (phones of 2 frames) against Kaldi's
3-state left-to-right one: graphs, transition statistics, save/load, and forced
alignment of fast speech."""
import numpy as np
import pytest

from lidtool.asr import pipeline
from lidtool.asr import train as tr
from lidtool.asr.decode import equal_alignment, viterbi
from lidtool.asr.gmm import GmmSet
from lidtool.asr.graph import training_graph
from lidtool.asr.lang import Lang, prepare_lang
from lidtool.asr.model import AcousticModel
from lidtool.asr.synthetic import make_fake_language
from lidtool.asr.tree import ContextTree
from lidtool.data.datadir import subset_data_dir
from lidtool.errors import ConfigError


def _toy(lang, skip: bool, D=2):
    tree = ContextTree.monophone(list(range(1, len(lang.phones))), 3)
    P = tree.num_pdfs
    means = np.arange(P, dtype=float)[:, None] * np.ones((1, D)) * 5
    shape = (len(lang.phones), 3)
    return AcousticModel(lang.phones, lang.silence_ids, tree,
                         GmmSet.single_gaussians(means, np.ones((P, D))),
                         np.full(shape, 0.6), delta_order=0, cmn=False, raw_dim=D,
                         var_floor=np.full(D, 1e-3),
                         skip=np.full(shape, 0.1) if skip else None)


@pytest.fixture()
def lang(tmp_path):
    (tmp_path / "lexicon.txt").write_text("w a b\n")
    return prepare_lang(tmp_path / "lexicon.txt")


def test_skip_graph_allows_two_frame_phones(lang):
    three, skip = _toy(lang, False), _toy(lang, True)
    assert (three.topology, three.min_frames) == ("3state", 3)
    assert (skip.topology, skip.min_frames) == ("skip", 2)
    assert np.all(skip.skip[:, 2] == 0)                # nothing to skip from the last state
    g3 = training_graph(lang.utterance_fst(["w"]), three)
    gs = training_graph(lang.utterance_fst(["w"]), skip)
    assert equal_alignment(g3, 5) is None and equal_alignment(gs, 4) is not None
    assert equal_alignment(gs, 3) is None
    # a (states 0, 2: one frame each), b (states 0, 1: middle-state exit), then b's
    # neighbour sil in full: the skip model finds exactly this path
    pid = lang.phone_ids
    truth = [skip.tree.pdf((pid["a"],), 0), skip.tree.pdf((pid["a"],), 2),
             skip.tree.pdf((pid["b"],), 0), skip.tree.pdf((pid["b"],), 1)] + \
        [skip.tree.pdf((pid["sil"],), k) for k in range(3) for _ in range(2)]
    x = skip.gmm.means[truth, 0, :]
    ali = viterbi(gs, skip.gmm.all_loglikes(x), acoustic_scale=1.0, beam=50)
    np.testing.assert_array_equal(ali.pdfs, truth)
    ali3 = viterbi(g3, three.gmm.all_loglikes(x), acoustic_scale=1.0, beam=50)
    assert ali3 is not None and not np.array_equal(ali3.pdfs, truth)
    assert ali.score > ali3.score


def test_transition_counts_update_and_roundtrip(lang, tmp_path):
    m = _toy(lang, True)
    a = lang.phone_ids["a"]
    p = [m.tree.pdf((a,), k) for k in range(3)]
    # a: 0 0 2 | a: 0 1 1 | a: 0 1 2 2
    pdfs = np.array([p[0], p[0], p[2], p[0], p[1], p[1], p[0], p[1], p[2], p[2]])
    c = m.transition_counts(pdfs)[a]          # [state, (loop, forward, skip)]
    np.testing.assert_array_equal(c, [[1, 2, 1], [1, 1, 1], [1, 2, 0]])
    before = m.transition_logprob(pdfs)
    m.update_transitions(m.transition_counts(pdfs), min_count=1)
    assert m.transition_logprob(pdfs) >= before
    probs = np.stack([m.self_loop, m.forward, m.skip], -1)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    np.testing.assert_allclose(probs[a, 0], [0.25, 0.5, 0.25])
    assert m.skip[a, 2] == 0 and np.all(probs >= 0)
    m.save(tmp_path / "m.mdl")
    m2 = AcousticModel.load(tmp_path / "m.mdl")
    assert m2.topology == "skip"
    np.testing.assert_array_equal(m2.skip, m.skip)
    # the 3-state model never learns a skip, even from counts that hold some
    m3 = _toy(lang, False)
    m3.update_transitions(m.transition_counts(pdfs), min_count=1)
    assert m3.topology == "3state" and np.all(m3.skip == 0)
    np.testing.assert_allclose(m3.self_loop[a, 0], 1 / 3)   # loop 1 of (loop 1 + fwd 2)


def test_unknown_topology_is_a_config_error(tmp_path):
    paths = make_fake_language(tmp_path / "fake", num_utts=4, seed=1)
    lang = prepare_lang(paths["lexicon"])
    utts = tr.load_corpus(paths["data"], lang, raw=True)
    with pytest.raises(ConfigError, match="topology"):
        tr.init_mono_model(lang, utts, topology="ergodic")


def test_skip_topology_aligns_fast_speech(tmp_path):
    """A third of the phones last 2 frames: the 3-state model must misplace them, the
    skip model aligns the held-out speaker nearly perfectly."""
    paths = make_fake_language(tmp_path / "fake", num_utts=48, num_spk=4,
                               short_phone_prob=0.35, seed=5)
    train = subset_data_dir(paths["data"], tmp_path / "train", spks=["spk0", "spk1", "spk2"])
    test = subset_data_dir(paths["data"], tmp_path / "test", spks=["spk3"])
    lang = prepare_lang(paths["lexicon"])
    lang.write(tmp_path / "lang")
    opts = tr.TrainOptions(num_iters=8, realign_iters=(1, 2, 3, 4, 6), total_gauss=60,
                           max_iter_inc=5)
    acc = {}
    for topo in ("3state", "skip"):
        d = tmp_path / topo
        pipeline.train_mono_dir(train, tmp_path / "lang", d, opts, topology=topo)
        r = pipeline.align_dir(test, tmp_path / "lang", d / "final.mdl", d / "ali_test")
        assert r["failed"] == 0
        ev = pipeline.evaluate_dir(d / "final.mdl", paths["timings"],
                                   ali_scp=d / "ali_test" / "ali.scp")
        acc[topo] = ev["frame_accuracy"]
    assert Lang.load(tmp_path / "lang").phones == AcousticModel.load(
        tmp_path / "skip" / "final.mdl").phones
    assert acc["skip"] >= 0.9, acc
    assert acc["skip"] > acc["3state"] + 0.03, acc


def test_partial_paths_are_flagged(lang):
    m = _toy(lang, False)
    g = training_graph(lang.utterance_fst(["w"]), m)         # needs >= 6 frames
    x = m.gmm.means[[0, 3, 4, 5], 0, :]
    ll = m.gmm.all_loglikes(x)
    assert viterbi(g, ll, acoustic_scale=1.0, beam=50) is None
    part = viterbi(g, ll, acoustic_scale=1.0, beam=50, allow_partial=True)
    assert part is not None and not part.reached_final and len(part.pdfs) == 4
    full = viterbi(g, m.gmm.all_loglikes(m.gmm.means[[3, 4, 5, 6, 7, 8], 0, :]),
                   acoustic_scale=1.0, beam=50)
    assert full.reached_final
