"""Per-speaker voice transforms: WORLD analysis-resynthesis (pyworld) with a warped spectral
envelope, shifted and scaled F0, changed aperiodicity and a random EQ, then an optional
codec-like band limit.

The knobs (corpus YAML, `voice_transform:` at the top level, switched on per set) are ranges;
`draw_transform` draws one value of each for a speaker from the speaker's own random stream,
and `apply_transform` is deterministic, so one speaker sounds the same in every utterance and
each synthesizer voice becomes as many speakers as the set has. Knobs:
  vtl_factor          spectral envelope warp f -> f * factor (vocal-tract length; >1 shorter)
  f0_shift_semitones  shift of the mean log F0
  f0_range_scale      scaling of log F0 around its mean (intonation range)
  aperiodicity_shift  added to WORLD's band aperiodicity (0..1; >0 breathier)
  eq_bands, eq_gain_db  that many log-spaced EQ bands, each with a gain from the range
  band_prob, highpass_hz, lowpass_hz  probability of a band limit and its edges
The timing of the speech is unchanged (same frames), so phone alignments stay valid.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import signal

from lidtool.errors import ConfigError, LidtoolError

DEFAULT_TRANSFORM = {
    "vtl_factor": [0.88, 1.14], "f0_shift_semitones": [-4.0, 4.0],
    "f0_range_scale": [0.7, 1.4], "aperiodicity_shift": [-0.1, 0.15],
    "eq_bands": 4, "eq_gain_db": [-6.0, 6.0],
    "band_prob": 0.3, "highpass_hz": [60.0, 300.0], "lowpass_hz": [3400.0, 7000.0],
}
FRAME_MS = 5.0


def merged_knobs(cfg: dict, section: str, defaults: dict, where: str = "corpus config") -> dict:
    """`defaults` updated with the config's top-level `section:` entries (known keys only);
    `where` (the config file) names the file in errors."""
    user = cfg.get(section) or {}
    if not isinstance(user, dict):
        raise ConfigError(where, f"{section}: must be a mapping of knobs")
    unknown = set(user) - set(defaults)
    if unknown:
        raise ConfigError(where, f"{section}: unknown knobs {sorted(unknown)}",
                          fix=f"allowed: {sorted(defaults)}")
    return {**defaults, **user}


def transform_knobs(cfg: dict, where: str = "corpus config") -> dict:
    """DEFAULT_TRANSFORM updated with the config's top-level `voice_transform:` entries."""
    return merged_knobs(cfg, "voice_transform", DEFAULT_TRANSFORM, where)


def draw_transform(knobs: dict, rng: np.random.Generator) -> dict:
    """One speaker's transform parameters (plain floats, for the manifest)."""
    def u(key):
        lo, hi = knobs[key]
        return round(float(rng.uniform(lo, hi)), 4)

    t = {"vtl_factor": u("vtl_factor"), "f0_shift_semitones": u("f0_shift_semitones"),
         "f0_range_scale": u("f0_range_scale"), "aperiodicity_shift": u("aperiodicity_shift"),
         "eq_gain_db": [u("eq_gain_db") for _ in range(int(knobs["eq_bands"]))]}
    if rng.random() < float(knobs["band_prob"]):
        t["band_hz"] = [round(float(rng.uniform(*knobs["highpass_hz"])), 1),
                        round(float(rng.uniform(*knobs["lowpass_hz"])), 1)]
    return t


def _warp(sp: np.ndarray, factor: float) -> np.ndarray:
    """Envelope at f*... : new(f) = old(f / factor), linear interpolation along frequency."""
    n = sp.shape[1]
    src = np.clip(np.arange(n) / factor, 0, n - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = src - lo
    return sp[:, lo] * (1 - w) + sp[:, hi] * w


def _eq_curve(gains_db: list[float], n: int, sr: int) -> np.ndarray:
    """Power gain per FFT bin: gains at log-spaced centres 150 Hz..sr/2.5, interpolated on
    log frequency (smooth, like a graphic EQ)."""
    if not gains_db:
        return np.ones(n)
    f = np.linspace(0, sr / 2, n)
    centres = np.geomspace(150.0, sr / 2.5, len(gains_db))
    db = np.interp(np.log(np.maximum(f, 1.0)), np.log(centres), gains_db)
    return 10 ** (db / 10.0)


def apply_transform(x: np.ndarray, sr: int, t: dict) -> np.ndarray:
    """Resynthesise float speech `x` with transform `t`; same length, float64."""
    try:
        with warnings.catch_warnings():      # pyworld 0.3.5 imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError as err:
        # the environment, not a config file, is at fault
        raise LidtoolError(f"voice transforms need pyworld: {err} (fix: pip install pyworld; "
                           "tools/install.sh does)") from None
    x = np.ascontiguousarray(x, dtype=np.float64)
    peak = np.abs(x).max()
    if peak == 0:
        return x.copy()
    f0, times = pyworld.dio(x, sr, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(x, f0, times, sr)
    sp = pyworld.cheaptrick(x, f0, times, sr)
    ap = pyworld.d4c(x, f0, times, sr)
    voiced = f0 > 0
    if voiced.any():
        logf0 = np.log(f0[voiced])
        mean = logf0.mean()
        f0 = f0.copy()
        f0[voiced] = np.exp(mean + t["f0_shift_semitones"] * np.log(2) / 12
                            + (logf0 - mean) * t["f0_range_scale"])
    sp = _warp(sp, t["vtl_factor"]) * _eq_curve(t["eq_gain_db"], sp.shape[1], sr)
    ap = np.clip(ap + t["aperiodicity_shift"], 0.001, 1.0)
    y = pyworld.synthesize(f0, np.ascontiguousarray(sp), np.ascontiguousarray(ap), sr,
                           frame_period=FRAME_MS)
    y = np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]
    if "band_hz" in t:
        low, high = t["band_hz"]
        y = signal.sosfilt(signal.butter(4, low, "highpass", fs=sr, output="sos"), y)
        if high < sr / 2 - 100:
            y = signal.sosfilt(signal.butter(6, high, "lowpass", fs=sr, output="sos"), y)
    return y * (peak / (np.abs(y).max() + 1e-12))
