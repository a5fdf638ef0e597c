"""egs/synth_lid/local/data.sh (was local/make_corpus.sh): stage 0 of the recipe on a tiny corpus config."""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from lidtool.data.tables import read_table

RECIPE = Path(__file__).resolve().parents[1] / "egs" / "synth_lid"


def test_make_corpus_sh_builds_data_dirs_and_skips_when_done(tmp_path):
    cfg = {"seed": 3, "shard_size": 5, "vocab_size": 100, "babble_clips": 2,
           "sets": {"train_lt": {"langs": ["vi", "ko"], "utts_per_lang": 2,
                                 "speech_s": [0.5, 1.0]},
                    "asr_cmn": {"langs": ["cmn"], "utts_per_lang": 2, "role": "asr",
                                "mode": "sentence", "words": [2, 3]}}}
    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    data = tmp_path / "data"
    cmd = ["local/data.sh", "--nj", "1", "--config", str(conf), str(data)]
    run = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert read_table(data / "train_lt" / "utt2lang").keys() == \
        read_table(data / "train_lt" / "wav.scp").keys()
    assert sorted(set(read_table(data / "train_lt" / "utt2lang").values())) == ["ko", "vi"]
    assert (data / "local" / "dict_cmn" / "lexicon.txt").is_file()
    assert (data / ".corpus.done").is_file()
    again = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True)
    assert again.returncode == 0 and "already made" in again.stderr


def test_make_corpus_sh_reports_bad_config(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("sets:\n  x: {langs: [xx], utts_per_lang: 1, speech_s: 1.0}\n")
    run = subprocess.run(["local/data.sh", "--corpus-config", str(conf),
                          str(tmp_path / "data")], cwd=RECIPE, capture_output=True, text=True)
    assert run.returncode != 0
    assert "unknown language label 'xx'" in run.stderr
    assert not (tmp_path / "data" / ".corpus.done").exists()
