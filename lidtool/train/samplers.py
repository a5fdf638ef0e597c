"""Batch samplers: which chunks (utterance, crop, length) make up the batch of each step.

  random    instance sampling: utterances in a random order, each once per epoch
            (the order of epoch e is a permutation seeded by (seed, e));
  balanced  class-balanced: a class uniformly at random, then one of its utterances;
  alpha     alpha-smoothed multinomial over classes, p_c proportional to n_c ** alpha
            (alpha = 1: class frequencies as in the data, alpha = 0: balanced);
  distinct  one chunk of each of B distinct classes (B = batch size): B classes drawn
            without replacement among those with utterances (and allowed), then one of
            each class's utterances (the speaker-embedding batches of DropClass).

Every batch is a pure function of (seed, step): the chunk length of a step is drawn from
rng(seed, step) uniformly in [min_chunk, max_chunk] (one length per batch so chunks stack),
and each chunk's crop position is a fraction in [0, 1) drawn with it. The state to
checkpoint is therefore small (kind, seed, batch size, class restriction) and resuming at a
step gives exactly the batches an uninterrupted run would have seen.

Under DDP all ranks build the same global batch and take their own slice of it, so a run
on N processes sees the same data as a single-process run with the same global batch size.

Each sampler of a run has its own seed (`sampler_seed`): the samplers the strategies have
always used keep their historical offsets (numbers unchanged); any other name gets an offset
from its CRC-32 in a range the historical ones never reach, so two samplers with different
names never draw the same batches (the trainer refuses the improbable CRC collision).
"""
from __future__ import annotations

import zlib

import numpy as np

SAMPLERS = ("random", "balanced", "alpha", "distinct")
_FIXED_OFFSETS = {"main": 0, "random": 1, "balanced": 2, "dcl": 3}


def sampler_seed(seed: int, name: str) -> int:
    """The seed of sampler `name` in a run with train.seed `seed` (>= 0)."""
    if name in _FIXED_OFFSETS:
        return seed * 100 + _FIXED_OFFSETS[name]
    return (seed << 40) + (1 << 36) + zlib.crc32(name.encode("utf-8"))


