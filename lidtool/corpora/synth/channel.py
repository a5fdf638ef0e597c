"""Channels: reverberation, additive noise at a random SNR, band limits and gain (numpy/scipy).

Two families:
- `train` (used by every set except test_channel): room reverb (exponentially decaying noise
  impulse response), white / pink / babble noise at an SNR drawn from a range, a random
  high-pass and low-pass, and a random peak level;
- `heldout` (only test_channel): a narrow-band "telephone" channel never seen in training —
  8 kHz resampling, 300-3400 Hz band, 8-bit mu-law companding, brown noise or mains hum,
  soft clipping.
Every draw comes from the caller's random generator, so a channel is reproducible, and the
chosen settings come back as a dict for the supervision's `custom` field.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from lidtool.errors import ConfigError

SR = 16000

DEFAULT_CHANNELS = {
    "train": {"noise_types": ["none", "white", "pink", "babble"], "snr_db": [5.0, 30.0],
              "band_prob": 0.5, "highpass_hz": [60.0, 300.0], "lowpass_hz": [3400.0, 7500.0],
              "reverb_prob": 0.3, "rt60_s": [0.15, 0.6], "peak_dbfs": [-20.0, -1.0]},
    "heldout": {"noise_types": ["brown", "hum"], "snr_db": [5.0, 25.0],
                "band_hz": [300.0, 3400.0], "mulaw_bits": 8, "clip_drive": [1.0, 3.0],
                "reverb_prob": 0.0, "rt60_s": [0.15, 0.6], "peak_dbfs": [-20.0, -1.0]},
}


def colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    white = rng.standard_normal(n)
    if exponent == 0:
        out = white
    else:
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1.0 / SR)
        f[0] = f[1] if n > 1 else 1.0
        out = np.fft.irfft(spec / f ** (exponent / 2.0), n)
    return out / (np.sqrt(np.mean(out ** 2)) + 1e-12)


def babble(n: int, rng: np.random.Generator, bank: list[np.ndarray]) -> np.ndarray:
    """3-6 talkers from `bank` (other speech), each at a random offset, unit RMS."""
    if not bank:
        raise ConfigError("channels", "babble noise needs a non-empty babble bank")
    out = np.zeros(n)
    for _ in range(int(rng.integers(3, 7))):
        clip = bank[int(rng.integers(len(bank)))]
        reps = int(np.ceil((n + len(clip)) / len(clip)))
        tiled = np.tile(clip, reps)
        start = int(rng.integers(len(clip)))
        piece = tiled[start:start + n]
        out += piece / (np.sqrt(np.mean(piece ** 2)) + 1e-12)
    return out / (np.sqrt(np.mean(out ** 2)) + 1e-12)


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    f0 = 50.0 if rng.random() < 0.5 else 60.0
    t = np.arange(n) / SR
    out = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k
              for k in range(1, 6)) + 0.1 * rng.standard_normal(n)
    return out / (np.sqrt(np.mean(out ** 2)) + 1e-12)


def speech_power(x: np.ndarray) -> float:
    """Mean power over 20 ms frames within 40 dB of the loudest one (the active speech)."""
    frame = SR // 50
    n = len(x) // frame
    if n == 0:
        return float(np.mean(x ** 2) + 1e-12)
    e = np.mean(x[:n * frame].reshape(n, frame) ** 2, axis=1)
    active = e[e > e.max() * 1e-4]
    return float(np.mean(active) + 1e-12)


def reverb(x: np.ndarray, rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Convolve with a synthetic room response: direct path + decaying noise tail."""
    n = max(int(rt60 * SR), 16)
    t = np.arange(n) / SR
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)   # -60 dB at rt60
    rir[0] = 0.0
    rir *= rng.uniform(0.3, 1.0) / (np.sqrt(np.sum(rir ** 2)) + 1e-12)
    rir[0] = 1.0
    return signal.fftconvolve(x, rir)[:len(x)]


