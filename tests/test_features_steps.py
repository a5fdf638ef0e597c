"""compute-feats / compute-vad commands and steps/make_feats.sh / steps/compute_vad.sh."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lidtool.cli import main as lidtool
from lidtool.data.datadir import DataDir, validate_data_dir
from lidtool.errors import FeatureError
from lidtool.features.extract import FeatureConfig, compute_features
from lidtool.features.io import read_matrix, read_vector


def conf(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def kaldi_frames(path):
    n = sf.info(str(path)).frames
    return 1 + (n - 400) // 160


def run_step(repo, *args):
    return subprocess.run(list(args), cwd=repo, capture_output=True, text=True)


def test_compute_feats_one_job(tiny_data_dir, tmp_path):
    cfg_path = conf(tmp_path, "mfcc_pitch.conf", "--num-ceps=20\n")
    arks = tmp_path / "arks"
    assert lidtool(["compute-feats", "--config", str(cfg_path), "--write-utt2num-frames",
                    str(tiny_data_dir), str(arks)]) == 0
    scp = arks / "raw_mfcc_pitch_tiny.1.scp"
    frames = dict(line.split() for line in
                  (arks / "raw_mfcc_pitch_tiny.1.utt2num_frames").read_text().splitlines())
    d = DataDir(tiny_data_dir)
    cfg = FeatureConfig.from_file(cfg_path)
    for line in scp.read_text().splitlines():
        utt, rx = line.split()
        mat = read_matrix(rx)
        assert mat.shape == (kaldi_frames(d.wav_scp[utt]), 23) == (int(frames[utt]), 23)
        samples, sr = sf.read(d.wav_scp[utt], dtype="float32")
        np.testing.assert_array_equal(mat, compute_features(samples, sr, cfg))


def test_failing_job_leaves_no_output_and_names_the_line(tiny_data_dir, tmp_path, capsys):
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(300, np.float32), 16000, subtype="PCM_16")
    lines = (tiny_data_dir / "wav.scp").read_text().splitlines()
    utt = lines[3].split()[0]
    lines[3] = f"{utt} {short}"
    (tiny_data_dir / "wav.scp").write_text("\n".join(lines) + "\n")
    cfg_path = conf(tmp_path, "fbank.conf", "--num-mel-bins=40\n")
    arks = tmp_path / "arks"
    assert lidtool(["compute-feats", "--config", str(cfg_path), "--write-utt2num-frames",
                    str(tiny_data_dir), str(arks)]) == 1
    err = capsys.readouterr().err
    assert f"{tiny_data_dir / 'wav.scp'}:4" in err and "shorter than one" in err
    assert list(arks.iterdir()) == []


def test_compute_vad_from_fbank_uses_audio_energy(tiny_data_dir, tmp_path):
    fb = conf(tmp_path, "fbank.conf", "--num-mel-bins=40\n")
    mf = conf(tmp_path, "mfcc.conf", "--num-ceps=13\n")
    for cfg_path, sub in ((fb, "fb"), (mf, "mf")):
        assert lidtool(["compute-feats", "--config", str(cfg_path), str(tiny_data_dir),
                        str(tmp_path / sub)]) == 0
    vads = {}
    for sub, cfg_path, typ in (("fb", fb, "fbank"), ("mf", mf, "mfcc")):
        d = tmp_path / f"data_{sub}"
        d.mkdir()
        for name in ("wav.scp", "utt2spk", "spk2utt", "utt2lang"):
            (d / name).write_text((tiny_data_dir / name).read_text())
        (d / "feats.scp").write_text((tmp_path / sub / f"raw_{typ}_tiny.1.scp").read_text())
        assert lidtool(["compute-vad", "--feat-config", str(cfg_path), str(d),
                        str(tmp_path / sub)]) == 0
        scp = tmp_path / sub / f"vad_data_{sub}.1.scp"
        vads[sub] = {u: read_vector(rx) for u, rx in
                     (line.split() for line in scp.read_text().splitlines())}
    # fbank's VAD (log energy from the audio) equals MFCC's (C0 = the same log energy)
    assert vads["fb"].keys() == vads["mf"].keys()
    for utt in vads["fb"]:
        np.testing.assert_array_equal(vads["fb"][utt], vads["mf"][utt])
        assert vads["fb"][utt].sum() > 0


def test_make_feats_and_compute_vad_scripts(tiny_data_dir, tmp_path, repo):
    cfg = repo / "conf_templates" / "features" / "mfcc_pitch.conf"
    log_dir, feat_dir = tmp_path / "exp" / "make_feats", tmp_path / "mfcc"
    r = run_step(repo, "steps/make_feats.sh", "--nj", "2", "--cmd", "utils/run_local.sh",
                 "--feat-config", str(cfg), str(tiny_data_dir), str(log_dir), str(feat_dir))
    assert r.returncode == 0, r.stderr
    d = validate_data_dir(tiny_data_dir, need_feats=True)
    assert list(d.feats_scp) == d.utts
    for utt in d.utts:
        assert int(d.utt2num_frames[utt]) == kaldi_frames(d.wav_scp[utt])
        assert read_matrix(d.feats_scp[utt]).shape == (int(d.utt2num_frames[utt]), 23)
    assert (log_dir / "make_feats_mfcc_pitch_tiny.done").is_file()
    # a second run is skipped
    r = run_step(repo, "steps/make_feats.sh", "--nj", "2", "--feat-config", str(cfg),
                 str(tiny_data_dir), str(log_dir), str(feat_dir))
    assert r.returncode == 0 and "skipping" in r.stderr

    vad_conf = repo / "conf_templates" / "features" / "vad.conf"
    r = run_step(repo, "steps/compute_vad.sh", "--nj", "3", "--vad-config", str(vad_conf),
                 str(tiny_data_dir), str(tmp_path / "exp" / "vad"), str(feat_dir))
    assert r.returncode == 0, r.stderr
    d = validate_data_dir(tiny_data_dir, need_feats=True)
    assert list(d.vad_scp) == d.utts
    for utt in d.utts:
        vad = read_vector(d.vad_scp[utt])
        assert vad.shape == (int(d.utt2num_frames[utt]),) and vad.sum() > 0


def test_make_feats_failure_leaves_no_feats_scp(tiny_data_dir, tmp_path, repo):
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(200, np.float32), 16000, subtype="PCM_16")
    lines = (tiny_data_dir / "wav.scp").read_text().splitlines()
    lines[4] = f"{lines[4].split()[0]} {short}"
    (tiny_data_dir / "wav.scp").write_text("\n".join(lines) + "\n")
    cfg = repo / "conf_templates" / "features" / "fbank.conf"
    log_dir, feat_dir = tmp_path / "log", tmp_path / "fbank"
    r = run_step(repo, "steps/make_feats.sh", "--nj", "2", "--feat-config", str(cfg),
                 str(tiny_data_dir), str(log_dir), str(feat_dir))
    assert r.returncode != 0
    assert "make_feats_fbank_tiny" in r.stderr
    assert not (tiny_data_dir / "feats.scp").exists()
    assert not (log_dir / "make_feats_fbank_tiny.done").exists()
    # the job holding the short file (job 2 of 2) left nothing under the final names
    assert not (feat_dir / "raw_fbank_tiny.2.ark").exists()
    assert not (feat_dir / "raw_fbank_tiny.2.scp").exists()
    log2 = (log_dir / "make_feats_fbank_tiny.2.log").read_text()
    # the error names the user's wav.scp line (5), not that of the split copy (2)
    assert f"{tiny_data_dir}/wav.scp:5" in log2 and "shorter than one" in log2


def test_make_feats_usage_errors(tiny_data_dir, tmp_path, repo):
    r = run_step(repo, "steps/make_feats.sh", "--feat-config", str(tmp_path / "none.conf"),
                 str(tiny_data_dir))
    assert r.returncode != 0 and "does not exist" in r.stderr
    r = run_step(repo, "steps/make_feats.sh", "--bogus", "1", str(tiny_data_dir))
    assert r.returncode != 0 and "unknown option" in r.stderr
    r = run_step(repo, "steps/compute_vad.sh", str(tiny_data_dir))
    assert r.returncode != 0 and "feats.scp does not exist" in r.stderr


@pytest.mark.parametrize("speeds", ["0.9", "0.9,1.0,1.1"])
def test_perturb_cli(tiny_data_dir, tmp_path, speeds):
    dst = tmp_path / "sp"
    assert lidtool(["perturb-data-dir", "--speed", speeds, str(tiny_data_dir), str(dst)]) == 0
    n = len(DataDir(tiny_data_dir).utts) * len(speeds.split(","))
    assert len(validate_data_dir(dst).utts) == n
    assert lidtool(["perturb-data-dir", "--speed", "abc", str(tiny_data_dir), str(dst)]) == 1


@pytest.mark.skipif(__import__("shutil").which("sox") is None, reason="sox is not installed")
def test_perturbed_dir_through_make_feats_has_kaldi_frame_counts(tiny_data_dir, tmp_path, repo):
    from lidtool.data.audio import read_audio
    sp = tmp_path / "tiny_sp"
    assert lidtool(["perturb-data-dir", "--speed", "0.9,1.0,1.1", str(tiny_data_dir),
                    str(sp)]) == 0
    assert lidtool(["perturb-data-dir", "--volume", str(sp)]) == 0
    cfg = repo / "conf_templates" / "features" / "mfcc.conf"
    r = run_step(repo, "steps/make_feats.sh", "--nj", "3", "--feat-config", str(cfg), str(sp),
                 str(tmp_path / "log"), str(tmp_path / "mfcc"))
    assert r.returncode == 0, r.stderr
    d = validate_data_dir(sp, need_feats=True)
    for utt in d.utts:
        samples, _ = read_audio(d.wav_scp[utt])
        assert int(d.utt2num_frames[utt]) == 1 + (samples.size - 400) // 160


def checksums(*paths):
    import hashlib
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def arks_of(scp):
    return sorted({line.split()[1].rsplit(":", 1)[0] for line in scp.read_text().splitlines()})


def make_feats_and_vad(repo, data, tmp_path):
    """steps/make_feats.sh (fbank, 2 jobs) then steps/compute_vad.sh (energy from the audio)."""
    cfg = repo / "conf_templates" / "features" / "fbank.conf"
    feat_dir, logs = tmp_path / "fbank", tmp_path / "exp"
    r = run_step(repo, "steps/make_feats.sh", "--nj", "2", "--feat-config", str(cfg),
                 str(data), str(logs / "feats"), str(feat_dir))
    if r.returncode == 0:
        r = run_step(repo, "steps/compute_vad.sh", "--nj", "2", "--feat-config", str(cfg),
                     str(data), str(logs / "vad"), str(feat_dir))
    return r, feat_dir, logs


def test_failed_reextraction_leaves_the_data_dir_intact(tiny_data_dir, tmp_path, repo):
    r, feat_dir, logs = make_feats_and_vad(repo, tiny_data_dir, tmp_path)
    assert r.returncode == 0, r.stderr
    tables = [tiny_data_dir / n for n in ("feats.scp", "vad.scp", "utt2num_frames")]
    arks = [Path(a) for scp in tables[:2] for a in arks_of(scp)]
    assert len(arks) == 4 and all(a.parent == feat_dir for a in arks)
    before, files_before = checksums(*tables, *arks), sorted(feat_dir.iterdir())
    # a re-extraction whose job 2 cannot read its audio
    wav = Path(DataDir(tiny_data_dir).wav_scp[DataDir(tiny_data_dir).utts[-1]])
    wav.write_bytes(b"not a wav file")
    for marker in logs.rglob("*.done"):
        marker.unlink()
    r = run_step(repo, "steps/make_feats.sh", "--nj", "2", "--feat-config",
                 str(repo / "conf_templates" / "features" / "fbank.conf"),
                 str(tiny_data_dir), str(logs / "feats"), str(feat_dir))
    assert r.returncode != 0 and "feature extraction failed" in r.stderr
    r = run_step(repo, "steps/compute_vad.sh", "--nj", "2", "--feat-config",
                 str(repo / "conf_templates" / "features" / "fbank.conf"),
                 str(tiny_data_dir), str(logs / "vad"), str(feat_dir))
    assert r.returncode != 0 and "VAD failed" in r.stderr
    assert checksums(*tables, *arks) == before
    # the failed runs' archives (job 1 succeeded) are gone; the old ones are still readable
    assert sorted(feat_dir.iterdir()) == files_before
    from lidtool.features.readable import check_readable
    assert check_readable(validate_data_dir(tiny_data_dir, need_feats=True)) == \
        {"checked": 6, "dim": 40}


def test_successful_rerun_swaps_in_and_leaves_no_stale_archives(tiny_data_dir, tmp_path, repo):
    r, feat_dir, logs = make_feats_and_vad(repo, tiny_data_dir, tmp_path)
    assert r.returncode == 0, r.stderr
    old_arks = arks_of(tiny_data_dir / "feats.scp") + arks_of(tiny_data_dir / "vad.scp")
    old_feats = (tiny_data_dir / "feats.scp").read_text()
    # leftovers of a job killed with -9 in some earlier run
    (feat_dir / ".raw_fbank_tiny.17.2.ark.x1y2.tmp").write_bytes(b"partial")
    for marker in logs.rglob("*.done"):
        marker.unlink()
    r, _, _ = make_feats_and_vad(repo, tiny_data_dir, tmp_path)
    assert r.returncode == 0, r.stderr
    new_arks = arks_of(tiny_data_dir / "feats.scp") + arks_of(tiny_data_dir / "vad.scp")
    assert len(new_arks) == 4 and not set(new_arks) & set(old_arks)
    assert not any(Path(a).exists() for a in old_arks)
    # the feature dir holds exactly the new run's ark, scp (and utt2num_frames) per job
    expected = set()
    for a in new_arks:
        base = a[:-len(".ark")]
        expected |= {a, base + ".scp"} | ({base + ".utt2num_frames"} if "/raw_" in a else set())
    assert {str(p) for p in feat_dir.iterdir()} == expected
    assert (tiny_data_dir / ".backup" / "feats.scp").read_text() == old_feats
    assert not list(tiny_data_dir.glob(".*.new"))
    d = validate_data_dir(tiny_data_dir, need_feats=True)
    from lidtool.features.readable import check_readable
    assert check_readable(d)["checked"] == 6


def validate_sh(repo, *args):
    return run_step(repo, "utils/validate_data_dir.sh", *map(str, args))


def test_validate_check_readable_catches_a_truncated_ark(tiny_data_dir, tmp_path, repo):
    r, feat_dir, _ = make_feats_and_vad(repo, tiny_data_dir, tmp_path)
    assert r.returncode == 0, r.stderr
    r = validate_sh(repo, "--check-readable", "all", tiny_data_dir)
    assert r.returncode == 0 and "6 read, dim 40" in r.stdout, r.stderr
    ark = Path(arks_of(tiny_data_dir / "feats.scp")[-1])  # job 2: the last 3 utterances
    ark.write_bytes(ark.read_bytes()[: ark.stat().st_size // 2])
    assert validate_sh(repo, tiny_data_dir).returncode == 0  # the tables alone look fine
    r = validate_sh(repo, "--check-readable", "all", tiny_data_dir)
    assert r.returncode == 1
    assert f"{tiny_data_dir / 'feats.scp'}:5: cannot read matrix" in r.stderr
    # a sample of 2 of the first 3 utterances' worth would not see it; all 6 do
    r = validate_sh(repo, "--check-readable", "6", tiny_data_dir)
    assert r.returncode == 1 and "feats.scp:5" in r.stderr
    r = validate_sh(repo, "--check-readable", "x", tiny_data_dir)
    assert r.returncode != 0 and "'all' or a positive integer" in r.stderr


def test_check_readable_catches_wrong_lengths(tiny_data_dir, tmp_path, repo):
    from lidtool.features.readable import check_readable
    r, _, _ = make_feats_and_vad(repo, tiny_data_dir, tmp_path)
    assert r.returncode == 0, r.stderr
    vad = (tiny_data_dir / "vad.scp").read_text().splitlines()
    # utterance 2 gets utterance 6's VAD (6 is the longest: 1.0 s against 0.6 s)
    vad[1] = vad[1].split()[0] + " " + vad[5].split()[1]
    (tiny_data_dir / "vad.scp").write_text("\n".join(vad) + "\n")
    with pytest.raises(FeatureError, match=r"vad.scp:2: utterance 'spkA-utt1': VAD has 98 "
                                           r"frames but its features have 58"):
        check_readable(DataDir(tiny_data_dir))
    (tiny_data_dir / "vad.scp").unlink()
    u2nf = (tiny_data_dir / "utt2num_frames").read_text().replace("spkB-utt3 78", "spkB-utt3 77")
    (tiny_data_dir / "utt2num_frames").write_text(u2nf)
    with pytest.raises(FeatureError, match=r"feats.scp:4: utterance 'spkB-utt3' has 78 frames "
                                           r"but utt2num_frames says 77"):
        check_readable(DataDir(tiny_data_dir))
