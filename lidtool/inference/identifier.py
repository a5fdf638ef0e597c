"""`Identifier`: a trained LID model (final.pt) as a Python object for new audio.

    from lidtool import Identifier
    ident = Identifier.from_pretrained("exp/resnet_wadcl/final.pt")
    result = ident.identify("a.wav")            # or (samples, sample_rate)
    print(result.language, result.probability, result.ranked[:3], result.warnings)
    for name, result in ident.identify_all(["a.wav", "b.flac"]): ...   # progress bar
    for utt, result in ident.identify_data_dir("data/test"): ...     # wav.scp [+ segments]

Features are recomputed from the raw audio with the options saved in the model
(lidtool.inference.audio.features_from_audio), as `lidtool identify` does. A result carries
warnings a user should see: silence, too little speech for a reliable decision, and a weakly
supported top language. With `unknown_threshold`, a top posterior below it makes the
decision "unknown" (open-set rejection).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lidtool.errors import LidtoolError

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
# Below these the decision is flagged (not changed): RMS level of digital silence, seconds
# of voiced speech that LID needs to be more than a guess, and a top posterior that is
# hardly better than the runner-up.
SILENCE_DBFS = -60.0
MIN_SPEECH_SECONDS = 1.0
WEAK_POSTERIOR = 0.5


@dataclass
class Result:
    """One decision: `ranked` = [(class, posterior)] best first; `language` is the top class,
    or "unknown" when its posterior is below the identifier's unknown_threshold."""
    language: str
    ranked: list[tuple[str, float]]
    speech_seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def probability(self) -> float:
        return self.ranked[0][1]


class Identifier:
    """A loaded model plus the rules that turn its posteriors into a decision."""

    def __init__(self, model, info: dict, device, model_path: str = "final.pt", *,
                 unknown_threshold: float | None = None,
                 weak_posterior: float = WEAK_POSTERIOR,
                 min_speech_seconds: float = MIN_SPEECH_SECONDS):
        self.model, self.info, self.device = model, info, device
        self.model_path = str(model_path)
        self.unknown_threshold = unknown_threshold
        self.weak_posterior = weak_posterior
        self.min_speech_seconds = min_speech_seconds

    @classmethod
    def from_pretrained(cls, path, device: str = "auto", num_threads: int | None = 1,
                        **rules) -> "Identifier":
        """Load exp/<sys>/final.pt; `rules` are the keyword options of Identifier()."""
        from lidtool.threads import apply_num_threads
        apply_num_threads(num_threads)
        from lidtool.train.checkpoint import load_model
        from lidtool.train.distributed import pick_device
        dev = pick_device(device)
        from lidtool.inference.checks import check_model_features
        model, info = load_model(path, dev)
        # the feature config saved with the model must give what its network takes, before
        # any audio is read
        check_model_features(info, path)
        return cls(model, info, dev, str(path), **rules)

    @property
    def classes(self) -> list[str]:
        return list(self.info["classes"])

    def identify(self, audio, sample_rate: int | None = None, *, name: str | None = None
                 ) -> Result:
        """Decide the language of one input: a file path, or samples (float in [-1, 1)
        with `sample_rate`, or a (samples, sample_rate) pair). Raises LidtoolError for
        unreadable audio."""
        from lidtool.inference.audio import features_from_audio
        from lidtool.inference.scoring import forward_utterance
        samples, sr, name = self._samples(audio, sample_rate, name)
        where = (name, None)
        feats = features_from_audio(samples, sr, self.info.get("features"), where=where,
                                    model_path=self.model_path)
        probs = np.exp(forward_utterance(self.model, feats, self.device))
        order = np.argsort(-probs)
        ranked = [(self.info["classes"][i], float(probs[i])) for i in order]
        shift = float((self.info.get("features") or {}).get("feature_config", {})
                      .get("frame_shift_ms", 10.0)) / 1000.0
        speech = len(feats) * shift
        return Result(self._decide(ranked), ranked, speech,
                      self._warnings(samples, speech, ranked))

    def identify_all(self, inputs, progress: bool = True):
        """Yield (name, Result or the LidtoolError it raised) for each path (or
        (name, samples, sample_rate) triple) of `inputs`; a failure does not stop the rest."""
        from tqdm import tqdm
        if not hasattr(inputs, "__len__"):
            inputs = list(inputs)
        for item in tqdm(inputs, desc="identify", unit="file", disable=not progress,
                         mininterval=5):
            if isinstance(item, tuple):
                name, audio, sr = item
            else:
                name, audio, sr = str(item), item, None
            if isinstance(audio, LidtoolError):       # the input could not be read
                yield name, audio
                continue
            try:
                yield name, self.identify(audio, sr, name=name)
            except LidtoolError as err:
                yield name, err

    def identify_data_dir(self, data_dir, progress: bool = True):
        """(utt, Result or error) for every utterance of a Kaldi data dir (wav.scp, with
        segments when present), read from the raw audio."""
        from lidtool.data.datadir import DataDir
        d = DataDir(data_dir)
        yield from self.identify_all(_Sized(_audio_or_errors(d), len(d.utts)), progress)

    # -- rules --------------------------------------------------------------------------
    def _decide(self, ranked) -> str:
        top, p = ranked[0]
        if self.unknown_threshold is not None and p < self.unknown_threshold:
            return UNKNOWN
        return top

    def _warnings(self, samples, speech_seconds: float, ranked) -> list[str]:
        out = []
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
        if rms <= 10 ** (SILENCE_DBFS / 20):
            out.append(f"the audio is silence (level {20 * np.log10(max(rms, 1e-10)):.0f} "
                       "dBFS): the decision is meaningless")
        elif speech_seconds < self.min_speech_seconds:
            out.append(f"only {speech_seconds:.2f} s of speech (less than "
                       f"{self.min_speech_seconds:g} s): the decision is unreliable")
        top, p = ranked[0]
        if p < self.weak_posterior:
            runner = f", next {ranked[1][0]} {ranked[1][1]:.2f}" if len(ranked) > 1 else ""
            out.append(f"weak decision: {top} has posterior {p:.2f}{runner}")
        return out

    @staticmethod
    def _samples(audio, sample_rate, name):
        from lidtool.data.audio import read_audio
        if isinstance(audio, (str, Path)):
            samples, sr = read_audio(str(audio), where=(str(audio), None))
            return samples, sr, name or str(audio)
        if isinstance(audio, tuple) and sample_rate is None:
            audio, sample_rate = audio
        if sample_rate is None:
            raise ValueError("samples need a sample_rate")
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"samples must be one channel (1-d), got shape {samples.shape}")
        return samples, int(sample_rate), name or "<samples>"


def _audio_or_errors(d):
    """(utt, samples, sr) for each utterance of a data dir, or (utt, AudioError, None) for
    one whose audio cannot be read; reading goes on with the next utterance. Errors in the
    tables themselves (DataDirError) stop it."""
    from lidtool.data.datadir import iter_utterance_audio
    from lidtool.errors import AudioError
    utts, i = d.utts, 0
    while i < len(utts):
        try:
            for item in iter_utterance_audio(d, utts[i:]):
                yield item
                i += 1
        except AudioError as err:
            yield utts[i], err, None
            i += 1


class _Sized:
    """An iterator with a known length, so that the progress bar shows a total and ETA
    without reading every utterance first."""

    def __init__(self, it, n: int):
        self._it, self._n = it, n

    def __iter__(self):
        return iter(self._it)

    def __len__(self):
        return self._n
