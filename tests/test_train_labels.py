"""lidtool.train.labels: label tables (utt2spk speaker classifiers, none + a group table),
class maps, and final.pt's classes / label_table (also for files with only "langs")."""
from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from lidtool.errors import ConfigError, DataDirError
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.inference.jobs import prepared_utterances
from lidtool.inference.scoring import score_utterances
from lidtool.train.labels import read_class_map
from lidtool.train.samplers import ChunkBatchSampler
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config

SPEAKER_OF = {"lang0": "spkX", "lang1": "spkY", "lang2": "spkZ"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = make_feats_dir(tmp_path_factory.mktemp("labels") / "train", counts=(14, 6, 3))
    # speakers that follow the feature statistics (one per language) but are named otherwise
    lines = [u + " " + SPEAKER_OF[u.split("-")[0]] for u in
             (x.split()[0] for x in (d / "utt2lang").read_text().splitlines())]
    (d / "utt2spk").write_text("\n".join(lines) + "\n")
    return d


def test_utt2spk_trains_a_speaker_classifier(tmp_path, data_dir):
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, ["data.label_table=utt2spk"])
    data = load_train_data(data_dir, cmn_window=50, min_frames=20, label_table="utt2spk")
    assert data.classes == ["spkX", "spkY", "spkZ"] and data.label_table == "utt2spk"
    Trainer(cfg, data, tmp_path / "exp", source=str(conf)).train()
    exp = tmp_path / "exp"
    assert read_class_map(exp / "spk2id") == ["spkX", "spkY", "spkZ"]
    assert not (exp / "lang2id").exists()
    model, info = ckpt_io.load_model(exp / "final.pt")
    assert info["classes"] == ["spkX", "spkY", "spkZ"] and info["label_table"] == "utt2spk"
    assert info["kind"] == "classifier" and "langs" not in info
    utts, scores = score_utterances(model, prepared_utterances(data_dir, 50), "cpu")
    truth = [info["classes"].index(SPEAKER_OF[u.split("-")[0]]) for u in utts]
    assert np.mean(scores.argmax(1) == np.array(truth)) >= 0.9


def test_label_table_errors_name_file_and_line(tmp_path, data_dir):
    with pytest.raises(DataDirError, match="utt2foo"):
        load_train_data(data_dir, min_frames=20, label_table="utt2foo")
    with pytest.raises(DataDirError) as err:
        load_train_data(data_dir, ["spkX", "spkY"], min_frames=20, label_table="utt2spk")
    assert "utt2spk:21" in str(err.value) and "spkZ" in str(err.value)
    conf = write_tiny_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="data.label_table"):
        load_config(conf, ["data.label_table=speakers"])


def test_no_labels_loads_without_classes_and_samples_by_group(tmp_path, data_dir):
    data = load_train_data(data_dir, cmn_window=50, min_frames=20, label_table="none",
                           group_table="utt2lang")
    assert data.classes == [] and set(data.labels.tolist()) == {-1}
    assert data.group_names == ["lang0", "lang1", "lang2"]
    groups, n = data.sampler_labels()
    assert n == 3 and list(np.bincount(groups)) == [14, 6, 3]
    sampler = ChunkBatchSampler("balanced", groups, 300, min_chunk=20, max_chunk=30,
                                num_classes=n)
    drawn = groups[[i for i, _, _ in sampler.batch(0)]]
    assert np.all(np.abs(np.bincount(drawn, minlength=3) / 300 - 1 / 3) < 0.07)
    # without a group table: one group, every utterance
    plain = load_train_data(data_dir, cmn_window=50, min_frames=20, label_table="none")
    assert plain.sampler_labels()[1] == 1
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, ["data.label_table=none"])
    with pytest.raises(ConfigError, match="trains a classifier"):
        Trainer(cfg, data, tmp_path / "exp", source=str(conf))


def test_old_model_file_with_only_langs_is_normalised(tmp_path, data_dir):
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, ["train.steps=2"])
    Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20),
            tmp_path / "exp").train()
    obj = torch.load(tmp_path / "exp" / "final.pt", weights_only=True)
    assert obj["classes"] == obj["langs"] == ["lang0", "lang1", "lang2"]
    for key in ("classes", "label_table", "kind"):
        del obj[key]
    torch.save(obj, tmp_path / "old.pt")
    _, info = ckpt_io.load_model(tmp_path / "old.pt")
    assert info["classes"] == ["lang0", "lang1", "lang2"]
    assert info["label_table"] == "utt2lang" and info["kind"] == "classifier"
    obj["kind"] = "encoder"
    torch.save(obj, tmp_path / "enc.pt")
    with pytest.raises(Exception, match="not a classifier"):
        ckpt_io.load_model(tmp_path / "enc.pt")


def test_cli_class_map_options(tmp_path, data_dir):
    from lidtool.cli import main as cli
    conf = write_tiny_config(tmp_path / "c.yaml")
    (tmp_path / "spk2id").write_text("spkZ 0\nspkY 1\nspkX 2\n")
    args = ["train", "--config", str(conf), "--override", "train.steps=2",
            "--override", "data.label_table=utt2spk", "--class2id", str(tmp_path / "spk2id"),
            str(data_dir), str(tmp_path / "spk")]
    assert cli(args) == 0
    assert read_class_map(tmp_path / "spk" / "spk2id") == ["spkZ", "spkY", "spkX"]
    (tmp_path / "lang2id").write_text("lang2 0\nlang0 1\nlang1 2\n")   # the old option name
    assert cli(["train", "--config", str(conf), "--override", "train.steps=2", "--lang2id",
                str(tmp_path / "lang2id"), str(data_dir), str(tmp_path / "lang")]) == 0
    assert read_class_map(tmp_path / "lang" / "lang2id") == ["lang2", "lang0", "lang1"]
    assert ckpt_io.load_model(tmp_path / "lang" / "final.pt")[1]["langs"] == \
        ["lang2", "lang0", "lang1"]
