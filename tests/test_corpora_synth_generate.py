"""The synthetic corpus end to end on a tiny config: determinism, speakers, durations,
balance, long tail, alignments, espeak failures and resumable generation."""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from lidtool.corpora.synth import generate
from lidtool.corpora.synth.espeak import Espeak, EspeakError
from lidtool.corpora.synth.sets import load_config, plan_set
from lidtool.data.tables import read_table
from lidtool.errors import ConfigError

TINY = {
    "seed": 7, "shard_size": 4, "vocab_size": 150, "babble_clips": 3,
    "sets": {
        "train_lt": {"langs": ["cmn", "yue", "vi"], "proportions": [58.0, 14.0, 1.4],
                     "min_utts": 1, "speakers_per_lang": 3, "role": "train",
                     "speech_s": [0.8, 1.5]},
        "test_1s": {"langs": ["cmn", "vi"], "utts_per_lang": 3, "speakers_per_lang": 2,
                    "role": "test", "speech_s": 1.0},
        "test_3s": {"langs": ["cmn", "yue", "vi"], "utts_per_lang": 2, "speakers_per_lang": 2,
                    "role": "test", "speech_s": 3.0},
        "test_channel": {"langs": ["cmn", "vi"], "utts_per_lang": 2, "speakers_per_lang": 1,
                         "role": "test", "speech_s": [1.0, 2.0], "channel": "heldout"},
        "asr_cmn": {"langs": ["cmn"], "utts_per_lang": 4, "speakers_per_lang": 2,
                    "role": "asr", "mode": "sentence", "words": [2, 4]},
    },
}


def tiny_config(tmp: Path, **changes) -> dict:
    cfg = json.loads(json.dumps(TINY))
    cfg.update(changes)
    path = tmp / "corpus.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return load_config(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    cfg = tiny_config(root)
    generate.make_corpus(cfg, root / "corpus", root / "data", nj=1)
    return cfg, root


