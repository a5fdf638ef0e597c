"""Frame features with Kaldi's arithmetic: MFCC, MFCC + Kaldi pitch, fbank, 80-dim log-mel.

The numbers come from kaldi-native-fbank (a port of Kaldi's feature code), so the values and
the frame counts are those of compute-mfcc-feats / compute-fbank-feats /
compute-and-process-kaldi-pitch-feats: with snip_edges=true (Kaldi's default)
`T = 1 + (N - L) // S` (L = 400, S = 160 samples for 25/10 ms at 16 kHz); with
snip_edges=false `T = (N + S // 2) // S`.

Samples are float in [-1, 1) (as lidtool.data.audio returns them) and are scaled to Kaldi's
int16 range here, because Kaldi's energies, dither and VAD thresholds are defined on it.

Feature types (`type`):
  mfcc        Kaldi MFCC; defaults 13 ceps / 23 mel bins, C0 replaced by log energy.
  mfcc_pitch  MFCC (default 20 ceps) + 3 pitch dims (POV, normalized log-pitch, delta-pitch),
              pasted like Kaldi's make_mfcc_pitch.sh (paste-feats --length-tolerance=2).
  fbank       Kaldi log mel filterbank; default 23 bins.
  logmel      fbank with 80 bins and no dither (the wav2vec-style front end).

Unlike Kaldi (dither=1.0), `dither` defaults to 0 so that a re-run writes identical
features; set `--dither=1.0` in the config for Kaldi's training-time behaviour.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np

from lidtool.errors import AudioError, ConfigError, FeatureError
from lidtool.features.config import build_dataclass, read_options

FEATURE_TYPES = ("mfcc", "mfcc_pitch", "fbank", "logmel")
INT16_SCALE = 32768.0
_FLT_EPSILON = float(np.finfo(np.float32).eps)

# Kaldi option names (after '-' -> '_') that differ from our field names.
_ALIASES = {
    "feature_type": "type", "feat_type": "type",
    "sample_frequency": "sample_rate", "samp_freq": "sample_rate",
    "frame_length": "frame_length_ms", "frame_shift": "frame_shift_ms",
    "preemphasis_coefficient": "preemph_coeff",
    "num_mel_bins": "num_bins",
    "resample_freq": "resample_frequency",
}
# Options of a separate Kaldi pitch.conf whose names clash with MFCC/fbank options.
_PITCH_FILE_ALIASES = {"preemphasis_coefficient": "pitch_preemph_coeff",
                       "preemph_coeff": "pitch_preemph_coeff"}
_TYPE_DEFAULTS = {
    "mfcc": {"num_bins": 23, "num_ceps": 13, "use_energy": True},
    "mfcc_pitch": {"num_bins": 23, "num_ceps": 20, "use_energy": True},
    "fbank": {"num_bins": 23, "num_ceps": 0, "use_energy": False},
    "logmel": {"num_bins": 80, "num_ceps": 0, "use_energy": False},
}


@dataclass
class FeatureConfig:
    """Options of one feature type; field names follow Kaldi's (see _ALIASES for the
    Kaldi spellings accepted in .conf files). `None` means "the type's default"."""

    type: str = "mfcc"
    sample_rate: int = 16000
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0
    preemph_coeff: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    round_to_power_of_two: bool = True
    blackman_coeff: float = 0.42
    snip_edges: bool = True
    num_bins: int | None = None
    low_freq: float = 20.0
    high_freq: float = 0.0
    vtln_low: float = 100.0
    vtln_high: float = -500.0
    num_ceps: int | None = None
    use_energy: bool | None = None
    energy_floor: float = 0.0
    raw_energy: bool = True
    cepstral_lifter: float = 22.0
    htk_compat: bool = False
    use_log_fbank: bool = True
    use_power: bool = True
    # Kaldi pitch (mfcc_pitch only); frame length/shift, rate and snip_edges are shared.
    min_f0: float = 50.0
    max_f0: float = 400.0
    soft_min_f0: float = 10.0
    penalty_factor: float = 0.1
    lowpass_cutoff: float = 1000.0
    resample_frequency: float = 4000.0
    delta_pitch: float = 0.005
    nccf_ballast: float = 7000.0
    lowpass_filter_width: int = 1
    upsample_filter_width: int = 5
    pitch_preemph_coeff: float = 0.0
    pitch_scale: float = 2.0
    pov_scale: float = 2.0
    pov_offset: float = 0.0
    delta_pitch_scale: float = 10.0
    delta_pitch_noise_stddev: float = 0.005
    normalization_left_context: int = 75
    normalization_right_context: int = 75
    delta_window: int = 2
    delay: int = 0
    add_pov_feature: bool = True
    add_normalized_log_pitch: bool = True
    add_delta_pitch: bool = True
    add_raw_log_pitch: bool = False
    source: str = "<dict>"

    def __post_init__(self):
        if self.type not in FEATURE_TYPES:
            raise ConfigError(self.source, f"unknown feature type '{self.type}'",
                              fix="type must be one of " + ", ".join(FEATURE_TYPES))
        for name, value in _TYPE_DEFAULTS[self.type].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.sample_rate <= 0 or self.frame_shift_ms <= 0 or self.frame_length_ms <= 0:
            raise ConfigError(self.source, "sample rate, frame length and frame shift must "
                              "be positive")
        if self.type.startswith("mfcc") and not 0 < self.num_ceps <= self.num_bins:
            raise ConfigError(self.source, f"num_ceps={self.num_ceps} must be in "
                              f"1..num_bins={self.num_bins}")
        if self.frame_length_samples < self.frame_shift_samples:
            raise ConfigError(self.source, "frame length is shorter than the frame shift")

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_dict(cls, options: dict, *, source: str = "<dict>") -> "FeatureConfig":
        opts = {str(k).lstrip("-").replace("-", "_"): v for k, v in options.items()}
        opts.pop("source", None)
        return cls._build(opts, {}, source)

    @classmethod
    def from_file(cls, path) -> "FeatureConfig":
        """A Kaldi .conf (`--num-ceps=20` lines) or YAML file. Kaldi .conf files do not
        name the feature type: give `--type=...` or name the file after it
        (mfcc*.conf, mfcc_pitch*.conf, fbank*.conf, logmel*.conf). `--pitch-config=FILE`
        (relative to this file) reads a separate Kaldi pitch.conf."""
        path = Path(path)
        opts, lines = read_options(path)
        pitch_file = opts.pop("pitch_config", None)
        if pitch_file is not None:
            pitch_path = Path(str(pitch_file))
            if not pitch_path.is_absolute():
                pitch_path = path.parent / pitch_path
            pitch_opts, _ = read_options(pitch_path)
            for key, value in pitch_opts.items():
                key = _PITCH_FILE_ALIASES.get(key, key)
                if key in ("sample_frequency", "sample_rate", "frame_length", "frame_shift",
                           "snip_edges") and key in opts and str(opts[key]) != str(value):
                    raise ConfigError(pitch_path, f"'{key}={value}' differs from "
                                      f"{path}'s '{opts[key]}'; MFCC and pitch frames must "
                                      "line up")
                opts.setdefault(key, value)
            opts.setdefault("type", "mfcc_pitch")
        if "type" not in opts and not any(a in opts for a in ("feature_type", "feat_type")):
            opts["type"] = _type_from_name(path)
        return cls._build(opts, lines, str(path))

    @classmethod
    def _build(cls, opts, lines, source):
        opts = dict(opts)
        opts["source"] = source
        return build_dataclass(cls, opts, path=source, lines=lines, aliases=_ALIASES)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d

    # ---- derived ------------------------------------------------------------------
    @property
    def frame_length_samples(self) -> int:
        return int(self.sample_rate * 0.001 * self.frame_length_ms)

    @property
    def frame_shift_samples(self) -> int:
        return int(self.sample_rate * 0.001 * self.frame_shift_ms)

    @property
    def dim(self) -> int:
        if self.type == "mfcc":
            return self.num_ceps
        if self.type == "mfcc_pitch":
            return self.num_ceps + sum([self.add_pov_feature, self.add_normalized_log_pitch,
                                        self.add_delta_pitch, self.add_raw_log_pitch])
        return self.num_bins + int(bool(self.use_energy))


def _type_from_name(path: Path) -> str:
    stem = path.stem.lower()
    for kind in ("mfcc_pitch", "mfcc-pitch", "mfcc", "fbank", "logmel", "log_mel"):
        if stem.startswith(kind):
            return kind.replace("-", "_").replace("log_mel", "logmel")
    raise ConfigError(path, "cannot tell the feature type",
                      fix="add a line --type=mfcc|mfcc_pitch|fbank|logmel")


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    """Kaldi's NumFrames(): the frame count compute-*-feats produces for `num_samples`."""
    length, shift = cfg.frame_length_samples, cfg.frame_shift_samples
    if cfg.snip_edges:
        return 0 if num_samples < length else 1 + (num_samples - length) // shift
    return (num_samples + shift // 2) // shift


def _frame_opts(opts, cfg: FeatureConfig) -> None:
    fo = opts.frame_opts
    fo.samp_freq = float(cfg.sample_rate)
    fo.frame_length_ms = cfg.frame_length_ms
    fo.frame_shift_ms = cfg.frame_shift_ms
    fo.dither = cfg.dither
    fo.preemph_coeff = cfg.preemph_coeff
    fo.remove_dc_offset = cfg.remove_dc_offset
    fo.window_type = cfg.window_type
    fo.round_to_power_of_two = cfg.round_to_power_of_two
    fo.blackman_coeff = cfg.blackman_coeff
    fo.snip_edges = cfg.snip_edges
    mo = opts.mel_opts
    mo.num_bins = cfg.num_bins
    mo.low_freq = cfg.low_freq
    mo.high_freq = cfg.high_freq
    mo.vtln_low = cfg.vtln_low
    mo.vtln_high = cfg.vtln_high
    opts.use_energy = bool(cfg.use_energy)
    opts.energy_floor = cfg.energy_floor
    opts.raw_energy = cfg.raw_energy
    opts.htk_compat = cfg.htk_compat


def knf_options(cfg: FeatureConfig):
    """The kaldi-native-fbank options object (MfccOptions or FbankOptions) for `cfg`."""
    if cfg.type in ("mfcc", "mfcc_pitch"):
        opts = knf.MfccOptions()
        _frame_opts(opts, cfg)
        opts.num_ceps = cfg.num_ceps
        opts.cepstral_lifter = cfg.cepstral_lifter
    else:
        opts = knf.FbankOptions()
        _frame_opts(opts, cfg)
        opts.use_log_fbank = cfg.use_log_fbank
        opts.use_power = cfg.use_power
    return opts


def knf_pitch_options(cfg: FeatureConfig):
    """(PitchExtractionOptions, ProcessPitchOptions) for `cfg` (Kaldi pitch defaults)."""
    po = knf.PitchExtractionOptions()
    po.samp_freq = float(cfg.sample_rate)
    po.frame_length_ms = cfg.frame_length_ms
    po.frame_shift_ms = cfg.frame_shift_ms
    po.snip_edges = cfg.snip_edges
    po.preemph_coeff = cfg.pitch_preemph_coeff
    for name in ("min_f0", "max_f0", "soft_min_f0", "penalty_factor", "lowpass_cutoff",
                 "delta_pitch", "nccf_ballast", "lowpass_filter_width",
                 "upsample_filter_width"):
        setattr(po, name, getattr(cfg, name))
    po.resample_freq = cfg.resample_frequency
    pp = knf.ProcessPitchOptions()
    for name in ("pitch_scale", "pov_scale", "pov_offset", "delta_pitch_scale",
                 "delta_pitch_noise_stddev", "normalization_left_context",
                 "normalization_right_context", "delta_window", "delay", "add_pov_feature",
                 "add_normalized_log_pitch", "add_delta_pitch", "add_raw_log_pitch"):
        setattr(pp, name, getattr(cfg, name))
    return po, pp


def _check_input(samples, sr: int, cfg: FeatureConfig, where) -> np.ndarray:
    path, line = where
    if sr != cfg.sample_rate:
        raise AudioError(path, f"sample rate {sr} Hz differs from the feature config's "
                         f"{cfg.sample_rate} Hz ({cfg.source})", line=line,
                         fix=f"resample the audio (e.g. a 'sox ... -r {cfg.sample_rate} ... |' "
                         "pipe in wav.scp) or set sample_frequency in the config")
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if num_frames(samples.size, cfg) < 1:
        raise AudioError(path, f"audio has {samples.size} samples "
                         f"({samples.size / sr * 1000:.1f} ms), shorter than one "
                         f"{cfg.frame_length_ms:g} ms frame", line=line,
                         fix="drop the utterance (utils/fix_data_dir.sh after removing it "
                         "from wav.scp/segments)")
    if cfg.type == "mfcc_pitch" and not cfg.snip_edges:
        # kaldi-native-fbank's pitch code corrupts memory (and kills the process) on very
        # short inputs with snip_edges=false: refuse anything shorter than one frame plus
        # the longest pitch lag (plus 5 ms of margin), which is ~50 ms at the defaults.
        min_ms = cfg.frame_length_ms + 1000.0 / cfg.min_f0 + 5.0
        if samples.size < min_ms * 0.001 * sr:
            raise AudioError(path, f"audio has {samples.size / sr * 1000:.1f} ms; Kaldi "
                             f"pitch with snip_edges=false needs at least {min_ms:.0f} ms",
                             line=line, fix="drop the utterance or use snip_edges=true")
    return samples * np.float32(INT16_SCALE)


def _run_online(computer, wave: list[float], sr: int) -> np.ndarray:
    computer.accept_waveform(float(sr), wave)
    computer.input_finished()
    n = computer.num_frames_ready
    if n == 0:
        return np.zeros((0, computer.dim), dtype=np.float32)
    return np.stack([computer.get_frame(i) for i in range(n)]).astype(np.float32, copy=False)


def compute_features(samples, sr: int, cfg: FeatureConfig, *,
                     where: tuple[str, int | None] = ("<samples>", None)) -> np.ndarray:
    """Features of one utterance: float32 [T, cfg.dim] with Kaldi's frame count.

    `where` = (file, line) named in errors (wav.scp/segments line of the utterance).
    Audio shorter than one frame, or at another sample rate, raises AudioError.
    """
    # kaldi-native-fbank takes a Sequence[float]: from a numpy array pybind11 converts it
    # element by element through numpy scalars; a list (made once, in C, for both the
    # MFCC/fbank and the pitch call) is about 40% cheaper and gives the same floats.
    wave = _check_input(samples, sr, cfg, where).tolist()
    if cfg.type in ("mfcc", "mfcc_pitch"):
        feats = _run_online(knf.OnlineMfcc(knf_options(cfg)), wave, sr)
    else:
        feats = _run_online(knf.OnlineFbank(knf_options(cfg)), wave, sr)
    if cfg.type == "mfcc_pitch":
        pitch_opts, process_opts = knf_pitch_options(cfg)
        pitch = knf.compute_and_process_kaldi_pitch(pitch_opts, process_opts, wave)
        pitch = np.asarray(pitch, dtype=np.float32).reshape(-1, process_opts.dim)
        # Kaldi's make_mfcc_pitch.sh pastes with --length-tolerance=2 (keeps the shorter).
        if abs(len(pitch) - len(feats)) > 2:
            raise FeatureError(where[0], f"pitch has {len(pitch)} frames but MFCC has "
                               f"{len(feats)} (more than paste-feats' tolerance of 2)",
                               line=where[1])
        t = min(len(pitch), len(feats))
        feats = np.concatenate([feats[:t], pitch[:t]], axis=1)
    if not np.all(np.isfinite(feats)):
        raise FeatureError(where[0], "features contain NaN or Inf", line=where[1],
                           fix="check the audio for corrupt samples")
    return np.ascontiguousarray(feats, dtype=np.float32)


def _frame_indices(num_samples: int, cfg: FeatureConfig) -> np.ndarray:
    """[T, L] sample indices of each frame, with Kaldi's reflection at the edges when
    snip_edges is false."""
    length, shift = cfg.frame_length_samples, cfg.frame_shift_samples
    t = num_frames(num_samples, cfg)
    if cfg.snip_edges:
        starts = np.arange(t) * shift
    else:
        starts = np.arange(t) * shift + shift // 2 - length // 2
    idx = starts[:, None] + np.arange(length)[None, :]
    # reflect out-of-range indices into [0, N) as Kaldi's ExtractWindow does
    while True:
        low, high = idx < 0, idx >= num_samples
        if not (low.any() or high.any()):
            return idx
        idx = np.where(low, -idx - 1, idx)
        idx = np.where(high, 2 * num_samples - 1 - idx, idx)


def compute_log_energy(samples, sr: int, cfg: FeatureConfig, *,
                       where: tuple[str, int | None] = ("<samples>", None)) -> np.ndarray:
    """Kaldi's raw log energy per frame (what MFCC's C0 holds with use_energy=true):
    log(max(sum(x^2), FLT_EPSILON)) of each int16-scaled frame after DC removal, before
    pre-emphasis and windowing (dither is not applied). Same frames as compute_features,
    so fbank/logmel features get a VAD energy without an energy column."""
    wave = _check_input(samples, sr, cfg, where).astype(np.float64)
    frames = wave[_frame_indices(wave.size, cfg)]
    if cfg.remove_dc_offset:
        frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.log(np.maximum(np.einsum("tl,tl->t", frames, frames), _FLT_EPSILON))
    if cfg.energy_floor > 0:
        energy = np.maximum(energy, np.log(cfg.energy_floor))
    return energy.astype(np.float32)
