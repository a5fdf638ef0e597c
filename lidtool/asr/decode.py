"""Viterbi decoding / forced alignment with kaldi-decoder's FasterDecoder.

The decodable is a matrix of scaled log-likelihoods (kaldi_decoder.DecodableCtc: input
label i reads column i-1), computed by our GmmSet for every pdf, so graph input labels
are pdf-id + 1 (graph.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import kaldi_decoder
import kaldifst
import numpy as np

from lidtool.asr.model import AcousticModel


@dataclass
class Alignment:
    pdfs: np.ndarray        # [T] int32, one pdf-id per frame
    graph_cost: float       # -log of graph weights on the path (LM, lexicon, transitions)
    acoustic_cost: float    # -acoustic_scale * sum_t log p(x_t | pdf_t)
    beam_used: float
    reached_final: bool = True   # False: a partial path (allow_partial) was returned

    @property
    def score(self) -> float:
        """The Viterbi objective the alignment maximises."""
        return -(self.graph_cost + self.acoustic_cost)


def viterbi(graph, loglikes: np.ndarray, *, acoustic_scale: float, beam: float,
            retry_beam: float = 0.0, max_active: int = 2147483647,
            allow_partial: bool = False) -> Alignment | None:
    """Best path of `graph` for [T, P] log-likelihoods; None if no path reaches a final
    state (after the retry beam, when given) and `allow_partial` is False."""
    T = loglikes.shape[0]
    dec_ll = np.ascontiguousarray(loglikes * acoustic_scale, dtype=np.float32)
    for b in ([beam, retry_beam] if retry_beam > beam else [beam]):
        dec = kaldi_decoder.FasterDecoder(
            graph, kaldi_decoder.FasterDecoderOptions(beam=b, max_active=max_active))
        dec.decode(kaldi_decoder.DecodableCtc(dec_ll))
        final = dec.reached_final()
        if final or (allow_partial and b == max(beam, retry_beam)):
            ok, lat = dec.get_best_path()
            if not ok:
                continue
            ok, ilabels, _, weight = kaldifst.get_linear_symbol_sequence(lat)
            if not ok or len(ilabels) != T:
                raise RuntimeError(f"decoder returned {len(ilabels)} labels for {T} frames")
            pdfs = np.asarray(ilabels, dtype=np.int32) - 1
            return Alignment(pdfs, float(weight.value1), float(weight.value2), b, final)
    return None


def align_utterance(model: AcousticModel, graph, feats: np.ndarray, *,
                    acoustic_scale: float = 0.1, beam: float = 10.0,
                    retry_beam: float = 40.0) -> Alignment | None:
    """Forced alignment of prepared features against a training graph."""
    return viterbi(graph, model.gmm.all_loglikes(feats), acoustic_scale=acoustic_scale,
                   beam=beam, retry_beam=retry_beam)


def equal_alignment(graph, num_frames: int, seed: int = 0) -> np.ndarray | None:
    """Kaldi's equal alignment: a path of exactly num_frames frames, None if impossible."""
    ok, lin = kaldifst.equal_align(graph, num_frames, seed)
    if not ok:
        return None
    ok, ilabels, _, _ = kaldifst.get_linear_symbol_sequence(lin)
    if not ok or len(ilabels) != num_frames:
        return None
    return np.asarray(ilabels, dtype=np.int32) - 1