def supervisions(data: Path, name: str) -> list[dict]:
    with gzip.open(data / "manifests" / f"synth_supervisions_{name}.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


def audio_of(data: Path, name: str) -> dict[str, np.ndarray]:
    wav = read_table(data / name / "wav.scp")
    return {utt: sf.read(path, dtype="int16")[0] for utt, path in wav.items()}


def test_every_set_is_a_valid_data_dir_with_lexicon(corpus):
    cfg, root = corpus
    for name in cfg["sets"]:
        d = root / "data" / name
        for f in ("wav.scp", "utt2spk", "spk2utt", "utt2lang", "utt2dur", "text"):
            assert (d / f).is_file(), f"{name}/{f}"
        assert len(read_table(d / "utt2lang")) == len(plan_set(cfg, name))
    lex = (root / "data" / "local" / "dict_cmn" / "lexicon.txt").read_text().splitlines()
    words = {line.split()[0] for line in lex}
    for text in read_table(root / "data" / "asr_cmn" / "text").values():
        assert set(text.split()) <= words
    # lexicon pronunciations are exactly the phones of the alignment, word by word
    sup = supervisions(root / "data", "asr_cmn")[0]
    phones = [a[0] for a in sup["alignment"]["phone"] if a[0] != "sil"]
    prons = dict(line.split(maxsplit=1) for line in lex)
    assert " ".join(prons[w] for w in sup["text"].split()) == " ".join(phones)


def test_same_seed_gives_identical_corpus_with_more_jobs(corpus, tmp_path):
    cfg, root = corpus
    again = tiny_config(tmp_path)
    generate.make_corpus(again, tmp_path / "corpus", tmp_path / "data",
                         sets=["test_3s", "train_lt"], nj=2)
    for name in ("test_3s", "train_lt"):
        a, b = audio_of(root / "data", name), audio_of(tmp_path / "data", name)
        assert a.keys() == b.keys()
        for utt in a:
            assert np.array_equal(a[utt], b[utt]), utt
        sa, sb = supervisions(root / "data", name), supervisions(tmp_path / "data", name)
        assert sa == sb


def test_other_seed_gives_other_audio(corpus, tmp_path):
    cfg, root = corpus
    other = tiny_config(tmp_path, seed=8)
    generate.make_corpus(other, tmp_path / "corpus", tmp_path / "data", sets=["test_1s"])
    a, b = audio_of(root / "data", "test_1s"), audio_of(tmp_path / "data", "test_1s")
    assert not all(np.array_equal(x, y) for x, y in zip(a.values(), b.values()))


def test_speakers_disjoint_between_train_test_and_asr(corpus):
    cfg, root = corpus
    spk = {name: set(read_table(root / "data" / name / "utt2spk").values())
           for name in cfg["sets"]}
    train = spk["train_lt"]
    test = spk["test_1s"] | spk["test_3s"] | spk["test_channel"]
    assert not train & test and not train & spk["asr_cmn"] and not test & spk["asr_cmn"]
    # test speakers use only the held-out voice variants
    variants = {name: {s["custom"]["voice"]["variant"] for s in supervisions(root / "data", name)}
                for name in ("train_lt", "test_3s")}
    assert not variants["train_lt"] & variants["test_3s"]


def test_speech_durations_within_each_condition(corpus):
    cfg, root = corpus
    for name, s in cfg["sets"].items():
        if s.get("mode") == "sentence":
            continue
        lo, hi = (s["speech_s"], s["speech_s"]) if not isinstance(s["speech_s"], list) \
            else s["speech_s"]
        durs = read_table(root / "data" / name / "utt2dur")
        for sup in supervisions(root / "data", name):
            assert lo - 0.01 <= sup["custom"]["speech_s"] <= hi + 0.01, (name, sup["id"])
            assert float(durs[sup["id"]]) >= sup["custom"]["speech_s"]


def test_test_sets_are_balanced_and_train_lt_is_long_tailed(corpus):
    cfg, root = corpus
    for name in ("test_1s", "test_3s", "test_channel"):
        counts = Counter(read_table(root / "data" / name / "utt2lang").values())
        assert len(set(counts.values())) == 1 and set(counts) == set(cfg["sets"][name]["langs"])
    counts = Counter(read_table(root / "data" / "train_lt" / "utt2lang").values())
    assert counts == {"cmn": 41, "yue": 10, "vi": 1}          # 58/1.4, 14/1.4, 1
    assert max(counts.values()) / min(counts.values()) == pytest.approx(58.0 / 1.4, rel=0.02)


def test_alignments_tile_the_audio(corpus):
    cfg, root = corpus
    for name in cfg["sets"]:
        for sup in supervisions(root / "data", name):
            ali = [a[:3] for a in sup["alignment"]["phone"]]
            assert ali[0][1] == 0.0 and ali[0][0] == "sil"
            for (_, s1, d1), (_, s2, _) in zip(ali, ali[1:]):
                assert d1 > 0 and abs(s1 + d1 - s2) < 1e-5
            assert abs(ali[-1][1] + ali[-1][2] - sup["duration"]) < 1e-5
            speech = sum(d for sym, _, d in ali if sym != "sil")
            assert speech == pytest.approx(sup["custom"]["speech_s"], abs=1e-3)


def test_heldout_channel_only_in_test_channel(corpus):
    cfg, root = corpus
    for name in cfg["sets"]:
        fams = {s["custom"]["channel"]["family"] for s in supervisions(root / "data", name)}
        assert fams == ({"heldout"} if name == "test_channel" else {"train"})


def test_empty_espeak_output_is_a_clear_error(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path)
    generate.prepare_resources(cfg, tmp_path / "corpus")
    monkeypatch.setattr(Espeak, "_on_audio", lambda self, wav, n, events: 0)
    with pytest.raises(EspeakError) as err:
        generate.generate_shards(cfg, tmp_path / "corpus", ["test_1s"])
    assert "espeak-ng voice 'cmn-latn-pinyin+" in str(err.value)
    assert "no audio" in str(err.value)
    assert not list((tmp_path / "corpus" / "shards").glob("*/*.jsonl"))


def test_interrupted_generation_resumes_without_duplicates(corpus, tmp_path, monkeypatch):
    cfg, root = corpus
    again = tiny_config(tmp_path)
    real = generate.run_shard
    calls = []

    def flaky(set_name, shard, specs):
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated interruption")
        calls.append(shard)
        return real(set_name, shard, specs)

    monkeypatch.setattr(generate, "run_shard", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate.make_corpus(again, tmp_path / "corpus", tmp_path / "data", sets=["train_lt"])
    done = sorted((tmp_path / "corpus" / "shards" / "train_lt").glob("*.done"))
    assert len(done) == 3 and not (tmp_path / "data" / "train_lt").exists()
    monkeypatch.setattr(generate, "run_shard", real)
    made = generate.generate_shards(again, tmp_path / "corpus", ["train_lt"])
    assert made == -(-len(plan_set(again, "train_lt")) // 4) - 3
    generate.make_corpus(again, tmp_path / "corpus", tmp_path / "data", sets=["train_lt"])
    ids = list(read_table(tmp_path / "data" / "train_lt" / "utt2spk"))
    assert len(ids) == len(set(ids)) == len(plan_set(again, "train_lt"))
    a, b = audio_of(root / "data", "train_lt"), audio_of(tmp_path / "data", "train_lt")
    assert a.keys() == b.keys() and all(np.array_equal(a[u], b[u]) for u in a)


def test_changed_config_regenerates_only_what_changed(corpus, tmp_path):
    cfg, root = corpus
    base = tiny_config(tmp_path)
    generate.make_corpus(base, tmp_path / "corpus", tmp_path / "data", sets=["test_1s"])
    bigger = tiny_config(tmp_path)
    bigger["sets"]["test_1s"]["langs"].append("yue")      # utterances 6-8 are new
    # shard 0 (utts 0-3) is kept, shard 1 (4-5 -> 4-7) and shard 2 (8) are made
    assert generate.generate_shards(bigger, tmp_path / "corpus", ["test_1s"]) == 2
    generate.make_corpus(bigger, tmp_path / "corpus", tmp_path / "data", sets=["test_1s"])
    assert len(read_table(tmp_path / "data" / "test_1s" / "utt2lang")) == 9
    other = tiny_config(tmp_path, seed=99)
    with pytest.raises(ConfigError) as err:
        generate.make_corpus(other, tmp_path / "corpus", tmp_path / "data", sets=["test_1s"])
    assert "resources.sha1" in str(err.value) and "new corpus dir" in str(err.value)
