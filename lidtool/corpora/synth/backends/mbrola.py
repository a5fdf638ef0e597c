"""MBROLA diphone voices, driven by espeak-ng's mb-* voices without espeak-ng's mbrola pipe.

Why not `espeak-ng -v mb-xx -w out.wav`: espeak-ng runs `mbrola` as a child process and reads
its audio through non-blocking pipes, a fixed number of samples per phoneme, and stops reading
a phoneme when /proc says mbrola is sleeping (libespeak-ng mbrowrap.c). When the machine is
busy that read races mbrola: a short read moves samples to the next phoneme or drops the
tail, so the same text and settings gave a different waveform in about 1 of 50 renderings
under CPU load (length and samples differ from ~0.1 s on).

So the two halves run one after the other on files: espeak-ng writes the phoneme file
(`--pho`: phones, durations, pitch points; text processing only, deterministic), then the
`mbrola` program renders the whole file. espeak-ng's own level is then applied as it does it
(synth_mbrola.c): mbrola's volume ratio is the low byte of the voice's phoneme translation
table / 16 (`mbrola -v`), and every sample is multiplied by the amplitude (55 at espeak's
default volume, times the voice file's `voicing` as 64ths) and divided by 40 with C integer
truncation and clipping. With an idle machine this gives espeak-ng's output bit for bit.
Needs the non-free `mbrola` program and `mbrola-<voice>` data (tools/install.sh --mbrola true).
"""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from lidtool.corpora.synth.backends.base import Rendering, Synthesizer, base_lang
from lidtool.corpora.synth.backends.external import run_program
from lidtool.errors import AudioError

# language (ISO 639-1) -> espeak-ng mb-* voices (see espeak-ng-data/voices/mb)
MBROLA_VOICES = {
    "en": ["mb-en1", "mb-us1", "mb-us2", "mb-us3"],
    "es": ["mb-es1", "mb-es2", "mb-es3", "mb-es4"],
    "it": ["mb-it3", "mb-it4"],
    "cs": ["mb-cz2"],
    "de": ["mb-de1", "mb-de2", "mb-de4", "mb-de5", "mb-de6", "mb-de7"],
    "fr": ["mb-fr1", "mb-fr2", "mb-fr4"],
    "pt": ["mb-br1", "mb-br3", "mb-br4", "mb-pt1"],
    "pl": ["mb-pl1"],
}
MBROLA_DIR = Path("/usr/share/mbrola")
ESPEAK_AMPLITUDE = 55       # espeak-ng's general amplitude at its default volume (100)


@functools.lru_cache(maxsize=1)
def espeak_data_dir() -> Path:
    """espeak-ng's data directory, as the installed program reports it."""
    out = run_program(["espeak-ng", "--version"], "espeak-ng --version", "").decode()
    if "Data at:" not in out:
        raise AudioError("espeak-ng --version", f"no 'Data at:' in its output: {out!r}")
    return Path(out.split("Data at:", 1)[1].strip())


@functools.lru_cache(maxsize=None)
def voice_settings(voice: str) -> tuple[Path, float, int]:
    """(mbrola database, mbrola volume ratio, espeak amplitude) of espeak-ng voice `voice`."""
    data = espeak_data_dir()
    path = data / "voices" / "mb" / voice
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise AudioError(str(path), f"cannot read espeak-ng voice file: {err}") from None
    database = phtrans = None
    voicing = 100
    for line in lines:
        words = line.split("//")[0].split()
        if len(words) >= 3 and words[0] == "mbrola":
            database, phtrans = words[1], words[2]
        elif len(words) >= 2 and words[0] == "voicing":
            voicing = int(words[1])
    if database is None:
        raise AudioError(str(path), "no 'mbrola <database> <phtrans>' line")
    try:
        control = (data / "mbrola_ph" / phtrans).read_bytes()[:4]
    except OSError as err:
        raise AudioError(str(path), f"cannot read its phoneme table {phtrans}: {err}") from None
    ratio = (int.from_bytes(control, "little") & 0xff) / 16.0
    amplitude = ESPEAK_AMPLITUDE * (voicing * 64 // 100) // 64
    return MBROLA_DIR / database / database, ratio, amplitude


def espeak_level(pcm: np.ndarray, amplitude: int) -> np.ndarray:
    """espeak-ng's scaling of mbrola samples: int16 * amplitude / 40, truncated toward zero
    (C division), clipped to int16."""
    v = pcm.astype(np.int64) * amplitude
    v = np.sign(v) * (np.abs(v) // 40)
    return np.clip(v, -32768, 32767).astype(np.int16)


class Mbrola(Synthesizer):
    name = "mbrola"

    def voices(self, lang: str) -> list[str]:
        return list(MBROLA_VOICES.get(base_lang(lang), []))

    def missing(self, voice: str) -> str | None:
        data = voice.removeprefix("mb-")
        if shutil.which("espeak-ng") is None:
            return "espeak-ng"
        if shutil.which("mbrola") is None or not (MBROLA_DIR / data / data).is_file():
            return f"mbrola mbrola-{data} (non-free: tools/install.sh --mbrola true)"
        return None

    def draw_params(self, rng, cfg):
        rate, pitch = cfg.get("rate", (130, 230)), cfg.get("pitch", (20, 80))
        return {"rate": int(round(rng.uniform(*rate))), "pitch": int(round(rng.uniform(*pitch)))}

    def phonemes(self, text: str, voice: str, params: dict) -> bytes:
        """espeak-ng's MBROLA phoneme file (.pho) for `text`."""
        where = f"espeak-ng MBROLA voice '{voice}'"
        with tempfile.TemporaryDirectory(prefix="lidtool-mbrola-") as tmp:
            src = Path(tmp) / "text.txt"
            src.write_bytes(text.encode("utf-8"))
            return run_program(["espeak-ng", "-q", "--pho", "-v", voice,
                         "-s", str(params.get("rate", 170)), "-p", str(params.get("pitch", 50)),
                         "-f", str(src)], where, text)

    def render(self, text: str, voice: str, params: dict) -> Rendering:
        where = f"espeak-ng MBROLA voice '{voice}'"
        database, ratio, amplitude = voice_settings(voice)
        pho = self.phonemes(text, voice, params)
        with tempfile.TemporaryDirectory(prefix="lidtool-mbrola-") as tmp:
            src, out = Path(tmp) / "text.pho", Path(tmp) / "out.wav"
            src.write_bytes(pho)
            # -e: an unknown diphone is replaced by silence, as espeak-ng runs it
            run_program(["mbrola", "-e", "-v", f"{ratio:g}", str(database), str(src), str(out)],
                 where, text)
            try:
                pcm, sr = sf.read(out, dtype="int16", always_2d=True)
            except (OSError, RuntimeError) as err:
                raise AudioError(where, f"no readable audio for text {text[:60]!r}: "
                                 f"{err}") from None
        pcm = espeak_level(pcm[:, 0], amplitude)
        if len(pcm) == 0 or not np.any(pcm):
            raise AudioError(where, f"empty or silent audio for text {text[:60]!r}")
        return Rendering(pcm.astype(np.float32) / 32768.0, int(sr))
