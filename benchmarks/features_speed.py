"""Feature extraction speed (x real time) per feature type: lidtool vs kaldi-native-fbank
called directly vs lhotse's extractors, on a few generated signals.

    .venv/bin/python benchmarks/features_speed.py [--seconds 10] [--repeats 3] [--threads 1]

x real time = seconds of audio processed per second of wall time (best of --repeats, after
one warm-up). The last column is the largest absolute difference from lidtool's output on
the same signal (frames compared over the common length), so "faster" can be weighed against
"equal". Nothing here asserts timings; numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import time
import warnings

import kaldi_native_fbank as knf
import numpy as np

from lidtool.features.extract import (FeatureConfig, compute_features, knf_options,
                                      knf_pitch_options)

SR = 16000
TYPES = {
    "mfcc": {"type": "mfcc", "num_ceps": 20, "num_bins": 23},
    "mfcc_pitch": {"type": "mfcc_pitch"},
    "fbank": {"type": "fbank", "num_bins": 40},
    "logmel": {"type": "logmel"},
}


def signals(seconds: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.5 * t)           # a gliding "voice"
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / SR) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))        # syllable-rate bursts
    return {
        "harmonic": (0.1 * voiced * envelope + 0.003 * rng.standard_normal(n)),
        "noise": 0.1 * rng.standard_normal(n),
        "tone+silence": np.where((t % 2) < 1, 0.3 * np.sin(2 * np.pi * 440 * t), 1e-4),
    }


def _knf_direct(cfg: FeatureConfig):
    opts = knf_options(cfg)
    online = knf.OnlineMfcc if cfg.type.startswith("mfcc") else knf.OnlineFbank
    pitch = knf_pitch_options(cfg) if cfg.type == "mfcc_pitch" else None

    def run(x):
        wave = x * 32768.0
        c = online(opts)
        c.accept_waveform(SR, wave)
        c.input_finished()
        out = np.stack([c.get_frame(i) for i in range(c.num_frames_ready)])
        if pitch is not None:
            p = np.asarray(knf.compute_and_process_kaldi_pitch(*pitch, wave))
            t = min(len(p), len(out))
            out = np.concatenate([out[:t], p[:t]], axis=1)
        return out
    return run


def _lhotse(cfg: FeatureConfig):
    """lhotse's own (torch) Kaldi-compatible extractors, configured like `cfg`; None where
    lhotse has no equivalent (pitch)."""
    try:
        import lhotse
    except ImportError:
        return {}
    common = dict(sampling_rate=SR, frame_length=cfg.frame_length_ms / 1000,
                  frame_shift=cfg.frame_shift_ms / 1000, dither=0.0,
                  snip_edges=cfg.snip_edges, low_freq=cfg.low_freq, high_freq=cfg.high_freq,
                  preemph_coeff=cfg.preemph_coeff, remove_dc_offset=cfg.remove_dc_offset,
                  window_type=cfg.window_type, raw_energy=cfg.raw_energy,
                  energy_floor=max(cfg.energy_floor, 1e-10))
    out = {}
    if cfg.type == "mfcc":
        # lhotse 1.33's Mfcc fails with use_energy=True on a single utterance, so C0 stays a
        # cepstrum there and only columns 1.. are compared (see main()).
        ext = lhotse.Mfcc(lhotse.MfccConfig(num_ceps=cfg.num_ceps, num_filters=cfg.num_bins,
                                            use_energy=False, **common))
        out["lhotse.Mfcc"] = ext
        kf = (lhotse.KaldifeatMfcc, lhotse.KaldifeatMfccConfig)
    elif cfg.type in ("fbank", "logmel"):
        out["lhotse.Fbank"] = lhotse.Fbank(lhotse.FbankConfig(num_filters=cfg.num_bins,
                                                              **common))
        kf = (lhotse.KaldifeatFbank, lhotse.KaldifeatFbankConfig)
    else:
        return {}
    try:
        import kaldifeat  # noqa: F401  (optional; lhotse's Kaldifeat* need it)
        out[kf[0].__name__] = kf[0](kf[1]())
    except ImportError:
        pass
    return {name: (lambda ext: lambda x: np.asarray(ext.extract(x.astype(np.float32) * 32768.0, SR)))(e)
            for name, e in out.items()}


def best_time(fn, x, repeats: int) -> tuple[float, np.ndarray]:
    out = fn(x)                                   # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(x)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of each signal")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (lhotse)")
    p.add_argument("--types", default=",".join(TYPES), help="comma-separated feature types")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*snip_edges.*")
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    sigs = {k: v.astype(np.float32) for k, v in signals(args.seconds).items()}
    audio = args.seconds * len(sigs)
    print(f"{len(sigs)} signals x {args.seconds:g} s at {SR} Hz, best of {args.repeats}; "
          f"torch threads {args.threads}")
    print(f"{'type':<11} {'extractor':<22} {'x real time':>12} {'max |diff| vs lidtool':>22}")
    for kind in args.types.split(","):
        cfg = FeatureConfig.from_dict(TYPES[kind])
        runners = {"lidtool": lambda x, c=cfg: compute_features(x, SR, c),
                   "kaldi-native-fbank": _knf_direct(cfg)}
        runners.update(_lhotse(cfg))
        ref = {}
        for name, fn in runners.items():
            total, diff = 0.0, 0.0
            for sig_name, x in sigs.items():
                seconds, out = best_time(fn, x, args.repeats)
                total += seconds
                if name == "lidtool":
                    ref[sig_name] = out
                else:
                    t = min(len(out), len(ref[sig_name]))
                    first = 1 if name == "lhotse.Mfcc" else 0   # C0: see _lhotse()
                    d = np.abs(out[:t, first:] - ref[sig_name][:t, first:])
                    diff = max(diff, float(d.max()))
            shown = "-" if name == "lidtool" else f"{diff:.2e}"
            print(f"{kind:<11} {name:<22} {audio / total:>12.0f} {shown:>22}")
        if kind == "mfcc_pitch":
            print(f"{'':<11} (lhotse has no Kaldi pitch extractor)")
        if kind == "mfcc":
            print(f"{'':<11} (lhotse.Mfcc compared on columns 1.., without use_energy)")


if __name__ == "__main__":
    main()
