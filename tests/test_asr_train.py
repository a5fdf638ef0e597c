"""lidtool.asr training: monotone EM, forced-alignment accuracy on held-out speakers,
phone-loop PER, model save/load."""
import numpy as np
import pytest

from lidtool.asr import pipeline
from lidtool.asr import train as tr
from lidtool.asr.labels import read_int_vectors
from lidtool.asr.lang import Lang, prepare_lang
from lidtool.asr.model import AcousticModel
from lidtool.asr.phone_loop import decode_data_dir, make_phone_loop_graph
from lidtool.asr.synthetic import make_fake_language
from lidtool.data.datadir import subset_data_dir
from lidtool.errors import CheckpointError, DataDirError

FRAME_ACC_FLOOR = 0.90     # forced alignment vs true timings, held-out speaker
PER_CEILING = 0.15         # phone loop, held-out speaker, silence excluded


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("asr")
    paths = make_fake_language(root / "fake", num_utts=48, num_spk=4, seed=3)
    train = subset_data_dir(paths["data"], root / "train", spks=["spk0", "spk1", "spk2"])
    test = subset_data_dir(paths["data"], root / "test", spks=["spk3"])
    lang = prepare_lang(paths["lexicon"])
    lang.write(root / "lang")
    return {"root": root, "train": train, "test": test, "lang": root / "lang",
            "timings": paths["timings"]}


@pytest.fixture(scope="module")
def mono_dir(corpus):
    opts = tr.TrainOptions(num_iters=10, realign_iters=(1, 2, 3, 4, 6, 8), total_gauss=60,
                           max_iter_inc=6)
    out = corpus["root"] / "mono"
    pipeline.train_mono_dir(corpus["train"], corpus["lang"], out, opts)
    return out


def test_em_and_realignment_never_lower_the_objective(corpus):
    lang = Lang.load(corpus["lang"])
    utts = tr.load_corpus(corpus["train"], lang, raw=True)
    model = tr.init_mono_model(lang, utts)
    alis = tr.equal_align_all(model, utts)
    opts = tr.TrainOptions(num_iters=8, realign_iters=tuple(range(1, 8)),
                           total_gauss=model.num_pdfs)          # no mixing up
    _, hist = tr.train(model, utts, alis, opts)
    for h in hist:   # the EM step on fixed alignments
        assert h["like_after"] >= h["like_before"] - 1e-9 * abs(h["like_before"])
        assert h["trans_after"] >= h["trans_before"] - 1e-6
    scores = [h["align_score"] for h in hist if h["realigned"]]
    assert len(scores) == 7 and all(h["align_failed"] == 0 for h in hist if h["realigned"])
    assert all(b >= a - 1e-3 for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] > scores[0]


def test_mono_forced_alignment_beats_floor_on_held_out_speaker(corpus, mono_dir, tmp_path):
    assert (mono_dir / "final.mdl").is_file() and (mono_dir / "history.json").is_file()
    r = pipeline.align_dir(corpus["test"], corpus["lang"], mono_dir / "final.mdl", tmp_path)
    assert r["failed"] == 0 and r["utts"] == 12
    res = pipeline.evaluate_dir(mono_dir / "final.mdl", corpus["timings"],
                                ali_scp=tmp_path / "ali.scp")
    assert res["ali_utts"] == 12
    assert res["frame_accuracy"] >= FRAME_ACC_FLOOR, res


def test_triphone_system_and_phone_loop(corpus, mono_dir, tmp_path):
    tri = tmp_path / "tri"
    model0 = pipeline.build_tree_dir(corpus["train"], corpus["lang"], mono_dir, tri,
                                     num_leaves=45, min_count=15)
    mono = AcousticModel.load(mono_dir / "final.mdl")
    assert mono.num_pdfs < model0.num_pdfs <= 45
    opts = tr.TrainOptions(num_iters=6, realign_iters=(2, 4), total_gauss=120, max_iter_inc=4)
    model = pipeline.train_tri_dir(corpus["train"], corpus["lang"], mono_dir, tri, opts)
    assert model.num_pdfs == model0.num_pdfs
    # forced alignment with the triphones
    ali_dir = tmp_path / "tri_ali"
    pipeline.align_dir(corpus["test"], corpus["lang"], tri / "final.mdl", ali_dir)
    res = pipeline.evaluate_dir(tri / "final.mdl", corpus["timings"],
                                ali_scp=ali_dir / "ali.scp")
    assert res["frame_accuracy"] >= FRAME_ACC_FLOOR, res
    # phone loop on the held-out speaker
    seqs = pipeline.train_phone_sequences(tri / "ali.scp", model)
    graph = make_phone_loop_graph(model, corpus["lang"], seqs, tmp_path / "graph")
    assert (tmp_path / "graph" / "HCLG.fst").is_file()
    decode_data_dir(model, graph, corpus["test"], tmp_path / "dec")
    labels = read_int_vectors(tmp_path / "dec" / "ali.scp")
    assert all(v.min() >= 0 and v.max() < model.num_pdfs for v in labels.values())
    res = pipeline.evaluate_dir(tri / "final.mdl", corpus["timings"],
                                phone_seq=tmp_path / "dec" / "phone_seq")
    assert res["per_utts"] == 12
    assert res["per"] <= PER_CEILING, res


def test_model_save_load_roundtrip(corpus, mono_dir, tmp_path):
    m = AcousticModel.load(mono_dir / "final.mdl")
    m.save(tmp_path / "copy.mdl")
    m2 = AcousticModel.load(tmp_path / "copy.mdl")
    x = m.prepare(np.random.default_rng(0).normal(size=(20, m.raw_dim)))
    np.testing.assert_array_equal(m.gmm.all_loglikes(x), m2.gmm.all_loglikes(x))
    np.testing.assert_array_equal(m.self_loop, m2.self_loop)
    assert m2.tree.to_json() == m.tree.to_json() and m2.phones == m.phones
    (tmp_path / "bad.mdl").write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="bad.mdl"):
        AcousticModel.load(tmp_path / "bad.mdl")
    with pytest.raises(CheckpointError, match="does not exist"):
        AcousticModel.load(tmp_path / "missing.mdl")


def test_unknown_word_is_a_clear_error(corpus, tmp_path):
    src = corpus["train"]
    bad = subset_data_dir(src, tmp_path / "bad", first=3)
    lines = (bad / "text").read_text().splitlines()
    lines[1] = lines[1].split()[0] + " nosuchword"
    (bad / "text").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataDirError, match=r"text:2: word 'nosuchword' is not in the lexicon"):
        tr.load_corpus(bad, Lang.load(corpus["lang"]), raw=True)
