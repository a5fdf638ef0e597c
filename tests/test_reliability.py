"""The reliability contract: how lidtool meets bad input and interrupted runs.

One test per kind of bad input. Each runs the command a user would run and asserts that

  - it fails with exit status 1 and one `ERROR:` line naming the file to fix (and its line
    where there is one), or, for input that still gives a usable result, a warning naming
    the utterance and a count in the stage's summary line;
  - no output that existed before changed (checksums of the output files before and after).

The fault test at the end kills (-9) a feature job, a training run and an inference job at
seeded random moments, re-runs them, and requires outputs equal to an uninterrupted run.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

from lidtool.cli import main as cli
from lidtool.data import audio
from lidtool.train import checkpoint as ckpt_io
from conftest import REPO, make_wav
from test_inference_checks import train_tiny_model
from test_train_data import make_feats_dir, write_tiny_config

torch.set_num_threads(1)
MFCC = "--num-ceps=13\n"


# -- helpers -----------------------------------------------------------------------------------
def checksums(*paths) -> dict[str, str]:
    """sha1 of every file under `paths` (files or folders)."""
    out = {}
    for p in map(Path, paths):
        files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()) \
            if p.is_dir() else []
        for f in files:
            if not f.name.endswith(".lock"):        # a lock file holds its holder's pid
                out[str(f)] = hashlib.sha1(f.read_bytes()).hexdigest()
    return out


def fails(capsys, argv, names: str, *outputs) -> str:
    """Run `lidtool argv`: exit 1, the error line contains `names`, `outputs` unchanged."""
    before = checksums(*outputs)
    capsys.readouterr()
    assert cli([str(a) for a in argv]) == 1
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("ERROR: ")]
    assert line and names in line[-1], err
    assert checksums(*outputs) == before
    return line[-1]


def edit_line(path: Path, index: int, new: str | None) -> None:
    lines = path.read_text().splitlines()
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    path.write_text("".join(x + "\n" for x in lines))


@pytest.fixture
def mfcc_conf(tmp_path) -> Path:
    conf = tmp_path / "mfcc.conf"
    conf.write_text(MFCC)
    return conf


@pytest.fixture
def featured(tiny_data_dir, tmp_path, mfcc_conf):
    """tiny_data_dir with an existing feature job output (the output to keep intact)."""
    ark = tmp_path / "ark"
    assert cli(["compute-feats", "--config", str(mfcc_conf), str(tiny_data_dir), str(ark)]) == 0
    return tiny_data_dir, ark


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel_model")
    return (root, *train_tiny_model(root, "train.ckpt_every=2"))


# -- audio -------------------------------------------------------------------------------------
def test_missing_audio(featured, capsys, mfcc_conf):
    d, ark = featured
    wav = (d / "wav.scp").read_text().splitlines()[2].split()[1]
    Path(wav).unlink()
    fails(capsys, ["compute-feats", "--config", mfcc_conf, d, ark],
          f"{d}/wav.scp:3: audio file '{wav}' does not exist", ark)


def test_empty_audio(featured, capsys, mfcc_conf):
    d, ark = featured
    wav = Path((d / "wav.scp").read_text().splitlines()[1].split()[1])
    sf.write(wav, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    fails(capsys, ["compute-feats", "--config", mfcc_conf, d, ark], f"{d}/wav.scp:2", ark)


def test_corrupt_audio(featured, capsys, mfcc_conf):
    d, ark = featured
    wav = Path((d / "wav.scp").read_text().splitlines()[0].split()[1])
    wav.write_bytes(b"RIFF\x00\x00garbage" * 10)
    msg = fails(capsys, ["compute-feats", "--config", mfcc_conf, d, ark], f"{d}/wav.scp:1", ark)
    assert "cannot read audio" in msg


def test_sample_rate_mismatch(featured, capsys, mfcc_conf):
    d, ark = featured
    wav = Path((d / "wav.scp").read_text().splitlines()[3].split()[1])
    make_wav(wav, 0.5, 300.0, sr=8000)
    msg = fails(capsys, ["compute-feats", "--config", mfcc_conf, d, ark], f"{d}/wav.scp:4", ark)
    assert "8000 Hz" in msg and "16000 Hz" in msg


def test_truncated_and_stereo_audio_warn_and_are_counted(tiny_data_dir, tmp_path, mfcc_conf,
                                                         caplog):
    d = tiny_data_dir
    wavs = [Path(x.split()[1]) for x in (d / "wav.scp").read_text().splitlines()]
    data = wavs[0].read_bytes()
    wavs[0].write_bytes(data[: len(data) // 2 // 2 * 2])
    x, sr = sf.read(wavs[2], dtype="float32")
    sf.write(wavs[2], np.stack([x, x], 1), sr, subtype="PCM_16")
    audio.ISSUES.clear()
    with caplog.at_level(logging.INFO):
        assert cli(["compute-feats", "--config", str(mfcc_conf), str(d),
                    str(tmp_path / "ark")]) == 0
    assert f"{d}/wav.scp:1: utterance 'spkA-utt0'" in caplog.text and "truncated" in caplog.text
    assert f"{d}/wav.scp:3: utterance 'spkB-utt2'" in caplog.text and "2 channels" in caplog.text
    assert "audio warnings: 1 multi-channel, 1 truncated" in caplog.text


def test_split_job_error_names_the_users_wav_scp_line(featured, capsys, mfcc_conf):
    from lidtool.data.datadir import split_data_dir
    d, ark = featured
    wav = (d / "wav.scp").read_text().splitlines()[5].split()[1]
    Path(wav).unlink()
    part = split_data_dir(d, 2)[1]
    msg = fails(capsys, ["compute-feats", "--config", mfcc_conf, part, ark],
                f"{d}/wav.scp:6: audio file", ark)
    assert "split2" not in msg


# -- tables ------------------------------------------------------------------------------------
def test_unsorted_table(featured, capsys, mfcc_conf):
    d, ark = featured
    lines = (d / "utt2spk").read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    (d / "utt2spk").write_text("\n".join(lines) + "\n")
    fails(capsys, ["validate-data-dir", d], f"{d}/utt2spk:3: not sorted", ark)


def test_duplicate_entry(featured, capsys):
    d, ark = featured
    lines = (d / "utt2lang").read_text().splitlines()
    (d / "utt2lang").write_text("\n".join(lines[:2] + [lines[1]] + lines[2:]) + "\n")
    fails(capsys, ["validate-data-dir", d], f"{d}/utt2lang:3: duplicate key", ark)


def test_missing_table_entry(featured, capsys):
    d, ark = featured
    edit_line(d / "utt2lang", 4, None)
    fails(capsys, ["validate-data-dir", d], f"{d}/utt2lang", ark)


def test_ids_that_are_not_utf8(featured, capsys):
    d, ark = featured
    text = (d / "utt2lang").read_bytes().replace(b"spkC-utt4", b"spkC-utt\xe94")
    (d / "utt2lang").write_bytes(text)
    msg = fails(capsys, ["validate-data-dir", d], f"{d}/utt2lang:5: not valid UTF-8", ark)
    assert "0xe9" in msg


# -- features and models -----------------------------------------------------------------------
def test_nan_features(model, tmp_path, capsys):
    root, final, conf, _ = model
    d = make_feats_dir(tmp_path / "nan", counts=(2, 2))
    feats = kaldiio.load_scp(str(d / "feats.scp"))
    bad = {u: m for u, m in feats.items()}
    bad["lang1-u000"] = bad["lang1-u000"].copy()
    bad["lang1-u000"][3, 2] = np.nan
    kaldiio.save_ark(str(d / "feats.ark"), bad, scp=str(d / "feats.scp"))
    scores = tmp_path / "scores"
    scores.write_text("old\n")
    fails(capsys, ["infer", final, d, scores], f"{d}/feats.scp:3", scores)


def test_wrong_feature_dimension(model, tmp_path, capsys):
    _, final, _, _ = model
    d = make_feats_dir(tmp_path / "dim23", counts=(2, 2), dim=23)
    scores = tmp_path / "scores"
    scores.write_text("old\n")
    msg = fails(capsys, ["infer", final, d, scores], f"{d}/feats.scp:1", scores)
    assert str(final) in msg and "dimension 23" in msg and "expects 8" in msg


def test_short_utterance_at_inference_warns(model, tmp_path, caplog):
    _, final, _, _ = model
    d = make_feats_dir(tmp_path / "short", counts=(2, 2), short=1)
    with caplog.at_level(logging.INFO):
        assert cli(["infer", str(final), str(d), str(tmp_path / "scores")]) == 0
    assert f"{d}/feats.scp:3: 'lang0-u002' has only" in caplog.text
    assert "1 shorter than 20 frames (warned)" in caplog.text


def test_unknown_language(model, tmp_path, capsys):
    root, _, conf, data = model
    lang2id = tmp_path / "lang2id"
    lang2id.write_text("lang0 0\n")
    exp = tmp_path / "exp"
    fails(capsys, ["train", "--config", conf, "--class2id", lang2id, data, exp],
          f"{data}/utt2lang:5: label 'lang1'", data)
    assert not exp.exists() or not any(exp.rglob("*.pt"))


def test_corrupt_checkpoint(model, tmp_path, capsys):
    _, final, _, data = model
    bad = tmp_path / "final.pt"
    bad.write_bytes(final.read_bytes()[:1000])
    scores = tmp_path / "scores"
    scores.write_text("old\n")
    fails(capsys, ["infer", bad, data, scores], f"{bad}: cannot read it", scores)


def test_incomplete_scores(model, tmp_path, capsys):
    _, final, _, data = model
    scores = tmp_path / "scores"
    assert cli(["infer", str(final), str(data), str(scores)]) == 0
    edit_line(scores, 5, None)
    out = tmp_path / "metrics.png"
    fails(capsys, ["score", scores, data / "utt2lang", "--confusion-png", out], str(scores),
          scores)
    assert not out.exists()


# -- configs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("override,text", [
    ("wma.enabled='false'", "{conf}: wma.enabled must be true or false"),
    ("train.steps=true", "{conf}: train.steps must be an integer"),
    ("sched=0.1", "--override: 'sched' must be a mapping"),
])
def test_config_values_are_typed(model, tmp_path, capsys, override, text):
    _, _, conf, data = model
    exp = tmp_path / "exp"
    fails(capsys, ["train", "--config", conf, "--override", override, data, exp],
          text.format(conf=conf), conf)
    assert not exp.exists()


def test_resume_with_a_changed_config(model, tmp_path, capsys):
    root, _, conf, data = model
    exp = root / "exp"
    ckpt = ckpt_io.latest_checkpoint(exp)
    msg = fails(capsys, ["train", "--config", conf, "--override", "train.steps=6",
                         "--override", "optim.lr=0.01", data, exp], f"{ckpt}:", exp)
    assert "optim.lr: 0.05 -> 0.01" in msg and "--allow-config-change" in msg


def test_failed_checkpoint_save(model, tmp_path, capsys, monkeypatch):
    import errno
    _, _, conf, data = model
    exp = tmp_path / "exp"
    assert cli(["train", "--config", str(conf), "--override", "train.steps=2",
                "--override", "train.ckpt_every=1", str(data), str(exp)]) == 0

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", full_disk)
    msg = fails(capsys, ["train", "--config", conf, "--override", "train.steps=3",
                         "--override", "train.ckpt_every=1", data, exp],
                f"{exp}/checkpoints/ckpt-00000003.pt: could not be written", exp / "checkpoints",
                exp / "final.pt")
    assert "disk full" in msg


# -- interrupted runs --------------------------------------------------------------------------
def _run(args, env) -> float:
    """Run `lidtool args` to the end; its wall time."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "lidtool.cli", *map(str, args)], env=env,
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return time.time() - t0


