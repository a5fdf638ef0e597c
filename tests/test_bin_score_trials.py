"""`lidtool score-trials` end to end on synthetic speaker embeddings."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sv_embeddings import all_pairs_trials, speaker_vectors, write_set

from lidtool.backend.score_norm import adaptive_snorm
from lidtool.backend.vectors import read_vectors
from lidtool.backend.verification import SvBackend
from lidtool.cli import main as cli_main
from lidtool.metrics.detection import eer, min_dcf


@pytest.fixture(scope="module")
def sv(tmp_path_factory):
    """Training set (80 speakers x 5), test set (12 speakers x 4) with all-pairs trials."""
    d = tmp_path_factory.mktemp("sv")
    tr_utts, tr_X, tr_spks = speaker_vectors(0, 80, 5, "tr")
    te_utts, te_X, te_spks = speaker_vectors(1, 12, 4, "te")
    write_set(d, "train", tr_utts, tr_X, tr_spks)
    write_set(d, "test", te_utts, te_X, te_spks)
    trials = all_pairs_trials(te_utts, te_spks, d / "trials")
    utts, X = read_vectors(d / "test.scp")          # as stored: float32
    return d, dict(zip(utts, X)), trials, read_vectors(d / "train.scp")[1]


def run(d, *extra, test="test"):
    return cli_main(["score-trials", "--enrol-embeddings", str(d / "test.scp"),
                     "--test-embeddings", str(d / f"{test}.scp"), *map(str, extra)])


def read_scores(path):
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(a, b) for a, b, _ in rows], np.array([float(r[2]) for r in rows])


def test_cosine_scores_metrics_and_det(sv, tmp_path):
    d, vecs, trials, tr_X = sv
    out = tmp_path / "out"
    assert run(d, "--trials", d / "trials", "--mean-from", d / "train.scp",
               "--scores", out / "scores", "--metrics", out / "metrics.json",
               "--det", out / "det.png") == 0
    pairs, scores = read_scores(out / "scores")
    assert pairs == [(a, b) for a, b, _ in trials]
    m = tr_X.mean(0)
    a, b = (np.stack([vecs[p[i]] - m for p in pairs]) for i in (0, 1))
    expected = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert scores == pytest.approx(expected, abs=1e-12)
    assert scores.min() >= -1 and scores.max() <= 1
    key = np.array([t for _, _, t in trials])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eer"] == pytest.approx(eer(scores[key], scores[~key]))
    assert metrics["min_dcf"]["0.001"] == pytest.approx(
        min_dcf(scores[key], scores[~key], 0.001)[0])
    assert (metrics["n_trials"], metrics["n_target"]) == (len(trials), 12 * 6)
    assert (metrics["backend"], metrics["asnorm_top"], metrics["n_enrol_models"]) == \
        ("cosine", None, 47)
    assert metrics["eer"] < 0.2
    assert (out / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cosine_is_symmetric_in_enrol_and_test(sv, tmp_path):
    d, _, trials, _ = sv
    swapped = tmp_path / "swapped"
    swapped.write_text("".join(f"{b} {a}\n" for a, b, _ in trials))
    assert run(d, "--trials", d / "trials", "--scores", tmp_path / "s1") == 0
    assert run(d, "--trials", swapped, "--scores", tmp_path / "s2") == 0
    assert np.array_equal(read_scores(tmp_path / "s1")[1], read_scores(tmp_path / "s2")[1])


def test_plda_train_save_then_load_scores_identically(sv, tmp_path):
    d, _, trials, _ = sv
    train = ["--backend", "plda", "--train-embeddings", d / "train.scp",
             "--train-utt2spk", d / "train.utt2spk", "--lda-dim", 16]
    # train only
    assert run(d, *train, "--save-backend", tmp_path / "plda.npz") == 0
    assert SvBackend.load(tmp_path / "plda.npz").info["lda_dim"] == 16
    assert run(d, *train, "--trials", d / "trials", "--scores", tmp_path / "s1",
               "--metrics", tmp_path / "m.json") == 0
    assert run(d, "--load-backend", tmp_path / "plda.npz", "--trials", d / "trials",
               "--scores", tmp_path / "s2") == 0
    s1, s2 = read_scores(tmp_path / "s1")[1], read_scores(tmp_path / "s2")[1]
    assert np.array_equal(s1, s2)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["backend"] == "plda" and metrics["eer"] < 0.2


def test_enrolment_map_averages_utterances(sv, tmp_path):
    d, vecs, _, _ = sv
    emap = tmp_path / "enrol_map"
    emap.write_text("spkA te000-00 te000-01\nspkB te001-00 te001-01 te001-02\n")
    trials = tmp_path / "trials"
    trials.write_text("spkA te000-03 target\nspkA te001-03 nontarget\n"
                      "spkB te001-03 target\nspkB te000-03 nontarget\n")
    assert run(d, "--trials", trials, "--enrol-map", emap, "--scores", tmp_path / "s") == 0

    def unit(v):
        return v / np.linalg.norm(v)
    a = unit(unit(vecs["te000-00"]) + unit(vecs["te000-01"]))
    b = unit(sum(unit(vecs[f"te001-0{i}"]) for i in range(3)))
    expected = [a @ unit(vecs["te000-03"]), a @ unit(vecs["te001-03"]),
                b @ unit(vecs["te001-03"]), b @ unit(vecs["te000-03"])]
    assert read_scores(tmp_path / "s")[1] == pytest.approx(expected, abs=1e-12)


def test_asnorm_equals_formula_over_the_cohort(sv, tmp_path):
    d, vecs, trials, tr_X = sv
    out = tmp_path / "out"
    assert run(d, "--trials", d / "trials", "--asnorm-cohort", d / "train.scp",
               "--asnorm-cohort-utt2spk", d / "train.utt2spk", "--asnorm-top", 20,
               "--scores", out / "s", "--metrics", out / "m.json", "--det", out / "d.png") == 0
    be = SvBackend.cosine()
    # the cohort: the 80 training speakers' models (renormalised means of unit vectors)
    Zc = be.transform(tr_X)
    cohort = np.stack([Zc[i:i + 5].mean(0) for i in range(0, len(tr_X), 5)])
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    enrol = be.transform(np.stack([vecs[a] for a, _, _ in trials]))
    test = be.transform(np.stack([vecs[b] for _, b, _ in trials]))
    raw = np.sum(enrol * test, 1)
    k = np.arange(len(trials))
    expected = adaptive_snorm(raw, k, k, enrol @ cohort.T, test @ cohort.T, top=20)
    assert read_scores(out / "s")[1] == pytest.approx(expected, abs=1e-9)
    metrics = json.loads((out / "m.json").read_text())
    key = np.array([t for _, _, t in trials])
    assert (metrics["asnorm_top"], metrics["cohort_size"]) == (20, 80)
    assert metrics["raw"]["eer"] == pytest.approx(eer(raw[key], raw[~key]))


def test_unkeyed_trials_score_without_metrics(sv, tmp_path):
    d, _, trials, _ = sv
    plain = tmp_path / "pairs"
    plain.write_text("".join(f"{a} {b}\n" for a, b, _ in trials[:5]))
    assert run(d, "--trials", plain, "--scores", tmp_path / "s") == 0
    assert len(read_scores(tmp_path / "s")[1]) == 5


@pytest.mark.parametrize("case,message", [
    ("missing_test", "trials:3: test utterance 'nobody' has no embedding in "),
    ("missing_enrol", "trials:2: enrolment utterance 'spkX' has no embedding"),
    ("not_in_map", "trials:2: enrolment model 'spkX' is not in the enrolment map"),
    ("map_utt", "enrol_map:2: enrolment utterance 'ghost' of 'spkB' has no embedding"),
    ("unkeyed_metrics", "pairs: --metrics/--det needs target/nontarget keys"),
    ("bad_line", "trials:2: expected '<enrol> <test> target|nontarget'"),
    ("plda_untrained", "--backend: plda needs --train-embeddings and --train-utt2spk"),
    ("top_too_big", "--asnorm-top: 500 is not between 2 and the cohort size 400"),
    ("wrong_kind", "holds a cosine back-end, but --backend is plda"),
    ("cohort_spk_alone", "--asnorm-cohort-utt2spk: needs --asnorm-cohort"),
])
def test_errors_name_the_file_and_line_and_keep_outputs(sv, tmp_path, capsys, case, message):
    d, _, _, _ = sv
    trials = tmp_path / "trials"
    trials.write_text("te000-00 te000-01 target\nte000-00 te001-01 nontarget\n")
    emap = tmp_path / "enrol_map"
    emap.write_text("spkA te000-00\nspkB ghost\n")
    extra = []
    if case == "missing_test":
        trials.write_text(trials.read_text() + "te000-00 nobody nontarget\n")
    elif case == "missing_enrol":
        trials.write_text("te000-00 te000-01 target\nspkX te000-01 nontarget\n")
    elif case == "not_in_map":
        trials.write_text("spkA te000-01 target\nspkX te000-01 nontarget\n")
        emap.write_text("spkA te000-00\n")
        extra = ["--enrol-map", emap]
    elif case == "map_utt":
        trials.write_text("spkA te000-01 target\nspkB te000-01 nontarget\n")
        extra = ["--enrol-map", emap]
    elif case == "unkeyed_metrics":
        trials = tmp_path / "pairs"
        trials.write_text("te000-00 te000-01\n")
        extra = ["--metrics", tmp_path / "m.json"]
    elif case == "bad_line":
        trials.write_text("te000-00 te000-01 target\nte000-00\n")
    elif case == "plda_untrained":
        extra = ["--backend", "plda"]
    elif case == "top_too_big":
        extra = ["--asnorm-cohort", d / "train.scp", "--asnorm-top", 500]
    elif case == "cohort_spk_alone":
        extra = ["--asnorm-cohort-utt2spk", d / "train.utt2spk"]
    elif case == "wrong_kind":
        SvBackend.cosine().save(tmp_path / "cos.npz")
        extra = ["--load-backend", tmp_path / "cos.npz", "--backend", "plda"]
    scores = tmp_path / "scores"
    scores.write_text("old\n")
    assert run(d, "--trials", trials, "--scores", scores, *extra) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert scores.read_text() == "old\n"
    assert not (tmp_path / "m.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
