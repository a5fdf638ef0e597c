"""lidtool.asr.labels / phone_loop: one label per feature frame, checked; clear errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from lidtool.asr import train as tr
from lidtool.asr.labels import (check_frame_counts, label_stats, merge_labels,
                                read_int_vectors, write_int_vectors)
from lidtool.asr.lang import prepare_lang
from lidtool.asr.phone_loop import decode_data_dir, make_phone_loop_graph
from lidtool.asr.pipeline import write_alignments
from lidtool.asr.synthetic import make_fake_language
from lidtool.data.datadir import DataDir
from lidtool.errors import FeatureError


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    paths = make_fake_language(root / "fake", num_utts=12, seed=5)
    lang = prepare_lang(paths["lexicon"])
    lang.write(root / "lang")
    utts = tr.load_corpus(paths["data"], lang, raw=True)
    model = tr.init_mono_model(lang, utts)
    alis = tr.equal_align_all(model, utts)
    alis, _ = tr.train(model, utts, alis, tr.TrainOptions(num_iters=4, realign_iters=(1, 2, 3),
                                                          total_gauss=40, max_iter_inc=2))
    write_alignments(root / "mono", model, alis)
    seqs = [s.split()[1:] for s in (root / "mono" / "phone_seq").read_text().splitlines()]
    graph = make_phone_loop_graph(model, root / "lang", seqs, root / "graph")
    decode_data_dir(model, graph, paths["data"], root / "dec")
    return {"root": root, "data": paths["data"], "model": model, "graph": graph}


def test_one_label_per_frame(decoded):
    d = DataDir(decoded["data"])
    labels = read_int_vectors(decoded["root"] / "dec" / "ali.scp")
    phones = read_int_vectors(decoded["root"] / "dec" / "ali_phone.scp")
    assert sorted(labels) == d.utts
    for utt in d.utts:
        n = int(d.utt2num_frames[utt])
        assert labels[utt].dtype == np.int32 and labels[utt].shape == (n,)
        np.testing.assert_array_equal(phones[utt], decoded["model"].tree.pdf2phone[labels[utt]])
    assert check_frame_counts(decoded["root"] / "dec" / "ali.scp", decoded["data"]) == 12
    seq = (decoded["root"] / "dec" / "phone_seq").read_text().splitlines()
    assert len(seq) == 12


def test_frame_count_mismatch_is_a_clear_error(decoded, tmp_path):
    src = decoded["root"] / "dec" / "ali.scp"
    labels = read_int_vectors(src)
    first = sorted(labels)[0]
    labels[first] = labels[first][:-1]
    write_int_vectors(tmp_path / "ali.ark", tmp_path / "ali.scp", labels)
    with pytest.raises(FeatureError, match=rf"ali.scp:1: '{first}' has \d+ labels but \d+ "
                                            r"frames in .*utt2num_frames"):
        check_frame_counts(tmp_path / "ali.scp", decoded["data"])
    # merging refuses too, and leaves no merged file behind
    with pytest.raises(FeatureError):
        merge_labels(tmp_path, "merged", [tmp_path / "ali.scp"], decoded["data"])
    assert not (tmp_path / "merged.scp").exists()
    # a missing utterance is an error as well
    del labels[first]
    write_int_vectors(tmp_path / "ali.ark", tmp_path / "ali.scp", labels)
    with pytest.raises(FeatureError, match="1 utterances .* have no labels"):
        check_frame_counts(tmp_path / "ali.scp", decoded["data"])


def test_decoder_checks_utt2num_frames(decoded, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("feats.scp", "utt2spk", "spk2utt", "text"):
        (data / name).write_text((decoded["data"] / name).read_text())
    lines = (decoded["data"] / "utt2num_frames").read_text().splitlines()
    utt, n = lines[2].split()
    lines[2] = f"{utt} {int(n) + 5}"
    (data / "utt2num_frames").write_text("\n".join(lines) + "\n")
    with pytest.raises(FeatureError, match=r"utt2num_frames:3: .* feats.scp has"):
        decode_data_dir(decoded["model"], decoded["graph"], data, tmp_path / "out")
    assert not (tmp_path / "out" / "ali.scp").exists()


def test_merge_cli_reports_file_and_line(decoded, tmp_path):
    dec = decoded["root"] / "dec"
    labels = read_int_vectors(dec / "ali.scp")
    keys = sorted(labels)
    half = {k: labels[k] for k in keys[:6]}
    rest = {k: labels[k] for k in keys[6:]}
    rest[keys[7]] = np.concatenate([rest[keys[7]], [0]]).astype(np.int32)
    out = tmp_path / "jobs"
    for j, part in ((1, half), (2, rest)):
        write_int_vectors(out / f"ali.{j}.ark", out / f"ali.{j}.scp", part)
        write_int_vectors(out / f"ali_phone.{j}.ark", out / f"ali_phone.{j}.scp", part)
        (out / f"phone_seq.{j}").write_text("".join(f"{k} a\n" for k in sorted(part)))
    r = subprocess.run(["lidtool", "asr-merge-ali", "--nj", "2", str(decoded["data"]), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert f"ali.scp:8: '{keys[7]}' has" in r.stderr and r.stderr.startswith("ERROR:")
    assert not (out / "ali.scp").exists()


def test_label_stats_counts_classes_and_dominance(tmp_path):
    write_int_vectors(tmp_path / "a.ark", tmp_path / "a.scp",
                      {"u1": np.array([0, 0, 0, 2]), "u2": np.array([0, 5, 5, 0])})
    s = label_stats(tmp_path / "a.scp", num_classes=8)
    assert (s["utts"], s["frames"], s["distinct_labels"], s["num_classes"]) == (2, 8, 3, 8)
    assert s["most_frequent_label"] == 0 and s["most_frequent_share"] == pytest.approx(5 / 8)
    p = np.array([5, 1, 2]) / 8
    assert s["entropy_bits"] == pytest.approx(float(-(p * np.log2(p)).sum()))
    out = subprocess.run([sys.executable, "-m", "lidtool.bin.asr_label_stats", "--out",
                          str(tmp_path / "s.json"), str(tmp_path / "a.scp")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "s.json").read_text())["distinct_labels"] == 3
