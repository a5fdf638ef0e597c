"""lidtool.features.perturb: Kaldi-style speed / volume perturbation of a data dir."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from lidtool.data.audio import read_audio
from lidtool.data.datadir import DataDir, validate_data_dir
from lidtool.data.tables import read_table
from lidtool.errors import DataDirError
from lidtool.features.perturb import speed_perturb_data_dir, volume_perturb_data_dir

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def test_speed_ids_durations_and_valid_dir(tiny_data_dir, tmp_path):
    (tiny_data_dir / "feats.scp").write_text("".join(
        f"{u} /nowhere.ark:1\n" for u in DataDir(tiny_data_dir).utts))
    out = speed_perturb_data_dir(tiny_data_dir, tmp_path / "sp", [0.9])
    d = validate_data_dir(out, need_lang=True)
    src = DataDir(tiny_data_dir)
    assert d.utts == sorted(f"sp0.9-{u}" for u in src.utts)
    for u in src.utts:
        assert d.utt2spk[f"sp0.9-{u}"] == f"sp0.9-{src.utt2spk[u]}"
        assert d.utt2lang[f"sp0.9-{u}"] == src.utt2lang[u]
        assert float(d.utt2dur[f"sp0.9-{u}"]) == pytest.approx(float(src.utt2dur[u]) / 0.9,
                                                                abs=1e-3)
        assert d.wav_scp[f"sp0.9-{u}"].endswith("speed 0.9 |")
    uniq = read_table(out / "utt2uniq")
    assert uniq["sp0.9-spkA-utt0"] == "spkA-utt0"
    assert sorted(d.spk2utt) == ["sp0.9-spkA", "sp0.9-spkB", "sp0.9-spkC"]
    assert not (out / "feats.scp").exists()      # frame-based tables are not carried over


@needs_sox
def test_speed_audio_really_changes_length(tiny_data_dir, tmp_path):
    out = speed_perturb_data_dir(tiny_data_dir, tmp_path / "sp", [1.1])
    d = DataDir(out)
    for utt in d.utts[:2]:
        samples, sr = read_audio(d.wav_scp[utt], where=d.wav_scp.where(utt))
        assert sr == 16000
        assert samples.size / sr == pytest.approx(float(d.utt2dur[utt]), abs=0.005)


def test_three_way_combination(tiny_data_dir, tmp_path):
    out = speed_perturb_data_dir(tiny_data_dir, tmp_path / "sp3", [0.9, 1.0, 1.1])
    d = validate_data_dir(out)
    src = DataDir(tiny_data_dir)
    assert len(d.utts) == 3 * len(src.utts)
    for u in src.utts:
        assert d.wav_scp[u] == src.wav_scp[u]          # 1.0: originals, unchanged ids
        assert d.utt2dur[u] == src.utt2dur[u]
        assert f"sp0.9-{u}" in d.utt2spk and f"sp1.1-{u}" in d.utt2spk
    # perturbing an already combined dir would collide ids
    with pytest.raises(DataDirError, match="twice"):
        speed_perturb_data_dir(out, tmp_path / "again", [1.0, 0.9, 1.1, 0.8])


def test_segments_are_scaled(tiny_data_dir, tmp_path):
    src = tmp_path / "seg"
    src.mkdir()
    wav = DataDir(tiny_data_dir).wav_scp
    reco_file = wav["spkA-utt0"]
    (src / "wav.scp").write_text(f"rec1 {reco_file}\n")
    (src / "segments").write_text("spkA-a rec1 0.00 0.20\nspkA-b rec1 0.25 0.45\n")
    (src / "utt2spk").write_text("spkA-a spkA\nspkA-b spkA\n")
    (src / "utt2lang").write_text("spkA-a eng\nspkA-b eng\n")
    (src / "reco2dur").write_text("rec1 0.500\n")
    out = speed_perturb_data_dir(src, tmp_path / "seg_sp", [0.9])
    d = validate_data_dir(out)
    assert d.segments["sp0.9-spkA-b"] == "sp0.9-rec1 0.278 0.500"
    assert d.reco2dur["sp0.9-rec1"] == "0.556"
    assert list(d.wav_scp) == ["sp0.9-rec1"]
    assert float(d.utt2dur["sp0.9-spkA-a"]) == pytest.approx(0.222)


def test_bad_factor_and_refusals(tiny_data_dir, tmp_path):
    with pytest.raises(ValueError):
        speed_perturb_data_dir(tiny_data_dir, tmp_path / "x", [3.0])
    with pytest.raises(DataDirError, match="destination is the source"):
        speed_perturb_data_dir(tiny_data_dir, tiny_data_dir, [0.9])
    other = tmp_path / "notadatadir"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    with pytest.raises(DataDirError, match="not a data dir"):
        speed_perturb_data_dir(tiny_data_dir, other, [0.9])
    assert (other / "precious.txt").read_text() == "keep"


@needs_sox
def test_volume_in_place_and_idempotent(tiny_data_dir):
    src = DataDir(tiny_data_dir)
    original = dict(src.wav_scp)
    assert volume_perturb_data_dir(tiny_data_dir, 0.125, 2.0, seed=3)
    d = validate_data_dir(tiny_data_dir)
    gains = read_table(tiny_data_dir / "reco2vol")
    assert sorted(gains) == sorted(original)
    utt = d.utts[0]
    gain = float(gains[utt])
    assert 0.125 <= gain <= 2.0
    assert d.wav_scp[utt].startswith(f"sox -R --vol {gains[utt]} ")
    clean, _ = sf.read(original[utt], dtype="float32")
    loud, _ = read_audio(d.wav_scp[utt])
    expected = np.clip(clean * gain, -1, 32767 / 32768)
    np.testing.assert_allclose(loud, expected, atol=2e-4)
    before = (tiny_data_dir / "wav.scp").read_text()
    assert not volume_perturb_data_dir(tiny_data_dir, seed=4)   # already perturbed: no-op
    assert (tiny_data_dir / "wav.scp").read_text() == before


@needs_sox
def test_shell_wrappers(tiny_data_dir, tmp_path, repo):
    dst = tmp_path / "sp"
    subprocess.run(["utils/perturb_data_dir_speed.sh", "0.9", str(tiny_data_dir), str(dst)],
                   cwd=repo, check=True, capture_output=True)
    subprocess.run(["utils/perturb_data_dir_volume.sh", "--scale-low", "0.5", "--scale-high",
                    "0.6", str(dst)], cwd=repo, check=True, capture_output=True)
    d = validate_data_dir(dst)
    assert all("speed 0.9 |" in v and "sox -R --vol 0.5" in v for v in d.wav_scp.values())
    bad = subprocess.run(["utils/perturb_data_dir_speed.sh", "0.9", str(tmp_path / "missing"),
                          str(tmp_path / "o")], cwd=repo, capture_output=True, text=True)
    assert bad.returncode != 0 and "does not exist" in bad.stderr


@needs_sox
def test_perturbed_audio_is_the_same_at_every_read(tiny_data_dir, tmp_path):
    """sox dithers its output with a random generator unless -R seeds it: without it two
    reads of one perturbed entry differ, and so do features and training (the mini recipe's
    Table 1 numbers changed from run to run)."""
    dst = tmp_path / "sp"
    speed_perturb_data_dir(tiny_data_dir, dst, [0.9])
    volume_perturb_data_dir(dst, 0.5, 2.0, seed=1)
    d = DataDir(dst)
    for utt in d.utts[:2]:
        first, _ = read_audio(d.wav_scp[utt])
        second, _ = read_audio(d.wav_scp[utt])
        np.testing.assert_array_equal(first, second)
