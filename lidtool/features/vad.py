"""Energy voice-activity detection with Kaldi compute-vad semantics.

For each utterance, with e[t] the log energy of frame t:
  threshold = vad_energy_threshold + vad_energy_mean_scale * mean(e)
  frame t is voiced (1.0) if, among the frames t-c..t+c that exist (c = vad_frames_context),
  the number with e > threshold is >= vad_proportion_threshold * (number of frames counted).

Where the energy comes from: Kaldi uses column 0 of the features. For MFCC with
use_energy=true (Kaldi's and lidtool's MFCC default) C0 *is* the raw log energy. fbank and
log-mel features have no energy column, so for them lidtool computes Kaldi's raw log energy
from the audio with the same frames (extract.compute_log_energy); `lidtool compute-vad`
does this when given the fbank/logmel feature config.

Defaults are those of Kaldi's x-vector recipes' vad.conf except the proportion
(threshold 5.5, mean scale 0.5, context 2, proportion 0.6; Kaldi's binary defaults are
5.0 / 0.5 / 0 / 0.6).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lidtool.errors import ConfigError, FeatureError
from lidtool.features.config import build_dataclass, read_options


@dataclass
class VadConfig:
    vad_energy_threshold: float = 5.5
    vad_energy_mean_scale: float = 0.5
    vad_frames_context: int = 2
    vad_proportion_threshold: float = 0.6
    source: str = "<dict>"

    def __post_init__(self):
        if self.vad_frames_context < 0:
            raise ConfigError(self.source, "vad_frames_context must be >= 0")
        if not 0.0 < self.vad_proportion_threshold < 1.0:
            raise ConfigError(self.source, "vad_proportion_threshold must be in (0, 1)")

    @classmethod
    def from_dict(cls, options: dict, *, source: str = "<dict>") -> "VadConfig":
        opts = {str(k).lstrip("-").replace("-", "_"): v for k, v in options.items()}
        opts["source"] = source
        return build_dataclass(cls, opts, path=source)

    @classmethod
    def from_file(cls, path) -> "VadConfig":
        """Kaldi vad.conf (`--vad-energy-threshold=5.5` lines) or YAML."""
        opts, lines = read_options(path)
        opts["source"] = str(Path(path))
        return build_dataclass(cls, opts, path=str(path), lines=lines)


def compute_vad(feats_or_log_energy, cfg: VadConfig | None = None, *,
                where: tuple[str, int | None] = ("<features>", None)) -> np.ndarray:
    """Kaldi compute-vad: float32 [T] of 1.0 (voiced) / 0.0.

    Takes a [T, D] feature matrix (column 0 used as log energy) or a [T] log-energy vector.
    """
    cfg = cfg or VadConfig()
    x = np.asarray(feats_or_log_energy, dtype=np.float64)
    energy = x[:, 0] if x.ndim == 2 else x.reshape(-1)
    if energy.size == 0:
        raise FeatureError(where[0], "empty features: cannot compute VAD", line=where[1])
    if not np.all(np.isfinite(energy)):
        raise FeatureError(where[0], "log energy contains NaN or Inf", line=where[1])
    threshold = cfg.vad_energy_threshold
    if cfg.vad_energy_mean_scale != 0.0:
        threshold += cfg.vad_energy_mean_scale * energy.sum() / energy.size
    above = (energy > threshold).astype(np.int64)
    c = cfg.vad_frames_context
    csum = np.concatenate([[0], np.cumsum(above)])
    t = np.arange(energy.size)
    lo = np.maximum(t - c, 0)
    hi = np.minimum(t + c + 1, energy.size)
    num = csum[hi] - csum[lo]
    den = hi - lo
    return (num >= den * cfg.vad_proportion_threshold).astype(np.float32)
