"""lidtool.features.extract: Kaldi frame counts, values equal to kaldi-native-fbank, configs."""
from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest

from lidtool.errors import AudioError, ConfigError
from lidtool.features.extract import (FeatureConfig, compute_features, compute_log_energy,
                                      num_frames)

SR = 16000
LENGTHS = [400, 401, 559, 560, 561, 1600, 8037, 12345, 16000]


def signal(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    return (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def kaldi_frames(n, snip_edges):
    """Kaldi's NumFrames for 25 ms / 10 ms at 16 kHz, written out."""
    if snip_edges:
        return 1 + (n - 400) // 160 if n >= 400 else 0
    return (n + 80) // 160


@pytest.mark.parametrize("snip", [True, False])
@pytest.mark.parametrize("kind", ["mfcc", "fbank", "logmel"])
def test_frame_counts_match_kaldi(kind, snip):
    cfg = FeatureConfig.from_dict({"type": kind, "snip_edges": snip})
    for n in LENGTHS:
        feats = compute_features(signal(n), SR, cfg)
        assert feats.shape == (kaldi_frames(n, snip), cfg.dim), (kind, snip, n)
        assert num_frames(n, cfg) == kaldi_frames(n, snip)
        assert feats.dtype == np.float32


@pytest.mark.parametrize("snip", [True, False])
def test_mfcc_pitch_has_23_dims_and_kaldi_frames(snip):
    cfg = FeatureConfig.from_dict({"type": "mfcc_pitch", "snip_edges": snip})
    assert cfg.num_ceps == 20 and cfg.dim == 23
    for n in (1600, 8037, 16000):
        feats = compute_features(signal(n), SR, cfg)
        assert feats.shape == (kaldi_frames(n, snip), 23)
    # the 3 pitch columns are kaldi-native-fbank's compute-and-process-kaldi-pitch output
    x = signal(16000)
    po = knf.PitchExtractionOptions()
    po.snip_edges = snip
    pitch = knf.compute_and_process_kaldi_pitch(po, knf.ProcessPitchOptions(), x * 32768.0)
    feats = compute_features(x, SR, cfg)
    np.testing.assert_array_equal(feats[:, 20:], np.asarray(pitch)[:len(feats)])


def _direct(opts, computer, x):
    c = computer(opts)
    c.accept_waveform(SR, x * 32768.0)
    c.input_finished()
    return np.stack([c.get_frame(i) for i in range(c.num_frames_ready)])


@pytest.mark.parametrize("snip", [True, False])
def test_mfcc_values_equal_kaldi_native_fbank(snip):
    x = signal(12345, seed=3)
    opts = knf.MfccOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = snip
    opts.num_ceps = 20
    opts.mel_opts.num_bins = 30
    opts.mel_opts.high_freq = -400
    ref = _direct(opts, knf.OnlineMfcc, x)
    cfg = FeatureConfig.from_dict({"type": "mfcc", "num-ceps": 20, "num-mel-bins": 30,
                                   "high-freq": -400, "snip-edges": snip})
    np.testing.assert_array_equal(compute_features(x, SR, cfg), ref)


@pytest.mark.parametrize("kind,bins", [("fbank", 23), ("fbank", 40), ("logmel", 80)])
def test_fbank_values_equal_kaldi_native_fbank(kind, bins):
    x = signal(9000, seed=4)
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = bins
    ref = _direct(opts, knf.OnlineFbank, x)
    cfg = FeatureConfig.from_dict({"type": kind, "num_bins": bins})
    out = compute_features(x, SR, cfg)
    assert out.shape[1] == bins
    np.testing.assert_array_equal(out, ref)


def test_logmel_defaults_are_80_bins_without_dither():
    cfg = FeatureConfig.from_dict({"type": "logmel"})
    assert cfg.num_bins == 80 and cfg.dim == 80 and cfg.dither == 0.0
    x = signal(4000)
    np.testing.assert_array_equal(compute_features(x, SR, cfg), compute_features(x, SR, cfg))


@pytest.mark.parametrize("snip", [True, False])
def test_log_energy_equals_mfcc_c0(snip):
    x = signal(7777, seed=5)
    cfg = FeatureConfig.from_dict({"type": "mfcc", "snip_edges": snip})
    c0 = compute_features(x, SR, cfg)[:, 0]
    energy = compute_log_energy(x, SR, cfg)
    assert energy.shape == c0.shape
    np.testing.assert_allclose(energy, c0, rtol=0, atol=1e-3)


def test_audio_shorter_than_one_frame_names_wav_scp_line():
    cfg = FeatureConfig.from_dict({"type": "mfcc"})
    with pytest.raises(AudioError) as err:
        compute_features(signal(399), SR, cfg, where=("data/train/wav.scp", 7))
    assert "data/train/wav.scp:7" in str(err.value)
    assert "shorter than one" in str(err.value)


def test_wrong_sample_rate_is_an_audio_error():
    cfg = FeatureConfig.from_dict({"type": "fbank"})
    with pytest.raises(AudioError, match="8000 Hz"):
        compute_features(signal(8000), 8000, cfg, where=("wav.scp", 2))


def test_kaldi_conf_file(tmp_path):
    conf = tmp_path / "mfcc.conf"
    conf.write_text("# comment line\n--sample-frequency=8000\n--frame-length=25  # ms\n"
                    "--num-ceps=23\n--num-mel-bins=30\n--snip-edges=false\n--use-energy=false\n")
    cfg = FeatureConfig.from_file(conf)
    assert cfg.type == "mfcc"          # from the file name
    assert (cfg.sample_rate, cfg.num_ceps, cfg.num_bins) == (8000, 23, 30)
    assert cfg.snip_edges is False and cfg.use_energy is False
    assert cfg.frame_length_samples == 200 and cfg.frame_shift_samples == 80


def test_yaml_config_and_type_defaults(tmp_path):
    conf = tmp_path / "feats.yaml"
    conf.write_text("type: fbank\nnum-mel-bins: 64\nsnip_edges: false\n")
    cfg = FeatureConfig.from_file(conf)
    assert (cfg.type, cfg.num_bins, cfg.use_energy, cfg.snip_edges) == ("fbank", 64, False, False)


def test_unknown_option_names_file_and_line(tmp_path):
    conf = tmp_path / "fbank.conf"
    conf.write_text("--num-mel-bins=40\n--bogus-option=3\n")
    with pytest.raises(ConfigError) as err:
        FeatureConfig.from_file(conf)
    assert f"{conf}:2" in str(err.value) and "bogus_option" in str(err.value)


def test_bad_value_and_unknown_type(tmp_path):
    conf = tmp_path / "mfcc.conf"
    conf.write_text("--num-ceps=twenty\n")
    with pytest.raises(ConfigError, match=r"mfcc.conf:1: .*num_ceps"):
        FeatureConfig.from_file(conf)
    other = tmp_path / "features.conf"
    other.write_text("--num-ceps=20\n")
    with pytest.raises(ConfigError, match="cannot tell the feature type"):
        FeatureConfig.from_file(other)
    with pytest.raises(ConfigError, match="unknown feature type"):
        FeatureConfig.from_dict({"type": "plp"})


def test_separate_kaldi_pitch_conf(tmp_path):
    (tmp_path / "pitch.conf").write_text("--sample-frequency=16000\n--min-f0=70\n"
                                         "--preemphasis-coefficient=0.1\n")
    conf = tmp_path / "mfcc_hires.conf"
    conf.write_text("--num-ceps=20\n--pitch-config=pitch.conf\n")
    cfg = FeatureConfig.from_file(conf)
    assert cfg.type == "mfcc_pitch" and cfg.min_f0 == 70.0
    assert cfg.pitch_preemph_coeff == pytest.approx(0.1) and cfg.preemph_coeff == 0.97
    assert compute_features(signal(8000), SR, cfg).shape == (48, 23)


def test_pitch_without_snip_edges_refuses_tiny_audio():
    # kaldi-native-fbank's pitch code crashes on ~30-45 ms inputs with snip_edges=false
    cfg = FeatureConfig.from_dict({"type": "mfcc_pitch", "snip_edges": False})
    with pytest.raises(AudioError, match="needs at least 50 ms"):
        compute_features(signal(600), SR, cfg, where=("wav.scp", 1))
