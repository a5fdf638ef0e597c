"""Synthesizers run as programs: Festival (text2wave, Debian festvox-* voices) and flite
(MBROLA, which runs two programs, is in backends/mbrola.py).

Each writes a WAV file that is read back; none reports phone timings. Festival's voices
read their own 8-bit encodings (Czech ISO-8859-2, Finnish/Italian/Catalan ISO-8859-1), so the
text is re-encoded per voice; words the encoding cannot hold make the utterance fail loudly.
Per-speaker settings: a duration stretch.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from lidtool.corpora.synth.backends.base import Rendering, Synthesizer, base_lang
from lidtool.errors import AudioError

FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")
# language -> [(voice, voice dir under FESTIVAL_VOICE_DIR, Debian package, text encoding)]
FESTIVAL_VOICES = {
    "en": [("kal_diphone", "english", "festvox-kallpc16k", "utf-8"),
           ("ked_diphone", "english", "festvox-kdlpc16k", "utf-8"),
           ("cmu_us_slt_arctic_hts", "us", "festvox-us-slt-hts", "utf-8")],
    "it": [("lp_diphone", "italian", "festvox-italp16k", "iso-8859-1"),
           ("pc_diphone", "italian", "festvox-itapc16k", "iso-8859-1")],
    "cs": [("czech_dita", "czech", "festvox-czech-dita", "iso-8859-2"),
           ("czech_machac", "czech", "festvox-czech-machac", "iso-8859-2")],
    "fi": [("suo_fi_lj_diphone", "finnish", "festvox-suopuhe-lj", "iso-8859-1"),
           ("hy_fi_mv_diphone", "finnish", "festvox-suopuhe-mv", "iso-8859-1")],
    "ru": [("msu_ru_nsh_clunits", "russian", "festvox-ru", "utf-8")],
    "ca": [("upc_ca_ona_hts", "catalan", "festvox-ca-ona-hts", "iso-8859-1")],
    "hi": [("hindi_NSK_diphone", "hindi", "festvox-hi-nsk", "utf-8")],
    "mr": [("marathi_NSK_diphone", "marathi", "festvox-mr-nsk", "utf-8")],
    "te": [("telugu_NSK_diphone", "telugu", "festvox-te-nsk", "utf-8")],
}
FLITE_VOICES = {"en": ["kal16", "awb", "rms", "slt"]}
TIMEOUT_S = 120


def run_program(cmd: list[str], where: str, text: str) -> bytes:
    """Run a synthesizer program; its stdout, or an AudioError naming the text."""
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AudioError(where, f"{cmd[0]} failed: {err}") from None
    if proc.returncode != 0:
        raise AudioError(where, f"{cmd[0]} exited with {proc.returncode} for text "
                         f"{text[:60]!r}: {proc.stderr.decode(errors='replace')[-300:]}")
    return proc.stdout


def _read_wav(path: Path, where: str, text: str) -> tuple[np.ndarray, int]:
    try:
        x, sr = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as err:
        raise AudioError(where, f"no readable audio for text {text[:60]!r}: {err}") from None
    x = x[:, 0]
    if len(x) == 0 or not np.any(x):
        raise AudioError(where, f"empty or silent audio for text {text[:60]!r}")
    return x, int(sr)


def _render_program(name: str, text_bytes: bytes, command, where: str, text: str) -> Rendering:
    """Run a synthesizer program that reads a text file and writes a wav file:
    `command(text_path, wav_path)` gives its argument list."""
    with tempfile.TemporaryDirectory(prefix=f"lidtool-{name}-") as tmp:
        src, out = Path(tmp) / "text.txt", Path(tmp) / "out.wav"
        src.write_bytes(text_bytes)
        run_program(command(str(src), str(out)), where, text)
        x, sr = _read_wav(out, where, text)
    return Rendering(x, sr)


def _stretch(rng: np.random.Generator, cfg: dict) -> dict:
    lo, hi = cfg.get("duration_stretch", (0.85, 1.2))
    return {"duration_stretch": round(float(rng.uniform(lo, hi)), 3)}


class Festival(Synthesizer):
    name = "festival"

    def _entry(self, voice: str):
        for entries in FESTIVAL_VOICES.values():
            for entry in entries:
                if entry[0] == voice:
                    return entry
        return None

    def voices(self, lang: str) -> list[str]:
        return [v for v, *_ in FESTIVAL_VOICES.get(base_lang(lang), [])]

    def missing(self, voice: str) -> str | None:
        entry = self._entry(voice)
        if entry is None:
            return f"(no Festival voice '{voice}' is known to lidtool)"
        if shutil.which("text2wave") is None:
            return "festival"
        if not (FESTIVAL_VOICE_DIR / entry[1] / voice).is_dir():
            return entry[2]
        return None

    def draw_params(self, rng, cfg):
        return _stretch(rng, cfg)

    def render(self, text: str, voice: str, params: dict) -> Rendering:
        where = f"festival voice '{voice}'"
        encoding = self._entry(voice)[3]
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            raise AudioError(where, f"text {text[:60]!r} is not writable in {encoding}",
                             fix="use a language this voice reads") from None
        stretch = float(params.get("duration_stretch", 1.0))
        return _render_program(
            "festival", data, lambda src, out: [
                "text2wave", "-eval", f"(voice_{voice})",
                "-eval", f"(Parameter.set 'Duration_Stretch {stretch})", "-o", out, src],
            where, text)


class Flite(Synthesizer):
    name = "flite"

    def voices(self, lang: str) -> list[str]:
        return list(FLITE_VOICES.get(base_lang(lang), []))

    def missing(self, voice: str) -> str | None:
        return None if shutil.which("flite") else "flite"

    def draw_params(self, rng, cfg):
        return _stretch(rng, cfg)

    def render(self, text: str, voice: str, params: dict) -> Rendering:
        where = f"flite voice '{voice}'"
        stretch = float(params.get("duration_stretch", 1.0))
        return _render_program(
            "flite", text.encode("utf-8"), lambda src, out: [
                "flite", "-voice", voice, "--setf", f"duration_stretch={stretch}",
                "-f", src, "-o", out],
            where, text)
