"""GMM-HMM training: monophone (Kaldi train_mono.sh) and triphone (train_deltas.sh).

Viterbi training: each iteration accumulates GMM statistics and transition counts from
the current frame-to-pdf alignments, re-estimates (EM for the GMMs, counts for the
self-loops), optionally splits Gaussians ("mixing up") and, on realignment iterations,
realigns every utterance against its training graph with the new model.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import kaldiio
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from lidtool.asr.decode import align_utterance, equal_alignment
from lidtool.asr.gmm import GmmSet
from lidtool.asr.graph import context_expand, expand_hmm
from lidtool.asr.lang import Lang
from lidtool.asr.model import TOPOLOGIES, AcousticModel
from lidtool.asr.tree import ContextTree, TreeStats, phone_instances
from lidtool.data.datadir import DataDir
from lidtool.errors import ConfigError, DataDirError, FeatureError

log = logging.getLogger(__name__)

MONO_REALIGN = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 23, 26, 29, 32, 35, 38)


@dataclass
class TrainOptions:
    num_iters: int = 40
    realign_iters: tuple = MONO_REALIGN
    total_gauss: int = 1000
    max_iter_inc: int = 30
    acoustic_scale: float = 0.1
    beam: float = 10.0
    retry_beam: float = 40.0
    var_floor_scale: float = 0.01      # variance floor = this * global variance
    min_gauss_occ: float = 3.0
    mixup_power: float = 0.2
    mixup_min_count: float = 20.0
    seed: int = 0


@dataclass
class TrainUtt:
    utt: str
    words: list[str]
    feats: np.ndarray                 # prepared (CMN + deltas), float32
    phone_fst: object = field(repr=False)
    ctx: tuple | None = field(default=None, repr=False)   # (C o phone_fst, windows)


def read_raw_feats(rxspec: str, where: tuple[str, int | None]) -> np.ndarray:
    try:
        m = kaldiio.load_mat(rxspec)
    except Exception as err:
        raise FeatureError(where[0], f"cannot read features '{rxspec}': {err}",
                           line=where[1]) from None
    m = np.asarray(m, dtype=np.float32)
    if m.ndim != 2:
        raise FeatureError(where[0], f"'{rxspec}' is not a matrix", line=where[1])
    return m


def load_corpus(data_dir, lang: Lang, model: AcousticModel | None = None,
                *, raw: bool = False) -> list[TrainUtt]:
    """Utterances with text and features; features prepared with `model` unless raw."""
    d = DataDir(data_dir)
    if d.text is None or d.feats_scp is None:
        raise DataDirError(d.path, "an ASR data dir needs `text` and `feats.scp`",
                           fix="run feature extraction / the corpus preparation first")
    out = []
    for utt in d.utts:
        if utt not in d.feats_scp:
            raise DataDirError(d.file("feats.scp"), f"no features for utterance '{utt}'",
                               fix="utils/fix_data_dir.sh")
        if utt not in d.text:
            raise DataDirError(d.file("text"), f"no transcript for '{utt}'")
        where_t = d.text.where(utt)
        words = d.text[utt].split()
        if not words:
            raise DataDirError(where_t[0], f"empty transcript for '{utt}'", line=where_t[1])
        feats = read_raw_feats(d.feats_scp[utt], d.feats_scp.where(utt))
        if not raw:
            feats = model.prepare(feats, where=f"{d.file('feats.scp')}:{utt}").astype(
                np.float32)
        out.append(TrainUtt(utt, words, feats, lang.utterance_fst(words, where_t)))
    if not out:
        raise DataDirError(d.path, "no utterances")
    return out


def init_mono_model(lang: Lang, utts: list[TrainUtt], *, num_states: int = 3,
                    topology: str = "3state", delta_order: int = 2, cmn: bool = True,
                    var_floor_scale: float = 0.01) -> AcousticModel:
    """Flat start (gmm-init-mono): every pdf one Gaussian at the global mean/variance.
    `utts` must hold raw features; they are prepared in place. Transitions start at
    self-loop 0.75 and, with the skip topology, skip 0.05 (model.py)."""
    if topology not in TOPOLOGIES:
        raise ConfigError("--topology", f"unknown topology '{topology}'",
                          fix=f"use one of {', '.join(TOPOLOGIES)}")
    if num_states < 1 or (topology == "skip" and num_states < 2):
        raise ConfigError("--num-states", f"{num_states} states do not fit the "
                          f"'{topology}' topology")
    raw_dim = utts[0].feats.shape[1]
    shape = (len(lang.phones), num_states)
    skip = np.full(shape, 0.05) if topology == "skip" else None
    tree = ContextTree.monophone(list(range(1, len(lang.phones))), num_states)
    P = tree.num_pdfs
    tmp = AcousticModel(lang.phones, lang.silence_ids, tree,
                        GmmSet.single_gaussians(np.zeros((P, 1)), np.ones((P, 1))),
                        np.full(shape, 0.75), delta_order=delta_order, cmn=cmn,
                        raw_dim=raw_dim, var_floor=np.ones(1), skip=skip)
    for u in utts:
        u.feats = tmp.prepare(u.feats, where=u.utt).astype(np.float32)
    allf = np.concatenate([u.feats for u in utts]).astype(np.float64)
    mean, var = allf.mean(0), allf.var(0) + 1e-6
    tmp.gmm = GmmSet.single_gaussians(np.tile(mean, (P, 1)), np.tile(var, (P, 1)))
    tmp.var_floor = var_floor_scale * var
    return tmp


def _graph(model: AcousticModel, u: TrainUtt):
    if u.ctx is None or u.ctx[0] != model.tree.context_width:
        u.ctx = (model.tree.context_width,) + tuple(context_expand(u.phone_fst, model))
    return expand_hmm(u.ctx[1], u.ctx[2], model)


def equal_align_all(model: AcousticModel, utts: list[TrainUtt], seed: int = 0) -> dict:
    alis = {}
    for i, u in enumerate(utts):
        a = equal_alignment(_graph(model, u), u.feats.shape[0], seed + i)
        if a is None:
            log.warning("%s: %d frames are too few for its transcript; skipped", u.utt,
                        u.feats.shape[0])
            continue
        alis[u.utt] = a
    if not alis:
        raise DataDirError("<training data>", "no utterance could be equally aligned")
    return alis


def realign_all(model: AcousticModel, utts: list[TrainUtt], opts: TrainOptions,
                desc: str = "align") -> tuple[dict, float, int]:
    """Returns (alignments, summed Viterbi objective, number of failures)."""
    with threadpool_limits(limits=1):
        return _realign_all(model, utts, opts, desc)


def _realign_all(model, utts, opts, desc):
    alis, score, failed = {}, 0.0, 0
    for u in tqdm(utts, desc=desc, leave=False, disable=None):
        a = align_utterance(model, _graph(model, u), u.feats,
                            acoustic_scale=opts.acoustic_scale, beam=opts.beam,
                            retry_beam=opts.retry_beam)
        if a is None:
            failed += 1
            log.warning("%s: alignment failed (beam %g, retry %g)", u.utt, opts.beam,
                        opts.retry_beam)
            continue
        alis[u.utt] = a.pdfs
        score += a.score
    return alis, score, failed


def em_step(model: AcousticModel, utts: list[TrainUtt], alis: dict,
            opts: TrainOptions) -> dict:
    """One re-estimation on fixed alignments; returns the per-frame likelihoods before
    and after (the EM step may not lower the second) and the occupancies."""
    stats = model.gmm.new_stats()
    tcounts = 0.0
    by_utt = [(u, alis[u.utt]) for u in utts if u.utt in alis]
    for u, pdfs in by_utt:
        model.gmm.accumulate(u.feats, pdfs, stats)
        tcounts = tcounts + model.transition_counts(pdfs)
    before = stats.loglike / max(stats.frames, 1)
    trans_before = float(sum(model.transition_logprob(p) for _, p in by_utt))
    model.gmm.update(stats, var_floor=model.var_floor, min_gauss_occ=opts.min_gauss_occ)
    model.update_transitions(tcounts)
    after = sum(float(model.gmm.frame_loglikes(u.feats, p).sum()) for u, p in by_utt)
    trans_after = float(sum(model.transition_logprob(p) for _, p in by_utt))
    return {"like_before": before, "like_after": after / max(stats.frames, 1),
            "trans_before": trans_before, "trans_after": trans_after,
            "frames": stats.frames, "pdf_occ": stats.pdf_occupancy()}


def train(model: AcousticModel, utts: list[TrainUtt], alis: dict, opts: TrainOptions,
          *, start_gauss: int | None = None) -> tuple[dict, list[dict]]:
    """Run opts.num_iters iterations from alignments `alis`; returns (alis, history).
    BLAS runs single-threaded (the matrices are small; parallelism comes from jobs)."""
    with threadpool_limits(limits=1):
        return _train(model, utts, alis, opts, start_gauss)


def _train(model, utts, alis, opts, start_gauss):
    history = []
    num_gauss = start_gauss or model.gmm.total_gauss()
    inc = max(0, (opts.total_gauss - num_gauss)) // max(opts.max_iter_inc, 1)
    for it in range(opts.num_iters):
        rec = {"iter": it, "realigned": False}
        if it > 0 and it in opts.realign_iters:
            alis, score, failed = realign_all(model, utts, opts, desc=f"align it{it}")
            rec.update(realigned=True, align_score=score, align_failed=failed)
            if not alis:
                raise DataDirError("<training data>", "every utterance failed to align",
                                   fix="check the transcripts / raise --retry-beam")
        rec.update(em_step(model, utts, alis, opts))
        if inc and it < opts.max_iter_inc:
            num_gauss += inc
            model.gmm.mix_up(rec["pdf_occ"], num_gauss, power=opts.mixup_power,
                             min_count=opts.mixup_min_count)
        rec["num_gauss"] = model.gmm.total_gauss()
        del rec["pdf_occ"]
        log.info("iter %d: like/frame %.4f -> %.4f%s, %d Gaussians", it,
                 rec["like_before"], rec["like_after"],
                 f", align objf {rec['align_score']:.2f}" if rec["realigned"] else "",
                 rec["num_gauss"])
        history.append(rec)
    return alis, history


# -------------------------------------------------------------------- triphones
def convert_alignment(mono: AcousticModel, tree: ContextTree, pdfs: np.ndarray) -> np.ndarray:
    """Map a monophone alignment to the pdfs of a context tree (convert-ali)."""
    out = np.empty_like(pdfs)
    inst = phone_instances(mono.tree.pdf2phone, mono.tree.pdf2state, pdfs)
    states = mono.tree.pdf2state[pdfs]
    for i, (phone, s, e) in enumerate(inst):
        left = inst[i - 1][0] if i > 0 else 0
        right = inst[i + 1][0] if i + 1 < len(inst) else 0
        win = (left, phone, right)
        for t in range(s, e):
            out[t] = tree.pdf(win, int(states[t]))
    return out


def init_tri_model(mono: AcousticModel, tree: ContextTree, stats: TreeStats) -> AcousticModel:
    """One Gaussian per leaf from the tree statistics (gmm-init-model); leaves without
    data copy the monophone's first Gaussian of the same (phone, state)."""
    P = tree.num_pdfs
    D = stats.x.shape[1]
    means, variances = np.zeros((P, D)), np.ones((P, D))
    for pdf in range(P):
        idx = tree.leaf_events[pdf] if hasattr(tree, "leaf_events") else []
        c = stats.count[idx].sum() if len(idx) else 0.0
        if c > 0:
            m = stats.x[idx].sum(0) / c
            means[pdf] = m
            variances[pdf] = np.maximum(stats.xx[idx].sum(0) / c - m * m, mono.var_floor)
        else:
            mp = mono.tree.pdf((int(tree.pdf2phone[pdf]),), int(tree.pdf2state[pdf]))
            k = int(np.argmax(mono.gmm.weights[mp]))
            means[pdf], variances[pdf] = mono.gmm.means[mp, k], mono.gmm.variances[mp, k]
    return AcousticModel(mono.phones, mono.silence, tree,
                         GmmSet.single_gaussians(means, variances), mono.self_loop.copy(),
                         delta_order=mono.delta_order, cmn=mono.cmn, raw_dim=mono.raw_dim,
                         var_floor=mono.var_floor, skip=mono.skip.copy())