def _band(x: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    if low is not None:
        x = signal.sosfilt(signal.butter(4, low, "highpass", fs=SR, output="sos"), x)
    if high is not None and high < SR / 2 - 100:
        x = signal.sosfilt(signal.butter(6, high, "lowpass", fs=SR, output="sos"), x)
    return x


def _uniform(rng, pair) -> float:
    lo, hi = pair
    return float(rng.uniform(lo, hi))


def _noise(kind: str, n: int, rng, bank) -> np.ndarray | None:
    if kind == "none":
        return None
    if kind in ("white", "pink", "brown"):
        return colored_noise(n, rng, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    if kind == "babble":
        return babble(n, rng, bank)
    if kind == "hum":
        return hum(n, rng)
    raise ConfigError("channels", f"unknown noise type '{kind}'",
                      fix="use none, white, pink, babble, brown or hum")


def apply_channel(x: np.ndarray, rng: np.random.Generator, family: str, cfg: dict,
                  bank: list[np.ndarray] | None = None) -> tuple[np.ndarray, dict]:
    """Pass 16 kHz float speech `x` through a random channel of `family`; returns the
    float32 result in [-1, 1) and the settings drawn."""
    if family not in cfg:
        raise ConfigError("channels", f"unknown channel family '{family}'",
                          fix=f"define it under 'channels:' ({sorted(cfg)})")
    c = cfg[family]
    info: dict = {"family": family}
    y = np.asarray(x, dtype=np.float64)
    if rng.random() < c.get("reverb_prob", 0.0):
        info["rt60_s"] = round(_uniform(rng, c["rt60_s"]), 3)
        y = reverb(y, rng, info["rt60_s"])
    kinds = c.get("noise_types", ["none"])
    kind = kinds[int(rng.integers(len(kinds)))]
    info["noise"] = kind
    noise = _noise(kind, len(y), rng, bank or [])
    if noise is not None:
        snr = _uniform(rng, c["snr_db"])
        info["snr_db"] = round(snr, 2)
        y = y + noise * np.sqrt(speech_power(y) / 10 ** (snr / 10.0))
    if "band_hz" in c:                               # telephone-style codec
        low, high = c["band_hz"]
        y8 = signal.resample_poly(y, 1, 2)
        y8 = _band(y8 / (np.abs(y8).max() + 1e-12), low, None)
        y8 = signal.sosfilt(signal.butter(6, high, "lowpass", fs=SR // 2, output="sos"), y8)
        mu = 2 ** int(c.get("mulaw_bits", 8)) - 1
        y8 = np.clip(y8 / (np.abs(y8).max() + 1e-12), -1, 1)
        comp = np.sign(y8) * np.log1p(mu * np.abs(y8)) / np.log1p(mu)
        comp = np.round(comp * (mu // 2)) / (mu // 2)
        y8 = np.sign(comp) * np.expm1(np.abs(comp) * np.log1p(mu)) / mu
        y = signal.resample_poly(y8, 2, 1)[:len(x)]
        info.update(band_hz=[low, high], mulaw_bits=int(c.get("mulaw_bits", 8)))
    elif rng.random() < c.get("band_prob", 0.0):
        low, high = _uniform(rng, c["highpass_hz"]), _uniform(rng, c["lowpass_hz"])
        info.update(highpass_hz=round(low, 1), lowpass_hz=round(high, 1))
        y = _band(y, low, high)
    if "clip_drive" in c:
        drive = _uniform(rng, c["clip_drive"])
        info["clip_drive"] = round(drive, 2)
        y = np.tanh(drive * y / (np.abs(y).max() + 1e-12)) / np.tanh(drive)
    peak = _uniform(rng, c["peak_dbfs"])
    info["peak_dbfs"] = round(peak, 2)
    y = y * (10 ** (peak / 20.0) / (np.abs(y).max() + 1e-12))
    return np.clip(y, -1.0, 32767 / 32768).astype(np.float32), info
