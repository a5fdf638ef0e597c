"""Prepared features of raw audio with the feature/VAD/CMN options saved in a model file,
so that `lidtool identify` sees what training saw. Audio at another sample rate is
resampled to the model's; audio without a voiced frame is used whole (with a warning)."""
from __future__ import annotations

import logging

import numpy as np

from lidtool.errors import CheckpointError

log = logging.getLogger(__name__)


def features_from_audio(samples: np.ndarray, sr: int, features: dict, *,
                        where: tuple[str, int | None] = ("<audio>", None),
                        model_path="final.pt") -> np.ndarray:
    """Prepared features of raw audio with the pipeline saved in a model file."""
    from lidtool.features.extract import FeatureConfig, compute_features, compute_log_energy
    from lidtool.features.pipeline import prepare_features
    from lidtool.features.vad import VadConfig, compute_vad
    if not features or not features.get("feature_config"):
        raise CheckpointError(model_path, "the model has no feature config, so features "
                              "cannot be computed from audio",
                              fix="train with --feat-config conf/<features>.conf")
    fcfg = FeatureConfig.from_dict(features["feature_config"], source=str(model_path))
    if sr != fcfg.sample_rate:
        from math import gcd

        from scipy.signal import resample_poly
        g = gcd(int(sr), int(fcfg.sample_rate))
        samples = resample_poly(samples, fcfg.sample_rate // g, sr // g).astype(np.float32)
        sr = fcfg.sample_rate
    feats = compute_features(samples, sr, fcfg, where=where)
    vad = None
    if features.get("vad_config") is not None:
        vcfg = VadConfig.from_dict(features["vad_config"], source=str(model_path))
        energy = (compute_log_energy(samples, sr, fcfg, where=where)
                  if fcfg.type in ("fbank", "logmel") else feats)
        vad = compute_vad(energy, vcfg, where=where)
        if not np.any(vad > 0.5):
            log.warning("%s: no voiced frame; using all %d frames", where[0], len(feats))
            vad = None
    return prepare_features(feats, vad, cmn_window=int(features.get("cmn_window", 300)),
                            where=where)
