"""Reading audio named by a wav.scp entry: a file path, or a Kaldi `command |` pipe.

Samples come back as float32 in [-1, 1) with their sample rate; feature code scales to
Kaldi's int16 range itself, where energies and VAD thresholds are defined.
"""
from __future__ import annotations

import io
import os
import subprocess

import numpy as np
import soundfile as sf

from lidtool.errors import AudioError


def read_audio(spec: str, *, start: float = 0.0, end: float | None = None,
               where: tuple[str, int | None] = ("wav.scp", None)) -> tuple[np.ndarray, int]:
    """Load the audio for one wav.scp value (mono; first channel of multi-channel).

    `start`/`end` (seconds) cut a segment, as a `segments` file line does. `where` is the
    (file, line) to name in errors.
    """
    spec = spec.strip()
    samples, sr = decode_audio(spec, where=where)
    return cut_segment(samples, sr, start, end, spec=spec, where=where), sr


def decode_audio(spec: str, *, where: tuple[str, int | None] = ("wav.scp", None)
                 ) -> tuple[np.ndarray, int]:
    """The whole recording of a wav.scp value, first channel, unchecked: what read_audio
    and a reader of many segments of one recording (datadir.iter_utterance_audio) decode
    once and then cut with cut_segment."""
    path, line = where
    spec = spec.strip()
    try:
        if spec.endswith("|"):
            command = spec[:-1].strip()
            proc = subprocess.run(command, shell=True, capture_output=True)
            if proc.returncode != 0:
                raise AudioError(path, f"command '{command}' failed (exit {proc.returncode}): "
                                 f"{proc.stderr.decode(errors='replace').strip()[-300:]}", line=line)
            data, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
        else:
            if not os.path.isfile(spec):
                raise AudioError(path, f"audio file '{spec}' does not exist", line=line)
            data, sr = sf.read(spec, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except FileNotFoundError:
        raise AudioError(path, f"audio file '{spec}' does not exist", line=line) from None
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(path, f"cannot read audio '{spec}': {err}", line=line) from None
    return data[:, 0], int(sr)


def cut_segment(samples: np.ndarray, sr: int, start: float = 0.0, end: float | None = None,
                *, spec: str = "", where: tuple[str, int | None] = ("wav.scp", None)
                ) -> np.ndarray:
    """Samples `start`..`end` s (end None or < 0: to the end) of a decoded recording,
    checked: not empty, finite."""
    path, line = where
    if start or end is not None:
        first = int(round(start * sr))
        last = len(samples) if end is None or end < 0 else int(round(end * sr))
        if first >= len(samples) or last <= first:
            raise AudioError(path, f"segment {start:.2f}-{end} s lies outside the "
                             f"{len(samples) / sr:.2f} s recording '{spec}'", line=line)
        samples = samples[first:last]
    if samples.size == 0:
        raise AudioError(path, f"audio '{spec}' is empty", line=line)
    if not np.all(np.isfinite(samples)):
        raise AudioError(path, f"audio '{spec}' contains NaN or Inf samples", line=line)
    return np.ascontiguousarray(samples)