def _killed_then_rerun(args, outputs, delays, env) -> str:
    """Start `args` and SIGKILL it after each of `delays` seconds, then run it to the end.
    Returns the final run's log. A killed writer may leave its hidden temp file
    (.<name>.*.tmp: SIGKILL allows no clean-up), never a file under a final name: the
    visible files under `outputs` are those of one complete run."""
    landed = 0
    for delay in delays:
        proc = subprocess.Popen([sys.executable, "-m", "lidtool.cli", *map(str, args)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            landed += 1
        proc.wait()
    assert landed, "no kill landed while the command ran"
    proc = subprocess.run([sys.executable, "-m", "lidtool.cli", *map(str, args)], env=env,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    for p in Path(outputs).rglob("*"):
        assert p.name.startswith(".") or p.is_dir() or _complete(p), p
    return proc.stderr.decode()


def _complete(path: Path) -> bool:
    if path.suffix == ".pt":
        torch.load(path, weights_only=True)
    elif path.suffix == ".scp":
        assert all(v.size for v in kaldiio.load_scp(str(path)).values())
    return True


@pytest.mark.slow
def test_kill_9_at_random_points_then_rerun_gives_the_same_outputs(tmp_path, tiny_data_dir,
                                                                    mfcc_conf):
    """Kill points are seeded fractions of the uninterrupted run's time (which includes the
    interpreter's start-up), so some land in start-up and some mid-work."""
    rng = random.Random(14)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}

    def points(seconds: float, n: int = 2) -> list[float]:
        return [seconds * rng.uniform(0.4, 0.95) for _ in range(n)]
    # features: one job
    args = ["compute-feats", "--config", mfcc_conf, tiny_data_dir]
    ref, run = tmp_path / "ark_ref", tmp_path / "ark_run"
    took = _run(args + [ref], env)
    _killed_then_rerun(args + [run], run, points(took), env)
    assert (run / "raw_mfcc_tiny.1.ark").read_bytes() == (ref / "raw_mfcc_tiny.1.ark").read_bytes()
    assert (run / "raw_mfcc_tiny.1.scp").read_text() == \
        (ref / "raw_mfcc_tiny.1.scp").read_text().replace(str(ref), str(run))
    # training: resumes from its last checkpoint and ends with bit-identical weights
    data = make_feats_dir(tmp_path / "train", counts=(4, 4))
    conf = write_tiny_config(tmp_path / "c.yaml")
    train = ["train", "--config", conf, "--override", "train.steps=60",
             "--override", "train.ckpt_every=5", data]
    took = _run(train + [tmp_path / "exp_ref"], env)
    log = _killed_then_rerun(train + [tmp_path / "exp_run"], tmp_path / "exp_run",
                             points(took), env)
    ref_w = torch.load(tmp_path / "exp_ref" / "final.pt", weights_only=True)["model"]
    run_w = torch.load(tmp_path / "exp_run" / "final.pt", weights_only=True)["model"]
    assert ref_w.keys() == run_w.keys()
    assert all(torch.equal(ref_w[k], run_w[k]) for k in ref_w)
    assert ("resumed from" in log) == any((tmp_path / "exp_run").rglob("ckpt-*.pt"))
    # inference
    final = tmp_path / "exp_ref" / "final.pt"
    ref_s, run_s = tmp_path / "scores_ref" / "scores", tmp_path / "scores_run" / "scores"
    took = _run(["infer", final, data, ref_s], env)
    _killed_then_rerun(["infer", final, data, run_s], run_s.parent, points(took), env)
    assert run_s.read_bytes() == ref_s.read_bytes()