class ChunkBatchSampler:
    def __init__(self, kind: str, labels, batch_size: int, *, min_chunk: int, max_chunk: int,
                 seed: int = 0, alpha: float = 0.5, rank: int = 0, world_size: int = 1,
                 num_classes: int | None = None):
        if kind not in SAMPLERS:
            raise ValueError(f"unknown sampler '{kind}' (use {', '.join(SAMPLERS)})")
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} is not divisible by the "
                             f"{world_size} processes")
        self.kind = kind
        self.labels = np.asarray(labels, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.min_chunk, self.max_chunk = int(min_chunk), int(max_chunk)
        self.seed = int(seed)
        self.alpha = float(alpha) if kind == "alpha" else (1.0 if kind == "random" else 0.0)
        self.rank, self.world_size = rank, world_size
        self.num_classes = int(num_classes if num_classes is not None
                               else self.labels.max() + 1)
        self.by_class = [np.flatnonzero(self.labels == c) for c in range(self.num_classes)]
        self.allowed: np.ndarray | None = None
        self._update_probs()

    # -- class restriction (DropClass) ------------------------------------------------
    def restrict(self, classes) -> None:
        """Sample only from utterances of `classes` (None: all classes); a restriction that
        leaves too little to draw is refused (ValueError) and the old one kept."""
        old = self.allowed
        self.allowed = None if classes is None else np.unique(np.asarray(classes, np.int64))
        try:
            self._update_probs()
        except ValueError:
            self.allowed = old
            self._update_probs()
            raise

    def merge(self, classes, into: int) -> None:
        """Draw the utterances of `classes` as members of class `into` (DropAdapt-Combine:
        the merged data is one class for balanced sampling); refused like `restrict`.
        Not in state_dict: the strategy that merges re-applies it on resume."""
        old = self.labels, self.by_class
        self.labels = np.where(np.isin(self.labels, np.asarray(classes, np.int64)),
                               int(into), self.labels)
        self.by_class = [np.flatnonzero(self.labels == c) for c in range(self.num_classes)]
        try:
            self._update_probs()
        except ValueError:
            self.labels, self.by_class = old
            self._update_probs()
            raise

    def _update_probs(self) -> None:
        counts = np.array([len(ix) for ix in self.by_class], dtype=np.float64)
        if self.allowed is not None:
            mask = np.zeros(self.num_classes, dtype=bool)
            mask[self.allowed] = True
            counts = np.where(mask, counts, 0.0)
        if counts.sum() == 0:
            raise ValueError("the sampler has no utterances to draw from")
        weights = np.where(counts > 0, np.power(np.maximum(counts, 1.0), self.alpha), 0.0)
        self.class_probs = weights / weights.sum()
        pool = np.flatnonzero(np.isin(self.labels, np.flatnonzero(counts > 0)))
        self.pool = pool
        self.drawable = np.flatnonzero(counts > 0)
        if self.kind == "distinct" and self.batch_size > len(self.drawable):
            raise ValueError(f"the distinct sampler puts {self.batch_size} different classes "
                             f"in a batch (train.batch_size) but only {len(self.drawable)} "
                             "classes have utterances to draw (after any class restriction)")

    # -- batches -----------------------------------------------------------------------
    def chunk_length(self, step: int) -> int:
        rng = np.random.default_rng([self.seed, step, 1])
        return int(rng.integers(self.min_chunk, self.max_chunk + 1))

    def _global_indices(self, step: int) -> np.ndarray:
        if self.kind == "random":
            return self._instance_indices(step)
        rng = np.random.default_rng([self.seed, step, 2])
        if self.kind == "distinct":
            classes = rng.choice(self.drawable, size=self.batch_size, replace=False)
        else:
            classes = rng.choice(self.num_classes, size=self.batch_size, p=self.class_probs)
        picks = rng.random(self.batch_size)
        return np.array([self.by_class[c][int(u * len(self.by_class[c]))]
                         for c, u in zip(classes, picks)], dtype=np.int64)

    def _instance_indices(self, step: int) -> np.ndarray:
        n = len(self.pool)
        first = step * self.batch_size
        out = []
        pos = first
        while len(out) < self.batch_size:
            epoch, offset = divmod(pos, n)
            perm = self._permutation(epoch, n)
            take = min(self.batch_size - len(out), n - offset)
            out.extend(self.pool[perm[offset:offset + take]])
            pos += take
        return np.asarray(out, dtype=np.int64)

    def _permutation(self, epoch: int, n: int) -> np.ndarray:
        key = (self.seed, epoch, n)
        if getattr(self, "_perm_key", None) != key:
            self._perm = np.random.default_rng([self.seed, epoch, 3]).permutation(n)
            self._perm_key = key
        return self._perm

    def batch(self, step: int) -> list[tuple[int, float, int]]:
        """This rank's share of the batch of `step`: [(utt_index, start_fraction, length)]."""
        length = self.chunk_length(step)
        idx = self._global_indices(step)
        fracs = np.random.default_rng([self.seed, step, 4]).random(self.batch_size)
        per = self.batch_size // self.world_size
        lo = self.rank * per
        return [(int(i), float(f), length) for i, f in zip(idx[lo:lo + per], fracs[lo:lo + per])]

    def batches(self, start_step: int = 0):
        step = start_step
        while True:
            yield self.batch(step)
            step += 1

    def epoch_of(self, step: int) -> float:
        """Epochs of the training pool consumed before `step` (for logging)."""
        return step * self.batch_size / max(1, len(self.pool))

    # -- checkpointing -----------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "batch_size": self.batch_size,
                "alpha": self.alpha,
                "allowed": None if self.allowed is None else self.allowed.tolist()}

    def load_state_dict(self, state: dict) -> None:
        for key in ("kind", "batch_size"):
            if state.get(key) != getattr(self, key):
                raise ValueError(f"checkpoint sampler has {key}={state.get(key)!r}, "
                                 f"this run {getattr(self, key)!r}")
        self.seed = int(state["seed"])
        self.alpha = float(state["alpha"])
        self.restrict(state.get("allowed"))
