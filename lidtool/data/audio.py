"""Reading audio named by a wav.scp entry: a file path, or a Kaldi `command |` pipe.

Samples come back as float32 in [-1, 1) with their sample rate; feature code scales to
Kaldi's int16 range itself, where energies and VAD thresholds are defined.

Odd audio that still gives usable samples is read with a warning naming the wav.scp line
and the utterance, and counted in `ISSUES` (per process) so that a stage's summary line can
report it (`issue_summary()`): a WAV whose header promises more samples than the file holds
(libsndfile silently returns the samples that are there; Kaldi warns), and multi-channel
audio (channel 0 is used). Missing, unreadable, empty or NaN audio is an AudioError.
"""
from __future__ import annotations

import io
import logging
import os
import struct
import subprocess
from collections import Counter

import numpy as np
import soundfile as sf

from lidtool.errors import AudioError

log = logging.getLogger(__name__)

ISSUES: Counter = Counter()      # kind -> utterances warned about in this process
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)   # streamed WAVs (sox to a pipe) leave these


def issue_summary() -> str:
    """'; audio warnings: 2 truncated, 1 multi-channel' (or '') for a stage's log line."""
    if not ISSUES:
        return ""
    return "; audio warnings: " + ", ".join(f"{n} {k}" for k, n in sorted(ISSUES.items()))


def _warn(kind: str, where, utt: str | None, message: str) -> None:
    ISSUES[kind] += 1
    path, line = where
    log.warning("%s%s: %s%s", path, "" if line is None else f":{line}",
                f"utterance '{utt}': " if utt else "", message)


def wav_header_frames(f) -> tuple[int, int] | None:
    """(frames the WAV header's data chunk promises, frames the file holds) of an open
    binary file, or None when it is not a plain RIFF/WAVE file or gives no size."""
    f.seek(0, os.SEEK_END)
    total = f.tell()
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    block_align = None
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:
            return None
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            fmt = f.read(size)
            if len(fmt) < 14:
                return None
            block_align = struct.unpack("<H", fmt[12:14])[0]
            f.seek(size % 2, os.SEEK_CUR)
        elif cid == b"data":
            if not block_align or size in _UNKNOWN_SIZES:
                return None
            return size // block_align, (total - f.tell()) // block_align
        else:
            f.seek(size + size % 2, os.SEEK_CUR)


def _check_length(source, spec: str, frames: int, where, utt) -> None:
    """Warn when the WAV header of `source` (a path or BytesIO) promises more than it has."""
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                sizes = wav_header_frames(f)
        else:
            sizes = wav_header_frames(source)
    except OSError:
        return
    if sizes is not None and sizes[0] > max(sizes[1], frames):
        _warn("truncated", where, utt, f"'{spec}' is truncated: its header promises "
              f"{sizes[0]} samples, the file holds {max(sizes[1], frames)}; using those")


def read_audio(spec: str, *, start: float = 0.0, end: float | None = None,
               where: tuple[str, int | None] = ("wav.scp", None),
               utt: str | None = None) -> tuple[np.ndarray, int]:
    """Load the audio for one wav.scp value (mono; first channel of multi-channel, with a
    warning).

    `start`/`end` (seconds) cut a segment, as a `segments` file line does. `where` is the
    (file, line) to name in errors and warnings, `utt` the utterance they concern.
    """
    spec = spec.strip()
    samples, sr = decode_audio(spec, where=where, utt=utt)
    return cut_segment(samples, sr, start, end, spec=spec, where=where), sr


def decode_audio(spec: str, *, where: tuple[str, int | None] = ("wav.scp", None),
                 utt: str | None = None) -> tuple[np.ndarray, int]:
    """The whole recording of a wav.scp value, first channel (truncation and extra channels
    are warned about, naming `where` and `utt`), not yet checked for emptiness or NaN: what
    read_audio and a reader of many segments of one recording (datadir.iter_utterance_audio)
    decode once and then cut with cut_segment."""
    path, line = where
    spec = spec.strip()
    try:
        if spec.endswith("|"):
            command = spec[:-1].strip()
            proc = subprocess.run(command, shell=True, capture_output=True)
            if proc.returncode != 0:
                raise AudioError(path, f"command '{command}' failed (exit {proc.returncode}): "
                                 f"{proc.stderr.decode(errors='replace').strip()[-300:]}", line=line)
            source = io.BytesIO(proc.stdout)
            data, sr = sf.read(source, dtype="float32", always_2d=True)
        else:
            if not os.path.isfile(spec):
                raise AudioError(path, f"audio file '{spec}' does not exist", line=line)
            source = spec
            data, sr = sf.read(spec, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except FileNotFoundError:
        raise AudioError(path, f"audio file '{spec}' does not exist", line=line) from None
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(path, f"cannot read audio '{spec}': {err}", line=line) from None
    _check_length(source, spec, data.shape[0], where, utt)
    if data.shape[1] > 1:
        _warn("multi-channel", where, utt, f"'{spec}' has {data.shape[1]} channels; using "
              "channel 0 (select one with a `sox ... remix N |` pipe)")
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
