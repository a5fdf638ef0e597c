"""The GMM-HMM acoustic model: phone set, context tree, GMMs, transition probabilities,
feature options; saved as one `.mdl` file (numpy npz with a JSON header).

Topology: every phone is a left-to-right HMM of `num_states` emitting states (default 3)
entered at state 0, with a self-loop and a forward transition per state (Kaldi's default
non-silence topology, "3state": a phone lasts at least num_states frames). The "skip"
topology adds, from every state k <= num_states - 2, a transition that jumps over state
k + 1 (from the last-but-one state: leaves the phone), so a phone may last
ceil(num_states / 2) frames (2 for 3 states) - needed for fast speech, where phones
shorter than 30 ms are common. Transition probabilities (self-loop, forward, skip) are
kept per (phone, state) and re-estimated from alignments.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from lidtool.asr.gmm import GmmSet
from lidtool.asr.tree import ContextTree, phone_instances
from lidtool.errors import CheckpointError, FeatureError
from lidtool.fileio import atomic_open

MODEL_VERSION = 1
TOPOLOGIES = ("3state", "skip")


def add_deltas(feats: np.ndarray, order: int = 2, window: int = 2) -> np.ndarray:
    """Append delta (and delta-delta...) coefficients, Kaldi add-deltas style
    (regression over +-window frames, edges replicated)."""
    out = [feats]
    cur = feats
    denom = 2.0 * sum(n * n for n in range(1, window + 1))
    for _ in range(order):
        pad = np.pad(cur, ((window, window), (0, 0)), mode="edge")
        T = cur.shape[0]
        d = sum(n * (pad[window + n:window + n + T] - pad[window - n:window - n + T])
                for n in range(1, window + 1)) / denom
        out.append(d)
        cur = d
    return np.concatenate(out, axis=1)


class AcousticModel:
    def __init__(self, phones: list[str], silence: list[int], tree: ContextTree,
                 gmm: GmmSet, self_loop: np.ndarray, *, delta_order: int = 2,
                 cmn: bool = True, raw_dim: int, var_floor: np.ndarray,
                 skip: np.ndarray | None = None):
        """`self_loop` [num_phones+1, num_states]: self-loop probabilities; `skip` (same
        shape, None: the 3state topology): skip probabilities, 0 where not allowed;
        the forward probability is what is left."""
        self.phones = list(phones)
        self.silence = list(silence)
        self.tree = tree
        self.gmm = gmm
        self.self_loop = np.asarray(self_loop, dtype=np.float64)
        self.delta_order = int(delta_order)
        self.cmn = bool(cmn)
        self.raw_dim = int(raw_dim)
        self.var_floor = np.asarray(var_floor, dtype=np.float64)
        S = tree.num_states
        if skip is None:
            self.skip = np.zeros_like(self.self_loop)
        else:
            self.skip = np.array(skip, dtype=np.float64)
            if self.skip.shape != self.self_loop.shape:
                raise ValueError(f"skip probabilities have shape {self.skip.shape}, "
                                 f"self-loops {self.self_loop.shape}")
            self.skip[:, max(S - 1, 0):] = 0.0      # the last state has nothing to skip
        if np.any(self.self_loop + self.skip >= 1.0):
            raise ValueError("self-loop + skip probabilities must leave a forward one")
        if gmm.num_pdfs != tree.num_pdfs:
            raise ValueError(f"GMM has {gmm.num_pdfs} pdfs, tree {tree.num_pdfs}")

    @property
    def num_states(self) -> int:
        return self.tree.num_states

    @property
    def num_pdfs(self) -> int:
        return self.tree.num_pdfs

    @property
    def topology(self) -> str:
        return "skip" if np.any(self.skip > 0) else "3state"

    @property
    def min_frames(self) -> int:
        """The fewest frames one phone can last."""
        return (self.num_states + 1) // 2 if self.topology == "skip" else self.num_states

    @property
    def forward(self) -> np.ndarray:
        return 1.0 - self.self_loop - self.skip

    @property
    def phone_ids(self) -> list[int]:
        return list(range(1, len(self.phones)))

    # ---------------------------------------------------------------- features
    def prepare(self, feats: np.ndarray, where: str = "<feats>") -> np.ndarray:
        """Raw features (as in feats.scp) -> model features (CMN, deltas)."""
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[1] != self.raw_dim:
            raise FeatureError(where, f"features have shape {feats.shape}, the model "
                               f"expects dimension {self.raw_dim}")
        if not np.all(np.isfinite(feats)):
            raise FeatureError(where, "features contain NaN or Inf")
        if self.cmn:
            feats = feats - feats.mean(axis=0, keepdims=True)
        return add_deltas(feats, self.delta_order) if self.delta_order else feats

    # ---------------------------------------------------------------- transitions
    def transition_counts(self, pdfs: np.ndarray) -> np.ndarray:
        """[num_phones+1, num_states, 3] (self-loop, forward, skip) counts of one
        alignment. A state is left forward when the next state of the phone (or the
        exit, after the last state) follows, by a skip when the one after that does; a
        phone cut off by the end of a decoded utterance counts its last move as forward."""
        counts = np.zeros(self.self_loop.shape + (3,))
        st = self.tree.pdf2state
        S = self.num_states
        for phone, s, e in phone_instances(self.tree.pdf2phone, st, pdfs):
            states = st[pdfs[s:e]]
            starts = np.r_[0, np.flatnonzero(states[1:] != states[:-1]) + 1]
            run_states = states[starts]
            run_lens = np.diff(np.r_[starts, len(states)])
            jump = np.r_[run_states[1:], S] - run_states
            np.add.at(counts[phone, :, 0], run_states, run_lens - 1)
            np.add.at(counts[phone, :, 2], run_states[jump == 2], 1)
            np.add.at(counts[phone, :, 1], run_states[jump != 2], 1)
        return counts

    def update_transitions(self, counts: np.ndarray, floor: float = 0.01,
                           min_count: float = 5.0) -> None:
        """ML transition probabilities from counts (each at least `floor`; skips only
        where the topology has them); (phone, state)s with < min_count moves keep theirs."""
        if counts.shape[-1] == 2:                  # (self-loop, forward) counts
            counts = np.concatenate([counts, np.zeros(counts.shape[:-1] + (1,))], -1)
        allowed = np.ones(counts.shape, bool)
        allowed[..., 2] = self.skip > 0
        tot = np.where(allowed, counts, 0.0).sum(-1)
        p = np.where(allowed, np.maximum(counts / np.maximum(tot, 1e-10)[..., None], floor),
                     0.0)
        p /= p.sum(-1, keepdims=True)
        ok = tot >= min_count
        self.self_loop = np.where(ok, p[..., 0], self.self_loop)
        self.skip = np.where(ok, p[..., 2], self.skip)

    def transition_logprob(self, pdfs: np.ndarray) -> float:
        """log P of the state sequence implied by per-frame pdfs (phone loop entries free)."""
        c = self.transition_counts(pdfs)
        probs = np.stack([self.self_loop, self.forward, self.skip], -1)
        used = c > 0
        return float((c[used] * np.log(np.maximum(probs[used], 1e-300))).sum())

    # ---------------------------------------------------------------- io
    def save(self, path) -> None:
        meta = {"version": MODEL_VERSION, "phones": self.phones, "silence": self.silence,
                "tree": self.tree.to_json(), "delta_order": self.delta_order,
                "cmn": self.cmn, "raw_dim": self.raw_dim}
        arrays = dict(self.gmm.to_arrays(), self_loop=self.self_loop, skip=self.skip,
                      var_floor=self.var_floor,
                      meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        with atomic_open(path, "wb") as f:
            f.write(buf.getvalue())

    @classmethod
    def load(cls, path) -> "AcousticModel":
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(path, "model file does not exist")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
        except Exception as err:  # zip/json/key errors all mean "not a model"
            raise CheckpointError(path, f"not a lidtool acoustic model ({err})") from None
        if meta.get("version") != MODEL_VERSION:
            raise CheckpointError(path, f"model version {meta.get('version')} is not "
                                  f"{MODEL_VERSION}")
        return cls(meta["phones"], meta["silence"], ContextTree.from_json(meta["tree"]),
                   GmmSet.from_arrays(arrays), arrays["self_loop"],
                   delta_order=meta["delta_order"], cmn=meta["cmn"],
                   raw_dim=meta["raw_dim"], var_floor=arrays["var_floor"],
                   skip=arrays.get("skip"))

    def write_pdf_info(self, path) -> None:
        """`pdf phone-name state` per line: what each virtual-phoneme label means."""
        with atomic_open(path) as f:
            for pdf in range(self.num_pdfs):
                f.write(f"{pdf} {self.phones[self.tree.pdf2phone[pdf]]} "
                        f"{self.tree.pdf2state[pdf]}\n")
