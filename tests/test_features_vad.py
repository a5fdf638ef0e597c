"""lidtool.features.vad: Kaldi compute-vad semantics on synthetic energies and audio."""
from __future__ import annotations

import numpy as np
import pytest

from lidtool.errors import ConfigError, FeatureError
from lidtool.features.extract import FeatureConfig, compute_features, compute_log_energy
from lidtool.features.vad import VadConfig, compute_vad


def naive_vad(energy, thr, scale, context, prop):
    t_all = len(energy)
    cutoff = thr + scale * sum(energy) / t_all
    out = []
    for t in range(t_all):
        num = den = 0
        for t2 in range(t - context, t + context + 1):
            if 0 <= t2 < t_all:
                den += 1
                num += energy[t2] > cutoff
        out.append(1.0 if num >= den * prop else 0.0)
    return np.array(out, dtype=np.float32)


def test_loud_quiet_blocks_by_hand():
    # mean = 12, threshold = 5.5 + 0.5 * 12 = 11.5: 20 is above, 4 below.
    energy = np.array([4.0] * 10 + [20.0] * 10 + [4.0] * 10)
    vad = compute_vad(energy, VadConfig(vad_frames_context=0))
    np.testing.assert_array_equal(vad, [0] * 10 + [1] * 10 + [0] * 10)
    # context 2, proportion 0.6 (3 of 5 frames above): the edges stay where they are...
    np.testing.assert_array_equal(compute_vad(energy, VadConfig()), vad)
    # ...but a single quiet frame inside speech (4 of 5 above) stays voiced (mean 11.6 here)
    dip = energy.copy()
    dip[15] = 3.0
    np.testing.assert_array_equal(compute_vad(dip, VadConfig()), vad)
    assert compute_vad(dip, VadConfig(vad_frames_context=0))[15] == 0.0
    # proportion 0.4 (2 of 5 frames): each edge grows by one frame
    vad = compute_vad(energy, VadConfig(vad_proportion_threshold=0.4))
    np.testing.assert_array_equal(vad, [0] * 9 + [1] * 12 + [0] * 9)


@pytest.mark.parametrize("context,prop,scale", [(0, 0.6, 0.5), (2, 0.6, 0.5), (3, 0.12, 0.5),
                                                (1, 0.5, 0.0), (5, 0.9, 1.0)])
def test_matches_naive_reference(context, prop, scale):
    rng = np.random.default_rng(context)
    energy = rng.uniform(0, 25, size=203)
    cfg = VadConfig(vad_energy_threshold=5.5, vad_energy_mean_scale=scale,
                    vad_frames_context=context, vad_proportion_threshold=prop)
    np.testing.assert_array_equal(compute_vad(energy, cfg),
                                  naive_vad(energy, 5.5, scale, context, prop))


def test_uses_column_zero_of_a_matrix():
    energy = np.array([4.0] * 10 + [20.0] * 10)
    feats = np.stack([energy, -energy, np.zeros(20)], axis=1)
    np.testing.assert_array_equal(compute_vad(feats), compute_vad(energy))


def test_quiet_loud_quiet_audio():
    sr = 16000
    rng = np.random.default_rng(0)
    quiet = 1e-4 * rng.standard_normal(sr // 2)
    t = np.arange(sr) / sr
    loud = 0.3 * np.sin(2 * np.pi * 300 * t)
    x = np.concatenate([quiet, loud, quiet]).astype(np.float32)
    mfcc = compute_features(x, sr, FeatureConfig.from_dict({"type": "mfcc"}))
    vad = compute_vad(mfcc)
    # frames entirely inside the loud second are voiced, those inside the quiet parts not
    starts = np.arange(len(vad)) * 160
    inside_loud = (starts >= sr // 2) & (starts + 400 <= sr // 2 + sr)
    inside_quiet = (starts + 400 <= sr // 2 - 480) | (starts >= sr // 2 + sr + 480)
    assert vad[inside_loud].all()
    assert not vad[inside_quiet].any()
    # fbank has no energy column: the log energy computed from audio gives the same decision
    fb_cfg = FeatureConfig.from_dict({"type": "fbank"})
    np.testing.assert_array_equal(compute_vad(compute_log_energy(x, sr, fb_cfg)), vad)


def test_config_file_and_errors(tmp_path):
    conf = tmp_path / "vad.conf"
    conf.write_text("--vad-energy-threshold=4.0\n--vad-proportion-threshold=0.12\n")
    cfg = VadConfig.from_file(conf)
    assert (cfg.vad_energy_threshold, cfg.vad_proportion_threshold) == (4.0, 0.12)
    assert cfg.vad_frames_context == 2
    conf.write_text("--vad-energy-threshold=4.0\n--vad-frame-context=2\n")
    with pytest.raises(ConfigError, match=r"vad.conf:2: unknown option"):
        VadConfig.from_file(conf)
    with pytest.raises(FeatureError, match=r"feats.scp:4: empty"):
        compute_vad(np.zeros((0, 3)), where=("feats.scp", 4))
    with pytest.raises(FeatureError, match="NaN"):
        compute_vad(np.array([1.0, np.nan]))
