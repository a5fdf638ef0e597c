import json
import subprocess

import pytest
from lhotse import RecordingSet, SupervisionSet

from lidtool.data.datadir import DataDir, validate_data_dir
from lidtool.data.lhotse_io import (data_dir_to_cuts, data_dir_to_manifests,
                                    manifests_to_data_dir)
from lidtool.data.longtail import longtail_subset, longtail_targets
from lidtool.errors import DataDirError

from conftest import make_wav, write_lines


def test_kaldi_lhotse_roundtrip_keeps_language(tiny_data_dir, tmp_path):
    recs, sups = data_dir_to_manifests(tiny_data_dir)
    assert len(recs) == 6
    assert sups["spkB-utt2"].language == "fra" and sups["spkB-utt2"].speaker == "spkB"
    assert sups["spkA-utt0"].duration == pytest.approx(0.5)
    out = manifests_to_data_dir(recs, sups, tmp_path / "back")
    for name in ("wav.scp", "utt2spk", "spk2utt", "utt2lang"):
        assert (out / name).read_text() == (tiny_data_dir / name).read_text(), name
    assert not (out / "segments").exists()
    cuts = data_dir_to_cuts(tiny_data_dir)
    assert cuts["spkC-utt5"].supervisions[0].language == "fra"


def test_segments_roundtrip(tmp_path):
    reco = make_wav(tmp_path / "r.wav", 3.0, 300)
    d = tmp_path / "d"
    d.mkdir()
    write_lines(d / "wav.scp", [f"r1 {reco}"])
    write_lines(d / "segments", ["r1-0 r1 0.0 1.0", "r1-1 r1 1.5 3.0"])
    write_lines(d / "utt2spk", ["r1-0 s", "r1-1 s"])
    write_lines(d / "utt2lang", ["r1-0 deu", "r1-1 ita"])
    recs, sups = data_dir_to_manifests(d)
    out = manifests_to_data_dir(recs, sups, tmp_path / "out")
    assert (out / "segments").read_text() == "r1-0 r1 0.000 1.000\nr1-1 r1 1.500 3.000\n"
    assert (out / "lang2utt").read_text() == "deu r1-0\nita r1-1\n"


def test_supervision_without_language_is_an_error(tiny_data_dir, tmp_path):
    recs, sups = data_dir_to_manifests(tiny_data_dir)
    sups = SupervisionSet.from_segments([s.with_language(None) if s.id == "spkA-utt1" else s
                                         for s in sups]) if hasattr(sups[0], "with_language") \
        else SupervisionSet.from_segments(
            [s if s.id != "spkA-utt1" else type(s)(**{**s.to_dict(), "language": None})
             for s in sups])
    with pytest.raises(DataDirError, match="spkA-utt1: supervision has no language"):
        manifests_to_data_dir(recs, sups, tmp_path / "out")


def test_cli_manifests_roundtrip(tiny_data_dir, tmp_path):
    subprocess.run(["lidtool", "kaldi-to-lhotse", str(tiny_data_dir), str(tmp_path / "m"),
                    "--prefix", "tiny_"], check=True)
    subprocess.run(["lidtool", "lhotse-to-kaldi", str(tmp_path / "k"),
                    "--recordings", str(tmp_path / "m" / "tiny_recordings.jsonl.gz"),
                    "--supervisions", str(tmp_path / "m" / "tiny_supervisions.jsonl.gz")],
                   check=True)
    recs = RecordingSet.from_file(tmp_path / "m" / "tiny_recordings.jsonl.gz").to_eager()
    assert recs["spkA-utt0"].duration == pytest.approx(0.5)
    assert (tmp_path / "k" / "utt2lang").read_text() == (tiny_data_dir / "utt2lang").read_text()


def test_longtail_targets_geometric():
    t = longtail_targets({"a": 1000, "b": 1000, "c": 1000}, beta=4.0)
    # mu = 4^(-1/2) = 0.5; N_0 limited by nothing but 'a': 1000, 500, 250
    assert [round(t[k]) for k in "abc"] == [1000, 500, 250]
    # availability of the smallest class limits N_0: c can give only 100 -> 400, 200, 100
    t = longtail_targets({"a": 1000, "b": 1000, "c": 100}, beta=4.0, order=["a", "b", "c"])
    assert [round(t[k]) for k in "abc"] == [400, 200, 100]
    t = longtail_targets({"a": 100, "b": 100}, beta=1, proportions=[58.0, 29.0])
    assert t == {"a": 100.0, "b": 50.0}


def _big_dir(tmp_path, per_lang):
    d = tmp_path / "big"
    d.mkdir()
    wav, u2s, u2l, u2d = [], [], [], []
    for lang, n in per_lang.items():
        for i in range(n):
            u = f"{lang}-{i:04d}"
            wav.append(f"{u} /dev/null")
            u2s.append(f"{u} {lang}-spk{i % 3}")
            u2l.append(f"{u} {lang}")
            u2d.append(f"{u} {1 + i % 5}")
    for name, lines in (("wav.scp", wav), ("utt2spk", u2s), ("utt2lang", u2l), ("utt2dur", u2d)):
        write_lines(d / name, sorted(lines))
    return d


def test_longtail_subset_ratio_and_determinism(tmp_path):
    src = _big_dir(tmp_path, {"x": 200, "y": 200, "z": 200, "w": 200})
    kept = longtail_subset(src, tmp_path / "lt", beta=8.0, order=["w", "x", "y", "z"], seed=3)
    assert kept == {"w": 200, "x": 100, "y": 50, "z": 25}
    d = validate_data_dir(tmp_path / "lt", need_lang=True)
    assert len(d.utts) == 375
    longtail_subset(src, tmp_path / "lt2", beta=8.0, order=["w", "x", "y", "z"], seed=3)
    assert (tmp_path / "lt" / "utt2lang").read_text() == \
        (tmp_path / "lt2" / "utt2lang").read_text()
    longtail_subset(src, tmp_path / "lt3", beta=8.0, order=["w", "x", "y", "z"], seed=4)
    assert (tmp_path / "lt" / "utt2lang").read_text() != \
        (tmp_path / "lt3" / "utt2lang").read_text()


def test_longtail_by_hours(tmp_path):
    src = _big_dir(tmp_path, {"x": 100, "y": 100})
    kept = longtail_subset(src, tmp_path / "lt", beta=3.0, by="hours")
    d = DataDir(tmp_path / "lt")
    secs = {lang: sum(float(d.utt2dur[u]) for u in d.utts if d.utt2lang[u] == lang)
            for lang in ("x", "y")}
    assert secs["x"] == pytest.approx(300, abs=5) and secs["y"] == pytest.approx(100, abs=5)
    assert kept["x"] == pytest.approx(secs["x"] / 3600)


def test_longtail_cli_unknown_language(tmp_path):
    src = _big_dir(tmp_path, {"x": 10, "y": 10})
    r = subprocess.run(["lidtool", "longtail-subset", str(src), str(tmp_path / "o"),
                        "--order", "x,q"], capture_output=True, text=True)
    assert r.returncode == 1 and "utt2lang: languages ['q'] do not occur" in r.stderr
    r = subprocess.run(["lidtool", "longtail-subset", str(src), str(tmp_path / "o"),
                        "--beta", "2"], capture_output=True, text=True, check=True)
    assert json.loads(r.stdout) == {"x": 10.0, "y": 5.0}
