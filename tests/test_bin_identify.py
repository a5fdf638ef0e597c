"""`lidtool identify` on generated audio returns the right language with a mini model
trained on real MFCC features (computed as the recipe does) of two tone "languages"."""
from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

from lidtool.cli import main as cli
from lidtool.features.extract import FeatureConfig, compute_features
from lidtool.features.vad import VadConfig, compute_vad
from test_train_data import write_tiny_config

torch.set_num_threads(1)
# Each "language" alternates between two pitches every 100 ms (stationary tones would be
# erased by CMN); silence at both ends exercises the VAD.
PITCHES = {"high": (1200.0, 1900.0), "low": (250.0, 420.0)}


def tone_wav(path: Path, lang: str, seed: int, seconds: float = 1.2, sr: int = 16000) -> Path:
    rng = np.random.default_rng(seed)
    seg = int(0.1 * sr)
    pieces = [np.zeros(int(0.15 * sr))]
    for i in range(int(seconds / 0.1)):
        f = PITCHES[lang][i % 2] * rng.uniform(0.95, 1.05)
        t = np.arange(seg) / sr
        pieces.append(rng.uniform(0.2, 0.5) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)))
    pieces.append(np.zeros(int(0.15 * sr)))
    x = np.concatenate(pieces) + 0.003 * rng.standard_normal(sum(len(p) for p in pieces))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), sr, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("identify")
    conf = root / "conf"
    conf.mkdir()
    (conf / "mfcc.conf").write_text("--num-ceps=13\n--num-mel-bins=23\n")
    (conf / "vad.conf").write_text("--vad-energy-threshold=5.5\n--vad-energy-mean-scale=0.5\n")
    fcfg, vcfg = FeatureConfig.from_file(conf / "mfcc.conf"), VadConfig.from_file(conf / "vad.conf")
    data = root / "data" / "train"
    data.mkdir(parents=True)
    feats, vads, u2l = {}, {}, {}
    for lang in sorted(PITCHES):
        for i in range(10):
            utt = f"{lang}-{i:02d}"
            samples, sr = sf.read(tone_wav(root / "wav" / f"{utt}.wav", lang, seed=i),
                                  dtype="float32")
            feats[utt] = compute_features(samples, sr, fcfg)
            vads[utt] = compute_vad(feats[utt], vcfg)
            u2l[utt] = lang
    kaldiio.save_ark(str(data / "feats.ark"), feats, scp=str(data / "feats.scp"))
    kaldiio.save_ark(str(data / "vad.ark"), vads, scp=str(data / "vad.scp"))
    (data / "utt2lang").write_text("".join(f"{u} {l}\n" for u, l in sorted(u2l.items())))
    cfg = write_tiny_config(conf / "tdnn.yaml")
    exp = root / "exp"
    assert cli(["train", "--config", str(cfg), "--feat-config", str(conf / "mfcc.conf"),
                "--vad-config", str(conf / "vad.conf"), "--override", "data.cmn_window=300",
                str(data), str(exp)]) == 0
    return root, exp / "final.pt"


def test_identify_right_language(trained, capsys):
    root, model = trained
    wavs = [tone_wav(root / "new" / "a.wav", "low", seed=100),
            tone_wav(root / "new" / "b.wav", "high", seed=101),
            tone_wav(root / "new" / "c.flac", "low", seed=102, seconds=2.5)]
    capsys.readouterr()
    assert cli(["identify", "--model", str(model), "--top", "2", *map(str, wavs)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    best = [line.split()[1] for line in lines]
    assert best == ["low", "high", "low"]
    for line in lines:
        fields = line.split()
        probs = [float(fields[2]), float(fields[4])]
        assert probs[0] >= probs[1] and probs[0] > 0.5 and sum(probs) == pytest.approx(1, abs=1e-3)


def test_identify_resamples_other_rates(trained, capsys):
    root, model = trained
    wav = tone_wav(root / "new" / "d8k.wav", "high", seed=103, sr=8000)
    capsys.readouterr()
    assert cli(["identify", "--model", str(model), str(wav)]) == 0
    assert capsys.readouterr().out.split()[1] == "high"


def test_identify_errors(trained, tmp_path, capsys):
    root, model = trained
    assert cli(["identify", "--model", str(model), str(tmp_path / "missing.wav")]) == 1
    assert "missing.wav" in capsys.readouterr().err
    # a model trained without --feat-config cannot compute features from audio
    info = torch.load(model, weights_only=True)
    info["features"] = {"feature_config": None, "vad_config": None, "cmn_window": 300}
    torch.save(info, tmp_path / "nofeat.pt")
    wav = tone_wav(tmp_path / "x.wav", "low", seed=1)
    assert cli(["identify", "--model", str(tmp_path / "nofeat.pt"), str(wav)]) == 1
    err = capsys.readouterr().err
    assert "nofeat.pt" in err and "--feat-config" in err


def test_identify_goes_on_after_a_failure_and_warns(trained, tmp_path, capsys):
    root, model = trained
    good = tone_wav(root / "new" / "e.wav", "high", seed=104)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16000, np.float32), 16000)
    capsys.readouterr()
    rc = cli(["identify", "--model", str(model), str(tmp_path / "missing.wav"), str(good),
              str(silence)])
    out, err = capsys.readouterr()
    assert rc == 1
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == [str(good), str(silence)]
    assert lines[0].split()[1] == "high"
    assert "missing.wav" in err and "1 of 3 inputs failed" in err
    assert f"WARNING: {silence}: the audio is silence" in err


