"""`lidtool infer`, `extract-embeddings` and `plot-training` on a trained tiny model."""
from __future__ import annotations

import kaldiio
import numpy as np
import pytest
import torch

from lidtool.cli import main as cli
from lidtool.metrics.scores import read_scores
from lidtool.inference.jobs import job_slice
from test_train_data import make_feats_dir, write_tiny_config

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("infer")
    data = make_feats_dir(root / "train", counts=(10, 6, 4))
    test = make_feats_dir(root / "test", counts=(4, 4, 4), seed=7, frames=(15, 120))
    conf = write_tiny_config(root / "c.yaml")
    assert cli(["train", "--config", str(conf), "--override", "train.steps=50",
                str(data), str(root / "exp")]) == 0
    return root, test, root / "exp" / "final.pt"


def test_infer_scores_every_utterance(trained):
    root, test, model = trained
    out = root / "scores"
    assert cli(["infer", str(model), str(test), str(out)]) == 0
    scores = read_scores(out)
    assert scores.langs == ["lang0", "lang1", "lang2"] and len(scores.utts) == 12
    assert np.allclose(np.exp(scores.matrix).sum(1), 1.0, atol=1e-4)      # log-posteriors
    truth = np.array([int(u[4]) for u in scores.utts])
    assert np.mean(scores.matrix.argmax(1) == truth) >= 0.9


def test_infer_jobs_partition_the_data(trained):
    root, test, model = trained
    for job in (1, 2, 3):
        assert cli(["infer", "--nj", "3", "--job", str(job), str(model), str(test),
                    str(root / f"scores.{job}")]) == 0
    parts = "".join((root / f"scores.{j}").read_text() for j in (1, 2, 3))
    assert cli(["infer", str(model), str(test), str(root / "scores.all")]) == 0
    assert parts == (root / "scores.all").read_text()
    assert job_slice(list("abcdefg"), 3, 1) + job_slice(list("abcdefg"), 3, 2) + \
        job_slice(list("abcdefg"), 3, 3) == list("abcdefg")


def test_extract_embeddings(trained):
    root, test, model = trained
    out = root / "xv"
    assert cli(["extract-embeddings", str(model), str(test), str(out)]) == 0
    vecs = kaldiio.load_scp(str(out / "xvector_test.1.scp"))
    assert len(vecs) == 12 and all(v.shape == (32,) for v in vecs.values())
    assert cli(["extract-embeddings", "--layer", "pool", "--nj", "2", "--job", "2",
                str(model), str(test), str(out)]) == 0
    pooled = kaldiio.load_scp(str(out / "xvector_test.2.scp"))
    assert len(pooled) == 6 and all(v.shape == (128,) for v in pooled.values())
    assert cli(["extract-embeddings", "--layer", "fc7", str(model), str(test), str(out)]) == 1


def test_plot_training(trained, capsys):
    root, _, _ = trained
    assert cli(["plot-training", "--smooth", "5", str(root / "exp")]) == 0
    png = root / "exp" / "train_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (root / "bad").mkdir()
    (root / "bad" / "train_log.jsonl").write_text('{"step": 1, "loss": 1.0}\nnot json\n')
    assert cli(["plot-training", str(root / "bad")]) == 1
    assert "train_log.jsonl:2" in capsys.readouterr().err


def test_model_classes_and_silent_utterance(trained, tmp_path):
    """load_model gives info["classes"]; an all-silent test utterance is scored on all its
    frames (the prepared features equal the CMN'd raw matrix)."""
    import shutil

    from lidtool.features.cmn import sliding_cmn
    from lidtool.inference.jobs import prepared_utterances
    from lidtool.train.checkpoint import load_model
    root, test, model = trained
    assert load_model(model)[1]["classes"] == ["lang0", "lang1", "lang2"]
    silent = tmp_path / "silent"
    shutil.copytree(test, silent)
    vads = dict(kaldiio.load_scp(str(silent / "vad.scp")))
    utt = sorted(vads)[1]
    vads[utt] = np.zeros_like(vads[utt])
    kaldiio.save_ark(str(silent / "vad2.ark"), dict(sorted(vads.items())),
                     scp=str(silent / "vad.scp"))
    raw = kaldiio.load_scp(str(silent / "feats.scp"))[utt]
    got = dict(prepared_utterances(silent, 50, nj=6, job=1))
    assert list(got) == sorted(vads)[:2]
    assert np.array_equal(got[utt], sliding_cmn(raw, window=50))
    assert cli(["infer", str(model), str(silent), str(tmp_path / "scores")]) == 0
    assert utt in read_scores(tmp_path / "scores").utts


def test_job_pairs_of_several_data_dirs():
    import argparse

    from lidtool.errors import ConfigError
    from lidtool.inference.jobs import job_pairs
    args = argparse.Namespace(data_dir="d1", scores="s1", more=["d2", "s2", "d3", "s3"])
    assert job_pairs(args, "scores") == [("d1", "s1"), ("d2", "s2"), ("d3", "s3")]
    args.more = ["d2", "s2", "d3"]
    with pytest.raises(ConfigError, match="d3.*no output"):
        job_pairs(args, "scores")