def test_identify_unknown_threshold(trained, capsys):
    root, model = trained
    wav = tone_wav(root / "new" / "f.wav", "low", seed=105)
    capsys.readouterr()
    assert cli(["identify", "--model", str(model), "--unknown-threshold", "1.01", str(wav)]) == 0
    fields = capsys.readouterr().out.split()
    assert fields[1] == "unknown" and fields[2] == "low"
    assert cli(["identify", "--model", str(model), "--unknown-threshold", "0.01", str(wav)]) == 0
    assert capsys.readouterr().out.split()[1] == "low"


def test_identifier_api_paths_samples_and_data_dir(trained, tmp_path):
    from lidtool import Identifier
    from lidtool.errors import AudioError
    root, model = trained
    ident = Identifier.from_pretrained(model, device="cpu")
    assert ident.classes == ["high", "low"]
    wav = tone_wav(root / "new" / "g.wav", "high", seed=106)
    by_path = ident.identify(wav)
    samples, sr = sf.read(wav, dtype="float32")
    assert by_path.ranked == ident.identify((samples, sr)).ranked
    assert by_path.language == "high" and by_path.probability > 0.5
    assert by_path.speech_seconds > 0.5
    data = tmp_path / "data"
    data.mkdir()
    low = tone_wav(root / "new" / "h.wav", "low", seed=107)
    (data / "wav.scp").write_text(f"u1 {wav}\nu2 {low}\n")
    (data / "utt2spk").write_text("u1 u1\nu2 u2\n")
    got = dict(ident.identify_data_dir(data, progress=False))
    assert got["u1"].ranked == by_path.ranked and got["u2"].language == "low"
    # an unreadable utterance is reported and the next one still identified
    (data / "wav.scp").write_text(f"u1 {tmp_path / 'gone.wav'}\nu2 {low}\n")
    got = dict(ident.identify_data_dir(data, progress=False))
    assert isinstance(got["u1"], AudioError) and "gone.wav" in str(got["u1"])
    assert got["u2"].language == "low"


def test_model_info(trained, capsys):
    root, model = trained
    capsys.readouterr()
    assert cli(["model-info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "classes:      2 from utt2lang: high low" in out
    assert "features:     mfcc, 13-dim, 16000 Hz, CMN window 300, VAD on" in out
    assert cli(["model-info", "--json", str(model)]) == 0
    import json
    info = json.loads(capsys.readouterr().out)
    assert info["classes"] == ["high", "low"] and info["network"]["parameters"] > 0


def test_inference_commands_import_only_what_they_need(trained, tmp_path):
    """identify and infer must not pull the trainer or torch._dynamo (an optimizer's import
    costs about a second of start-up per job)."""
    import subprocess
    import sys
    root, model = trained
    wav = tone_wav(root / "new" / "i.wav", "low", seed=108)
    code = (
        "import sys; from lidtool.cli import main; "
        f"assert main(['identify', '--model', {str(model)!r}, {str(wav)!r}]) == 0; "
        f"assert main(['infer', {str(model)!r}, {str(root / 'data' / 'train')!r}, "
        f"{str(tmp_path / 'scores')!r}]) == 0; "
        "print(sorted(m for m in ('torch._dynamo', 'lidtool.train.trainer', 'scipy.signal', "
        "'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
